"""Loading a folder of card files into an immutable library, fast, with a cache keyed on file content.

A cold load parses files in worker processes when there is enough to parse (YAML parsing is CPU-bound and
two cores halve it), with the garbage collector paused, since card structs never form cycles. Each file's
decoded cards and problems are cached as MessagePack under the BLAKE2 digest of its bytes, so a warm start
decodes instead of parsing, and one changed file re-parses that file only.

Files with errors are reported and skipped; on a reload (``previous`` given) a broken file keeps its last good
version live, so a curator's typo never takes cards away from readers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import hashlib
import itertools
import logging
import multiprocessing
import os
import stat as _stat
import struct
import threading
import zlib
from collections import Counter
from collections.abc import Callable, ItemsView, Iterable, Iterator, Mapping, ValuesView
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from bot.cards import model
from bot.cards.model import Card, CardFile, Collection
from bot.cards.validate import FileResult, Problem, Severity, cross_file, decode_text, validate_text
from bot.util.files import drop_cache, write_cache
from bot.util.kept import Kept

log = logging.getLogger(__name__)

SUFFIXES = (".yml", ".yaml")
#: Card files larger than this are refused before they are read (``max_card_file_bytes``; docs/cards.md, "Files
#: that are not read"): checking a file takes about 80 times its size in memory.
MAX_FILE_BYTES = 16 << 20
#: Parse in worker processes only when there is this much uncached YAML; below it, starting them costs more.
PARALLEL_BYTES = 4 << 20
#: Changes whenever the model or the cache layout changes, so an old cache is never misread.
CACHE_VERSION = hashlib.blake2b(model.schema_text().encode() + b"cache-v3", digest_size=6).hexdigest()


# ------------------------------------------------------------------------------------------- audiences
#: Who a collection is for: None for the shared library every server reads, else the id of the one server whose
#: own collection it is (its file lives in ``cards/servers/<server id>/``).
Audience = int | None
#: The folder, under the cards folder, that holds one folder of card files per server.
SERVERS = "servers"
#: Between a card or collection id and the server it belongs to, in the keys the library serves it under.
AUDIENCE_MARK = "@"


def qualify(local_id: str, audience: Audience) -> str:
    """The key a card or collection is served under: its id for the shared library, ``id@server`` for a server's
    own, so that two servers (or a server and the shared library) may use the same ids without clashing."""
    return local_id if audience is None else f"{local_id}{AUDIENCE_MARK}{audience}"


def audience_of_key(key: str) -> Audience:
    """The audience a served key belongs to (None: shared; a key not of that form is shared too)."""
    _local, mark, server = key.rpartition(AUDIENCE_MARK)
    return int(server) if mark and server.isdigit() else None


def local_id(key: str) -> str:
    """The id as written in its card file (``bio-001`` for ``bio-001@123``)."""
    local, mark, server = key.rpartition(AUDIENCE_MARK)
    return local if mark and server.isdigit() else key


def visible(key: str, viewer: Audience) -> bool:
    """Whether a reader in server ``viewer`` (None: a direct message) may see the card or collection ``key``."""
    audience = audience_of_key(key)
    return audience is None or audience == viewer


def audience_folder(root: Path, audience: Audience) -> Path:
    """The folder that holds an audience's card files (the cards folder itself for the shared library)."""
    return root if audience is None else root / SERVERS / str(audience)


def audience_of_path(root: Path, path: Path) -> Audience:
    """The audience of a card file from where it lives: ``servers/<server id>/...`` is that server's."""
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return None
    if len(parts) >= 3 and parts[0] == SERVERS and parts[1].isdigit():
        return int(parts[1])
    return None


def _misplaced(root: Path, path: Path) -> str | None:
    """Why a card file under ``servers/`` is not in a server's folder, or None."""
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return None
    if parts and parts[0] == SERVERS and (len(parts) < 3 or not parts[1].isdigit()):
        return (
            f"files under {SERVERS}/ belong to one server each: put it in {SERVERS}/<server id>/ "
            "(or outside servers/ for the shared library)"
        )
    return None


def _served_file(card_file: CardFile, audience: Audience) -> CardFile:
    """A server's card file as served: its collection and card ids qualified with the server (see :func:`qualify`)."""
    if audience is None:
        return card_file
    replace = msgspec.structs.replace
    return CardFile(
        collection=replace(card_file.collection, id=qualify(card_file.collection.id, audience)),
        cards=tuple(replace(card, id=qualify(card.id, audience)) for card in card_file.cards),
    )


#: A server's card file is kept packed in blocks of this many cards, each compressed on its own (see :func:`_pack`):
#: a search hit or a card shown decompresses the block that holds it, not the whole file. ``benchmarks/bench_packs.py``
#: chose it: on decks of realistic cards, with the preset dictionary, one card read from blocks of 8 takes about 1/16
#: of decoding the whole file (34 us), in 0.94 times the bytes of the whole file compressed without it (blocks of 4:
#: 1/25, 0.99 times; of 16: 1/9, 0.93 times, 57 us).
BLOCK_CARDS = 8
#: How many server card files a library keeps decoded whole (see :class:`DecodedFiles`).
DECODED_FILES = 16

_U32 = struct.Struct("<I")
#: Raw deflate: the blocks never leave the process, so they need no header or checksum.
_RAW_DEFLATE = -zlib.MAX_WBITS
#: zlib's level for packing. ``benchmarks/bench_packs.py`` on decks of realistic cards, with the preset dictionary:
#: level 6 keeps a deck in 0.85 times level 1's bytes and reads a card as fast, but packs it in 2.5 times the time
#: (4.2 ms a deck of 100 cards, against 1.7): a restart packs every server's deck, a thousand of them.
PACK_LEVEL = 1
#: The preset dictionary's most frequent words and size (see :func:`offer_dictionary`): deflate reaches back at
#: most 32 KB, and a block of cards is about 6 KB.
DICTIONARY_WORDS = 2_500
DICTIONARY_BYTES = 20_000
#: How many shared cards the preset dictionary's words are counted in, spread over the library (about 20 ms at a
#: start; 4,000 cards took 65 ms for a deck 1 % smaller).
DICTIONARY_CARDS = 1_000
#: The card format's keys, at the end of every preset dictionary (the nearest, cheapest to refer to).
_FORMAT_WORDS = " ".join((*model.CARD_KEYS, *model.SOURCE_KEYS)).encode()
_dictionary: bytes | None = None
_dictionary_lock = threading.Lock()


def offer_dictionary(texts: Iterable[str]) -> None:
    """Offer the preset dictionary (``zdict``) server decks are packed with: the most frequent words of ``texts``
    (the shared cards': a server's deck is mostly written in the same words), most frequent last.

    A deck packed with a dictionary is read with the same one, so the first dictionary a process packs with is
    kept for the process's life: the first load (which offers the shared cards' words before it packs any
    server's deck) sets it, and later offers change nothing. Packs never leave the process (a start packs every
    deck anew from the load cache), so another process may choose another dictionary. With the shared library's
    words, a server's deck of realistic cards takes 0.78 times the bytes it took without (``bench_packs``: 28.8
    KB for 100 cards, against 36.7), and a card reads as fast.
    """
    global _dictionary
    with _dictionary_lock:
        if _dictionary is not None:
            return
        # Words as they stand in the text, punctuation and all: what the packed text repeats.
        common = [word for word, _n in Counter(" ".join(texts).split()).most_common(DICTIONARY_WORDS)]
        _dictionary = " ".join(reversed(common)).encode()[-DICTIONARY_BYTES:] + b" " + _FORMAT_WORDS


def _zdict() -> bytes:
    """The preset dictionary of this process's packs (fixed by its first use: the card format's keys alone when
    nothing offered one)."""
    found = _dictionary
    if found is None:
        offer_dictionary(())
        found = _dictionary
    assert found is not None
    return found


class _RawFile(msgspec.Struct, gc=False):
    """A card file's MessagePack read with its collection and each of its cards left encoded."""

    collection: msgspec.Raw
    cards: tuple[msgspec.Raw, ...] = ()


_RAW_FILE = msgspec.msgpack.Decoder(_RawFile)
_BLOCK = msgspec.msgpack.Decoder(tuple[msgspec.Raw, ...])
_COLLECTION = msgspec.msgpack.Decoder(Collection)
_CARD = msgspec.msgpack.Decoder(Card)
_CARDS = msgspec.msgpack.Decoder(tuple[Card, ...])


def _pack(encoded: bytes | msgspec.Raw) -> bytes:
    """A server's card file (its MessagePack) as kept between uses: compressed (cards are mostly words), its
    collection first and then its cards in blocks of :data:`BLOCK_CARDS`, each part readable on its own.

    Each part is a raw deflate stream of its own, with the process's preset dictionary (:func:`offer_dictionary`)
    and refers to nothing before it; in front, as 32-bit integers, the number of parts and where each ends.
    """
    raw = _RAW_FILE.decode(encoded)
    blocks = (_ENCODER.encode(raw.cards[n : n + BLOCK_CARDS]) for n in range(0, len(raw.cards), BLOCK_CARDS))
    zdict = _zdict()
    stream: list[bytes] = []
    ends: list[int] = []
    for part in (raw.collection, *blocks):
        squeeze = zlib.compressobj(PACK_LEVEL, zlib.DEFLATED, _RAW_DEFLATE, zdict=zdict)
        stream.append(squeeze.compress(part) + squeeze.flush())
        ends.append(ends[-1] + len(stream[-1]) if ends else len(stream[-1]))
    return struct.pack(f"<{len(ends) + 1}I", len(ends), *ends) + b"".join(stream)


def _part(packed: bytes, index: int) -> bytes:
    """Part ``index`` of a packed file, decompressed (0: its collection; n: its n-th block of cards)."""
    start = _U32.unpack_from(packed, 4 * index)[0] if index else 0
    end = _U32.unpack_from(packed, 4 * (index + 1))[0]
    base = 4 * (_U32.unpack_from(packed)[0] + 1)
    return zlib.decompressobj(_RAW_DEFLATE, zdict=_zdict()).decompress(memoryview(packed)[base + start : base + end])


def _packed_card(packed: bytes, position: int) -> Card:
    """The card at ``position`` in a packed file, as written: only the block that holds it is decompressed."""
    return _CARD.decode(_BLOCK.decode(_part(packed, 1 + position // BLOCK_CARDS))[position % BLOCK_CARDS])


def _unpack(packed: bytes) -> CardFile:
    """A packed file's collection and cards as written, every part decompressed."""
    count = _U32.unpack_from(packed)[0]
    ends = struct.unpack_from(f"<{count}I", packed, 4)
    zdict, view = _zdict(), memoryview(packed)[4 * (count + 1) :]
    parts = [
        zlib.decompressobj(_RAW_DEFLATE, zdict=zdict).decompress(view[start:end])
        for start, end in itertools.pairwise((0, *ends))
    ]
    cards = [card for block in parts[1:] for card in _CARDS.decode(block)]
    return CardFile(collection=_COLLECTION.decode(parts[0]), cards=tuple(cards))


@dataclass(frozen=True, slots=True)
class LoadedFile:
    """One card file as served: where it is, the digest of its bytes, its cards and its warnings.

    ``card_file`` is the file as written; ``served`` the same with ids as the library serves them (qualified with
    the server for a server's collection, see :func:`qualify`); ``audience`` whom it is for.

    A server's file is kept packed (``content`` is compressed MessagePack in blocks of a few cards, about a fifth of
    the decoded cards' memory, see :func:`_pack`): reading one of its cards (:meth:`served_card`) decodes the block
    that holds it, and ``card_file`` or ``served`` the whole file, each time (a library keeps the files read whole
    lately, see :class:`DecodedFiles`). A bot serving a thousand servers' decks holds the shared library decoded and
    the servers' packed.
    """

    path: Path
    digest: str
    content: CardFile | bytes
    warnings: tuple[Problem, ...] = ()
    audience: Audience = None
    #: A packed file's collection and card keys as served, kept decoded: the library is indexed and sorted by them.
    served_collection: Collection | None = field(default=None, compare=False, repr=False)
    keys: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        content = self.content
        if isinstance(content, CardFile):
            if self.audience is None:
                object.__setattr__(self, "served_collection", content.collection)
                return
            collection = msgspec.structs.replace(content.collection, id=self.key(content.collection.id))
            object.__setattr__(self, "content", _pack(_ENCODER.encode(content)))
            object.__setattr__(self, "served_collection", collection)
            object.__setattr__(self, "keys", tuple(self.key(card.id) for card in content.cards))

    @property
    def collection_id(self) -> str:
        """The id of the file's collection as served."""
        collection = self.served_collection
        return collection.id if collection is not None else self.served.collection.id

    @property
    def card_file(self) -> CardFile:
        """The file's collection and cards as written in it."""
        content = self.content
        return content if isinstance(content, CardFile) else _unpack(content)

    @property
    def served(self) -> CardFile:
        """The file's collection and cards with the ids they are served under."""
        content = self.content
        return content if isinstance(content, CardFile) else _served_file(_unpack(content), self.audience)

    def served_card(self, key: str) -> Card:
        """The card this file serves under ``key`` (KeyError when it holds none); of a packed file, only the block
        that holds it is decoded."""
        content = self.content
        if isinstance(content, CardFile):
            for card in content.cards:
                if card.id == key:
                    return card
            raise KeyError(key)
        position = self.position(key)
        return msgspec.structs.replace(_packed_card(content, position), id=self.keys[position])

    def position(self, key: str) -> int:
        """Where the card served under ``key`` is in a packed file (KeyError when it holds none)."""
        try:
            return self.keys.index(key)
        except ValueError:
            raise KeyError(key) from None

    def key(self, local: str) -> str:
        """The served key of a card or collection id of this file."""
        return qualify(local, self.audience)

    def for_audience(self, root: Path) -> LoadedFile:
        """This file with its audience (and served ids) set from where it lives under ``root``."""
        audience = audience_of_path(root, self.path)
        if audience == self.audience:
            return self
        return LoadedFile(self.path, self.digest, self.card_file, self.warnings, audience)

    def as_written(self) -> LoadedFile:
        """This file with the ids as written (its audience forgotten): what a curator of its audience edits."""
        if self.audience is None:
            return self
        return LoadedFile(self.path, self.digest, self.card_file, self.warnings)


class DecodedFiles:
    """The server card files a library keeps decoded whole: the :data:`DECODED_FILES` read whole last.

    A collection's page, its summary or a quiz's pool reads a whole file, often again soon; a card of a file kept
    here is read from it (the same card object each time) instead of from its block. Thread-safe: searches run in
    worker threads. A library's edits and reloads hand it on (its files are keyed by their packed content).
    """

    __slots__ = ("_files",)

    def __init__(self, size: int | None = None) -> None:
        self._files: Kept[tuple[bytes, Audience], CardFile] = Kept(size if size is not None else DECODED_FILES)

    def served(self, loaded: LoadedFile) -> CardFile:
        """The file's collection and cards with the ids they are served under (see :attr:`LoadedFile.served`)."""
        content = loaded.content
        if isinstance(content, CardFile):  # a shared file: held decoded, as written and served
            return content
        return self._files.get_or_make((content, loaded.audience), lambda: loaded.served)

    def card(self, loaded: LoadedFile, key: str) -> Card:
        """The card ``loaded`` serves under ``key``: from the file kept decoded, else from its block."""
        content = loaded.content
        if not isinstance(content, CardFile):
            found = self._files.get((content, loaded.audience))
            if found is not None:
                return found.cards[loaded.position(key)]
        return loaded.served_card(key)


class ServedCards(Mapping[str, Card]):
    """The cards a library serves, by served key, in library order.

    A shared card is held as it is; a server's card by the file that holds it (see :class:`LoadedFile`), and
    decoded when read: one card from its block, and a walk over every card (``items()``, ``values()``) one file at a
    time.
    """

    __slots__ = ("_decoded", "_entries")

    def __init__(self, entries: dict[str, Card | LoadedFile], decoded: DecodedFiles | None = None) -> None:
        self._entries = entries
        self._decoded = decoded if decoded is not None else DecodedFiles()

    def __getitem__(self, key: str) -> Card:
        found = self._entries[key]
        return found if isinstance(found, Card) else self._decoded.card(found, key)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def items(self) -> ItemsView[str, Card]:
        return _Items(self)

    def values(self) -> ValuesView[Card]:
        return _Values(self)

    def pairs(self) -> Iterator[tuple[str, Card]]:
        """Every (key, card) in library order, each server file decoded once (not a block per card)."""
        current: LoadedFile | None = None
        cards: dict[str, Card] = {}
        for key, entry in self._entries.items():
            if isinstance(entry, Card):
                yield key, entry
                continue
            if entry is not current:
                current, cards = entry, dict(zip(entry.keys, entry.served.cards, strict=True))
            yield key, cards[key]

    def source(self, key: str) -> Card | LoadedFile | None:
        """What holds the card ``key``: the card itself (shared) or the file it is decoded from (a server's)."""
        return self._entries.get(key)


class _Items(ItemsView[str, Card]):
    __slots__ = ("_cards",)

    def __init__(self, cards: ServedCards) -> None:
        super().__init__(cards)
        self._cards = cards

    def __iter__(self) -> Iterator[tuple[str, Card]]:
        return self._cards.pairs()


class _Values(ValuesView[Card]):
    __slots__ = ("_cards",)

    def __init__(self, cards: ServedCards) -> None:
        super().__init__(cards)
        self._cards = cards

    def __iter__(self) -> Iterator[Card]:
        return (card for _key, card in self._cards.pairs())


def same_card(before: Mapping[str, Card], after: Mapping[str, Card], key: str) -> bool:
    """Whether the card ``key`` is the same in both card mappings, without decoding a server's file when both hold
    it from the same content."""
    if isinstance(before, ServedCards) and isinstance(after, ServedCards):
        old, new = before.source(key), after.source(key)
        if old is new:
            return True
        if (
            isinstance(old, LoadedFile)
            and isinstance(new, LoadedFile)
            and (old.content, old.audience) == (new.content, new.audience)
        ):
            return True
    old_card, new_card = before.get(key), after.get(key)
    return old_card is new_card or old_card == new_card


@dataclass(frozen=True, slots=True)
class Library:
    """The cards being served. Immutable: a reload builds a new one and the service swaps it in whole."""

    root: Path
    files: tuple[LoadedFile, ...]
    problems: tuple[Problem, ...]
    broken: tuple[Path, ...]
    cards: Mapping[str, Card] = field(repr=False)
    collections: Mapping[str, Collection] = field(repr=False)
    card_collection: Mapping[str, str] = field(repr=False)
    collection_file: Mapping[str, Path] = field(repr=False)
    digest: str = ""
    #: Collections that more than one file claims: every claimant, the served one first (writes are refused).
    contested: Mapping[str, tuple[Path, ...]] = field(default_factory=dict, repr=False)
    #: The largest card file this library reads (``max_card_file_bytes``); a reload keeps it.
    max_file_bytes: int = MAX_FILE_BYTES
    #: The server files it keeps decoded whole (its cards read them too); edits and reloads hand them on.
    decoded: DecodedFiles = field(default_factory=DecodedFiles, compare=False, repr=False)

    @property
    def errors(self) -> tuple[Problem, ...]:
        """The problems that kept a file from loading."""
        return tuple(p for p in self.problems if p.is_error)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        """Problems worth fixing that did not stop a file from loading."""
        return tuple(p for p in self.problems if not p.is_error)

    def file_of(self, collection_id: str) -> LoadedFile | None:
        """The loaded file that holds a collection."""
        path = self.collection_file.get(collection_id)
        return next((f for f in self.files if f.path == path), None)

    def cards_of(self, collection_id: str) -> tuple[Card, ...]:
        """The cards of one collection, in file order, with their served ids (empty for an unknown id)."""
        loaded = self.file_of(collection_id)
        return self.decoded.served(loaded).cards if loaded is not None else ()

    def audiences(self) -> set[int]:
        """The servers that have collections of their own in this library."""
        return {f.audience for f in self.files if f.audience is not None}

    def of_audience(self, audience: Audience) -> Library:
        """The part of this library one audience curates, with ids as written in its files: the shared files for
        None, one server's for its id. Its root is that audience's folder (see :func:`audience_folder`)."""
        root = audience_folder(self.root, audience)
        files = [f.as_written() for f in self.files if f.audience == audience]
        mine = {str(f.path) for f in files}
        problems = [p for p in self.problems if p.path in mine or audience_of_path(self.root, Path(p.path)) == audience]
        broken = [b for b in self.broken if audience_of_path(self.root, b) == audience]
        contested = {local_id(cid): paths for cid, paths in self.contested.items() if audience_of_key(cid) == audience}
        part = _index(root, files, problems, broken, contested)
        return dataclasses.replace(part, max_file_bytes=self.max_file_bytes)

    def with_audience(self, audience: Audience, part: Library) -> Library:
        """This library with one audience's part replaced by ``part`` (an edited :meth:`of_audience`)."""
        others = [f for f in self.files if f.audience != audience]
        theirs = [f.for_audience(self.root) for f in part.files]
        mine = {str(f.path) for f in part.files}
        problems = [
            p for p in self.problems if audience_of_path(self.root, Path(p.path)) != audience and p.path not in mine
        ] + list(part.problems)
        broken = [b for b in self.broken if audience_of_path(self.root, b) != audience] + list(part.broken)
        contested = {cid: paths for cid, paths in self.contested.items() if audience_of_key(cid) != audience}
        contested.update({qualify(cid, audience): paths for cid, paths in part.contested.items()})
        served = sorted([*others, *theirs], key=_claim_order(self.root, self.collection_file))
        new = _index(self.root, served, problems, broken, contested, self.decoded)
        return dataclasses.replace(new, max_file_bytes=self.max_file_bytes)


# -------------------------------------------------------------------------------------------- the cache
class _Entry(msgspec.Struct, array_like=True, gc=False):
    card_file: CardFile | None
    problems: tuple[tuple[int, int, str, Severity], ...]  # line, column, message, severity


class _StatRecord(msgspec.Struct, array_like=True, gc=False):
    size: int
    mtime_ns: int
    digest: str


class _RawEntry(msgspec.Struct, array_like=True, gc=False):
    """A server's :class:`_Entry` read without decoding its cards."""

    card_file: msgspec.Raw  # MessagePack nil when the file has errors
    problems: tuple[tuple[int, int, str, Severity], ...]


@dataclass(frozen=True, slots=True)
class _PackedEntry:
    """A server's file as the loader keeps it: its MessagePack as cached, packed (see :class:`LoadedFile`) once the
    shared cards have offered the preset dictionary (see :func:`offer_dictionary`), with what the library indexes
    it by; ``encoded`` is None when the file has errors."""

    encoded: msgspec.Raw | None
    collection: Collection | None
    keys: tuple[str, ...]
    problems: tuple[tuple[int, int, str, Severity], ...]


class _CardId(msgspec.Struct, gc=False):
    id: str


class _Outline(msgspec.Struct, gc=False):
    """What the library indexes a server's file by: its collection and its cards' ids (the rest skipped)."""

    collection: Collection
    cards: tuple[_CardId, ...] = ()


_ENTRY = msgspec.msgpack.Decoder(_Entry)
_RAW_ENTRY = msgspec.msgpack.Decoder(_RawEntry)
_OUTLINE = msgspec.msgpack.Decoder(_Outline)
_NIL = msgspec.Raw(b"\xc0")


def _decode_entry(encoded: bytes, audience: Audience) -> _Entry | _PackedEntry:
    """A cache entry as the loader keeps it: decoded for the shared library, packed for a server's file (its
    cards are decoded when that server reads them, and never all at once at a start)."""
    if audience is None:
        return _ENTRY.decode(encoded)
    raw = _RAW_ENTRY.decode(encoded)
    if raw.card_file == _NIL:
        return _PackedEntry(None, None, (), raw.problems)
    outline = _OUTLINE.decode(raw.card_file)
    collection = msgspec.structs.replace(outline.collection, id=qualify(outline.collection.id, audience))
    keys = tuple(qualify(card.id, audience) for card in outline.cards)
    return _PackedEntry(raw.card_file, collection, keys, raw.problems)


_INDEX = msgspec.msgpack.Decoder(dict[str, _StatRecord])
_ENCODER = msgspec.msgpack.Encoder()


class LoadCache:
    """Decoded card files on disk, keyed on the digest of each file's bytes.

    A stat index (size and modification time per path) lets an unchanged file skip even being read and
    hashed; any change to either makes the loader read the file and look its digest up, so a touched but
    unchanged file still hits the cache.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory / f"v{CACHE_VERSION}"
        self._index_path = self.directory / "index.msgpack"
        self._index: dict[str, _StatRecord] | None = None

    def _load_index(self) -> dict[str, _StatRecord]:
        if self._index is None:
            try:
                self._index = _INDEX.decode(self._index_path.read_bytes())
            except (OSError, msgspec.DecodeError, msgspec.ValidationError):
                self._index = {}
        return self._index

    def known_digest(self, path: Path, stat: os.stat_result) -> str | None:
        """The digest recorded for an unchanged file, or None."""
        record = self._load_index().get(str(path))
        if record and record.size == stat.st_size and record.mtime_ns == stat.st_mtime_ns:
            return record.digest
        return None

    def get(self, digest: str, audience: Audience = None) -> _Entry | _PackedEntry | None:
        """The cached result for a file's content, or None (for a server's file, kept packed: see
        :func:`_decode_entry`)."""
        try:
            return _decode_entry((self.directory / f"{digest}.msgpack").read_bytes(), audience)
        except (FileNotFoundError, NotADirectoryError):  # not cached (or no cache folder can exist there)
            return None
        except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.warning("ignoring an unreadable cache entry %s: %s", digest, exc)
            return None

    def put(self, digest: str, encoded_entry: bytes) -> None:
        """Store a file's result, encoded as MessagePack."""
        write_cache(self.directory / f"{digest}.msgpack", encoded_entry)

    def save_index(self, records: Mapping[str, _StatRecord]) -> None:
        """Record the files of this load, and forget entries no file refers to any more."""
        current = self._load_index()
        merged = {**current, **records}
        merged = {path: rec for path, rec in merged.items() if Path(path).exists()}
        if merged == current:
            return
        self._index = merged
        if write_cache(self._index_path, _ENCODER.encode(merged)):
            live = {rec.digest for rec in merged.values()}
            for entry in self.directory.glob("*.msgpack"):
                if entry.name != self._index_path.name and entry.stem not in live:
                    drop_cache(entry)


# ------------------------------------------------------------------------------------------- parsing
def file_digest(raw: bytes) -> str:
    """The content key of a card file."""
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def _result_entry(result: FileResult) -> _Entry:
    problems = tuple((p.line, p.column, p.message, p.severity) for p in result.problems)
    return _Entry(result.card_file if result.ok else None, problems)


def parse_bytes(raw: bytes, path: str) -> FileResult:
    """Validate one card file's bytes."""
    text, problems = decode_text(raw, path)
    if text is None:
        return FileResult(path, None, problems)
    return validate_text(text, path)


class UnreadableFile(Exception):
    """A card file that cannot be read as one; the message says why, in words a curator can act on."""


_KINDS = ((_stat.S_ISFIFO, "a named pipe (FIFO)"), (_stat.S_ISCHR, "a device"), (_stat.S_ISBLK, "a device"))


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "a socket" if _stat.S_ISSOCK(mode) else "a folder")


def _nonblocking(path: str, flags: int) -> int:
    # Opening a FIFO for reading waits for a writer; without blocking it opens at once and fstat says what it is.
    return os.open(path, flags | os.O_NONBLOCK)


def read_card_file(path: Path, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a card file; raises :class:`UnreadableFile` for anything that is not a readable regular file
    of at most ``max_bytes`` (checked before reading, so a huge file or ``/dev/zero`` is never read whole)."""
    try:
        with open(path, "rb", opener=_nonblocking) as handle:
            info = os.fstat(handle.fileno())
            if not _stat.S_ISREG(info.st_mode):
                raise UnreadableFile(f"this is {_kind(info.st_mode)}, not a file; card files must be regular files")
            if info.st_size > max_bytes:
                raise UnreadableFile(_too_large(info.st_size, max_bytes))
            expected = info.st_size + 1  # one byte more than fstat said: a file still growing shows it
            raw = handle.read(expected)
            if len(raw) == expected:
                raw += handle.read(max_bytes + 1 - expected)
    except OSError as exc:
        raise UnreadableFile(f"cannot read this file: {exc.strerror or exc}") from exc
    if len(raw) > max_bytes:
        raise UnreadableFile(_too_large(len(raw), max_bytes))
    return raw


def _too_large(size: int, max_bytes: int) -> str:
    return (
        f"the file is {size:,} bytes; card files may be at most {max_bytes:,} bytes (max_card_file_bytes), "
        "so it was not read: split it into several collections"
    )


def _refused(message: str) -> _Entry:
    return _Entry(None, ((1, 1, message, "error"),))


#: Called with a file's digest and cards where that file was parsed (a worker process, when there are several): a
#: layer above derives what it needs from the cards while they are at hand (the citation index caches their
#: references). Must pickle by reference, i.e. be a module-level function or a ``functools.partial`` of one.
AfterParse = Callable[[str, CardFile], None]


def _parse_in_worker(
    path: str, max_bytes: int = MAX_FILE_BYTES, after_parse: AfterParse | None = None
) -> tuple[str, bytes]:
    """(digest, encoded entry) of one file; a file that cannot be read gives an empty digest and its reason."""
    try:
        raw = read_card_file(Path(path), max_bytes)
    except UnreadableFile as exc:
        return "", _ENCODER.encode(_refused(str(exc)))
    with _gc_paused():
        try:
            entry = _result_entry(parse_bytes(raw, path))
        except RecursionError:  # the parser limits nesting; this is the last line of defence for the process
            entry = _refused("the file nests lists or mappings too deeply to be read")
        digest = file_digest(raw)
        if after_parse is not None and entry.card_file is not None:
            after_parse(digest, entry.card_file)
    return digest, _ENCODER.encode(entry)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass(frozen=True, slots=True)
class Scan:
    """What a folder holds: the card files to load, and the ones (or folders) that cannot be, with the reason."""

    files: list[Path]
    refused: dict[Path, str]


def scan(root: Path) -> Scan:
    """The card files under a folder, in a stable order; hidden files and folders (the cache among them) skipped.

    Nothing is skipped without a word: a folder that cannot be listed, a dangling symbolic link, a named pipe or
    device with a card file's name, and a link to a file outside ``root`` (which is never read) are refused, each
    with its reason.
    """
    if not root.is_dir():
        return Scan([root], {})
    inside = root.resolve()
    files: list[Path] = []
    refused: dict[Path, str] = {}

    def unlisted(exc: OSError) -> None:
        where = Path(exc.filename) if exc.filename else root
        refused[where] = f"cannot open this folder: {exc.strerror or exc}; the card files in it are not loaded"

    for folder, folders, names in os.walk(root, onerror=unlisted):
        folders[:] = [name for name in folders if not name.startswith(".")]
        for name in names:
            if name.startswith(".") or not name.endswith(SUFFIXES):
                continue
            path = Path(folder) / name
            reason = _refusal(path, inside)
            if reason is None:
                files.append(path)
            else:
                refused[path] = reason
    return Scan(sorted(files), dict(sorted(refused.items())))


def _refusal(path: Path, inside: Path) -> str | None:
    """Why a file found in a folder of card files cannot be one of them, or None."""
    if path.is_symlink():
        target = path.resolve()
        if not target.exists():
            return f"a symbolic link to {target}, which does not exist"
        if not target.is_relative_to(inside):
            return f"a symbolic link to {target}, outside the cards folder: not read (copy the file in instead)"
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return f"cannot read this file: {exc.strerror or exc}"
    if not _stat.S_ISREG(mode):
        return f"this is {_kind(mode)}, not a file; card files must be regular files"
    return None


def discover(root: Path) -> list[Path]:
    """The card files under a folder, in a stable order (see :func:`scan` for the ones it refuses)."""
    return scan(root).files


def _pool(workers: int) -> ProcessPoolExecutor:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["bot.cards.library"])
    return ProcessPoolExecutor(max_workers=workers, mp_context=context)


def _parse_many(
    paths: list[Path],
    sizes: dict[Path, int],
    workers: int | None,
    max_bytes: int = MAX_FILE_BYTES,
    after_parse: AfterParse | None = None,
) -> Iterator[tuple[Path, str, bytes]]:
    """(path, digest, encoded entry) for each file, in worker processes when that pays."""
    parse = functools.partial(_parse_in_worker, max_bytes=max_bytes, after_parse=after_parse)
    total = sum(sizes.values())
    count = workers if workers is not None else min(os.cpu_count() or 1, len(paths))
    done: set[Path] = set()
    if count > 1 and len(paths) > 1 and total >= PARALLEL_BYTES:
        largest_first = sorted(paths, key=lambda p: -sizes[p])
        try:
            with _pool(count) as pool:
                results = pool.map(parse, map(str, largest_first))
                for path, (digest, encoded) in zip(largest_first, results, strict=True):
                    done.add(path)
                    yield path, digest, encoded
        except (BrokenProcessPool, OSError) as exc:  # no worker processes here: parse in this one
            log.warning("parsing in worker processes failed (%s); parsing in this process instead", exc)
    for path in paths:
        if path not in done:
            digest, encoded = parse(str(path))
            yield path, digest, encoded


def _problems_of(path: Path, entry: _Entry | _PackedEntry) -> list[Problem]:
    return [Problem(str(path), line, col, msg, sev) for line, col, msg, sev in entry.problems]


def load_library(
    root: Path,
    *,
    cache: LoadCache | None = None,
    previous: Library | None = None,
    workers: int | None = None,
    paths: Iterable[Path] | None = None,
    refused: Mapping[Path, str] | None = None,
    max_file_bytes: int | None = None,
    after_parse: AfterParse | None = None,
) -> Library:
    """Load every card file under ``root`` (or just ``paths``) into a new library.

    Files with errors are skipped and their problems reported. With ``previous``, a file that was good before
    and is broken now keeps its previous version live, and the problems say so. ``refused`` are files (or
    folders) found but not to be read, with the reason (see :func:`scan`); without ``paths``, the scan of ``root``
    supplies both. Files over ``max_file_bytes`` (by default the previous library's limit, else
    :data:`MAX_FILE_BYTES`) are refused unread.
    ``after_parse`` is called for each good file this load parses (not for those read back from the cache), in
    the process that parsed it.
    """
    root = root.resolve()
    if max_file_bytes is None:
        max_file_bytes = previous.max_file_bytes if previous is not None else MAX_FILE_BYTES
    if paths is None:
        found = scan(root)
        paths, refused = found.files, {**found.refused, **(refused or {})}
    paths = list(paths)
    misplaced = {p.resolve(): why for p in paths if (why := _misplaced(root, p.resolve())) is not None}
    if misplaced:
        paths, refused = [p for p in paths if p.resolve() not in misplaced], {**(refused or {}), **misplaced}
    entries: dict[Path, tuple[str, _Entry | _PackedEntry]] = {
        path: ("", _refused(why)) for path, why in (refused or {}).items()
    }
    files = sorted({*(p.resolve() for p in paths), *entries})
    to_parse: list[Path] = []
    sizes: dict[Path, int] = {}
    stats: dict[str, _StatRecord] = {}
    with _gc_paused():
        for path in files:
            if path in entries:
                continue
            try:
                stat = path.stat()
                if stat.st_size > max_file_bytes:  # refused even when a cache holds it from a larger limit
                    entries[path] = ("", _refused(_too_large(stat.st_size, max_file_bytes)))
                    continue
                digest = cache.known_digest(path, stat) if cache else None
                if digest is None and cache is not None:
                    digest = file_digest(read_card_file(path, max_file_bytes))
            except OSError as exc:
                entries[path] = ("", _refused(f"cannot read this file: {exc.strerror or exc}"))
                continue
            except UnreadableFile as exc:
                entries[path] = ("", _refused(str(exc)))
                continue
            entry = cache.get(digest, audience_of_path(root, path)) if cache and digest else None
            if entry is None or digest is None:
                to_parse.append(path)
                sizes[path] = stat.st_size
            else:
                entries[path] = (digest, entry)
                stats[str(path)] = _StatRecord(stat.st_size, stat.st_mtime_ns, digest)
        for path, digest, encoded in _parse_many(to_parse, sizes, workers, max_file_bytes, after_parse):
            entries[path] = (digest, _decode_entry(encoded, audience_of_path(root, path)))
            if cache is not None and digest:
                cache.put(digest, encoded)
                with contextlib.suppress(OSError):
                    stat = path.stat()
                    stats[str(path)] = _StatRecord(stat.st_size, stat.st_mtime_ns, digest)
        if cache is not None and stats:
            cache.save_index(stats)
        offer_dictionary(_shared_texts(entries.values()))
        library = _assemble(root, files, entries, previous, cache)
    return dataclasses.replace(library, max_file_bytes=max_file_bytes)


def validated_text(loaded: LoadedFile) -> Callable[[], str | None]:
    """A function giving the text of a loaded file exactly as it was validated, or None if the file has changed.

    Only locating a problem between files needs it, which is rare, so the text is not kept but read again; the
    digest check makes sure it is the text that was validated (a file caught mid-save is not), and decoding it
    as the loader did keeps line and column true.
    """

    def read() -> str | None:
        try:
            raw = read_card_file(loaded.path)
        except UnreadableFile:
            return None
        return decode_text(raw, str(loaded.path))[0] if file_digest(raw) == loaded.digest else None

    return read


def _shared_texts(entries: Iterable[tuple[str, _Entry | _PackedEntry]]) -> Iterator[str]:
    """Up to :data:`DICTIONARY_CARDS` texts of the shared cards among ``entries``, spread over them."""
    files = [e.card_file for _digest, e in entries if isinstance(e, _Entry) and e.card_file is not None]
    step = max(1, sum(len(f.cards) for f in files) // DICTIONARY_CARDS)
    return (card.text for card in itertools.islice((c for f in files for c in f.cards), 0, None, step))


def _assemble(
    root: Path,
    files: list[Path],
    entries: dict[Path, tuple[str, _Entry | _PackedEntry]],
    previous: Library | None,
    cache: LoadCache | None = None,
) -> Library:
    problems: list[Problem] = []
    good: list[LoadedFile] = []
    broken: list[Path] = []
    for path in files:
        if path not in entries:
            continue
        digest, entry = entries[path]
        found = _problems_of(path, entry)
        problems.extend(found)
        warned = tuple(p for p in found if not p.is_error)
        audience = audience_of_path(root, path)
        if isinstance(entry, _PackedEntry) and audience is not None:
            if entry.encoded is None:
                broken.append(path)
            else:
                packed = _pack(entry.encoded)
                good.append(LoadedFile(path, digest, packed, warned, audience, entry.collection, entry.keys))
        elif isinstance(entry, _PackedEntry) or entry.card_file is None:  # (a packed entry has an audience)
            broken.append(path)
        else:
            good.append(LoadedFile(path, digest, entry.card_file, warned).for_audience(root))
    # Which file a collection is served from, when two files claim it: the one it was served from before, else
    # the one nearest the top of the folder (cards/x.yml over an archived cards/old/x.yml), then by path.
    claim = _claim_order(root, previous.collection_file if previous is not None else {})
    good.sort(key=claim)
    clashes = _cross_file_cached(good, cache)
    for path_text, found in clashes.items():
        problems.extend(found)
        if any(p.is_error for p in found):
            broken.append(Path(path_text))
    served = [f for f in good if f.path not in broken]
    if previous is not None:
        old = {f.path: f for f in previous.files}
        for path in broken:
            if path in old:
                served.append(old[path])
                message = "this file has errors, so its last good version stays live until they are fixed"
                problems.append(Problem(str(path), 1, 1, message, "warning"))
    claimants: dict[str, list[Path]] = {}
    for loaded in sorted({f.path: f for f in (*good, *served)}.values(), key=claim):
        claimants.setdefault(loaded.collection_id, []).append(loaded.path)
    contested = {cid: tuple(paths) for cid, paths in claimants.items() if len(paths) > 1}
    served.sort(key=claim)
    return _index(root, served, problems, broken, contested, previous.decoded if previous is not None else None)


def _claim_order(root: Path, served_from: Mapping[str, Path]) -> Callable[[LoadedFile], tuple[bool, int, Path]]:
    def key(loaded: LoadedFile) -> tuple[bool, int, Path]:
        depth = len(loaded.path.relative_to(root).parts) if loaded.path.is_relative_to(root) else 1 << 20
        return served_from.get(loaded.collection_id) != loaded.path, depth, loaded.path

    return key


_CLASHES = msgspec.msgpack.Decoder(dict[str, list[tuple[str, int, int, str, Severity]]])


def _cross_by_audience(good: list[LoadedFile]) -> dict[str, list[Problem]]:
    """Problems between files of the same audience: ids are unique per audience (a server may reuse an id the
    shared library or another server has, and is never told which ids those have)."""
    by_audience: dict[Audience, list[LoadedFile]] = {}
    for loaded in good:
        by_audience.setdefault(loaded.audience, []).append(loaded)
    found: dict[str, list[Problem]] = {}
    for files in by_audience.values():
        found.update(cross_file((str(f.path), f.card_file, validated_text(f)) for f in files))
    return found


def _cross_file_cached(good: list[LoadedFile], cache: LoadCache | None) -> dict[str, list[Problem]]:
    """Problems between files; for an unchanged set of files, read back from the cache instead of recomputed."""
    if cache is None:
        return _cross_by_audience(good)
    key = hashlib.blake2b(digest_size=16)
    for loaded in good:
        key.update(f"{loaded.path}\0{loaded.digest}\0".encode())
    entry = cache.directory / f"cross-{key.hexdigest()}.bin"
    try:
        raw = _CLASHES.decode(entry.read_bytes())
        return {path: [Problem(*p) for p in found] for path, found in raw.items()}
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        pass
    clashes = _cross_by_audience(good)
    encoded = {
        path: [(p.path, p.line, p.column, p.message, p.severity) for p in found] for path, found in clashes.items()
    }
    for stale in cache.directory.glob("cross-*.bin"):
        drop_cache(stale)
    write_cache(entry, _ENCODER.encode(encoded))
    return clashes


def _index(
    root: Path,
    served: list[LoadedFile],
    problems: list[Problem],
    broken: list[Path],
    contested: Mapping[str, tuple[Path, ...]],
    decoded: DecodedFiles | None = None,
) -> Library:
    """The library of ``served`` files; where two claim a collection or a card, the first in ``served`` wins.
    ``decoded``: the server files kept decoded, handed on from the library this one replaces."""
    cards: dict[str, Card | LoadedFile] = {}
    collections: dict[str, Collection] = {}
    card_collection: dict[str, str] = {}
    collection_file: dict[str, Path] = {}
    for loaded in served:
        info = loaded.served_collection or loaded.served.collection
        if info.id in collections:  # a contested collection: the first claimant wins
            continue
        collections[info.id] = info
        collection_file[info.id] = loaded.path
        content = loaded.content
        held: Iterable[tuple[str, Card | LoadedFile]] = (
            ((card.id, card) for card in content.cards)
            if isinstance(content, CardFile)
            else ((key, loaded) for key in loaded.keys)
        )
        for key, entry in held:
            if key not in cards:
                cards[key] = entry
                card_collection[key] = info.id
    served = sorted(served, key=lambda f: f.path)
    keeper = decoded if decoded is not None else DecodedFiles()
    digest = hashlib.blake2b(CACHE_VERSION.encode(), digest_size=16)
    for loaded in served:
        digest.update(f"{loaded.path.relative_to(root) if loaded.path.is_relative_to(root) else loaded.path}".encode())
        digest.update(loaded.digest.encode())
    return Library(
        root=root,
        files=tuple(served),
        problems=tuple(sorted(set(problems), key=lambda p: (p.path, p.line, p.column, p.message))),
        broken=tuple(sorted(set(broken))),
        cards=ServedCards(cards, keeper),
        collections=collections,
        card_collection=card_collection,
        collection_file=collection_file,
        digest=digest.hexdigest(),
        contested=contested,
        decoded=keeper,
    )


def replace_file(
    library: Library, path: Path, card_file: CardFile, raw: bytes, warnings: Iterable[Problem] | None = None
) -> Library:
    """A new library with one file's content replaced (after a moderator's write), without re-reading others.

    ``warnings`` are the file's warnings when the caller has just validated ``raw`` (the writer always has);
    without them the file is validated again to find them.
    """
    path = path.resolve()
    if warnings is None:
        warnings = (p for p in validate_text(raw.decode("utf-8"), str(path)).problems if not p.is_error)
    kept = tuple(p if p.path == str(path) else dataclasses.replace(p, path=str(path)) for p in warnings)
    loaded = LoadedFile(path, file_digest(raw), card_file, kept).for_audience(library.root)
    served = [f for f in library.files if f.path != path] + [loaded]
    served.sort(key=_claim_order(library.root, library.collection_file))
    problems = [p for p in library.problems if p.path != str(path)] + list(kept)
    broken = [b for b in library.broken if b != path]
    new = _index(library.root, served, problems, broken, library.contested, library.decoded)
    return dataclasses.replace(new, max_file_bytes=library.max_file_bytes)
