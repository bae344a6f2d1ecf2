"""The card service: what every surface (Discord, the CLI, the console) asks for cards.

It holds one immutable snapshot (``bot.index.snapshot``): the library plus its search, citation and random-pick indexes.
A reload or a moderator's write makes a new snapshot and swaps the reference in one assignment, so a search that
is running sees the old library or the new one, never a mix.
"""

from __future__ import annotations

import logging
import random as _random
import threading
from collections.abc import Collection as SizedContainer
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Literal, get_args, overload

from bot.cards.library import Library, LoadCache, load_library
from bot.cards.model import Card, Collection
from bot.cards.sources import Style, render_source
from bot.cards.validate import Problem
from bot.index.citations import Reference
from bot.index.search import SearchPage, card_label
from bot.index.snapshot import Snapshot, build_snapshot, derive_snapshot, reference_cacher
from bot.util.text import topic_key

log = logging.getLogger(__name__)

STYLES: tuple[Style, ...] = get_args(Style)
NoPick = Literal["collection", "topic", "both"]


@dataclass(frozen=True, slots=True)
class CardDetail:
    """A card with what a reader sees beside it: its collection and the references it cites."""

    card: Card
    collection: Collection
    references: tuple[Reference, ...]


@dataclass(frozen=True, slots=True)
class Pick:
    """A random card, and whether the reader had already seen every card that could be picked."""

    detail: CardDetail | None
    exhausted: bool = False
    message: str | None = None
    #: Why nothing was picked (each surface phrases it): "collection" unknown, "topic" unknown (``close``:
    #: the nearest topics), or "both": no card has that topic in that collection.
    reason: NoPick | None = None
    close: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SearchResult:
    """A page of search hits with their cards."""

    page: SearchPage
    details: tuple[CardDetail, ...]

    @property
    def message(self) -> str | None:
        """Why there is nothing to show, when there is nothing."""
        if self.page.message:
            return self.page.message
        if not self.page.total:
            return f"No card matches “{self.page.query}”."
        return None


@dataclass(frozen=True, slots=True)
class CiteHit:
    """A card that cites a reference, with the reference as that card writes it."""

    detail: CardDetail
    written: str
    reference: Reference


class CiteHits(Sequence[CiteHit]):
    """The cards citing a work, in library order; each hit's card is looked up only when it is read.

    An author cited by thousands of cards costs one lookup, and a page of five hits five card views.
    """

    __slots__ = ("_found", "_snapshot")

    def __init__(self, snapshot: Snapshot | None, found: Sequence[tuple[str, Sequence[Reference]]]) -> None:
        self._snapshot = snapshot
        self._found = found

    def __len__(self) -> int:
        return len(self._found)

    def _hit(self, index: int) -> CiteHit:
        card_id, references = self._found[index]
        assert self._snapshot is not None  # only NO_HITS has no snapshot, and it has no hit to read
        detail = CardService._detail(self._snapshot, card_id)
        assert detail is not None  # the ids come from the same snapshot's citation index
        written = "; ".join(dict.fromkeys(r.written for r in references))
        return CiteHit(detail, written, references[0])

    @overload
    def __getitem__(self, index: int) -> CiteHit: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[CiteHit, ...]: ...
    def __getitem__(self, index: int | slice) -> CiteHit | tuple[CiteHit, ...]:
        if isinstance(index, slice):
            return tuple(self._hit(i) for i in range(*index.indices(len(self._found))))
        return self._hit(index if index >= 0 else len(self._found) + index)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"CiteHits({len(self)} cards)"


NO_HITS = CiteHits(None, ())


@dataclass(frozen=True, slots=True)
class CiteResult:
    """Every card citing a work, or a message saying why there is none."""

    query: str
    hits: CiteHits
    message: str | None = None


@dataclass(frozen=True, slots=True)
class CollectionSummary:
    """A collection as its page presents it."""

    collection: Collection
    cards: int
    topics: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReloadReport:
    """What a reload changed."""

    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    broken: tuple[Path, ...]
    problems: tuple[Problem, ...]
    cards: int


class CardService:
    """Random picks, search, citations and sources over the current library."""

    def __init__(
        self,
        library: Library,
        *,
        cache_dir: Path | None = None,
        rng: _random.Random | None = None,
        load_cache: LoadCache | None = None,
    ) -> None:
        self._cache = load_cache or (LoadCache(cache_dir) if cache_dir is not None else None)
        self._index_dir = cache_dir / "search" if cache_dir is not None else None
        self._rng = rng or _random.Random()
        self._snapshot = build_snapshot(library, self._index_dir)
        self._swap_lock = threading.RLock()
        self._summaries: tuple[Library, list[CollectionSummary]] | None = None

    @classmethod
    def load(
        cls,
        cards_dir: Path,
        *,
        cache_dir: Path | None = None,
        rng: _random.Random | None = None,
        max_file_bytes: int | None = None,
    ) -> CardService:
        """Load a card folder (through the cache, when one is given) and index it; files over ``max_file_bytes``
        are refused unread (reloads keep the limit)."""
        cache = LoadCache(cache_dir) if cache_dir is not None else None
        # The parse workers extract each file's references as they go (the citation index then reads them).
        after_parse = reference_cacher(cache_dir / "search" if cache_dir is not None else None)
        library = load_library(cards_dir, cache=cache, after_parse=after_parse, max_file_bytes=max_file_bytes)
        return cls(library, cache_dir=cache_dir, rng=rng, load_cache=cache)

    # ------------------------------------------------------------------------------------- the library
    @property
    def library(self) -> Library:
        """The library being served right now."""
        return self._snapshot.library

    def reload(self) -> ReloadReport:
        """Re-read the card folder; broken files keep their last good version. Thread-safe."""
        with self._swap_lock:
            old = self._snapshot.library
            new = load_library(old.root, cache=self._cache, previous=old)
            self.swap(new)
        return diff(old, new)

    def swap(self, library: Library) -> None:
        """Serve a new library (after a reload or a moderator's write). Thread-safe.

        When few cards changed, the new snapshot's indexes are derived from the current ones (see
        :func:`bot.index.snapshot.derive_snapshot`); otherwise they are built anew. Either way the current snapshot
        keeps
        answering unchanged until the new one replaces it in one assignment; swaps run one at a time, so each
        derives from the snapshot the last one left.
        """
        with self._swap_lock:
            old = self._snapshot
            derived = None if old.library is library else derive_snapshot(old, library, self._index_dir)
            self._snapshot = derived if derived is not None else build_snapshot(library, self._index_dir)

    def detail(self, card_id: str) -> CardDetail | None:
        """One card with its collection and references, or None for an unknown id."""
        return self._detail(self._snapshot, card_id)

    #: The card service's documented ``show(id)``; the same as :meth:`detail`.
    show = detail

    @staticmethod
    def _detail(snap: Snapshot, card_id: str) -> CardDetail | None:
        card = snap.library.cards.get(card_id)
        if card is None:
            return None
        collection = snap.library.collections[snap.library.card_collection[card_id]]
        return CardDetail(card, collection, tuple(snap.citations.references_of(card_id)))

    # ------------------------------------------------------------------------------------------ reading
    def random(
        self,
        *,
        topic: str | None = None,
        collection: str | None = None,
        avoid: SizedContainer[str] = (),
    ) -> Pick:
        """A uniform random card, optionally filtered, preferring cards not in ``avoid`` (already seen)."""
        snap = self._snapshot
        pool = snap.picker.pool(topic, collection)
        if not pool:
            return self._no_pick(snap, topic, collection)
        card_id, exhausted = snap.picker.pick(pool, self._rng, avoid)
        return Pick(self._detail(snap, card_id), exhausted)

    def pool(self, *, topic: str | None = None, collection: str | None = None) -> tuple[str, ...]:
        """The ids random picks draw from with these filters (empty strings mean no filter), in library order."""
        return self._snapshot.picker.pool(topic or None, collection or None)

    @staticmethod
    def _no_pick(snap: Snapshot, topic: str | None, collection: str | None) -> Pick:
        if collection is not None and collection not in snap.library.collections:
            return Pick(None, message=f"There is no collection “{collection}”.", reason="collection")
        if topic is not None and topic_key(topic) not in snap.picker.by_topic:
            close = tuple(snap.topics.complete(topic, limit=3))
            hint = f" Did you mean {', '.join(f'“{t}”' for t in close)}?" if close else ""
            return Pick(None, message=f"No card has the topic “{topic}”.{hint}", reason="topic", close=close)
        return Pick(None, message="No card matches both that topic and that collection.", reason="both")

    def search(
        self,
        query: str,
        *,
        topic: str | None = None,
        collection: str | None = None,
        limit: int = 5,
        offset: int = 0,
    ) -> SearchResult:
        """Ranked search over text, topics, article and collection titles."""
        snap = self._snapshot
        page = snap.search.search(query, topic=topic, collection=collection, limit=limit, offset=offset)
        details = tuple(d for d in (self._detail(snap, hit.card_id) for hit in page.hits) if d is not None)
        return SearchResult(page, details)

    def cite(self, query: str) -> CiteResult:
        """Every card that cites a work matching ``query``, with the reference as each card writes it."""
        snap = self._snapshot
        if not query.strip():
            return CiteResult(query, NO_HITS, "Type a reference, e.g. “Horvath & Symonds 1991”, or an author.")
        found = snap.citations.cards_citing(query)  # one entry per card, with every matching work it cites
        if not found:
            return CiteResult(query, NO_HITS, f"No card cites “{query.strip()[:200]}”.")
        return CiteResult(query, CiteHits(snap, found))

    def citing_work(self, reference: Reference) -> list[str]:
        """Ids of the cards citing exactly this work (the same :attr:`Reference.key`), in library order."""
        return self._snapshot.citations.cards_citing_work(reference.key)

    def source(self, card_id: str, style: Style = "plain") -> str | None:
        """Where a card comes from, formatted in a citation style; None for an unknown card."""
        card = self._snapshot.library.cards.get(card_id)
        if card is None:
            return None
        return render_source(card.source, style, key=card.id)

    def views_per_collection(self, views_by_card: Mapping[str, int]) -> dict[str, int]:
        """Card views added up per collection id, most viewed first (cards no longer served are left out)."""
        owner = self._snapshot.library.card_collection
        totals: dict[str, int] = {}
        for card_id, n in views_by_card.items():
            collection_id = owner.get(card_id)
            if collection_id is not None:
                totals[collection_id] = totals.get(collection_id, 0) + n
        return dict(sorted(totals.items(), key=lambda item: -item[1]))

    # ------------------------------------------------------------------------------------ autocomplete
    def topics(self, prefix: str = "", limit: int = 25) -> list[str]:
        """Topics for autocomplete, best first."""
        return self._snapshot.topics.complete(prefix, limit)

    def references(self, prefix: str = "", limit: int = 25) -> list[tuple[str, int]]:
        """Known references for autocomplete, most cited first: (display, number of citing cards)."""
        return self._snapshot.citations.complete(prefix, limit)

    def card_choices(self, prefix: str = "", limit: int = 25) -> list[tuple[str, str]]:
        """Cards for autocomplete: (card id, a short label), best match first."""
        snap = self._snapshot
        prefix = prefix.strip()
        if not prefix:
            return [(cid, card_label(card.text)) for cid, card in islice(snap.library.cards.items(), limit)]
        exact = snap.library.cards.get(prefix)
        found = snap.search.suggest(prefix, limit=limit)
        if exact is not None:
            found = [(prefix, card_label(exact.text)), *[f for f in found if f[0] != prefix]][:limit]
        return found

    def collection_choices(self, prefix: str = "", limit: int = 25) -> list[tuple[str, str]]:
        """Collections for autocomplete: (collection id, "Title (id)")."""
        names = self._snapshot.collection_names.complete(prefix, limit)
        return [(name.rsplit("(", 1)[1].rstrip(")"), name) for name in names]

    def collections(self) -> list[CollectionSummary]:
        """Every collection with its number of cards and most used topics (computed once per library)."""
        lib = self._snapshot.library
        cached = self._summaries
        if cached is not None and cached[0] is lib:
            return list(cached[1])
        out = []
        for collection in lib.collections.values():
            cards = lib.cards_of(collection.id)
            counts: dict[str, int] = {}
            for card in cards:
                for topic in card.topics:
                    counts[topic] = counts.get(topic, 0) + 1
            top = tuple(sorted(counts, key=lambda t: (-counts[t], t))[:8])
            out.append(CollectionSummary(collection, len(cards), collection.topics or top))
        self._summaries = (lib, out)
        return list(out)


def diff(old: Library, new: Library) -> ReloadReport:
    """What changed between two libraries, card by card."""
    before, after = old.cards, new.cards
    added = tuple(sorted(k for k in after if k not in before))
    removed = tuple(sorted(k for k in before if k not in after))
    changed = tuple(sorted(k for k in after if k in before and after[k] != before[k]))
    return ReloadReport(added, changed, removed, new.broken, new.problems, len(after))
