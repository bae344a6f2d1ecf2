"""Loading folders of card files: the cache, broken files, parallel parsing and lossless round trips."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from bot.cards import library as library_module
from bot.cards import yamlio
from bot.cards.library import LoadCache, load_library
from bot.cards.model import Card, CardFile, Collection, Source
from tests.conftest import SHIPPED_CARDS


def make_file(folder: Path, collection_id: str, count: int, *, start: int = 0) -> Path:
    cards = tuple(
        Card(
            id=f"{collection_id}-{n:03d}",
            text=f"Fact number {n} about {collection_id}, citing (Horvath & Symonds, 1991).",
            topics=(collection_id, f"topic {n % 3}"),
            source=Source(article=f"Article {n}…", type="Offline Book/Journal"),
        )
        for n in range(start, start + count)
    )
    card_file = CardFile(
        collection=Collection(id=collection_id, title=collection_id.title(), curator="Ada"), cards=cards
    )
    path = folder / f"{collection_id}.yml"
    path.write_text(yamlio.dump(card_file), encoding="utf-8")
    return path


def test_round_trip_load_write_load_is_lossless(tmp_path: Path) -> None:
    first = load_library(SHIPPED_CARDS)
    for loaded in first.files:
        (tmp_path / loaded.path.name).write_text(yamlio.dump(loaded.card_file), encoding="utf-8")
    second = load_library(tmp_path)
    assert dict(second.cards) == dict(first.cards)
    assert dict(second.collections) == dict(first.collections)
    # Writing is stable: the same cards write the same bytes.
    for loaded in second.files:
        assert loaded.path.read_text(encoding="utf-8") == yamlio.dump(loaded.card_file)


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    import datetime as dt

    card = Card(
        id="x-1",
        text="Line one\nline two with trailing: colon and # hash and 'quotes' \"double\" and emoji 🎓",
        topics=("no", "yes", "2020-01-01", "on"),
        source=Source(
            article="'The vehicle of success':…",
            type="Offline Book/Journal",
            authors=("Horvath, Adam O.", "Symonds, B. Dianne"),
            year=1991,
            title="Relation between working alliance and outcome",
            container="Journal of Counseling Psychology",
            pages="139-149",
            doi="10.1037/0022-0167.38.2.139",
            url="https://doi.org/10.1037/0022-0167.38.2.139",
        ),
        citations=("Horvath & Symonds, 1991",),
        added_by="mod#1",
        added_at=dt.datetime(2026, 11, 26, 9, 30, tzinfo=dt.UTC),
    )
    original = CardFile(collection=Collection(id="x", title="X", curator="Ada", license="CC BY 4.0"), cards=(card,))
    back = msgspec.convert(yamlio.load(yamlio.dump(original)), CardFile)
    assert back == original


def test_a_broken_file_is_reported_and_skipped_and_the_rest_load(tmp_path: Path) -> None:
    make_file(tmp_path, "good", 3)
    (tmp_path / "broken.yml").write_text("collection:\n  id: broken\n  title: [oops\n", encoding="utf-8")
    library = load_library(tmp_path)
    assert sorted(library.cards) == ["good-000", "good-001", "good-002"]
    assert library.broken == (tmp_path / "broken.yml",)
    assert [(Path(p.path).name, p.line) for p in library.errors] == [("broken.yml", 4)]


def test_on_reload_a_broken_file_keeps_its_last_good_version(tmp_path: Path) -> None:
    path = make_file(tmp_path, "alpha", 2)
    first = load_library(tmp_path)
    path.write_text(path.read_text(encoding="utf-8").replace("id: alpha-001", "id: Alpha 1"), encoding="utf-8")
    second = load_library(tmp_path, previous=first)
    assert sorted(second.cards) == ["alpha-000", "alpha-001"]
    assert second.broken == (path,)
    assert any(p.is_error and p.line > 1 and "not a valid id" in p.message for p in second.problems)
    assert any("last good version stays live" in p.message for p in second.problems)


def test_hidden_folders_and_other_files_are_ignored(tmp_path: Path) -> None:
    make_file(tmp_path, "alpha", 1)
    (tmp_path / ".factdeck-cache").mkdir()
    (tmp_path / ".factdeck-cache" / "junk.yml").write_text("not: a card file", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    assert list(load_library(tmp_path).cards) == ["alpha-000"]


def test_warm_load_reads_the_cache_and_parses_nothing(tmp_path: Path, monkeypatch) -> None:
    cards = tmp_path / "cards"
    cards.mkdir()
    for n in range(4):
        make_file(cards, f"c{n}", 5)
    cache = LoadCache(tmp_path / "cache")
    cold = load_library(cards, cache=cache)
    parsed: list[str] = []
    real = library_module._parse_in_worker
    monkeypatch.setattr(
        library_module, "_parse_in_worker", lambda p, *rest: parsed.append(Path(p).name) or real(p, *rest)
    )
    warm = load_library(cards, cache=LoadCache(tmp_path / "cache"))
    assert parsed == []
    assert dict(warm.cards) == dict(cold.cards)
    assert warm.digest == cold.digest


def test_one_changed_file_reparses_that_file_only(tmp_path: Path, monkeypatch) -> None:
    cards = tmp_path / "cards"
    cards.mkdir()
    for n in range(3):
        make_file(cards, f"c{n}", 5)
    load_library(cards, cache=LoadCache(tmp_path / "cache"))
    make_file(cards, "c1", 6)
    parsed: list[str] = []
    real = library_module._parse_in_worker
    monkeypatch.setattr(
        library_module, "_parse_in_worker", lambda p, *rest, **kw: parsed.append(Path(p).name) or real(p, *rest, **kw)
    )
    library = load_library(cards, cache=LoadCache(tmp_path / "cache"))
    assert parsed == ["c1.yml"]
    assert len(library.cards_of("c1")) == 6


def test_a_touched_but_unchanged_file_hits_the_cache_by_content(tmp_path: Path, monkeypatch) -> None:
    cards = tmp_path / "cards"
    cards.mkdir()
    path = make_file(cards, "c0", 5)
    load_library(cards, cache=LoadCache(tmp_path / "cache"))
    os.utime(path, ns=(1, 1))
    parsed: list[str] = []
    monkeypatch.setattr(library_module, "_parse_in_worker", lambda p, *rest, **kw: parsed.append(p))
    library = load_library(cards, cache=LoadCache(tmp_path / "cache"))
    assert parsed == []
    assert len(library.cards) == 5


def test_a_corrupt_cache_entry_is_ignored(tmp_path: Path) -> None:
    cards = tmp_path / "cards"
    cards.mkdir()
    make_file(cards, "c0", 5)
    cache = LoadCache(tmp_path / "cache")
    load_library(cards, cache=cache)
    for entry in cache.directory.glob("*.msgpack"):
        entry.write_bytes(b"\x00garbage")
    library = load_library(cards, cache=LoadCache(tmp_path / "cache"))
    assert len(library.cards) == 5


def test_parallel_parse_gives_the_same_library(tmp_path: Path, monkeypatch) -> None:
    for n in range(6):
        make_file(tmp_path, f"c{n}", 40)
    serial = load_library(tmp_path, workers=1)
    monkeypatch.setattr(library_module, "PARALLEL_BYTES", 0)
    # Worker processes import their own copy of the module: only a parse in this process reaches the spy.
    parsed_here: list[str] = []
    real = library_module.parse_bytes
    monkeypatch.setattr(library_module, "parse_bytes", lambda raw, p: parsed_here.append(Path(p).name) or real(raw, p))
    parallel = load_library(tmp_path, workers=2)
    assert parsed_here == []  # a pool that fell back to a serial parse parses all six files here
    assert dict(parallel.cards) == dict(serial.cards)
    assert parallel.problems == serial.problems
    assert len(parallel.cards) == 240


def test_duplicate_ids_across_files_skip_the_later_file(tmp_path: Path) -> None:
    make_file(tmp_path, "alpha", 2)
    clash = make_file(tmp_path, "beta", 2)
    clash.write_text(clash.read_text(encoding="utf-8").replace("beta-001", "alpha-001"), encoding="utf-8")
    library = load_library(tmp_path)
    assert sorted(library.cards) == ["alpha-000", "alpha-001"]
    assert library.broken == (clash,)
    (problem,) = library.errors
    assert problem.path == str(clash)
    assert "duplicate card id 'alpha-001'" in problem.message
    assert problem.line > 1
