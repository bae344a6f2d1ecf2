"""A server's deck is kept packed in blocks of a few cards (issue 15: search within 1.5 times today's p99 with a
thousand servers' decks): showing one of its cards decodes the block that holds it, not the whole deck, and what a
reader sees is the card as the curator wrote it, before and after an edit, from a fresh load or from the cache."""

from __future__ import annotations

import functools
import gc
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from bot.cards import library as library_module
from bot.cards import yamlio
from bot.cards.library import BLOCK_CARDS, Library, LoadCache, load_library, qualify, replace_file
from bot.cards.model import Card, CardFile, Collection, Source
from bot.service import CardService

GUILD = 4242
#: Enough cards for three blocks and part of a fourth: every block edge is crossed.
COUNT = 3 * BLOCK_CARDS + 3


def _deck(count: int, *, collection_id: str = "course", edit: str = "") -> CardFile:
    cards = tuple(
        Card(
            id=f"{collection_id}-{n:03d}",
            text=f"Fact {n}{edit} about the zebrafish heart, as Poss (2002) showed in lesson {n}.",
            topics=(f"lesson {n % 4}",),
            source=Source(article=f"Article {n}…", type="Offline Book/Journal"),
            citations=(f"Poss ({2000 + n})",),
        )
        for n in range(count)
    )
    collection = Collection(id=collection_id, title="Zebrafish", curator="Ada")
    return CardFile(collection=collection, cards=cards)


def _write(root: Path, deck: CardFile) -> Path:
    path = root / "servers" / str(GUILD) / "course.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yamlio.dump(deck), encoding="utf-8")
    (root / "shared.yml").write_text(yamlio.dump(_deck(3, collection_id="shared")), encoding="utf-8")
    return path


def _served(card: Card) -> Card:
    return msgspec.structs.replace(card, id=qualify(card.id, GUILD))


EDGES = sorted({0, 1, BLOCK_CARDS - 1, BLOCK_CARDS, BLOCK_CARDS + 1, COUNT // 2, 3 * BLOCK_CARDS - 1, COUNT - 1})


@pytest.mark.parametrize("start", ["first load", "from the cache"])
def test_a_server_card_reads_as_written_on_both_sides_of_every_block_edge(tmp_path: Path, start: str) -> None:
    deck = _deck(COUNT)
    _write(tmp_path / "cards", deck)
    cache = LoadCache(tmp_path / "cache")
    library = load_library(tmp_path / "cards", cache=cache)
    if start == "from the cache":
        library = load_library(tmp_path / "cards", cache=LoadCache(tmp_path / "cache"))
    for n in EDGES:  # one card at a time, each from its own block
        assert library.cards[qualify(deck.cards[n].id, GUILD)] == _served(deck.cards[n])
    assert list(library.cards_of(qualify("course", GUILD))) == [_served(c) for c in deck.cards]
    served = {key: card for key, card in library.cards.items() if key.endswith(f"@{GUILD}")}
    assert served == {qualify(c.id, GUILD): _served(c) for c in deck.cards}
    loaded = library.file_of(qualify("course", GUILD))
    assert loaded is not None
    assert loaded.card_file == deck  # what a curator exports or edits: the ids as written


def test_a_reader_sees_the_first_middle_and_last_cards_of_a_server_deck(tmp_path: Path) -> None:
    deck = _deck(COUNT)
    _write(tmp_path / "cards", deck)
    service = CardService.load(tmp_path / "cards", cache_dir=tmp_path / "cache")
    for n in (0, COUNT // 2, COUNT - 1):
        shown = service.detail(f"course-{n:03d}", viewer=GUILD)
        assert shown is not None
        assert shown.card == _served(deck.cards[n])
        assert shown.collection.title == "Zebrafish"
        assert {r.display() for r in shown.references} == {f"Poss ({2000 + n})", "Poss (2002)"}
        assert service.detail(f"course-{n:03d}", viewer=GUILD + 1) is None  # another server sees no such card


def _peak(read: Callable[[], object]) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        read()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_showing_one_card_of_a_server_deck_decodes_its_block_not_the_whole_deck(tmp_path: Path) -> None:
    """The work a card shown costs (the memory allocated while reading it: the same figure every run), against
    reading the whole deck: a course of 100 cards of about a thousand characters each, as a study group writes."""
    words = ["regeneration", "cardiomyocyte", "zebrafish", "ventricle", "injury", "scar", "proliferation", "heart"]
    deck = _deck(100)
    cards = tuple(
        msgspec.structs.replace(card, text=" ".join(f"{words[(n + k) % len(words)]}{k % 13}" for k in range(90)) + ".")
        for n, card in enumerate(deck.cards)
    )
    deck = msgspec.structs.replace(deck, cards=cards)
    _write(tmp_path / "cards", deck)
    library = load_library(tmp_path / "cards")
    loaded = library.file_of(qualify("course", GUILD))
    assert loaded is not None
    for n in (0, 50, 99):
        key = qualify(deck.cards[n].id, GUILD)
        one = _peak(functools.partial(library.cards.__getitem__, key))
        whole = _peak(lambda: loaded.served)
        assert one * 3 < whole, f"card {n}: {one:,} B, the whole deck {whole:,} B"
        assert library.cards[key] == _served(deck.cards[n])


def _edited(library: Library, path: Path, deck: CardFile) -> Library:
    raw = yamlio.dump(deck).encode("utf-8")
    path.write_bytes(raw)
    return replace_file(library, path, deck, raw, warnings=())


def test_an_edited_server_deck_serves_its_new_cards_not_the_old_blocks(tmp_path: Path) -> None:
    before = _deck(COUNT)
    path = _write(tmp_path / "cards", before)
    service = CardService.load(tmp_path / "cards", cache_dir=tmp_path / "cache")
    old = service.library
    for n in EDGES:  # read the old cards, one at a time and whole, so that any kept copy would be stale
        assert service.detail(f"course-{n:03d}", viewer=GUILD) is not None
    assert len(old.cards_of(qualify("course", GUILD))) == COUNT
    # every text changed, one card removed in the middle of a block, two added past the last block
    after = _deck(COUNT + 2, edit=" (edited)")
    after = msgspec.structs.replace(after, cards=tuple(c for c in after.cards if c.id != "course-010"))
    service.swap(_edited(old, path, after))
    for card in after.cards:
        shown = service.detail(card.id, viewer=GUILD)
        assert shown is not None
        assert shown.card == _served(card)
    assert service.detail("course-010", viewer=GUILD) is None
    assert list(service.library.cards_of(qualify("course", GUILD))) == [_served(c) for c in after.cards]
    hits = service.search("edited zebrafish", limit=50, viewer=GUILD)
    assert hits.page.total == COUNT + 1
    assert all("(edited)" in d.card.text for d in hits.details)
    # the library served before the edit still reads its own cards (a search running meanwhile sees one or the other)
    assert old.cards[qualify("course-005", GUILD)] == _served(before.cards[5])
    assert list(old.cards_of(qualify("course", GUILD))) == [_served(c) for c in before.cards]


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda raw: raw[: len(raw) // 2], id="truncated"),
        pytest.param(lambda raw: raw[:-7], id="cut short at the end"),
        pytest.param(lambda raw: b"\x00garbage", id="garbage"),
        pytest.param(lambda raw: msgspec.msgpack.encode([{"collection": 1, "cards": 5}, []]), id="wrong shape"),
    ],
)
def test_a_damaged_cache_entry_of_a_server_deck_is_read_again_from_its_file(
    tmp_path: Path, damage: Callable[[bytes], bytes]
) -> None:
    deck = _deck(COUNT)
    _write(tmp_path / "cards", deck)
    cache = LoadCache(tmp_path / "cache")
    load_library(tmp_path / "cards", cache=cache)
    entries = [e for e in cache.directory.glob("*.msgpack") if e.name != "index.msgpack"]
    assert len(entries) == 2  # the shared file's and the server's
    for entry in entries:
        entry.write_bytes(damage(entry.read_bytes()))
    library = load_library(tmp_path / "cards", cache=LoadCache(tmp_path / "cache"))
    assert library.errors == ()
    for n in EDGES:
        assert library.cards[qualify(deck.cards[n].id, GUILD)] == _served(deck.cards[n])
    assert list(library.cards_of(qualify("course", GUILD))) == [_served(c) for c in deck.cards]


def test_showing_a_server_card_reads_its_block_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A card shown before its server has cited anything reads its references from the card: the card the service
    has just read, not the block again."""
    deck = _deck(COUNT)
    _write(tmp_path / "cards", deck)
    service = CardService.load(tmp_path / "cards", cache_dir=tmp_path / "cache")
    reads: list[int] = []
    real = library_module._packed_card
    monkeypatch.setattr(library_module, "_packed_card", lambda packed, n: reads.append(n) or real(packed, n))
    shown = service.detail("course-011", viewer=GUILD)
    assert shown is not None
    assert {r.display() for r in shown.references} == {"Poss (2011)", "Poss (2002)"}
    assert reads == [11]


def test_a_packed_deck_reads_as_written_after_another_library_offers_other_words(tmp_path: Path) -> None:
    """Server decks are packed with a preset dictionary of the shared cards' words: a deck packed earlier in the
    process still reads as written after another load (a reload, another library) offers other words."""
    deck = _deck(COUNT)
    _write(tmp_path / "cards", deck)
    library = load_library(tmp_path / "cards")  # packs the deck (and fixes the dictionary if nothing did yet)
    loaded = library.file_of(qualify("course", GUILD))
    assert loaded is not None

    def reads_as_written() -> None:
        for n in EDGES:
            assert loaded.served_card(qualify(deck.cards[n].id, GUILD)) == _served(deck.cards[n])
        assert loaded.card_file == deck

    library_module.offer_dictionary(["quagga okapi narwhal zebrafish heart Fact about lesson"] * 100)
    reads_as_written()
    other = tmp_path / "other"
    _write(other, _deck(COUNT, edit=" (again)"))
    shared = (
        "collection: {id: shared, title: Other, curator: Bo}\ncards:\n  - {id: s-1, text: Narwhal tusks are teeth.}\n"
    )
    (other / "shared.yml").write_text(shared, encoding="utf-8")
    load_library(other)
    reads_as_written()
