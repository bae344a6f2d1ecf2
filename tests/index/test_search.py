"""Tests of bot.index.search: ranking on the seed page, hostile input, filters, paging, snippets, persistence."""

from __future__ import annotations

import errno
import itertools
import logging
import random
import re
import threading
from pathlib import Path

import pytest

from bot.cards.model import Card, Collection, Source
from bot.index.search import MAX_QUERY_TERMS, SearchDoc, SearchIndex, SearchPage, Vocabulary, fold
from bot.index.search import store as search_store

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "therapeutic-alliance.txt"

TOPICS = {
    1: ("core conditions", "psychoanalysis"),
    2: ("Bordin",),
    3: ("mental health",),
    4: ("couple therapy",),
    5: ("adherence",),
    6: ("youth", "child therapy"),
    7: ("outcome research",),
    8: ("couple therapy",),
    9: ("couple therapy", "outcome research"),
    10: ("youth", "substance abuse"),
}


def seed_facts() -> list[tuple[str, str]]:
    """(fact, article) pairs: the paragraph before each "Article:" line of the seed page."""
    body = FIXTURE.read_text(encoding="utf-8").split("Curated Facts", 1)[1]
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", body) if p.strip()]
    facts = []
    for before, para in itertools.pairwise(paragraphs):
        if para.startswith("Article:"):
            facts.append((before, para.splitlines()[0].removeprefix("Article:").strip()))
    return facts


def seed_docs() -> list[SearchDoc]:
    return [
        SearchDoc(
            card_id=f"ta-{i:02d}",
            text=text,
            topics=("therapeutic alliance", *TOPICS[i]),
            article=article,
            collection_id="therapeutic-alliance",
            collection_title="Therapeutic Alliance",
        )
        for i, (text, article) in enumerate(seed_facts(), 1)
    ]


WORDS = (
    *("memory", "attention", "learning", "recall", "rehearsal", "encoding", "retrieval", "sleep", "spacing"),
    *("practice", "feedback", "exam", "motivation", "reading", "notes", "summary", "testing", "interleaving"),
    *("context", "schema", "transfer"),
)


def generated_docs(n: int, seed: int = 3) -> list[SearchDoc]:
    """A small library of study-skills cards in two collections; every card mentions "mnemonic"."""
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(40, 80))]
        words.insert(rng.randrange(len(words)), "mnemonic")
        collection = "study-skills" if i % 2 else "learning-science"
        docs.append(
            SearchDoc(
                card_id=f"gen-{i:03d}",
                text=" ".join(words).capitalize() + ".",
                topics=(rng.choice(("Memory", "Exams", "Reading")),),
                article=None,
                collection_id=collection,
                collection_title=collection.replace("-", " ").title(),
            )
        )
    return docs


@pytest.fixture(scope="module")
def seed_index() -> SearchIndex:
    return SearchIndex.build(seed_docs())


@pytest.fixture(scope="module")
def big_index() -> SearchIndex:
    return SearchIndex.build(seed_docs() + generated_docs(60))


def ids(page: SearchPage) -> list[str]:
    return [hit.card_id for hit in page.hits]


# -- the seed page ------------------------------------------------------------------------------------------


def test_seed_fixture_has_ten_facts() -> None:
    facts = seed_facts()
    assert len(facts) == 10
    assert facts[0][0].startswith("The three 'core conditions'")
    assert facts[9][1].startswith("Predictors of Early")


def test_len(seed_index: SearchIndex, big_index: SearchIndex) -> None:
    assert len(seed_index) == 10
    assert len(big_index) == 70


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("adolescent drug treatment", "ta-10"),
        ("children", "ta-06"),
        ("Bordin goal task bond", "ta-02"),
        ("unconditonal regard", "ta-01"),  # typo
        ("Ronnestad", "ta-10"),  # "Rønnestad" in the text
        ("rønnestad", "ta-10"),
        ("RONNESTAD", "ta-10"),
    ],
)
def test_relevant_card_first(big_index: SearchIndex, query: str, first: str) -> None:
    page = big_index.search(query)
    assert page.message is None
    assert ids(page)[0] == first


def test_couple_therapy_ranks_the_couple_cards_on_top(big_index: SearchIndex) -> None:
    page = big_index.search("couple therapy")
    assert set(ids(page)[:3]) == {"ta-04", "ta-08", "ta-09"}


def test_stemming(big_index: SearchIndex) -> None:
    # "engaging adolescents" -> "Engagement ... adolescent" (fact 10).
    assert "ta-10" in ids(big_index.search("engaging adolescents"))
    assert "ta-06" in ids(big_index.search("child"))  # "children", "child"


def test_typos(big_index: SearchIndex) -> None:
    page = big_index.search("theraputic aliance")
    assert page.total >= 10
    assert all(hit.card_id.startswith("ta-") for hit in page.hits)
    assert any("alliance" in hit.snippet[a:b].lower() for hit in page.hits for a, b in hit.highlights)


def test_exact_matches_rank_above_fuzzy_ones() -> None:
    docs = [
        SearchDoc("exact", "Families and their caregivers.", (), None, "c", "C"),
        SearchDoc("typo", "The caregiver's family.", (), None, "c", "C"),
        SearchDoc("fuzzy", "Carefully given answers by caregivs.", (), None, "c", "C"),
    ]
    index = SearchIndex.build(docs)
    assert ids(index.search("caregivers"))[:2] in (["exact", "typo"], ["typo", "exact"])
    assert ids(index.search("caregivers"))[-1] == "fuzzy"


def test_prefix_of_last_word(big_index: SearchIndex) -> None:
    page = big_index.search("therap")
    assert page.total >= 10
    assert any(hit.snippet[a:b].lower().startswith("therap") for hit in page.hits for a, b in hit.highlights)
    assert "ta-10" in ids(big_index.search("drug treat"))
    assert "ta-10" in ids(big_index.search("adolescent engagem"))  # past the stem "engag"


def test_field_boosts_topics_and_article(big_index: SearchIndex) -> None:
    # "Youth" is a topic of cards 6 and 10, and the article title of card 6 starts with it.
    assert ids(big_index.search("youth"))[:2] == ["ta-06", "ta-10"]
    # Words only in a topic or an article title still find the card.
    assert ids(big_index.search("psychoanalysis"))[0] == "ta-01"
    assert ids(big_index.search("impact initial")) == ["ta-04"]  # article "THE IMPACT OF INITIAL FAC…"


# -- hostile input -------------------------------------------------------------------------------------------

HOSTILE = [
    '"unbalanced quote',
    "((((alliance",
    "alliance AND OR NEAR NOT",
    "NOT",
    "*",
    "therap*",
    "text:alliance",
    "card_id:ta-01",
    "'; DROP TABLE cards; --",
    "a" * 5000,
    "alliance " * 1000,
    "🙂🙂 alliance 🙂",
    "\u202eecnailla\u202c",  # right-to-left override
    "العلاقة العلاجية",
    "שלום עולם",
    "\x00\x01\x02alliance\x1b[31m",
    "ali\u200bance",
    "\ufeff",
    "~1 ^2 [a TO z] {x} /regex.*/",
    "\\",
    "İstanbul ß Ǆ ﬁ",
    "e" * 41 + " therapeutic",
    " ".join(f"w{i}" for i in range(200)),
]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_input_never_raises(big_index: SearchIndex, query: str) -> None:
    page = big_index.search(query)
    assert len(page.query) <= 256
    assert len(page.hits) <= page.limit
    known = {doc.card_id for doc in seed_docs() + generated_docs(60)}
    assert {hit.card_id for hit in page.hits} <= known
    assert all(card_id in known and 0 < len(label) <= 100 for card_id, label in big_index.suggest(query))
    big_index.search(query, topic=query, collection=query, limit=3, offset=2)


def test_unpaired_surrogates_are_searched_around_not_raised_on(big_index: SearchIndex, topics: Vocabulary) -> None:
    # Bytes that are not UTF-8 reach Python as lone surrogates (a command-line argument, a forged request).
    page = big_index.search("alliance\udcff adolescent\ud800")
    assert "ta-10" in ids(page)
    assert page.query.encode("utf-8") == "alliance\ufffd adolescent\ufffd".encode()
    assert (
        big_index.search("\udcff").message
        == "There is nothing to search for in that: type a word or two (letters or digits)."
    )
    assert big_index.search("alliance", topic="youth\udcff").total == 0
    assert big_index.search("alliance", collection="\ud800").total == 0
    assert [card_id for card_id, _ in big_index.suggest("adolesc\udcff")] == [
        card_id for card_id, _ in big_index.suggest("adolesc")
    ]
    assert topics.complete("coup\udcff") == topics.complete("coup")


def test_hostile_words_are_searched_as_words(big_index: SearchIndex) -> None:
    assert big_index.search("text:alliance").total >= 10
    assert "ta-10" in ids(big_index.search('"adolescent drug" AND (treatment)'))


def test_query_terms_are_capped(big_index: SearchIndex) -> None:
    query = " ".join(["alliance"] + [f"zz{i}" for i in range(100)])
    page = big_index.search(query)
    assert page.query.split()[0] == "alliance"
    assert MAX_QUERY_TERMS == 16


@pytest.mark.parametrize("query", ["", "   ", "\n\t", "\x00"])
def test_empty_query_gives_message(big_index: SearchIndex, query: str) -> None:
    page = big_index.search(query)
    assert page.hits == ()
    assert page.total == 0
    assert page.message == "Type a word or two to search for."
    assert big_index.suggest(query) == []


def test_query_without_words_gives_message(big_index: SearchIndex) -> None:
    page = big_index.search("🙂 *** ?!")
    assert page.total == 0
    assert page.message is not None
    assert "nothing to search for" in page.message


def test_relaxed_search_says_so(big_index: SearchIndex) -> None:
    page = big_index.search("couple xylophonequartet")
    assert page.total > 0
    assert page.message is not None
    assert "match some of them" in page.message
    assert set(ids(page)[:3]) == {"ta-04", "ta-08", "ta-09"}


# -- filters and paging -------------------------------------------------------------------------------------


def test_topic_filter_is_exact_and_case_insensitive(big_index: SearchIndex) -> None:
    page = big_index.search("alliance", topic="COUPLE THERAPY")
    assert sorted(ids(page)) == ["ta-04", "ta-08", "ta-09"]
    assert page.total == 3
    assert big_index.search("alliance", topic="couple").total == 0  # not a prefix match
    assert big_index.search("mnemonic", topic="memory").total == sum(
        1 for d in generated_docs(60) if d.topics == ("Memory",)
    )


def test_collection_filter(big_index: SearchIndex) -> None:
    assert big_index.search("mnemonic", collection="therapeutic-alliance").total == 0
    page = big_index.search("mnemonic", collection="study-skills", limit=100)
    assert page.total == 30
    assert all(int(hit.card_id[-3:]) % 2 for hit in page.hits)
    assert big_index.search("alliance", collection="therapeutic-alliance").total == 10


def test_paging(big_index: SearchIndex) -> None:
    seen: list[str] = []
    totals = set()
    for offset in range(0, 70, 7):
        page = big_index.search("mnemonic", limit=7, offset=offset)
        totals.add(page.total)
        assert page.offset == offset
        assert page.limit == 7
        seen.extend(ids(page))
    assert totals == {60}
    assert len(seen) == len(set(seen)) == 60
    scores = [hit.score for hit in big_index.search("mnemonic", limit=60).hits]
    assert scores == sorted(scores, reverse=True)
    assert big_index.search("mnemonic", offset=500).hits == ()
    assert big_index.search("mnemonic", limit=0).hits == ()


# -- snippets ----------------------------------------------------------------------------------------------


def test_snippet_highlights_the_matched_words(big_index: SearchIndex) -> None:
    hit = big_index.search("Ronnestad").hits[0]
    assert "Rønnestad" in hit.snippet
    assert [hit.snippet[a:b] for a, b in hit.highlights] == ["Rønnestad"]
    hit = big_index.search("adolescent drug treatment").hits[0]
    marked = {hit.snippet[a:b].lower() for a, b in hit.highlights}
    assert {"adolescent", "drug", "treatment"} <= marked


def test_snippets_are_short_and_cut_at_words(big_index: SearchIndex) -> None:
    texts = {d.card_id: d.text for d in seed_docs()}
    for query in ("couple therapy", "alliance", "Bordin", "substance abuse", "Freud"):
        for hit in big_index.search(query).hits:
            snippet = hit.snippet
            assert len(snippet) <= 302
            inner = snippet.removeprefix("…").removesuffix("…")
            text = texts[hit.card_id]
            assert inner in text
            start = text.index(inner)
            if snippet.startswith("…"):
                assert start > 0
                assert text[start - 1].isspace()
            else:
                assert start == 0
            end = start + len(inner)
            if snippet.endswith("…"):
                assert end < len(text)
                assert text[end].isspace()
            else:
                assert end == len(text)
            for a, b in hit.highlights:
                assert 0 <= a < b <= len(snippet)


def test_snippet_is_around_the_match(big_index: SearchIndex) -> None:
    hit = big_index.search("Freud").hits[0]
    assert hit.card_id == "ta-10"
    assert "Freud" in hit.snippet
    assert hit.snippet.startswith("…")


# -- suggestions ------------------------------------------------------------------------------------------


def test_suggest(big_index: SearchIndex) -> None:
    found = big_index.suggest("adolescent dr")
    assert found[0][0] == "ta-10"
    assert found[0][1].startswith("Engagement in treatment")
    assert all(len(label) <= 100 for _id, label in big_index.suggest("therap"))
    assert {card for card, _ in big_index.suggest("coupl")} >= {"ta-04", "ta-08", "ta-09"}
    assert big_index.suggest("therpa")  # typo in the prefix
    assert "ta-01" in [card for card, _ in big_index.suggest("unconditonal")]
    assert len(big_index.suggest("mnemonic", limit=5)) == 5
    assert big_index.suggest("mnemonic", limit=0) == []


# -- building, persistence, concurrency -------------------------------------------------------------------


def test_search_doc_of_card() -> None:
    collection = Collection(id="ta", title="Therapeutic Alliance", curator="Mee Young Jeong")
    card = Card(id="ta-01", text="A fact.", topics=("alliance",), source=Source(article="An article"))
    assert SearchDoc.of(card, collection) == SearchDoc(
        "ta-01", "A fact.", ("alliance",), "An article", "ta", "Therapeutic Alliance"
    )
    bare = SearchDoc.of(Card(id="x", text="y"), collection)
    assert bare.article is None
    assert bare.topics == ()


def test_empty_index() -> None:
    index = SearchIndex.build([])
    assert len(index) == 0
    assert index.search("anything").total == 0
    assert index.suggest("any") == []


def test_persisted_index_reopens(tmp_path: Path) -> None:
    directory = tmp_path / "search"
    built = SearchIndex.build(seed_docs(), directory=directory)
    reopened = SearchIndex.open(directory)
    assert reopened is not None
    assert len(reopened) == 10
    assert ids(reopened.search("couple therapy")) == ids(built.search("couple therapy"))
    # Rebuilding replaces the index; the old searcher keeps working.
    SearchIndex.build(generated_docs(5), directory=directory)
    assert built.search("Bordin").total == 2
    again = SearchIndex.open(directory)
    assert again is not None
    assert len(again) == 5
    assert [p.name for p in tmp_path.iterdir()] == ["search"]


def test_open_refuses_missing_and_corrupt(tmp_path: Path) -> None:
    assert SearchIndex.open(tmp_path / "nothing") is None
    assert SearchIndex.open(tmp_path) is None
    directory = tmp_path / "search"
    SearchIndex.build(seed_docs(), directory=directory)
    (directory / "factdeck-search.json").write_text("{not json", encoding="utf-8")
    assert SearchIndex.open(directory) is None
    SearchIndex.build(seed_docs(), directory=directory)
    (directory / "factdeck-search.json").write_text('{"format": -1, "docs": 10}', encoding="utf-8")
    assert SearchIndex.open(directory) is None
    SearchIndex.build(seed_docs(), directory=directory)
    (directory / "meta.json").write_text("garbage", encoding="utf-8")
    assert SearchIndex.open(directory) is None
    SearchIndex.build(seed_docs(), directory=directory)
    for path in [p for p in directory.iterdir() if p.suffix in {".idx", ".store"}]:
        # damaged files arrive as new files (a copy, a restore): truncating one that the index just built still
        # has mapped in memory would make the process fault (SIGBUS), which is not what this test is about
        spare = path.with_name(path.name + ".new")
        spare.write_bytes(b"\x00" * 16)
        spare.replace(path)
    assert SearchIndex.open(directory) is None


def test_build_leaves_foreign_directories_alone(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ValueError, match="not empty"):
        SearchIndex.build(seed_docs(), directory=tmp_path)
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_an_index_folder_that_cannot_be_created_keeps_the_index_in_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A read-only cache folder, simulated: tests run as root, where chmod does not stop writes, so the cache
    # path lies under a regular file (as it does for a card file given as the card folder).
    card_file = tmp_path / "cards.yml"
    card_file.write_text("cards", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        index = SearchIndex.build(seed_docs(), directory=card_file / ".factdeck-cache" / "d1", digest="d1")
    assert index.directory is None
    assert len(index) == 10
    assert index.search("Bordin").total == 2
    assert "keeping it in memory" in caplog.text
    updated = index.updated(["ta-02"], [], digest="d2")
    assert updated.search("Bordin").total == 1
    assert card_file.read_text(encoding="utf-8") == "cards"


def test_a_full_disk_while_writing_keeps_the_index_in_memory_and_the_old_one_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "search" / "d1"
    SearchIndex.build(generated_docs(5), directory=directory, digest="d0")

    def full_disk(path: Path, meta: dict[str, object]) -> None:  # a full disk, simulated at the meta write
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(search_store, "write_meta", full_disk)
    index = SearchIndex.build(seed_docs(), directory=directory, digest="d1")
    monkeypatch.undo()
    assert index.directory is None
    assert len(index) == 10
    assert index.search("Bordin").total == 2
    assert [p.name for p in (tmp_path / "search").iterdir()] == ["d1"]  # no half-written folder left behind
    kept = SearchIndex.open(directory, digest="d0")
    assert kept is not None
    assert len(kept) == 5


def test_concurrent_searches_while_another_index_builds(big_index: SearchIndex) -> None:
    expected = ids(big_index.search("couple therapy"))
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                assert ids(big_index.search("couple therapy")) == expected
                big_index.suggest("adolescent dr")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        other = SearchIndex.build(generated_docs(300, seed=9))
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors
    assert len(other) == 300
    assert big_index.search("couple therapy").total == 3


# -- vocabulary -------------------------------------------------------------------------------------------


@pytest.fixture
def topics() -> Vocabulary:
    return Vocabulary(
        {
            "Therapeutic alliance": 160,
            "Couple therapy": 40,
            "Child therapy": 12,
            "Rønnestad's model": 3,
            "Alliance rupture": 25,
            "Memory": 80,
            "Émile Durkheim": 5,
        }
    )


def test_vocabulary_prefix_matches_any_word_ranked_by_weight(topics: Vocabulary) -> None:
    assert topics.complete("ther")[:3] == ["Therapeutic alliance", "Couple therapy", "Child therapy"]
    assert topics.complete("alli")[:2] == ["Therapeutic alliance", "Alliance rupture"]
    assert topics.complete("couple th") == ["Couple therapy"]


def test_vocabulary_folds_accents_and_case(topics: Vocabulary) -> None:
    assert topics.complete("ronne")[0] == "Rønnestad's model"
    assert topics.complete("EMILE")[0] == "Émile Durkheim"
    assert topics.complete("émi")[0] == "Émile Durkheim"


def test_vocabulary_fuzzy_after_prefix_matches(topics: Vocabulary) -> None:
    assert {"Couple therapy", "Child therapy"} <= set(topics.complete("therpy"))
    assert "Memory" in topics.complete("memroy")
    assert topics.complete("alliance", limit=1) == ["Therapeutic alliance"]


def test_vocabulary_empty_prefix_and_limits(topics: Vocabulary) -> None:
    assert topics.complete("") == [
        "Therapeutic alliance",
        "Memory",
        "Couple therapy",
        "Alliance rupture",
        "Child therapy",
        "Émile Durkheim",
        "Rønnestad's model",
    ]
    assert topics.complete("", limit=2) == ["Therapeutic alliance", "Memory"]
    assert topics.complete("zzzz") == []
    assert topics.complete("🙂") == topics.complete("")[:25]
    assert Vocabulary({}).complete("x") == []


def test_fold() -> None:
    assert fold("Rønnestad") == "ronnestad"
    assert fold("Æsop Œuvre Straße Łódź") == "aesop oeuvre strasse lodz"
    assert fold("ASCII") == "ascii"
