"""How a server's deck is kept packed (issue 15): what one card read from it costs, against the bytes it is kept in.

A bot serving a thousand servers keeps each server's card file compressed and decodes a card when that server reads
it (a search hit, a card shown). Main decoded the whole file for one card; the library now packs it in blocks of
``BLOCK_CARDS`` cards, each compressed on its own. This measures, on the synthetic server decks ``bench_decks``
writes (100 cards of 400-700 characters each, words of the shared library's vocabulary), every option beside main's
way in the same run:

* **whole file** (main's way, the baseline): zlib level 1 over the file's MessagePack; a card read decompresses and
  decodes every card;
* **blocks of 1, 4, 8 and 16 cards**, each compressed on its own (zlib level 1 or 6), with no preset dictionary,
  with one of the card format's keys and common values, or with the library's (``offer_dictionary``: the shared
  cards' most frequent words, then the format's keys; here the words of a shared library of the same vocabulary);
* **the library's format** (``bot.cards.library``: blocks of ``BLOCK_CARDS``, each a deflate stream of its own at
  ``PACK_LEVEL`` with the process's dictionary): ``LoadedFile.served_card`` and ``LoadedFile.served`` as the bot
  calls them.

For each: the median time to read one card (a random card of a random file), the packed bytes per file (and their
ratio to main's, which memory pays for: a thousand servers' decks), and the time to pack a file (a restart packs
every server's file from the load cache).

Run: .venv/bin/python -m benchmarks.bench_packs [--files N] [--per-server N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import msgspec

from benchmarks.bench_decks import write_server_deck
from benchmarks.bench_search_index import synthetic_docs
from bot.cards import library as library_module
from bot.cards.library import (
    BLOCK_CARDS,
    DICTIONARY_CARDS,
    PACK_LEVEL,
    LoadedFile,
    offer_dictionary,
    parse_bytes,
    qualify,
)
from bot.cards.model import CARD_KEYS, SOURCE_KEYS, Card, CardFile

GUILD = 10**17
_ENCODER = msgspec.msgpack.Encoder()
_FILE = msgspec.msgpack.Decoder(CardFile)
_CARD = msgspec.msgpack.Decoder(Card)
_BLOCK = msgspec.msgpack.Decoder(tuple[msgspec.Raw, ...])
#: A preset dictionary any process could share: the keys every card writes and the source types most use.
ZDICT = _ENCODER.encode([*CARD_KEYS, *SOURCE_KEYS, "Offline Book/Journal", "Online Journal", "Book"])


class _RawFile(msgspec.Struct):
    collection: msgspec.Raw
    cards: tuple[msgspec.Raw, ...] = ()


_RAW_FILE = msgspec.msgpack.Decoder(_RawFile)


def decks(files: int, per_server: int) -> list[CardFile]:
    """``files`` server decks as bench_decks writes them, parsed as the loader parses them."""
    found = []
    with tempfile.TemporaryDirectory(prefix="factdeck-packs-") as tmp:
        for n in range(files):
            path = write_server_deck(Path(tmp) / "servers" / str(GUILD + n), n, per_server)
            result = parse_bytes(path.read_bytes(), str(path))
            assert result.card_file is not None, result.problems
            found.append(result.card_file)
    return found


def _median_us(call: Callable[..., object], args: Sequence[tuple[object, ...]]) -> float:
    for a in args[:20]:  # warm-up
        call(*a)
    samples = []
    clock = time.perf_counter_ns
    for a in args:
        started = clock()
        call(*a)
        samples.append(clock() - started)
    return statistics.median(samples) / 1000


def _served(card: Card) -> Card:
    return msgspec.structs.replace(card, id=qualify(card.id, GUILD))


def whole_file(card_file: CardFile) -> bytes:
    return zlib.compress(_ENCODER.encode(card_file), 1)


def read_whole(packed: bytes, position: int) -> Card:
    """Main's way: the whole file decoded and its ids qualified, for one card."""
    written = _FILE.decode(zlib.decompress(packed))
    return tuple(_served(card) for card in written.cards)[position]


def blocks(card_file: CardFile, size: int, zdict: bytes | None, level: int = 1) -> list[bytes]:
    raw = _RAW_FILE.decode(_ENCODER.encode(card_file))
    out = []
    for start in range(0, len(raw.cards), size):
        squeeze = zlib.compressobj(level, zlib.DEFLATED, -15, **({"zdict": zdict} if zdict else {}))
        out.append(squeeze.compress(_ENCODER.encode(raw.cards[start : start + size])) + squeeze.flush())
    return out


def read_block(packed: list[bytes], position: int, size: int, zdict: bytes | None) -> Card:
    stream = zlib.decompressobj(-15, **({"zdict": zdict} if zdict else {}))
    return _served(_CARD.decode(_BLOCK.decode(stream.decompress(packed[position // size]))[position % size]))


def main(args: argparse.Namespace) -> None:
    files = decks(args.files, args.per_server)
    # The library's dictionary, as a load offers it: the words of the shared cards (bench_decks' shared library).
    offer_dictionary(doc.text for doc in synthetic_docs(DICTIONARY_CARDS, seed=7, words_seed=7))
    words = library_module._zdict()
    rng = random.Random(3)
    reads = [(rng.randrange(len(files)), rng.randrange(args.per_server)) for _ in range(args.reads)]
    packs = [(n,) for n in range(len(files))] * 5
    raw_kb = statistics.mean(len(_ENCODER.encode(f)) for f in files) / 1024
    print(f"{len(files)} server decks of {args.per_server} cards, {raw_kb:.1f} KB of MessagePack each")
    print(f"{len(reads):,} reads of a random card of a random deck; medians\n")
    print(f"{'option':44}  {'one card (us)':>13}  {'packed (KB)':>11}  {'x main':>6}  {'pack a file (us)':>16}")

    def row(name: str, read_us: float, packed_bytes: float, pack_us: float) -> None:
        ratio = packed_bytes / baseline_bytes
        print(f"{name:44}  {read_us:13.1f}  {packed_bytes / 1024:11.1f}  {ratio:6.2f}  {pack_us:16.0f}")

    whole = [whole_file(f) for f in files]
    baseline_bytes = statistics.mean(len(p) for p in whole)
    read_us = _median_us(lambda f, p: read_whole(whole[f], p), reads)
    row(
        "whole file, zlib 1 (main's way, baseline)",
        read_us,
        baseline_bytes,
        _median_us(lambda f: whole_file(files[f]), packs),
    )
    options = [(None, "", 1), (ZDICT, ", keys zdict", 1), (None, "", 6), (words, ", the library's zdict", 1)]
    options.append((words, ", the library's zdict", 6))
    for zdict, name, level in options:
        for size in (1, 4, 8, 16):
            packed = [blocks(f, size, zdict, level) for f in files]
            nbytes = statistics.mean(sum(len(b) + 33 for b in p) for p in packed)  # + a bytes object's header each
            read_us = _median_us(
                lambda f, p, packed=packed, size=size, zdict=zdict: read_block(packed[f], p, size, zdict), reads
            )
            pack_us = _median_us(
                lambda f, size=size, zdict=zdict, level=level: blocks(files[f], size, zdict, level), packs
            )
            row(f"blocks of {size}, level {level}{name}", read_us, nbytes, pack_us)
    loaded = [LoadedFile(Path(f"course-{n}.yml"), "", f, (), GUILD) for n, f in enumerate(files)]
    keys = [(loaded[f], qualify(files[f].cards[p].id, GUILD)) for f, p in reads]
    read_us = _median_us(lambda file, key: file.served_card(key), keys)
    pack_us = _median_us(lambda f: LoadedFile(Path("x.yml"), "", files[f], (), GUILD), packs)
    nbytes = statistics.mean(len(f.content) for f in loaded if isinstance(f.content, bytes))
    row(f"the library (blocks of {BLOCK_CARDS}, level {PACK_LEVEL})", read_us, nbytes, pack_us)
    whole_us = _median_us(lambda f: loaded[f].served, packs)
    print(f"\nthe library, a whole file read (served, for curation, export, a collection's page): {whole_us:.0f} us")
    assert all(
        file.served_card(key) == _served(files[f].cards[p]) for (file, key), (f, p) in zip(keys, reads, strict=True)
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=40, help="server decks (default 40)")
    parser.add_argument("--per-server", type=int, default=100, help="cards in each (default 100)")
    parser.add_argument("--reads", type=int, default=3000, help="cards read for each option (default 3,000)")
    main(parser.parse_args())
