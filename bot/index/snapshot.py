"""The indexes behind the card service, built as one immutable snapshot of a library.

A snapshot holds the library and everything derived from it: the search index, the citation index, the topic and
collection vocabularies for autocomplete, and the random-pick pools. ``build_snapshot`` makes one from scratch,
reusing what the cache folder holds for the same library (the persisted search index, the citation index and
per-file references); ``derive_snapshot`` makes one from the previous snapshot when a moderator's edit changed only
a few cards, updating the indexes in place of rebuilding them. Neither ever changes an existing snapshot.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import hashlib
import logging
import os
import random as _random
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Collection as SizedContainer
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import overload

import msgspec

from bot.cards.library import (
    AUDIENCE_MARK,
    AfterParse,
    Audience,
    Library,
    LoadedFile,
    _gc_paused,
    _pool,
    audience_of_key,
    same_card,
)
from bot.cards.model import Card, CardFile
from bot.index.citations import EXTRACTION_VERSION, CitationIndex, Reference, card_references
from bot.index.citations.audience import AudienceCitations
from bot.index.citations.cache import (
    REFERENCES,
    FileReferences,
    cache_file_references,
    has_file_references,
    prune_file_references,
    read_file_references,
    write_file_references,
)
from bot.index.search import SearchDoc, SearchIndex, Vocabulary, audience_terms
from bot.util import text as _text_module
from bot.util.files import drop_cache, write_cache
from bot.util.kept import Kept
from bot.util.text import topic_key

log = logging.getLogger(__name__)


class Picker:
    """Uniform random picks over pools of card ids, with pools per topic and collection built once.

    The topic pools hold the shared cards only: a server's own cards of a topic are found in its deck when that
    server first picks by topic (see :meth:`visible_pool`), and kept for the :data:`OWN_VOCABULARIES` servers that
    did so last. Held for every server, a thousand decks' topics (each deck with topics of its own) were a pool and
    a key string each for the snapshot's life.
    """

    def __init__(self, library: Library, pools: Pools | None = None) -> None:
        """The pools of ``library``: computed, or taken from ``pools`` (read back from the cache, same library)."""
        self.all: tuple[str, ...] = tuple(library.cards)
        self._both: Kept[tuple[str, str], tuple[str, ...]] = Kept(256)
        self._init_audiences(library)
        if pools is not None:
            # The cached pools are positions in the library's order: each pool refers to the library's own keys,
            # and reading them back makes no string per id (a few per card, most of a warm start's garbage).
            at = self.all.__getitem__
            self.by_topic = {k: tuple(map(at, array("I", v))) for k, v in pools.by_topic.items()}
            self.by_collection = {k: tuple(map(at, array("I", v))) for k, v in pools.by_collection.items()}
            return
        by_topic: dict[str, list[str]] = {}
        by_collection: dict[str, list[str]] = {}
        keys: dict[str, str] = {}  # topic as written -> its key: a library has few distinct topics
        cards = library.cards
        for card_id, collection in library.card_collection.items():
            if _shared(card_id):  # a server's cards are not decoded: their topics are found when it picks by one
                for topic in {keys.get(t) or keys.setdefault(t, topic_key(t)) for t in cards[card_id].topics}:
                    by_topic.setdefault(topic, []).append(card_id)
            by_collection.setdefault(collection, []).append(card_id)
        self.by_topic = {k: tuple(v) for k, v in by_topic.items()}
        self.by_collection = {k: tuple(v) for k, v in by_collection.items()}

    @classmethod
    def derive(cls, old: Picker, before: Library, library: Library, touched: set[str]) -> Picker:
        """The picker of ``library``, from ``old`` (``before``'s) when only the cards ``touched`` changed.

        Same pools, in the same order, as ``Picker(library)``, provided the other cards kept their order; only
        the pools of the touched cards' topics and collections are rebuilt.
        """
        new = cls.__new__(cls)
        new.all = tuple(library.cards)
        new._both = Kept(256)
        new._init_audiences(library)
        topics: dict[str, list[str]] = {}
        collections: dict[str, list[str]] = {}
        for lib in (before, library):
            for card_id in touched:
                card = lib.cards.get(card_id)
                if card is not None:
                    for topic in {topic_key(t) for t in card.topics} if _shared(card_id) else ():
                        topics.setdefault(topic, [])
                    collections.setdefault(lib.card_collection[card_id], [])
        for card_id in touched:
            card = library.cards.get(card_id)
            if card is not None:
                for topic in {topic_key(t) for t in card.topics} if _shared(card_id) else ():
                    topics[topic].append(card_id)
                collections[library.card_collection[card_id]].append(card_id)
        position: dict[str, int] = {}
        new.by_topic = dict(old.by_topic)
        new.by_collection = dict(old.by_collection)
        for pools, affected in ((new.by_topic, topics), (new.by_collection, collections)):
            for key, fresh in affected.items():
                members = [c for c in pools.get(key, ()) if c not in touched]
                if fresh:
                    if not position:
                        position = {card_id: i for i, card_id in enumerate(new.all)}
                    rank = position.__getitem__
                    for card_id in sorted(fresh, key=rank):
                        members.insert(bisect_left(members, rank(card_id), key=rank), card_id)
                if members:
                    pools[key] = tuple(members)
                else:
                    pools.pop(key, None)
        return new

    def pool(self, topic: str | None, collection: str | None) -> tuple[str, ...]:
        if topic is None and collection is None:
            return self.all
        if collection is None:
            return self.by_topic.get(topic_key(topic or ""), ())
        if topic is None:
            return self.by_collection.get(collection, ())
        key = (topic_key(topic), collection)

        def both() -> tuple[str, ...]:
            members = set(self.by_collection.get(collection, ()))
            return tuple(c for c in self.by_topic.get(key[0], ()) if c in members)

        return self._both.get_or_make(key, both)

    # -- visibility: a server sees the shared cards and its own, never another server's --------------------------
    def _init_audiences(self, library: Library) -> None:
        #: Whether any card belongs to a server; without, every pool is visible to everyone as it is.
        self.mixed = bool(library.audiences())
        self._parts: Kept[str | None, dict[Audience, tuple[str, ...]]] = Kept(1024)
        self._library = library
        #: Each server's own topic pools (by topic key), for the servers that picked by topic last.
        self._own_topics: Kept[int, dict[str, tuple[str, ...]]] = Kept(OWN_VOCABULARIES)

    def own_topic_pool(self, server: int, topic: str) -> tuple[str, ...]:
        """Server ``server``'s own cards with the topic ``topic`` (a topic key), in deck order."""
        return self._own_topics.get_or_make(server, lambda: _own_topic_pools(self._library, server)).get(topic, ())

    def visible_pool(self, topic: str | None, collection: str | None, viewer: Audience) -> Sequence[str]:
        """The pool for these filters, kept to the cards a reader in server ``viewer`` (None: a direct message)
        may see: the shared ones, then the server's own. Each pool is split by audience once (then cached)."""
        pool = self.pool(topic, collection)
        if not self.mixed:
            return pool
        if topic is not None:  # the topic pools hold the shared cards: the viewer's own are found in its deck
            own: Sequence[str] = self.own_topic_pool(viewer, topic_key(topic)) if viewer is not None else ()
            if own and collection is not None:
                members = set(self.by_collection.get(collection, ()))
                own = tuple(c for c in own if c in members)
            if not own:
                return pool
            return Joined(pool, own) if pool else own
        if not pool:
            return pool
        parts = self._parts.get_or_make(collection, lambda: _split_by_audience(pool))
        shared = parts.get(None, ())
        own = parts.get(viewer, ()) if viewer is not None else ()
        if not own:
            return shared
        return Joined(shared, own) if shared else own

    @staticmethod
    def pick(pool: Sequence[str], rng: _random.Random, avoid: SizedContainer[str]) -> tuple[str, bool]:
        """A uniform pick from ``pool``, preferring ids not in ``avoid``; True when every id was avoided.

        Up to 16 draws find an unseen card in O(1) while most are unseen; after that, a walk over the pool in a
        random order visits each id once, which stays cheap until nearly all are seen.
        """
        if not avoid:
            return pool[rng.randrange(len(pool))], False
        for _ in range(16):
            candidate = pool[rng.randrange(len(pool))]
            if candidate not in avoid:
                return candidate, False
        size = len(pool)
        start, step = rng.randrange(size), _coprime_step(size, rng)
        for offset in range(size):
            candidate = pool[(start + offset * step) % size]
            if candidate not in avoid:
                return candidate, False
        return pool[rng.randrange(size)], True


def _own_cards(library: Library, server: int) -> Iterator[tuple[str, list[tuple[str, Card]]]]:
    """Server ``server``'s own served collections, each with its served cards (key, card), in deck order (its
    files in library order): each of its files decoded once."""
    card_collection = library.card_collection
    for loaded in _files_of(library, (server,)).get(server, ()):
        served = _served_collection(library, loaded)
        if served is None:
            continue
        cards = loaded.card_file.cards
        keys = loaded.keys or tuple(loaded.key(card.id) for card in cards)
        yield served, [(key, card) for key, card in zip(keys, cards, strict=True) if card_collection.get(key) == served]


def _own_topic_pools(library: Library, server: int) -> dict[str, tuple[str, ...]]:
    """Server ``server``'s own served cards by topic key, each pool in deck order."""
    found: dict[str, list[str]] = {}
    for _collection, cards in _own_cards(library, server):
        for key, card in cards:
            for topic in {topic_key(t) for t in card.topics}:
                found.setdefault(topic, []).append(key)
    return {topic: tuple(keys) for topic, keys in found.items()}


def _split_by_audience(pool: Sequence[str]) -> dict[Audience, tuple[str, ...]]:
    """A pool's ids by audience, each in pool order."""
    parts: dict[Audience, list[str]] = {}
    for card_id in pool:
        parts.setdefault(audience_of_key(card_id) if AUDIENCE_MARK in card_id else None, []).append(card_id)
    return {audience: tuple(ids) for audience, ids in parts.items()}


class Joined(Sequence[str]):
    """Two pools read as one, without copying them (the shared pool can hold 100,000 ids)."""

    __slots__ = ("_first", "_second")

    def __init__(self, first: Sequence[str], second: Sequence[str]) -> None:
        self._first, self._second = first, second

    @property
    def parts(self) -> tuple[Sequence[str], ...]:
        """The two pools, in order (an index can remember each one's rows)."""
        return (self._first, self._second)

    def __len__(self) -> int:
        return len(self._first) + len(self._second)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        first = len(self._first)
        return self._first[index] if index < first else self._second[index - first]


def _coprime_step(size: int, rng: _random.Random) -> int:
    from math import gcd

    if size <= 2:
        return 1
    while True:
        step = rng.randrange(1, size)
        if gcd(step, size) == 1:
            return step


@dataclass(frozen=True, slots=True)
class Snapshot:
    library: Library
    search: SearchIndex
    citations: CitationIndex
    topics: Vocabulary
    collection_names: Vocabulary
    picker: Picker = field(repr=False)
    #: Each server's own topics and collection names (``topics`` and ``collection_names`` are the shared ones),
    #: built when that server first completes one (None: none built yet; a derived snapshot hands on those of
    #: the servers its update left alone).
    own_vocabularies: OwnVocabularies | None = field(default=None, repr=False, compare=False)
    #: Where each card file's references are cached (None: no cache folder): a server's own citation index is
    #: built from them when that server first cites.
    refs_dir: Path | None = field(default=None, repr=False)
    #: The citation index kept to what each reader may see: ``citations`` (the shared cards') and each server's
    #: own, built on demand.
    cited: AudienceCitations = field(init=False, repr=False, compare=False)
    #: The servers with collections of their own in this library.
    decks: frozenset[int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        own = functools.partial(own_citation_index, self.library, self.refs_dir)
        extract = functools.partial(_references_of_card, self.library)
        object.__setattr__(self, "cited", AudienceCitations(self.citations, own, extract))
        object.__setattr__(self, "decks", frozenset(self.library.audiences()))
        if self.own_vocabularies is None:
            object.__setattr__(self, "own_vocabularies", OwnVocabularies(self.library, self.picker))

    def audiences_for(self, viewer: Audience) -> tuple[str, ...]:
        """The search index's audiences a reader in server ``viewer`` sees (see :func:`audience_terms`): a server
        without collections of its own sees what a direct message sees, so its searches are the same searches
        (their counted totals and kept pages shared with every such server) and filter on one term, not two."""
        return audience_terms(viewer if viewer in self.decks else None)

    def topics_for(self, viewer: Audience) -> tuple[Vocabulary, ...]:
        """The topic vocabularies a reader in server ``viewer`` completes from: the server's own, then the shared."""
        own = self._own(viewer)
        return (own.topics, self.topics) if own is not None else (self.topics,)

    def collection_names_for(self, viewer: Audience) -> tuple[Vocabulary, ...]:
        """The collection names a reader in server ``viewer`` completes from: the server's own, then the shared."""
        own = self._own(viewer)
        return (own.collection_names, self.collection_names) if own is not None else (self.collection_names,)

    def _own(self, viewer: Audience) -> OwnVocabulary | None:
        if viewer is None or viewer not in self.decks or self.own_vocabularies is None:
            return None
        return self.own_vocabularies.of(viewer)


@dataclass(frozen=True, slots=True)
class OwnVocabulary:
    """One server's own topics and collection names for autocomplete."""

    topics: Vocabulary
    collection_names: Vocabulary


#: How many servers' own vocabularies a snapshot keeps built (see :class:`OwnVocabularies`).
OWN_VOCABULARIES = 128


class OwnVocabularies:
    """Each server's own topics and collection names, built from its card files when that server first completes
    a topic or a collection (or is told "did you mean"), and kept for the :data:`OWN_VOCABULARIES` servers that did
    so last. Thread-safe: completions run in worker threads.

    Built for every server at a start, they were a dict of topic weights and two vocabularies per server held for
    as long as the snapshot (a thousand servers' decks: about a tenth of the bot's memory, mostly for servers that
    never complete a topic before the next restart). Building one decodes the server's files once: about a
    millisecond for a deck of 100 cards.
    """

    __slots__ = ("_built", "_library", "_picker", "_size")

    def __init__(
        self, library: Library, picker: Picker, built: dict[int, OwnVocabulary] | None = None, size: int | None = None
    ) -> None:
        self._library, self._picker = library, picker
        self._size = size if size is not None else OWN_VOCABULARIES
        self._built: Kept[int, OwnVocabulary] = Kept(self._size, (built or {}).items())

    def of(self, server: int) -> OwnVocabulary:
        """Server ``server``'s own topics and collection names (empty vocabularies when it has no cards)."""
        return self._built.get_or_make(server, lambda: _own_vocabulary(self._library, self._picker, server))

    def handed_on(self, library: Library, picker: Picker) -> OwnVocabularies:
        """The vocabularies of ``library`` (derived from this one's), keeping those built of the servers whose card
        files it serves unchanged (a server's vocabularies depend on its own files only)."""
        built = dict(self._built.items())
        if built:
            before, after = _files_of(self._library, built), _files_of(library, built)
            built = {server: v for server, v in built.items() if before.get(server) == after.get(server)}
        return OwnVocabularies(library, picker, built, self._size)


def _files_of(library: Library, servers: SizedContainer[int]) -> dict[int, list[LoadedFile]]:
    """The card files of each of ``servers`` in ``library``, in library order."""
    found: dict[int, list[LoadedFile]] = {}
    for loaded in library.files:
        if loaded.audience is not None and loaded.audience in servers:
            found.setdefault(loaded.audience, []).append(loaded)
    return found


def _own_vocabulary(library: Library, picker: Picker, server: int) -> OwnVocabulary:
    """Server ``server``'s own topics (weighted by how many of its served cards have each) and collections (as
    "Title (id)", weighted by their number of served cards)."""
    topics: dict[str, int] = {}
    names: dict[str, int] = {}
    for served, cards in _own_cards(library, server):
        collection = library.collections[served]
        names[f"{collection.title} ({collection.id})"] = len(picker.by_collection.get(served, ()))
        for _key, card in cards:
            for topic in card.topics:
                topics[topic] = topics.get(topic, 0) + 1
    return OwnVocabulary(Vocabulary(topics), Vocabulary(names))


def search_index(library: Library, index_dir: Path | None) -> SearchIndex:
    """The library's search index: the persisted one for this library when there is one, else built."""
    search = SearchIndex.find(index_dir, library.digest) if index_dir is not None else None
    if search is None:
        directory = index_dir / library.digest if index_dir is not None else None
        docs = (
            SearchDoc.of(card, library.collections[library.card_collection[card_id]])
            for card_id, card in library.cards.items()
        )
        search = SearchIndex.build(docs, directory=directory, digest=library.digest)
        if index_dir is not None:
            _prune(index_dir, keep=library.digest)
    return search


class Pools(msgspec.Struct, array_like=True, gc=False):
    """What a warm start reads back instead of walking every card: the random-pick pools (each the positions of
    its cards in the library's order, as unsigned 32-bit integers in machine order) and the shared cards' topic
    weights (a server's own are counted from its cards when it first completes a topic, see
    :class:`OwnVocabularies`)."""

    by_topic: dict[str, bytes]
    by_collection: dict[str, bytes]
    topic_weights: dict[str, int]


_POOLS = msgspec.msgpack.Decoder(Pools)
#: Changes with the code that computes the pools (this module and the topic folding), so cached pools computed
#: by an older version are never read.
POOLS_VERSION = hashlib.blake2b(
    Path(__file__).read_bytes() + Path(_text_module.__file__ or "").read_bytes(), digest_size=6
).hexdigest()


def _topic_weights(library: Library) -> dict[str, int]:
    """How many of the shared cards have each topic (a server's cards are not decoded for it)."""
    weights: dict[str, int] = {}
    cards = library.cards
    for card_id in cards:
        if _shared(card_id):
            for topic in cards[card_id].topics:
                weights[topic] = weights.get(topic, 0) + 1
    return weights


def _pools(library: Library, index_dir: Path | None) -> tuple[Picker, dict[str, int]]:
    """The random-pick pools and the shared cards' topic weights of ``library``: read back from ``index_dir``, else
    computed there."""
    cached = index_dir / f"pools-{POOLS_VERSION}-{library.digest}.msgpack" if index_dir is not None else None
    if cached is not None:
        try:
            pools = _POOLS.decode(cached.read_bytes())
        except (OSError, ValueError):  # missing, unreadable or of another layout (msgspec's errors are ValueErrors)
            pass
        else:
            return Picker(library, pools), pools.topic_weights
    topic_weights = _topic_weights(library)
    picker = Picker(library)
    if cached is not None:
        for stale in _listing(cached.parent, "pools-*"):
            drop_cache(stale)
        position = {key: n for n, key in enumerate(picker.all)}

        def packed(pools: dict[str, tuple[str, ...]]) -> dict[str, bytes]:
            return {k: array("I", map(position.__getitem__, ids)).tobytes() for k, ids in pools.items()}

        pools = Pools(packed(picker.by_topic), packed(picker.by_collection), topic_weights)
        write_cache(cached, msgspec.msgpack.encode(pools))
    return picker, topic_weights


def build_snapshot(library: Library, index_dir: Path | None) -> Snapshot:
    """Every index of ``library``, read back from ``index_dir`` where it holds them for this library, else built."""
    with _out_of_gc_sight():
        search = search_index(library, index_dir)
        release_free_memory()  # what the index writer's threads freed, before the long-lived indexes are built
        citations = citation_index(library, index_dir)
        picker, topic_weights = _pools(library, index_dir)
        names = _collection_names(library, picker)
    release_free_memory()
    return Snapshot(library, search, citations, Vocabulary(topic_weights), names, picker, refs_dir=_refs(index_dir))


def _refs(index_dir: Path | None) -> Path | None:
    return index_dir / REFERENCES if index_dir is not None else None


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):  # not glibc (musl, macOS): its allocator returns memory its own way
        return None
    return trim


_TRIM = _malloc_trim()


def release_free_memory() -> None:
    """Give the C heap's free memory back to the system (glibc's ``malloc_trim``; nothing elsewhere).

    Building every index decodes every card once (a server's cards too, then packed away again) and tantivy's
    writer threads allocate hundreds of megabytes; freed, most of it stayed in the process's heap and counted
    in its memory until a restart (20,000 shared cards: 105 MB held after a first start, 89 MB with this; with as
    many server cards beside them, 141 and 110 MB). Takes a few milliseconds, once per full build.
    """
    if _TRIM is not None:
        _TRIM(0)


@contextlib.contextmanager
def _out_of_gc_sight() -> Iterator[None]:
    """Build with the garbage collector paused, then move what was built out of its sight (``gc.freeze``).

    The indexes are about a million small containers that live as long as their snapshot and form no cycles;
    left in sight, the first collection after the build walked them all for nothing, which was half of a warm
    start (0.31 s -> 0.17 s of CPU to bring back the citation index of 20,000 cards). The bot freezes its
    startup heap the same way once it is up (``bot.discord.app``); frozen objects are still freed by reference
    counting when a later snapshot replaces them.
    """
    with _gc_paused():
        yield
        gc.freeze()  # only what a build that succeeded left


def _collection_names(library: Library, picker: Picker) -> Vocabulary:
    """The shared collections for autocomplete as "Title (id)", weighted by their number of served cards (a
    server's own are in :class:`OwnVocabularies`)."""
    names = {
        f"{c.title} ({c.id})": len(picker.by_collection.get(c.id, ()))
        for c in library.collections.values()
        if audience_of_key(c.id) is None
    }
    return Vocabulary(names)


#: Most cards a swap updates the indexes in place for; beyond that, they are rebuilt from scratch.
INCREMENTAL_CARDS = 2_000
#: Rebuild the search index once deleted documents (which still weigh in BM25 statistics) would pass this share.
MAX_DELETED_SHARE = 0.05


def _same_order(before: Iterable[str], after: Iterable[str], touched: set[str]) -> bool:
    """Whether the cards not ``touched`` come in the same order in both."""
    kept_before = (k for k in before if k not in touched)
    kept_after = (k for k in after if k not in touched)
    return all(a == b for a, b in zip_longest(kept_before, kept_after))


def derive_snapshot(old: Snapshot, library: Library, index_dir: Path | None) -> Snapshot | None:
    """The snapshot of ``library`` derived from ``old`` by updating its indexes; None when a full build is due.

    Cards are compared by id: added, removed, changed, and those whose collection changed id or title (their
    search documents hold the collection's). ``old`` keeps answering as before.
    """
    before = old.library
    if before.root != library.root:
        return None
    b_cards, a_cards = before.cards, library.cards
    a_coll = library.card_collection
    added = [k for k in a_cards if k not in b_cards]
    removed = [k for k in b_cards if k not in a_cards]
    if len(added) + len(removed) > INCREMENTAL_CARDS:
        return None
    changed, moved = _changed_and_moved(before, library)
    stale = [*removed, *changed, *moved]
    if len(added) + len(stale) > INCREMENTAL_CARDS:
        return None
    # Deleted documents still weigh in BM25 statistics until merged away: past a share, rebuild the search index
    # (only it; the other indexes are still derived).
    rebuild_search = old.search.deleted + len(stale) > len(a_cards) * MAX_DELETED_SHARE
    touched = {*added, *stale}
    if not _same_order(b_cards, a_cards, touched):
        return None
    # The shared index holds the shared cards only: a server's own index is built anew from its files on demand.
    shared_changes = {k: refs for k, refs in _cited(before, library, added, removed, changed).items() if _shared(k)}
    citations = old.citations
    if shared_changes:
        citations = citations.updated(shared_changes, [k for k in a_cards if _shared(k)])
    deltas = _topic_deltas(before, library, added, removed, changed)
    picker = Picker.derive(old.picker, before, library, touched)
    # The search index last: its update commits to the index on disk that ``old`` shares, so nothing that can
    # still fail comes after it.
    docs = [SearchDoc.of(a_cards[k], library.collections[a_coll[k]]) for k in (*added, *changed, *moved)]
    try:
        search = (
            search_index(library, index_dir)
            if rebuild_search
            else old.search.updated(stale, docs, digest=library.digest)
        )
    except Exception as exc:  # noqa: BLE001 - any failure means "rebuild the index instead"
        log.warning("could not update the search index in place (%s); rebuilding it", exc)
        return None
    if index_dir is not None:
        _cache_new_files(before, library, citations, index_dir / REFERENCES)
    names = _collection_names(library, picker)
    own = old.own_vocabularies.handed_on(library, picker) if old.own_vocabularies is not None else None
    topics = old.topics.updated(deltas)
    return Snapshot(library, search, citations, topics, names, picker, own, _refs(index_dir))


def _shared(card_id: str) -> bool:
    return AUDIENCE_MARK not in card_id


def _changed_and_moved(before: Library, library: Library) -> tuple[list[str], list[str]]:
    """Cards in both libraries that changed, and those that only moved (another collection, or its title changed)."""
    b_cards, b_coll, a_coll = before.cards, before.card_collection, library.card_collection
    renamed: set[str] = set()
    for cid, col in library.collections.items():
        prev_col = before.collections.get(cid)
        if prev_col is not None and prev_col.title != col.title:
            renamed.add(cid)
    changed: list[str] = []
    moved: list[str] = []
    for card_id in library.cards:
        if card_id not in b_cards:
            continue
        if not same_card(b_cards, library.cards, card_id):
            changed.append(card_id)
        elif a_coll[card_id] != b_coll[card_id] or a_coll[card_id] in renamed:
            moved.append(card_id)
    return changed, moved


def _cited(
    before: Library, library: Library, added: list[str], removed: list[str], changed: list[str]
) -> dict[str, list[Reference] | None]:
    """The citation index's changes: None for a removed card, the references of a card whose text or citations
    changed (a card whose other fields changed keeps its references)."""
    cited: dict[str, list[Reference] | None] = dict.fromkeys(removed)
    for card_id in (*added, *changed):
        card, prev = library.cards[card_id], before.cards.get(card_id)
        if prev is None or prev.text != card.text or tuple(prev.citations) != tuple(card.citations):
            cited[card_id] = card_references(card.text, card.citations)
    return cited


def _topic_deltas(
    before: Library, library: Library, added: list[str], removed: list[str], changed: list[str]
) -> dict[str, int]:
    """How many of the shared cards have each topic more or less (a server's own are counted anew, see
    :class:`OwnVocabularies`)."""
    deltas: dict[str, int] = {}
    for cards, sign, keys in ((before.cards, -1, (*removed, *changed)), (library.cards, 1, (*added, *changed))):
        for card_id in keys:
            if _shared(card_id):
                for topic in cards[card_id].topics:
                    deltas[topic] = deltas.get(topic, 0) + sign
    return deltas


def _served_collection(library: Library, loaded: LoadedFile) -> str | None:
    """The id of the collection ``loaded`` holds if the library serves it from that file, else None.

    The cards ``loaded`` serves are those of that collection (see :func:`_serves`): one path comparison per file
    instead of one per card.
    """
    collection_id = loaded.collection_id
    return collection_id if library.collection_file.get(collection_id) == loaded.path else None


def _serves(library: Library, loaded: LoadedFile, card_id: str) -> bool:
    """Whether ``loaded`` is the file whose version of ``card_id`` the library serves.

    Not always so: a broken file's last good version is served beside a newer copy that holds the same ids.
    """
    collection_id = library.card_collection.get(card_id)
    return collection_id is not None and library.collection_file.get(collection_id) == loaded.path


def _cache_new_files(before: Library, library: Library, citations: CitationIndex, refs_dir: Path) -> None:
    """Per-file reference caches for the files an update brought (the next cold load then reads, not extracts).

    The whole-index citation pickle is not written here (it is large); the next start builds the index from
    the per-file caches and writes it then.
    """
    known = {f.digest for f in before.files}
    for loaded in library.files:
        if loaded.digest in known or has_file_references(refs_dir, loaded.digest):
            continue
        refs = [  # by the ids as written: the cache is by file content, which two servers' folders may share
            (
                c.id,
                citations.references_of(loaded.key(c.id))
                if loaded.audience is None and _serves(library, loaded, loaded.key(c.id))
                else card_references(c.text, c.citations),
            )
            for c in loaded.card_file.cards
        ]
        write_file_references(refs_dir, loaded.digest, refs)


#: Extract references in worker processes when at least this many cards have none cached.
PARALLEL_CARDS = 20_000


def _extract(card_file: CardFile) -> FileReferences:
    return [(card.id, card_references(card.text, card.citations)) for card in card_file.cards]


def reference_cacher(index_dir: Path | None) -> AfterParse | None:
    """For ``load_library(after_parse=...)``: each file the loader parses has its references extracted and cached
    in the process that parsed it, so that the citation index of a first start reads them instead of extracting."""
    return functools.partial(cache_file_references, index_dir / REFERENCES) if index_dir is not None else None


def _file_references(library: Library, refs_dir: Path | None) -> list[FileReferences]:
    """Each served file's references, per card: read back from the cache by file digest, or extracted.

    Extraction is done once per file content (usually by the loader's workers, see :func:`reference_cacher`);
    what is missing is extracted here, in worker processes when there is a lot of it.
    """
    found: dict[str, FileReferences] = {}
    missing: list[LoadedFile] = []
    for loaded in library.files:
        refs = read_file_references(refs_dir, loaded.digest) if refs_dir is not None else None
        if refs is None:
            missing.append(loaded)
        else:
            found[loaded.digest] = refs
    files = [f.card_file for f in missing]
    if sum(len(f.cards) for f in files) >= PARALLEL_CARDS and len(files) > 1:
        try:
            with _pool(min(os.cpu_count() or 1, len(files))) as pool:
                results = list(pool.map(_extract, files))
        except (BrokenProcessPool, OSError) as exc:
            log.warning("extracting references in worker processes failed (%s); extracting here", exc)
            results = [_extract(f) for f in files]
    else:
        results = [_extract(f) for f in files]
    for loaded, refs in zip(missing, results, strict=True):
        found[loaded.digest] = refs
        if refs_dir is not None:
            write_file_references(refs_dir, loaded.digest, refs)
    if refs_dir is not None:
        prune_file_references(refs_dir, found)
    return [found[f.digest] for f in library.files]


def citation_index(library: Library, index_dir: Path | None) -> CitationIndex:
    """The citation index: read back whole for an unchanged library, else built from per-file references.

    The whole index is cached as one MessagePack blob (:meth:`CitationIndex.to_bytes`) that a warm start decodes
    in one msgspec call; a cache folder that cannot be read or written only costs a warning (see
    :func:`bot.util.files.write_cache`), and the index is then built and kept in memory.
    """
    cached = index_dir / f"citations-{EXTRACTION_VERSION}-{library.digest}.msgpack" if index_dir is not None else None
    if cached is not None:
        index = _read_citation_index(cached)
        if index is not None:
            return index
    per_file = _file_references(library, index_dir / REFERENCES if index_dir is not None else None)
    shared = [(f, refs) for f, refs in zip(library.files, per_file, strict=True) if f.audience is None]
    index = CitationIndex.from_references(_served_references(library, shared))
    if cached is not None:
        for stale in _listing(cached.parent, "citations-*"):
            drop_cache(stale)
        write_cache(cached, index.to_bytes())
    return index


def _served_references(
    library: Library, files: Iterable[tuple[LoadedFile, FileReferences]]
) -> Iterator[tuple[str, list[Reference]]]:
    """(served key, references) of each card the library serves from these files."""
    card_collection = library.card_collection
    for loaded, file_refs in files:
        served = _served_collection(library, loaded)
        if served is None:
            continue
        for card_id, refs in file_refs:
            if card_collection.get(loaded.key(card_id)) == served:
                yield loaded.key(card_id), refs


def _references_of_card(library: Library, card_id: str, card: Card | None = None) -> list[Reference]:
    """One served card's references as its citation index holds them (once each, in the order cited); ``card``:
    the card, when the caller has read it already (a server's card is decoded from its packed deck)."""
    card = card if card is not None else library.cards.get(card_id)
    if card is None:
        return []
    first: dict[str, Reference] = {}
    for ref in card_references(card.text, card.citations):
        first.setdefault(ref.key, ref)
    return list(first.values())


def own_citation_index(library: Library, refs_dir: Path | None, audience: int) -> CitationIndex | None:
    """The citation index of one server's own cards (None when it has none), from the per-file reference cache
    where it holds them, else extracted from the cards."""
    files = [f for f in library.files if f.audience == audience]
    if not files:
        return None

    def references(loaded: LoadedFile) -> FileReferences:
        found = read_file_references(refs_dir, loaded.digest) if refs_dir is not None else None
        return found if found is not None else _extract(loaded.card_file)

    return CitationIndex.from_references(_served_references(library, ((f, references(f)) for f in files)))


def _read_citation_index(cached: Path) -> CitationIndex | None:
    """The citation index cached in ``cached``, or None when it is missing, unreadable or of another version."""
    try:
        data = cached.read_bytes()
    except OSError:
        return None
    try:
        # Paused: decoding allocates about a million objects that are never cyclic garbage; collections triggered
        # along the way would walk them all.
        with _gc_paused():
            return CitationIndex.from_bytes(data)
    except ValueError:  # msgspec's DecodeError is a ValueError too
        return None


def _listing(folder: Path, pattern: str = "*") -> list[Path]:
    """What ``folder`` holds matching ``pattern``; nothing when it cannot be listed (a cache folder is best effort)."""
    try:
        return list(folder.glob(pattern))
    except OSError:
        return []


def _prune(index_dir: Path, keep: str) -> None:
    import shutil

    for child in _listing(index_dir):
        # REFERENCES holds the per-file reference caches, not a search index (older versions of it go).
        if child.name not in (keep, REFERENCES) and not child.name.startswith(".") and _is_dir(child):
            shutil.rmtree(child, ignore_errors=True)


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False
