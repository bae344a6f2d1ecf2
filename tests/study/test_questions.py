"""Questions derived from cards: what a study group is asked, on the shipped cards and on generated libraries."""

from __future__ import annotations

import random
from collections.abc import Iterable
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.synth import write_library
from bot.cards.library import Library, load_library
from bot.cards.model import term_spans
from bot.study.questions import (
    BLANK,
    MAX_ANSWER_CHARS,
    MAX_TERMS,
    Question,
    answer_matches,
    questions_for,
    terms_of,
)
from bot.util.text import fold
from tests.conftest import SHIPPED_CARDS


@pytest.fixture(scope="module")
def shipped() -> Library:
    return load_library(SHIPPED_CARDS)


def write_cards(folder: Path, cards: Iterable[dict[str, object]], collection: str = "demo") -> Library:
    folder.mkdir(parents=True, exist_ok=True)
    data = {"collection": {"id": collection, "title": "Demo", "curator": "Ada"}, "cards": list(cards)}
    (folder / f"{collection}.yml").write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    library = load_library(folder)
    assert not library.errors, library.errors
    return library


def assert_sound(library: Library) -> list[Question]:
    """What every derived question must be, whatever the card: checked on every card of ``library``."""
    every: list[Question] = []
    holders: dict[tuple[str, str], set[str]] = {}  # (term kind, term) -> the cards that have it
    for card in library.cards.values():
        for term in terms_of(card, library):
            holders.setdefault(term, set()).add(card.id)
    for card in library.cards.values():
        questions = questions_for(card, library)
        assert len(questions) <= 2 * MAX_TERMS
        own_terms = terms_of(card, library)
        for q in questions:
            assert q.card_id == card.id
            # The answer is the term exactly as the card has it, and the prompt no longer gives it away.
            assert q.answer in card.text
            assert BLANK in q.prompt
            assert term_spans(q.prompt, q.answer) == [], (card.id, q.answer)
            assert q.prompt.replace(BLANK, "") != card.text
            assert answer_matches(q.answer, q)
            if q.kind == "cloze":
                assert q.choices == ()
                continue
            assert len(q.choices) == 4
            assert q.answer in q.choices
            folded = {fold(c) for c in q.choices}
            assert len(folded) == 4, q.choices  # distinct, even ignoring case and accents
            for option in q.choices:
                if option == q.answer:
                    continue
                # Never the right answer in other words, never in this card, always a term of the same kind
                # from another card.
                assert not answer_matches(option, q), (card.id, q.answer, option)
                assert term_spans(card.text, option) == [], (card.id, option)
                assert (q.term_kind, option) not in own_terms
                assert holders.get((q.term_kind, option), set()) - {card.id}, (card.id, q.term_kind, option)
            for one in q.choices:
                for other in q.choices:
                    assert one == other or not answer_matches(one, Question("x", "cloze", "", other, (), (), "")), (
                        q.choices
                    )
        every.extend(questions)
    return every


# ------------------------------------------------------------------------------------------------- shipped
def test_every_shipped_card_yields_sound_questions(shipped: Library) -> None:
    questions = assert_sound(shipped)
    by_card = {q.card_id for q in questions}
    assert by_card == set(shipped.cards), "every shipped card is quizzed"
    kinds = {(q.kind, q.term_kind) for q in questions}
    assert {("cloze", "topic"), ("choice", "topic"), ("choice", "author"), ("choice", "year")} <= kinds


def test_a_shipped_card_is_asked_about_its_topic_its_author_and_a_number(shipped: Library) -> None:
    card = shipped.cards["therapeutic-alliance-002"]
    questions = questions_for(card, shipped)
    clozes = {q.term_kind: q for q in questions if q.kind == "cloze"}
    assert clozes["author"].answer == "Bordin"
    assert clozes["author"].prompt.startswith("Seeking to operationalize this concept and apply it more generally")
    assert "_____ (5) identified" in clozes["author"].prompt
    assert clozes["number"].answer == "three"
    assert "identified _____ components" in clozes["number"].prompt
    assert clozes["topic"].answer == "goals"


def test_citation_numbers_and_superscripts_are_never_blanked(shipped: Library) -> None:
    for card in shipped.cards.values():
        answers = {q.answer for q in questions_for(card, shipped)}
        assert not answers & {"5", "7", "8", "10", "11", "12", "13", "15", "438"}, card.id


def test_the_same_library_gives_the_same_questions() -> None:
    first, second = load_library(SHIPPED_CARDS), load_library(SHIPPED_CARDS)
    assert first is not second
    for card_id in first.cards:
        assert questions_for(first.cards[card_id], first) == questions_for(second.cards[card_id], second)


def test_the_answer_is_not_always_the_first_choice(shipped: Library) -> None:
    positions = {
        q.choices.index(q.answer) for c in shipped.cards.values() for q in questions_for(c, shipped) if q.choices
    }
    assert len(positions) > 1


# ---------------------------------------------------------------------------------------- small libraries
def test_a_too_short_card_yields_nothing(tmp_path: Path) -> None:
    library = write_cards(
        tmp_path,
        [
            {"id": "short", "text": "Rogers (1951) said so.", "topics": ["rogers"]},
            {"id": "plain", "text": "it is what it is and so it goes on and on", "topics": ["nothing"]},
        ],
    )
    assert questions_for(library.cards["short"], library) == ()
    assert questions_for(library.cards["plain"], library) == ()  # long enough, but nothing to blank


def test_a_card_whose_curator_set_skip_is_never_quizzed(tmp_path: Path) -> None:
    text = "The working alliance was described by Bordin (1979) as goals, tasks and a bond."
    library = write_cards(
        tmp_path,
        [
            {"id": "on", "text": text, "topics": ["working alliance"]},
            {"id": "off", "text": text + " Again.", "topics": ["working alliance"], "study": {"skip": True}},
        ],
    )
    assert questions_for(library.cards["on"], library)
    assert questions_for(library.cards["off"], library) == ()


def test_curated_cloze_terms_replace_the_derived_ones_and_accept_the_curators_answers(tmp_path: Path) -> None:
    text = "Bordin (1979) described the working alliance as goals, tasks and a bond between client and therapist."
    library = write_cards(
        tmp_path,
        [
            {
                "id": "curated",
                "text": text,
                "topics": ["bordin"],
                "study": {"cloze": ["Working Alliance"], "answers": ["helping alliance"]},
            }
        ],
    )
    (cloze,) = questions_for(library.cards["curated"], library)  # no other card, so no distractors: no choice
    assert cloze.kind == "cloze"
    assert cloze.answer == "working alliance"  # as the text has it, whatever case the curator wrote
    assert cloze.prompt == text.replace("working alliance", BLANK)
    assert cloze.accepted == ("helping alliance",)
    assert answer_matches("Helping Alliance", cloze)
    assert not answer_matches("Bordin", cloze)


def test_distractors_come_from_the_same_collection_first_then_cards_of_the_same_topic(tmp_path: Path) -> None:
    years = ["1951", "1979", "1991", "2000", "2007"]
    cards = [
        {
            "id": f"demo-{n}",
            "text": f"In {year} the clinic measured how the alliance predicted outcome for every client treated.",
            "topics": ["alliance"],
        }
        for n, year in enumerate(years[:2])
    ]
    write_cards(tmp_path, cards)
    other = [
        {
            "id": f"other-{n}",
            "text": f"In {year} another clinic measured how the alliance predicted outcome for each client.",
            "topics": ["Alliance"],
        }
        for n, year in enumerate(years[2:])
    ]
    library = write_cards(tmp_path, other, collection="other")
    questions = questions_for(library.cards["demo-0"], library)
    (choice,) = [q for q in questions if q.kind == "choice" and q.term_kind == "year"]
    assert set(choice.choices) <= set(years)
    assert "1979" in choice.choices  # the collection's own year comes first
    assert choice.answer == "1951"


def test_a_distractor_that_is_the_answer_in_other_words_is_never_offered(tmp_path: Path) -> None:
    cards = [{"id": "a", "text": "The study followed each client who kept a diary for weeks.", "topics": ["diary"]}]
    # Other cards' topics: a plural of the answer, an accented variant, a typo and a phrase containing it, and
    # exactly three fair distractors.
    for n, word in enumerate(["diaries", "Diáry", "diarry", "diary keeping", "journal", "logbook", "notebook"]):
        cards.append(
            {"id": f"o{n}", "text": f"Every client kept a {word} during the whole trial period.", "topics": [word]}
        )
    library = write_cards(tmp_path, cards)
    (choice,) = [q for q in questions_for(library.cards["a"], library) if q.kind == "choice"]
    assert sorted(choice.choices) == ["diary", "journal", "logbook", "notebook"]


def test_a_distractor_that_contains_the_answer_as_part_of_a_word_is_never_offered(tmp_path: Path) -> None:
    # "come to psychotherapy as part of a couple" reads as right as "therapy": a member could not tell them apart.
    cards = [
        {"id": "a", "text": "Couples who come to therapy together form an alliance slowly.", "topics": ["therapy"]}
    ]
    for n, word in enumerate(["psychotherapy", "physiotherapy", "journal", "logbook", "notebook"]):
        cards.append(
            {"id": f"o{n}", "text": f"Every client kept a {word} during the whole trial period.", "topics": [word]}
        )
    library = write_cards(tmp_path, cards)
    (choice,) = [q for q in questions_for(library.cards["a"], library) if q.kind == "choice"]
    assert sorted(choice.choices) == ["journal", "logbook", "notebook", "therapy"]


def test_no_shipped_choice_offers_a_distractor_that_contains_its_answer(shipped: Library) -> None:
    for card in shipped.cards.values():
        for question in questions_for(card, shipped):
            answer = fold(question.answer)
            for choice in question.choices:
                if choice != question.answer:
                    assert answer not in fold(choice), (card.id, question.choices)
                    assert fold(choice) not in answer, (card.id, question.choices)


@st.composite
def card_texts(draw: st.DrawFn) -> str:
    words = st.sampled_from(
        ["alliance", "therapy", "client", "Rønnestad", "Café", "goals", "bond", "the", "of", "**bold**", "<@123>"]
    )
    parts = draw(st.lists(st.one_of(words, st.sampled_from(["Adult", "CBT", "Transactional Analysis"])), min_size=3))
    extras = draw(
        st.lists(
            st.sampled_from(
                ["(Horvath & Symonds, 1991)", "Bordin (5)", "in 1979", "40%", "three", "(7, 8)", "3.5", "x.12"]
            )
        )
    )
    rng = random.Random(draw(st.integers(0, 1000)))
    tokens = parts + extras
    rng.shuffle(tokens)
    return " ".join(tokens)[:3000] + "."


@given(
    texts=st.lists(card_texts(), min_size=2, max_size=8),
    topics=st.lists(st.sampled_from(["alliance", "goals", "cafe", "bond therapy"]), min_size=1, max_size=3),
)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_generated_libraries_give_sound_questions(tmp_path: Path, texts: list[str], topics: list[str]) -> None:
    folder = tmp_path / f"lib-{abs(hash((tuple(texts), tuple(topics))))}"
    library = write_cards(folder, [{"id": f"c-{n}", "text": t, "topics": list(topics)} for n, t in enumerate(texts)])
    assert_sound(library)


def test_a_synthetic_library_gives_sound_questions(tmp_path: Path) -> None:
    write_library(tmp_path, cards=300, files=3)
    library = load_library(tmp_path)
    questions = assert_sound(library)
    assert {q.term_kind for q in questions if q.kind == "choice"} >= {"topic", "author", "year"}


# -------------------------------------------------------------------------------------------- answers
CLOZE = Question("c", "cloze", "… (_____ & Symonds, 1991) …", "Horvath", (), (), "author")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Horvath", True),
        ("horvath", True),  # case
        ("  HORVATH  ", True),
        ("Horvat", True),  # one letter missing
        ("Hrovath", True),  # two letters swapped
        ("**Horvath**", True),  # markdown around it
        ("<@123456789012345678> Horvath", True),  # a mention is ignored, never matched
        ("Symonds", False),  # a wrong answer
        ("Horvath and Symonds", False),
        ("", False),
        ("   ", False),
        ("<@123456789012345678>", False),
        ("@everyone", False),
        ("Horvath " * 500, False),  # 4,000 characters
    ],
)
def test_typed_answers_are_matched_forgivingly(given: str, expected: bool) -> None:
    assert answer_matches(given, CLOZE) is expected


def test_accents_plurals_numbers_and_accepted_answers() -> None:
    accented = Question("c", "cloze", "", "Rønnestad", (), (), "author")
    assert answer_matches("Ronnestad", accented)
    assert answer_matches("RØNNESTAD", accented)
    plural = Question("c", "cloze", "", "goals", (), (), "topic")
    assert answer_matches("goal", plural)
    assert answer_matches("Goals", plural)
    assert not answer_matches("bond", plural)
    year = Question("c", "cloze", "", "1991", (), (), "year")
    assert answer_matches("1991", year)
    assert not answer_matches("1992", year)  # a typo in a number is a different number
    big = Question("c", "cloze", "", "1,000", (), (), "number")
    assert answer_matches("1000", big)
    accepted = Question("c", "cloze", "", "working alliance", (), ("helping alliance",), "topic")
    assert answer_matches("working alliances", accepted)
    assert answer_matches("helping aliance", accepted)
    assert not answer_matches("alliance", accepted)
    assert len("x" * (MAX_ANSWER_CHARS + 1)) > MAX_ANSWER_CHARS
    assert not answer_matches("working alliance" + " " * MAX_ANSWER_CHARS, accepted)
