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

from bot.cards.library import Audience, Library, LoadCache, load_library, qualify, same_card, visible
from bot.cards.model import Card, Collection
from bot.cards.sources import Style, render_source
from bot.cards.validate import Problem
from bot.index.citations import Reference
from bot.index.search import SearchPage, Vocabulary, card_label
from bot.index.snapshot import Snapshot, build_snapshot, derive_snapshot, reference_cacher
from bot.service.semantic import Meaning, Mode, hybrid_page

log = logging.getLogger(__name__)

STYLES: tuple[Style, ...] = get_args(Style)
NoPick = Literal["collection", "topic", "both"]
#: A collection filter no card matches: what a collection another server owns becomes (no key starts with "@").
_UNSEEN = "@unseen"
#: Card autocomplete searches by meaning too once the text is longer than this many words (a question).
QUESTION_WORDS = 3


@dataclass(frozen=True, slots=True)
class CardDetail:
    """A card with what a reader sees beside it: its collection and the references it cites."""

    card: Card
    collection: Collection
    references: tuple[Reference, ...]


#: Cards whose :class:`CardDetail` is kept (for the library served last): a card shown again, in a random pick, a
#: page of results or an opened card, is not looked up again (its references are filtered from the citation index).
MAX_KEPT_DETAILS = 8192


class _Details:
    """Each card's :class:`CardDetail` as a library gives it, the last :data:`MAX_KEPT_DETAILS` kept for the library
    served last (a new library starts afresh)."""

    __slots__ = ("_kept",)

    def __init__(self) -> None:
        self._kept: tuple[Snapshot | None, dict[str, CardDetail]] = (None, {})

    def of(self, snap: Snapshot, card_id: str) -> CardDetail | None:
        kept = self._kept
        if kept[0] is not snap:  # a new library: what was kept is for the old one
            kept = self._kept = (snap, {})
        found = kept[1].get(card_id)
        if found is not None:
            return found
        card = snap.library.cards.get(card_id)
        if card is None:
            return None
        collection = snap.library.collections[snap.library.card_collection[card_id]]
        # "Bordin (5)" is shown as [5], not "[5]; Bordin" (the author is indexed only so that lookups find it)
        cited = tuple(r for r in snap.cited.references_of(card_id, card) if not r.named_number)
        found = CardDetail(card, collection, cited)
        if len(kept[1]) >= MAX_KEPT_DETAILS:
            kept[1].clear()
        kept[1][card_id] = found
        return found


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
    #: The cards are ranked by closeness in meaning (the words matched no card, or only some of them).
    by_meaning: bool = False

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

    __slots__ = ("_details", "_found", "_snapshot")

    def __init__(
        self,
        snapshot: Snapshot | None,
        found: Sequence[tuple[str, Sequence[Reference]]],
        details: _Details | None = None,
    ) -> None:
        self._snapshot = snapshot
        self._found = found
        self._details = details or _Details()

    def __len__(self) -> int:
        return len(self._found)

    def _hit(self, index: int) -> CiteHit:
        card_id, references = self._found[index]
        assert self._snapshot is not None  # only NO_HITS has no snapshot, and it has no hit to read
        detail = self._details.of(self._snapshot, card_id)
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
        meaning: Meaning | None = None,
    ) -> None:
        """``meaning`` adds search by meaning (it starts embedding the library in the background)."""
        self.meaning = meaning
        self._cache = load_cache or (LoadCache(cache_dir) if cache_dir is not None else None)
        self._index_dir = cache_dir / "search" if cache_dir is not None else None
        self._rng = rng or _random.Random()
        self._details = _Details()
        self._snapshot = build_snapshot(library, self._index_dir)
        self._swap_lock = threading.RLock()
        self._summaries: tuple[Library, list[CollectionSummary]] | None = None
        if meaning is not None:
            meaning.start(library)

    @classmethod
    def load(
        cls,
        cards_dir: Path,
        *,
        cache_dir: Path | None = None,
        rng: _random.Random | None = None,
        max_file_bytes: int | None = None,
        meaning: Meaning | None = None,
    ) -> CardService:
        """Load a card folder (through the cache, when one is given) and index it; files over ``max_file_bytes``
        are refused unread (reloads keep the limit)."""
        cache = LoadCache(cache_dir) if cache_dir is not None else None
        # The parse workers extract each file's references as they go (the citation index then reads them).
        after_parse = reference_cacher(cache_dir / "search" if cache_dir is not None else None)
        library = load_library(cards_dir, cache=cache, after_parse=after_parse, max_file_bytes=max_file_bytes)
        return cls(library, cache_dir=cache_dir, rng=rng, load_cache=cache, meaning=meaning)

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
            if self.meaning is not None:
                self.meaning.update(library)

    def close(self) -> None:
        """Stop the background work (embedding cards for search by meaning) and free the model; idempotent.
        Blocks for up to about a second: call it off the event loop."""
        if self.meaning is not None:
            self.meaning.close()

    def swap_part(self, audience: Audience, part: Library) -> None:
        """Serve ``part`` as one audience's part of the library (a curator's write; see
        :meth:`Library.of_audience`), the rest as served now. Thread-safe."""
        with self._swap_lock:
            self.swap(self._snapshot.library.with_audience(audience, part))

    # ------------------------------------------------------------------------------------------ visibility
    # Every reading method takes ``viewer``: the server the reader is in, or None in a direct message (and on the
    # command line without ``--server``). A reader sees the shared library and that server's own collections; a
    # card or collection of another server is, for them, one that does not exist.
    def resolve(self, card_id: str, viewer: Audience = None) -> str | None:
        """The served key of the card ``card_id`` names for ``viewer`` (its own id, as written in the server's
        file, or its served key), or None when ``viewer`` sees no such card."""
        return _resolve(self._snapshot.library.cards, card_id, viewer)

    def resolve_collection(self, collection_id: str, viewer: Audience = None) -> str | None:
        """The served key of the collection ``collection_id`` names for ``viewer``, or None."""
        return _resolve(self._snapshot.library.collections, collection_id, viewer)

    def _collection_filter(self, collection: str | None, viewer: Audience) -> str | None:
        """A collection filter as served: its key, or (unknown to ``viewer``) the name as given, which the
        indexes then find nothing for."""
        if collection is None:
            return None
        resolved = self.resolve_collection(collection, viewer)
        return resolved if resolved is not None else (collection if visible(collection, viewer) else "\0")

    def detail(self, card_id: str, viewer: Audience = None, *, exact: bool = False) -> CardDetail | None:
        """One card with its collection and references, or None for an id ``viewer`` does not see. ``exact``:
        ``card_id`` is a served key (of a card shown before: ``id`` is the shared card even where the server has
        its own ``id``), not an id as a reader types it (the server's own first)."""
        if exact:
            cards = self._snapshot.library.cards
            key: str | None = card_id if card_id in cards and visible(card_id, viewer) else None
        else:
            key = self.resolve(card_id, viewer)
        return self._detail(self._snapshot, key) if key is not None else None

    #: The card service's documented ``show(id)``; the same as :meth:`detail`.
    show = detail

    def _detail(self, snap: Snapshot, card_id: str) -> CardDetail | None:
        return self._details.of(snap, card_id)

    # ------------------------------------------------------------------------------------------ reading
    def random(
        self,
        *,
        topic: str | None = None,
        collection: str | None = None,
        avoid: SizedContainer[str] = (),
        viewer: Audience = None,
    ) -> Pick:
        """A uniform random card ``viewer`` sees, optionally filtered, preferring cards not in ``avoid``."""
        snap = self._snapshot
        key = self._collection_filter(collection, viewer)
        pool = snap.picker.visible_pool(topic, key, viewer)
        if not pool:
            return self._no_pick(snap, topic, key if key != "\0" else collection, viewer)
        card_id, exhausted = snap.picker.pick(pool, self._rng, avoid)
        return Pick(self._detail(snap, card_id), exhausted)

    def pool(
        self, *, topic: str | None = None, collection: str | None = None, viewer: Audience = None
    ) -> tuple[str, ...]:
        """The ids random picks draw from for ``viewer`` with these filters (empty strings mean no filter)."""
        key = self._collection_filter(collection or None, viewer)
        return tuple(self._snapshot.picker.visible_pool(topic or None, key, viewer))

    @staticmethod
    def _no_pick(snap: Snapshot, topic: str | None, collection: str | None, viewer: Audience = None) -> Pick:
        if collection is not None and (collection not in snap.library.collections or not visible(collection, viewer)):
            return Pick(None, message=f"There is no collection “{collection}”.", reason="collection")
        if topic is not None and not snap.picker.visible_pool(topic, None, viewer):
            close = tuple(_complete(snap.topics_for(viewer), topic, 3))
            hint = f" Did you mean {', '.join(f'“{t}”' for t in close)}?" if close else ""
            return Pick(None, message=f"No card has the topic “{topic}”.{hint}", reason="topic", close=close)
        return Pick(None, message="No card matches both that topic and that collection.", reason="both")

    @property
    def by_words_only(self) -> bool:
        """Whether searches are by words alone right now (no search by meaning, or its cards not embedded yet): no
        model to run and no vectors to compare, so a caller may search with ``mode="lexical"`` on the event loop
        instead of paying for a worker thread."""
        return self.meaning is None or not self.meaning.ready

    def search(
        self,
        query: str,
        *,
        topic: str | None = None,
        collection: str | None = None,
        limit: int = 5,
        offset: int = 0,
        viewer: Audience = None,
        mode: Mode = "hybrid",
    ) -> SearchResult:
        """Ranked search over text, topics, article and collection titles, and by meaning (``mode``, see
        :mod:`bot.service.semantic`; lexical while the cards are being embedded, or without the model), among the
        cards ``viewer`` sees (the filter is inside the index's query: totals and pages count only those).

        Runs the model for a new question: call it from a worker thread, not the event loop."""
        snap = self._snapshot
        key = self._collection_filter(collection, viewer)
        audiences = snap.audiences_for(viewer)
        if self.meaning is None or mode == "lexical":
            page = snap.search.search(
                query, topic=topic, collection=key, limit=limit, offset=offset, audiences=audiences
            )
            meant = False
        else:
            meaning, picker = self.meaning, snap.picker
            # The same question, filters and page, from the same index, card vectors and library: the page made
            # before (the filters and the audiences decide the cards a reader may see).
            kept_key = (query, mode, topic, key, audiences, limit, offset)
            sources = (snap.search, meaning.index(), snap.library, meaning.covers(snap.library))
            found = meaning.kept_page(kept_key, sources)
            if found is None:
                found = hybrid_page(
                    snap.search,
                    meaning,
                    snap.library,
                    query,
                    mode=mode,
                    # the cards this reader may see with these filters (None: every card, when all are shared)
                    pool=lambda: picker.visible_pool(topic, key, viewer) if topic or key or picker.mixed else None,
                    topic=topic,
                    collection=key,
                    audiences=audiences,
                    limit=limit,
                    offset=offset,
                )
                meaning.keep_page(kept_key, sources, found)
            page, meant = found.page, found.by_meaning
        details = tuple(d for d in (self._detail(snap, hit.card_id) for hit in page.hits) if d is not None)
        return SearchResult(page, details, meant)

    def cite(self, query: str, viewer: Audience = None) -> CiteResult:
        """Every card ``viewer`` sees that cites a work matching ``query``, with the reference as it writes it."""
        snap = self._snapshot
        if not query.strip():
            return CiteResult(query, NO_HITS, "Type a reference, e.g. “Horvath & Symonds 1991”, or an author.")
        found = snap.cited.cards_citing(query, viewer)  # one entry per card, with every matching work it cites
        if not found:
            return CiteResult(query, NO_HITS, f"No card cites “{query.strip()[:200]}”.")
        return CiteResult(query, CiteHits(snap, found, self._details))

    def citing_work(self, reference: Reference, viewer: Audience = None) -> list[str]:
        """Ids of the cards ``viewer`` sees citing exactly this work (the same :attr:`Reference.key`), in library
        order."""
        found = self._snapshot.cited.cards_citing_work(reference.key, viewer)
        return [card_id for card_id in found if visible(card_id, viewer)]

    def source(self, card_id: str, style: Style = "plain", viewer: Audience = None) -> str | None:
        """Where a card comes from, formatted in a citation style; None for a card ``viewer`` does not see."""
        key = self.resolve(card_id, viewer)
        card = self._snapshot.library.cards.get(key) if key is not None else None
        if card is None:
            return None
        return render_source(card.source, style, key=card.id)

    def views_per_collection(self, views_by_card: Mapping[str, int], viewer: Audience = None) -> dict[str, int]:
        """Card views added up per collection id, most viewed first (cards no longer served, or that ``viewer``
        does not see, are left out)."""
        owner = self._snapshot.library.card_collection
        totals: dict[str, int] = {}
        for card_id, n in views_by_card.items():
            collection_id = owner.get(card_id)
            if collection_id is not None and visible(collection_id, viewer):
                totals[collection_id] = totals.get(collection_id, 0) + n
        return dict(sorted(totals.items(), key=lambda item: -item[1]))

    # ------------------------------------------------------------------------------------ autocomplete
    def topics(self, prefix: str = "", limit: int = 25, viewer: Audience = None) -> list[str]:
        """Topics for autocomplete, best first: the server's own, then the shared library's."""
        return _complete(self._snapshot.topics_for(viewer), prefix, limit)

    def references(self, prefix: str = "", limit: int = 25, viewer: Audience = None) -> list[tuple[str, int]]:
        """Known references for autocomplete, most cited first: (display, number of citing cards ``viewer``
        sees)."""
        return self._snapshot.cited.complete(prefix, limit, viewer)

    def card_choices(self, prefix: str = "", limit: int = 25, viewer: Audience = None) -> list[tuple[str, str]]:
        """Cards ``viewer`` sees for autocomplete: (card id, a short label), best match first."""
        snap = self._snapshot
        prefix = prefix.strip()
        if not prefix:
            pool = snap.picker.visible_pool(None, None, viewer)
            cards = snap.library.cards
            return [(cid, card_label(cards[cid].text)) for cid in islice(pool, limit)]
        key = self.resolve(prefix, viewer)
        exact = snap.library.cards.get(key) if key is not None else None
        if self.meaning is not None and len(prefix.split()) > QUESTION_WORDS:
            found = [
                (d.card.id, card_label(d.card.text)) for d in self.search(prefix, limit=limit, viewer=viewer).details
            ]
        else:
            found = snap.search.suggest(prefix, limit=limit, audiences=snap.audiences_for(viewer))
        if exact is not None and key is not None:
            found = [(key, card_label(exact.text)), *[f for f in found if f[0] != key]][:limit]
        return found

    def collection_choices(self, prefix: str = "", limit: int = 25, viewer: Audience = None) -> list[tuple[str, str]]:
        """Collections ``viewer`` sees for autocomplete: (collection id, "Title (id)"), the server's own first."""
        names = _complete(self._snapshot.collection_names_for(viewer), prefix, limit)
        return [(name.rsplit("(", 1)[1].rstrip(")"), name) for name in names]

    def collections(self, viewer: Audience = None) -> list[CollectionSummary]:
        """Every collection ``viewer`` sees, with its number of cards and most used topics."""
        return [s for s in self._all_collections() if visible(s.collection.id, viewer)]

    def _all_collections(self) -> list[CollectionSummary]:
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


def _resolve(served: Mapping[str, object], name: str, viewer: Audience) -> str | None:
    """The served key ``name`` means for ``viewer``: the viewer's own first, then a shared one; None if neither."""
    if viewer is not None and (own := qualify(name, viewer)) in served:
        return own
    return name if name in served and visible(name, viewer) else None


def _complete(vocabularies: Sequence[Vocabulary], prefix: str, limit: int) -> list[str]:
    """Completions from each vocabulary in turn (a server's own first), each item once, at most ``limit``."""
    found: dict[str, None] = {}
    for vocabulary in vocabularies:
        found.update(dict.fromkeys(vocabulary.complete(prefix, limit)))
        if len(found) >= limit:
            break
    return list(found)[:limit]


def diff(old: Library, new: Library) -> ReloadReport:
    """What changed between two libraries, card by card."""
    before, after = old.cards, new.cards
    added = tuple(sorted(k for k in after if k not in before))
    removed = tuple(sorted(k for k in before if k not in after))
    # a server's card is compared by its file's content first: an unchanged file decodes none of its cards
    changed = tuple(sorted(k for k in after if k in before and not same_card(before, after, k)))
    return ReloadReport(added, changed, removed, new.broken, new.problems, len(after))
