"""Incremental index updates: a swap after a small change derives the new indexes from the old ones.

The reference for every check is a service built from scratch over the same library.
"""

from __future__ import annotations

import itertools
import pickle
import random
import shutil
import threading
from pathlib import Path

import msgspec
import pytest

from benchmarks.synth import card_text, write_library
from bot.cards import library as library_module
from bot.cards import yamlio
from bot.cards.library import Library, load_library, replace_file
from bot.cards.model import Card, CardFile
from bot.index import snapshot as indexes_module
from bot.index.citations import CitationIndex, Reference, card_references, extract
from bot.index.search import SearchDoc, SearchIndex, SearchPage, StaleIndexError
from bot.index.search import store as search_store
from bot.index.snapshot import REFERENCES
from bot.service import CardService
from tests.conftest import SHIPPED_CARDS
from tests.index.test_citations import seed_facts

SEARCHES = [
    ("alliance", {}),
    ("therapeutic alliance outcome", {}),
    ("couple therapy", {}),
    ("alliance", {"topic": "couple therapy"}),
    ("alliance", {"collection": "therapeutic-alliance"}),
    ("therapist", {"collection": "bench-0001"}),
    ("outcome", {"limit": 3, "offset": 2}),
    ("outcom", {}),  # an unfinished last word
    ("aliance", {}),  # a typo
    ("zyzzyva", {}),  # only in the added card
    ("Bench collection", {}),  # collection titles
    ("Renamed shelf", {}),
    ("empathy regard", {"limit": 100}),
]
CITES = ["Horvath & Symonds 1991", "Horvath", "Bordin", "7", "5", "Zyzzyva 2024", "Clarkson", "Wampold et al."]
PREFIXES = ["", "H", "Ho", "Horv", "Horvaht", "Bor", "[1", "7", "Z", "Zyz"]
TOPIC_PREFIXES = ["", "coup", "alli", "zyz", "thera", "coupel"]


def observe(svc: CardService) -> dict[str, object]:
    """Everything a reader can see of a service, as comparable values (scores rounded)."""
    out: dict[str, object] = {}
    for query, kwargs in SEARCHES:
        page = svc.search(query, **{"limit": 100, **kwargs}).page
        # Every match when they fit on a page (the page cannot cut a group of equal scores then).
        shown = sorted(h.card_id for h in page.hits) if page.total <= page.limit else None
        out[f"search {query} {kwargs}"] = (page.total, page.message, shown)
    for query in CITES:
        out[f"cite {query}"] = [(h.detail.card.id, h.written) for h in svc.cite(query).hits]
    for prefix in PREFIXES:
        out[f"refs {prefix}"] = svc.references(prefix, 10)
    for prefix in TOPIC_PREFIXES:
        out[f"topics {prefix}"] = svc.topics(prefix)
    out["collections"] = svc.collection_choices("")
    for prefix in ("zyzzyva", "transactional analy", "Rogers"):
        choices = svc.card_choices(prefix, 25)
        out[f"cards {prefix}"] = sorted(choices) if len(choices) < 25 else len(choices)
    picker = svc._snapshot.picker
    out["pool all"] = picker.all
    out["pools by topic"] = dict(sorted(picker.by_topic.items()))
    out["pools by collection"] = dict(sorted(picker.by_collection.items()))
    out["pool both"] = picker.pool("couple therapy", "therapeutic-alliance")
    return out


def assert_same_page(got: SearchPage, want: SearchPage, tol: float) -> None:
    """The same results, best first, with scores within ``tol`` (relative) of each other.

    tantivy orders equal scores by where documents landed in its segments, which varies from build to build (two
    indexing threads), so hits whose scores are within ``tol`` may come in either order, and a page may cut such
    a group differently. ``tol`` is 0 while the index has no deleted documents (its BM25 statistics are then
    exactly a fresh build's); deleted documents still count in tantivy's statistics until merged, which moves
    scores slightly.
    """
    assert (got.total, got.message, got.query, len(got.hits)) == (want.total, want.message, want.query, len(want.hits))
    if not want.hits:
        return
    # Relative, with an absolute floor: a word in nearly every card has a near-zero weight that moves a lot
    # relatively and nothing in absolute terms.
    close = lambda a, b: abs(a - b) <= tol * (max(abs(a), abs(b)) + 0.1) + 1e-9  # noqa: E731
    low, high = want.hits[-1].score, want.hits[0].score
    wanted = {h.card_id: h for h in want.hits}
    for hit in got.hits:
        other = wanted.get(hit.card_id)
        if other is None:  # only where the page cuts a group of equal scores
            assert (close(hit.score, low) and len(got.hits) == got.limit) or (close(hit.score, high) and got.offset)
            continue
        assert close(hit.score, other.score), (hit, other)
        assert (hit.snippet, hit.highlights) == (other.snippet, other.highlights)
    for a, b in itertools.pairwise(got.hits):
        assert a.score >= b.score
        if a.card_id in wanted and b.card_id in wanted:
            assert wanted[a.card_id].score >= wanted[b.card_id].score or close(a.score, b.score)


def assert_same(incremental: CardService, library: Library) -> None:
    """``incremental`` answers like a service built from scratch over ``library``."""
    fresh = CardService(library)
    tol = 0.0 if incremental._snapshot.search.deleted == 0 else 0.15
    for query, kwargs in SEARCHES:
        got = incremental.search(query, **{"limit": 10, **kwargs})
        assert [v.card.id for v in got.details] == [h.card_id for h in got.page.hits]
        assert_same_page(got.page, fresh.search(query, **{"limit": 10, **kwargs}).page, tol)
    got, want = observe(incremental), observe(fresh)
    assert got.keys() == want.keys()
    for key in want:
        assert got[key] == want[key], key


@pytest.fixture
def cards_dir(tmp_path: Path) -> Path:
    """The shipped cards plus four generated collections of 250 cards."""
    target = tmp_path / "cards"
    shutil.copytree(SHIPPED_CARDS, target, ignore=shutil.ignore_patterns(".*"))
    write_library(target, 1000, 4, seed=11)
    return target


def rewrite(library: Library, collection_id: str, card_file: CardFile) -> Library:
    """What a moderator's write does to the served library (the file itself is not written)."""
    loaded = library.file_of(collection_id)
    assert loaded is not None
    return replace_file(library, loaded.path, card_file, yamlio.dump(card_file).encode())


def file_of(library: Library, collection_id: str) -> CardFile:
    loaded = library.file_of(collection_id)
    assert loaded is not None
    return loaded.card_file


NEW_CARD = Card(
    id="bench-0001-zyzzyva",
    text="A zyzzyva alliance fact citing (Zyzzyva, 2024) and (Horvath & Symonds, 1991) for couple therapy.",
    topics=("couple therapy", "zyzzyva studies"),
)


@pytest.fixture
def no_rebuilds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records full builds of the search and citation indexes made through the service."""
    built: list[str] = []
    real_build = indexes_module.SearchIndex.build.__func__  # type: ignore[attr-defined]
    real_from = indexes_module.CitationIndex.from_references.__func__  # type: ignore[attr-defined]

    def build(cls: type, *args: object, **kwargs: object) -> SearchIndex:
        built.append("search")
        return real_build(cls, *args, **kwargs)

    def from_references(cls: type, *args: object, **kwargs: object) -> CitationIndex:
        built.append("citations")
        return real_from(cls, *args, **kwargs)

    monkeypatch.setattr(indexes_module.SearchIndex, "build", classmethod(build))
    monkeypatch.setattr(indexes_module.CitationIndex, "from_references", classmethod(from_references))
    return built


def test_incremental_swaps_match_a_full_rebuild(cards_dir: Path, tmp_path: Path) -> None:
    svc = CardService.load(cards_dir, cache_dir=tmp_path / "cache")
    lineage = svc._snapshot.search._lineage
    assert_same(svc, svc.library)

    # An added card (with a new word, topic and reference) in the middle of the library.
    lib = svc.library
    bench = file_of(lib, "bench-0001")
    added = msgspec.structs.replace(bench, cards=(*bench.cards[:5], NEW_CARD, *bench.cards[5:]))
    lib = rewrite(lib, "bench-0001", added)
    svc.swap(lib)
    assert svc.search("zyzzyva").page.total == 1
    assert_same(svc, lib)

    # An edit that changes a card's text, topics and citations.
    seed = file_of(lib, "therapeutic-alliance")
    edited_card = msgspec.structs.replace(
        seed.cards[1],
        text="Bordin's model, revisited: goals, tasks and bonds in couple therapy (Zyzzyva, 2024).",
        topics=("couple therapy", "bordin"),
        citations=("Wampold et al., 2001",),
    )
    seed = msgspec.structs.replace(seed, cards=(seed.cards[0], edited_card, *seed.cards[2:]))
    lib = rewrite(lib, "therapeutic-alliance", seed)
    svc.swap(lib)
    assert_same(svc, lib)

    # A removed card.
    seed = msgspec.structs.replace(seed, cards=(*seed.cards[:3], *seed.cards[4:]))
    lib = rewrite(lib, "therapeutic-alliance", seed)
    svc.swap(lib)
    assert_same(svc, lib)

    # A collection's new title reaches the search documents of its cards.
    renamed = msgspec.structs.replace(seed, collection=msgspec.structs.replace(seed.collection, title="Renamed shelf"))
    lib = rewrite(lib, "therapeutic-alliance", renamed)
    svc.swap(lib)
    assert svc.search("Renamed shelf").page.total == 9
    assert_same(svc, lib)
    assert svc._snapshot.search._lineage is lineage  # every swap above updated the same index
    assert svc._snapshot.search.deleted == 1 + 1 + 9  # the edit, the removal, the renamed collection's cards


def test_an_old_snapshot_keeps_answering_during_and_after_an_update(cards_dir: Path) -> None:
    svc = CardService.load(cards_dir)
    before = svc._snapshot
    old_total = svc.search("alliance", limit=100).page.total
    old_search = before.search.search("alliance couple", limit=100)
    old_cites = before.citations.lookup("Horvath & Symonds 1991")
    bench = file_of(svc.library, "bench-0001")
    libraries = [svc.library]
    for n in range(4):  # each library adds a card mentioning "alliance"
        card = msgspec.structs.replace(NEW_CARD, id=f"bench-0001-new-{n}")
        bench = msgspec.structs.replace(bench, cards=(*bench.cards, card))
        libraries.append(rewrite(libraries[-1], "bench-0001", bench))

    errors: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            result = svc.search("zyzzyva", limit=100)  # only in the new cards
            # One library or another, never a mix: the total counts exactly the cards shown, and every hit
            # has its card.
            page = result.page
            if not (page.total == len(page.hits) == len(result.details) <= len(libraries) - 1):
                errors.append(f"mixed: total {page.total}, {len(page.hits)} hits, {len(result.details)} views")
            if before.search.search("alliance couple", limit=100) != old_search:
                errors.append("the old snapshot's search changed")

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for library in libraries[1:]:
            svc.swap(library)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []
    assert svc.search("alliance", limit=100).page.total == old_total + 4
    assert before.search.search("alliance couple", limit=100) == old_search
    assert before.citations.lookup("Horvath & Symonds 1991") == old_cites
    assert len(svc.cite("Horvath & Symonds 1991").hits) == len({h.card_id for h in old_cites}) + 4
    assert before.library is libraries[0]
    assert before.picker.all == tuple(libraries[0].cards)


def test_a_warm_start_after_an_update_reopens_the_updated_index(
    cards_dir: Path, tmp_path: Path, no_rebuilds: list[str]
) -> None:
    cache = tmp_path / "cache"
    svc = CardService.load(cards_dir, cache_dir=cache)
    path = cards_dir / "therapeutic-alliance.yml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("topics:\n      - bordin", "topics:\n      - bordin\n      - zyzzyva"), "utf-8")
    no_rebuilds.clear()
    report = svc.reload()
    assert report.changed == ("therapeutic-alliance-002",)
    assert no_rebuilds == []  # incremental
    assert [p.name for p in (cache / "search").iterdir() if p.is_dir() and p.name != REFERENCES] == [
        svc._snapshot.search.directory.name  # type: ignore[union-attr]
    ]
    warm = CardService.load(cards_dir, cache_dir=cache)
    assert "search" not in no_rebuilds  # the updated index was reopened, not rebuilt
    assert warm.library.digest == svc.library.digest
    assert warm.search("zyzzyva").page.total == 1
    assert observe(warm) == observe(svc)


def seed_search_docs() -> list[SearchDoc]:
    return [SearchDoc(f"s{i}", text, ("alliance",), None, "c", "Collection") for i, text in enumerate(seed_facts(), 1)]


def test_a_crash_between_commit_and_meta_write_leaves_no_false_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "search" / "d1"
    index = SearchIndex.build(seed_search_docs(), directory=directory, digest="d1")
    before = index.search("alliance", limit=100)
    real = search_store.write_meta

    def crash_after_commit(path: Path, meta: dict[str, object]) -> None:
        if meta.get("digest") == "d2":
            raise OSError("simulated crash after the commit")
        real(path, meta)

    monkeypatch.setattr(search_store, "write_meta", crash_after_commit)
    new_doc = SearchDoc("zz", "A zyzzyva alliance.", (), None, "c", "Collection")
    with pytest.raises(OSError, match="simulated"):
        index.updated(["s1"], [new_doc], digest="d2")
    monkeypatch.setattr(search_store, "write_meta", real)
    # The commit happened, but the directory claims neither library.
    assert SearchIndex.open(directory, digest="d1") is None
    assert SearchIndex.open(directory, digest="d2") is None
    assert SearchIndex.find(tmp_path / "search", "d1") is None
    # The old object still answers from its own searcher, and refuses further updates.
    assert index.search("alliance", limit=100) == before
    with pytest.raises(StaleIndexError):
        index.updated([], [new_doc], digest="d3")


def test_a_failed_update_falls_back_to_a_full_build(
    cards_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    svc = CardService.load(cards_dir, cache_dir=cache)
    real = search_store.write_meta

    def crash(path: Path, meta: dict[str, object]) -> None:
        if meta.get("digest") is not None:
            raise OSError("simulated crash after the commit")
        real(path, meta)

    monkeypatch.setattr(search_store, "write_meta", crash)
    bench = file_of(svc.library, "bench-0001")
    lib = rewrite(svc.library, "bench-0001", msgspec.structs.replace(bench, cards=(*bench.cards, NEW_CARD)))
    with monkeypatch.context() as m:
        m.setattr(search_store, "write_meta", real)  # the full build may write its meta
        m.setattr(indexes_module.SearchIndex, "updated", lambda *a, **k: crash(cache, {"digest": "x"}))
        svc.swap(lib)
    assert svc.search("zyzzyva").page.total == 1
    assert_same(svc, lib)
    warm = CardService(lib, cache_dir=cache)
    assert observe(warm) == observe(svc)


def test_citation_updates_match_a_full_rebuild() -> None:
    rng = random.Random(5)
    cards = [(f"s{i}", text) for i, text in enumerate(seed_facts())]
    cards += [(f"g{i}", card_text(rng, 300)) for i in range(300)]
    index = CitationIndex.build((c, t, ()) for c, t in cards)
    index.complete("")  # the lazily ranked list is updated too
    queries = [*{index._canonical(key).display() for key in index._entries}, *CITES]
    for step in range(25):
        changes: dict[str, list[Reference] | None] = {}
        for n in range(rng.randint(1, 6)):
            roll = rng.random()
            if roll < 0.3:
                card_id = cards.pop(rng.randrange(len(cards)))[0]
                changes[card_id] = None
            elif roll < 0.6:
                card_id, text = f"n{step}-{n}", card_text(rng, 200) + " (Zyzzyva, 2024) [7]"
                cards.insert(rng.randrange(len(cards) + 1), (card_id, text))
                changes[card_id] = card_references(text)
            else:
                i = rng.randrange(len(cards))
                card_id = cards[i][0]
                text = card_text(rng, 200) if roll < 0.8 else cards[i][1] + " (Horvath & Symonds, 1991)"
                cards[i] = (card_id, text)
                changes[card_id] = card_references(text)
        present = {c for c, _ in cards}
        changes = {k: v if k in present else None for k, v in changes.items()}
        updated = index.updated(changes, [c for c, _ in cards])
        full = CitationIndex.build((c, t, ()) for c, t in cards)
        assert len(updated) == len(full)
        for query in queries:
            assert updated.lookup(query) == full.lookup(query), query
        for prefix in PREFIXES:
            for limit in (1, 5, 25):
                assert updated.complete(prefix, limit) == full.complete(prefix, limit), (prefix, limit)
        for card_id, _ in cards:
            assert updated.references_of(card_id) == full.references_of(card_id)
        index = updated


def test_citation_updates_leave_the_old_index_alone() -> None:
    texts = [(f"s{i}", t) for i, t in enumerate(seed_facts())]
    index = CitationIndex.build((c, t, ()) for c, t in texts)
    before = {q: index.lookup(q) for q in CITES}
    completions = index.complete("H", 25)
    changes = {"s0": None, "s1": card_references("(Zyzzyva, 2024)"), "new": card_references("(Horvath, 1991)")}
    updated = index.updated(changes, ["new", *(c for c, _ in texts[1:])])
    assert updated.lookup("Zyzzyva")
    assert not index.lookup("Zyzzyva")
    assert {q: index.lookup(q) for q in CITES} == before
    assert index.complete("H", 25) == completions
    assert next(h.card_id for h in updated.lookup("Horvath 1991")) == "new"  # placed first, as ordered


def test_references_and_the_index_round_trip_through_their_caches() -> None:
    refs = extract("(Horvath & Symonds, 1991; Bordin, 1979, 1994) and later [7].")
    again = pickle.loads(pickle.dumps(refs, pickle.HIGHEST_PROTOCOL))
    assert again == refs
    assert [r.key for r in again] == [r.key for r in refs]
    texts = [("a", "(Horvath & Symonds, 1991) and [7]"), ("b", "Bordin (1979, 1994); (Horvath, 1991)"), ("c", "")]
    index = CitationIndex.build((c, t, ("Some unparsed citation",)) for c, t in texts)
    index.complete("H")
    for restored in (
        pickle.loads(pickle.dumps(index, pickle.HIGHEST_PROTOCOL)),
        CitationIndex.from_bytes(index.to_bytes()),
    ):
        for query in ("Horvath", "Horvath & Symonds 1991", "Bordin", "7", "Some unparsed citation"):
            assert restored.lookup(query) == index.lookup(query)
            assert restored.cards_citing(query) == index.cards_citing(query)
        assert restored.complete("H") == index.complete("H")
        assert restored.complete("") == index.complete("")
        assert [restored.references_of(c) for c, _ in texts] == [index.references_of(c) for c, _ in texts]
        assert restored.updated({"c": card_references("(Zyzzyva, 2024)")}).lookup("Zyzzyva")
    with pytest.raises(msgspec.DecodeError):
        CitationIndex.from_bytes(b"not an index")


def test_past_the_deleted_share_only_the_search_index_is_rebuilt(
    cards_dir: Path, tmp_path: Path, no_rebuilds: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = CardService.load(cards_dir, cache_dir=tmp_path / "cache")
    monkeypatch.setattr(indexes_module, "MAX_DELETED_SHARE", 0.0)  # any deletion passes the share
    no_rebuilds.clear()
    card_file = file_of(svc.library, "bench-0001")
    edited = msgspec.structs.replace(card_file.cards[0], text=card_file.cards[0].text + " (Zyzzyva, 2024)")
    new = rewrite(svc.library, "bench-0001", msgspec.structs.replace(card_file, cards=(edited, *card_file.cards[1:])))
    svc.swap(new)
    assert no_rebuilds == ["search"]  # the citation index was still updated in place
    assert svc._snapshot.search.deleted == 0
    assert [h.detail.card.id for h in svc.cite("Zyzzyva 2024").hits] == [edited.id]
    assert_same(svc, new)


def test_a_first_start_extracts_references_once_where_the_files_are_parsed(
    cards_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index_dir = tmp_path / "index"
    monkeypatch.setattr(library_module, "PARALLEL_BYTES", 0)  # parse in worker processes, however small
    library = load_library(cards_dir, workers=2, after_parse=indexes_module.reference_cacher(index_dir))
    # The parse workers cached every file's references: building the citation index extracts none again.
    monkeypatch.setattr(indexes_module, "card_references", lambda *a: pytest.fail("extracted twice"))
    index = indexes_module.citation_index(library, index_dir)
    fresh = CitationIndex.build((c.id, c.text, c.citations) for c in library.cards.values())
    queries = [*{r.display() for refs in map(fresh.references_of, library.cards) for r in refs}, *CITES]
    assert len(index) == len(fresh) > 0
    for query in queries:
        assert index.lookup(query) == fresh.lookup(query), query
