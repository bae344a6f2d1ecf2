"""The card service on the seed collection: what a study group gets from random, search, cite and source."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from bot.index import snapshot as indexes_module
from bot.service import CardService
from tests.conftest import SHIPPED_CARDS

ID = "therapeutic-alliance-{:03d}".format


@pytest.fixture(scope="module")
def service() -> CardService:
    return CardService.load(SHIPPED_CARDS, rng=random.Random(3))


def test_random_is_uniform_over_the_library(service: CardService) -> None:
    counts = Counter(service.random().detail.card.id for _ in range(20_000))  # type: ignore[union-attr]
    assert set(counts) == {ID(n) for n in range(1, 11)}
    assert max(counts.values()) < 2_300
    assert min(counts.values()) > 1_700


def test_random_filters_by_topic_and_collection(service: CardService) -> None:
    picks = {service.random(topic="Couple Therapy").detail.card.id for _ in range(200)}  # type: ignore[union-attr]
    assert picks == {ID(4), ID(8), ID(9)}
    both = {
        service.random(topic="couple therapy", collection="therapeutic-alliance").detail.card.id  # type: ignore[union-attr]
        for _ in range(100)
    }
    assert both == {ID(4), ID(8), ID(9)}


def test_random_prefers_unseen_cards_and_says_when_all_are_seen(service: CardService) -> None:
    seen = {ID(n) for n in range(1, 10)}
    for _ in range(50):
        pick = service.random(avoid=seen)
        assert pick.detail is not None
        assert pick.detail.card.id == ID(10)
        assert not pick.exhausted
    pick = service.random(avoid=seen | {ID(10)})
    assert pick.exhausted
    assert pick.detail is not None


def test_random_with_an_unknown_topic_suggests_close_ones(service: CardService) -> None:
    pick = service.random(topic="couple therapie")
    assert pick.detail is None
    assert pick.message is not None
    assert "No card has the topic “couple therapie”" in pick.message
    assert "couple therapy" in pick.message
    assert "no collection “nope”" in (service.random(collection="nope").message or "")


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("couple therapy", {ID(4), ID(8), ID(9)}),
        ("adolescent drug treatment", {ID(10)}),
        ("children", {ID(6)}),
        ("Bordin goal task bond", {ID(2)}),
        ("unconditonal regard", {ID(1)}),
        ("engaging adolescents", {ID(10)}),
        ("Ronnestad", {ID(10)}),
    ],
)
def test_search_puts_what_a_reader_wants_first(service: CardService, query: str, first: set[str]) -> None:
    result = service.search(query, limit=len(first))
    assert {v.card.id for v in result.details} == first
    assert result.message is None


@pytest.mark.parametrize("query", ["", "   ", 'NEAR(" OR *', "'; DROP TABLE cards; --", "x" * 5000, "🧠 العلاج"])
def test_hostile_or_empty_queries_never_raise(service: CardService, query: str) -> None:
    result = service.search(query)
    if not query.strip():
        assert result.message == "Type a word or two to search for." or result.message
    assert result.page.total >= 0


def test_cite_returns_every_card_citing_a_work_as_each_writes_it(service: CardService) -> None:
    result = service.cite("Horvath & Symonds 1991")
    assert {(h.detail.card.id, h.written) for h in result.hits} == {
        (ID(7), "Horvath and Symonds, 1991"),
        (ID(9), "Horvath & Symonds, 1991"),
        (ID(10), "Horvath & Symonds 1991"),
    }
    (simpson,) = service.cite("Simpson").hits  # two works by Simpson, one card
    assert (simpson.detail.card.id, simpson.written) == (ID(10), "Simpson 2004; Simpson 2001")
    assert [h.detail.card.id for h in service.cite("Rogers (1951)").hits] == [ID(1)]
    nothing = service.cite("Freud 1900")
    assert nothing.hits == ()
    assert nothing.message == "No card cites “Freud 1900”."


def test_source_falls_back_to_the_page_when_no_structured_fields(service: CardService) -> None:
    plain = service.source(ID(1))
    assert plain is not None
    assert "'The vehicle of success':…" in plain
    assert "Offline Book/Journal" in plain
    assert service.source("no-such-card") is None


def test_autocomplete_sources(service: CardService) -> None:
    assert service.topics("coup")[0] == "couple therapy"
    assert service.topics("coupel") == ["couple therapy"]  # typo tolerant
    assert ("therapeutic-alliance", "Therapeutic Alliance (therapeutic-alliance)") in service.collection_choices(
        "thera"
    )
    refs = service.references("Horv")
    assert refs[0][1] >= 3
    assert [card_id for card_id, _label in service.card_choices("adolesc")] == [ID(10), ID(6)]
    assert service.card_choices(ID(3))[0][0] == ID(3)


def test_reload_swaps_the_whole_library_and_reports_changes(cards_copy: Path) -> None:
    svc = CardService.load(cards_copy)
    before = svc.library
    path = cards_copy / "therapeutic-alliance.yml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("topics:\n      - bordin", "topics:\n      - bordin\n      - measurement"), "utf-8")
    report = svc.reload()
    assert report.changed == (ID(2),)
    assert report.added == report.removed == ()
    assert svc.search("measurement", limit=1).details[0].card.id == ID(2)
    assert before.cards[ID(2)].topics[0] == "bordin"  # the old snapshot is untouched
    path.write_text(text.replace("id: therapeutic-alliance-002", "id: Bad Id"), "utf-8")
    report = svc.reload()
    assert report.broken == (path,)
    assert len(svc.library.cards) == 10  # the last good version stays live
    assert any(p.is_error and p.path == str(path) and "not a valid id" in p.message for p in report.problems)


def test_a_warm_start_reuses_the_search_and_citation_indexes(tmp_path: Path, cards_copy: Path, monkeypatch) -> None:
    CardService.load(cards_copy, cache_dir=tmp_path / "cache")
    built: list[int] = []
    real = indexes_module.SearchIndex.build
    monkeypatch.setattr(indexes_module.SearchIndex, "build", lambda *a, **k: built.append(1) or real(*a, **k))
    real_cite = indexes_module.CitationIndex.from_references.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(
        indexes_module.CitationIndex,
        "from_references",
        classmethod(lambda cls, cards: built.append(2) or real_cite(cls, cards)),
    )
    monkeypatch.setattr(indexes_module, "card_references", lambda *a: built.append(3) or [])
    CardService.load(cards_copy)  # without the cache both are built: the patches do see a build
    assert sorted(set(built)) == [1, 2, 3]
    built.clear()
    warm = CardService.load(cards_copy, cache_dir=tmp_path / "cache")
    assert built == []
    assert len(warm.cite("Horvath & Symonds 1991").hits) == 3
    assert warm.search("couple therapy", limit=1).page.total == 3


def test_a_served_card_cites_only_what_its_served_version_says(tmp_path: Path) -> None:
    """A broken file's last good version is served beside a newer copy of its cards: citations follow the served one."""
    card_file = (
        "collection: {{id: x, title: X, curator: Ada}}\ncards:\n  - id: x-1\n    text: {text}\n    topics: [t]\n"
    )
    (tmp_path / "a.yml").write_text(card_file.format(text="Old text (Rogers, 1951)."), "utf-8")
    svc = CardService.load(tmp_path)
    (tmp_path / "a.yml").write_text("collection: [broken\n", "utf-8")
    (tmp_path / "b.yml").write_text(card_file.format(text="New text (Horvath & Symonds, 1991)."), "utf-8")
    svc.reload()
    assert len(svc.library.files) == 2
    view = svc.detail("x-1")
    assert view is not None
    assert view.card.text == "Old text (Rogers, 1951)."
    assert [r.display() for r in view.references] == ["Rogers (1951)"]
    assert svc.cite("Horvath & Symonds 1991").hits == ()
    rebuilt = indexes_module.build_snapshot(svc.library, None)  # a full build, as after a large reload
    assert [r.display() for r in rebuilt.citations.references_of("x-1")] == ["Rogers (1951)"]
    assert rebuilt.citations.cards_citing("Horvath & Symonds 1991") == []


def test_topics_compare_alike_in_random_picks_and_search(tmp_path: Path) -> None:
    text = (
        "collection: {id: x, title: X, curator: Ada}\n"
        "cards:\n  - id: x-1\n    text: A fact.\n    topics: [Cafe\u0301 culture]\n"
    )
    (tmp_path / "x.yml").write_text(text, "utf-8")
    svc = CardService.load(tmp_path)
    assert svc.search("fact", topic="café  Culture").page.total == 1
    pick = svc.random(topic="café  Culture")
    assert pick.detail is not None
    assert pick.detail.card.id == "x-1"
