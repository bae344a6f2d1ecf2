"""The citation index: from references to the cards that cite them, with lookup, autocomplete and
copy-on-write updates."""

from __future__ import annotations

import heapq
import re
from bisect import bisect_left, insort
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from itertools import islice
from typing import TypeVar

import msgspec
from rapidfuzz import fuzz, process

from bot.index.citations._grammar import _ET_AL_KEY, _MAX_QUERY_LEN, _name_key, _text_key
from bot.index.citations.extraction import card_references
from bot.index.citations.query import _authors_match, _year_matches, parse_reference
from bot.index.citations.records import CitationHit, Reference, ReferenceQuery

#: One citing row of an entry: (card order, position of the reference in the card, card id). The reference as
#: written in that card is ``_by_card[card id][position]``, so rows hold no object of their own and the index
#: encodes to (and decodes from) MessagePack without re-linking rows to shared references. A plain tuple: a
#: 100k-card library of the benchmarks holds about 230,000 of them, they sort by card order as they are, and a
#: tuple is the cheapest object to build and keep.
Hit = tuple[int, int, str]


class Entry(msgspec.Struct, gc=False, array_like=True):
    """One cited work in the index (all the cards citing references with the same key).

    A msgspec Struct without garbage-collector tracking: smaller and faster to build than a slotted dataclass,
    an entry never takes part in a reference cycle, and it encodes as a plain array (see :class:`_Packed`).
    It holds only what cannot be derived, so that a warm start decodes as few objects as possible: the
    canonical reference is the first row's (:meth:`CitationIndex._canonical`) and the folded surnames are
    those of the key (:func:`_folded_authors`).
    """

    #: Every citing row, in card order.
    hits: list[Hit]
    #: Number of distinct cards citing it.
    cards: int = 0


class _Packed(msgspec.Struct, array_like=True, gc=False):
    """The encoded layout of a :class:`CitationIndex`: its slots, without the caches filled on demand.

    Entries and each card's references are read back as :class:`_Unpacked`: still encoded, each decoded the
    first time it is asked for (see :class:`_Lazy`).
    """

    format: int
    entries: Mapping[str, Entry | msgspec.Raw]
    by_card: Mapping[str, list[Reference] | msgspec.Raw]
    by_surname: dict[str, list[str]]
    by_first: dict[str, list[str]]
    opaque: dict[str, str]
    opaque_sorted: list[str]
    surnames: list[str]
    numbered: list[str]
    display: dict[str, str]
    ranked: list[str]
    order: dict[str, int] | msgspec.Raw


class _Unpacked(msgspec.Struct, array_like=True, gc=False):
    """:class:`_Packed` as decoded: the entries and each card's references left encoded."""

    format: int
    entries: dict[str, msgspec.Raw]
    by_card: dict[str, msgspec.Raw]
    by_surname: dict[str, list[str]]
    by_first: dict[str, list[str]]
    opaque: dict[str, str]
    opaque_sorted: list[str]
    surnames: list[str]
    numbered: list[str]
    display: dict[str, str]
    ranked: list[str]
    order: msgspec.Raw


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(_Unpacked)
_ENTRY = msgspec.msgpack.Decoder(Entry)
_REFERENCES = msgspec.msgpack.Decoder(list[Reference])
_ORDERS = msgspec.msgpack.Decoder(dict[str, int])

_V = TypeVar("_V")


class _Lazy(dict[str, _V]):
    """A dict some of whose values are still MessagePack (:class:`msgspec.Raw`), each decoded when first read.

    A warm start then decodes only the keys and the compact encoded values: about 175,000 entries and 100,000
    cards' references at 100k cards would otherwise be a million and a half objects to build before the bot
    answers. Reading a value through ``[]`` or :meth:`get` decodes it once and keeps it; :meth:`copy` keeps
    the values still encoded (the copy-on-write updates copy these dicts).
    """

    __slots__ = ("_decoder",)

    def __init__(self, decoder: msgspec.msgpack.Decoder[_V], items: Mapping[str, _V | msgspec.Raw]) -> None:
        super().__init__(items)  # type: ignore[arg-type]  # the values may be Raw until read
        self._decoder = decoder

    def __getitem__(self, key: str) -> _V:
        value: object = dict.__getitem__(self, key)
        if type(value) is msgspec.Raw:
            decoded = self._decoder.decode(value)
            dict.__setitem__(self, key, decoded)
            return decoded
        return value  # type: ignore[return-value]  # not Raw: a decoded value

    def get(self, key: str, default: _V | None = None) -> _V | None:  # type: ignore[override]
        try:
            return self[key]
        except KeyError:
            return default

    def copy(self) -> _Lazy[_V]:
        return _Lazy(self._decoder, self)

    def decode_keys(self, keys: Iterable[str]) -> None:
        """Decode the values of ``keys`` still encoded, so that ``dict.__getitem__`` reads them as they are."""
        for key in keys:
            if type(dict.__getitem__(self, key)) is msgspec.Raw:
                self[key]

    def decoded(self) -> dict[str, _V]:
        """A plain dict of every value, decoded (for pickling)."""
        return {key: self[key] for key in self}


class _Ranks(dict[str, tuple[int, str]]):
    """Autocomplete rank of each key (see :func:`_rank`), computed from its entry when first asked for."""

    __slots__ = ("_entries",)

    def __init__(self, entries: Mapping[str, Entry], ranks: Mapping[str, tuple[int, str]] | None = None) -> None:
        super().__init__(ranks or {})
        self._entries = entries

    def __missing__(self, key: str) -> tuple[int, str]:
        rank = self[key] = _rank(key, self._entries[key].cards)
        return rank


_T = TypeVar("_T")

#: Card orders are spaced this far apart, so that :meth:`CitationIndex.updated` can place new
#: cards between existing ones (about 32 times at the same spot before it renumbers).
_ORDER_GAP = 1 << 32
#: Bump when the pickled or encoded layout of :class:`CitationIndex` changes: older ones are refused.
_PICKLE_FORMAT = 4


def _folded_authors(key: str, shared: dict[str, tuple[str, ...]] | None = None) -> tuple[str, ...]:
    """The folded surnames of an author-year key; with ``shared``, one tuple for every key of the same authors."""
    names = key[: key.rfind("|")]
    if shared is not None:
        found = shared.get(names)
        if found is not None:
            return found
    bare = names.removesuffix(_ET_AL_KEY)
    folded = tuple(bare.split("&")) if bare else ()
    if shared is not None:
        shared[names] = folded
    return folded


class CitationIndex:
    """Maps references to the cards that cite them.

    Matching rules for :meth:`lookup`:

    * a number or list of numbers matches numbered references with those numbers
      (numbers are local to each card's article, so ``7`` finds every card citing a ``[7]``);
    * an author alone (``Simpson``) matches every author-year reference with that
      surname among its authors, in any position;
    * several authors (``Horvath & Symonds``) must equal the reference's full author list;
      a full list of three or more also matches an ``Orlinsky et al.`` reference with the
      same first author;
    * ``X et al.`` matches references whose first author is X and that are themselves
      "et al." or have three or more authors;
    * with a year, the year must match too; ``1991`` matches ``1991``, ``1991a``,
      ``1991b``, while ``1991a`` matches only ``1991a``; several years match any of them;
    * surnames are compared accent- and case-folded, ignoring apostrophes and dots and
      treating hyphens as spaces (``Ronnestad`` == ``Rønnestad``, ``OLeary`` == ``O'Leary``);
      ``horvath symonds 1991`` (no separator) is retried as two authors;
    * explicit citations that do not parse are matched by their folded text.

    Hits come in card order (the order cards were given to :meth:`build`), one per
    (card, matching reference): ``Bordin`` gives two hits for a card citing
    ``Bordin, 1979, 1994``.
    """

    __slots__ = (
        "_all_ranked",
        "_by_card",
        "_by_first",
        "_by_surname",
        "_display",
        "_entries",
        "_fuzzy_cache",
        "_numbered",
        "_opaque",
        "_opaque_sorted",
        "_order_data",
        "_prefix_cache",
        "_rank_of",
        "_surnames",
    )

    def __init__(self) -> None:
        self._entries: dict[str, Entry] = {}
        self._by_card: dict[str, list[Reference]] = {}
        self._by_surname: dict[str, list[str]] = {}
        self._by_first: dict[str, list[str]] = {}
        self._opaque: dict[str, str] = {}
        self._opaque_sorted: list[str] = []
        self._surnames: list[str] = []
        self._numbered: list[str] = []
        self._display: dict[str, str] = {}
        self._prefix_cache: dict[tuple[str, int], list[tuple[str, int]]] = {}
        self._fuzzy_cache: dict[int, list[str]] = {}
        self._all_ranked: list[str] | None = None
        self._rank_of: dict[str, tuple[int, str]] = _Ranks(self._entries)
        self._order_data: dict[str, int] | msgspec.Raw = {}

    def __getstate__(self) -> tuple[int, dict[str, object]]:
        """Pickled state: a format number and the slots, without the lazily filled caches."""
        state = {name: getattr(self, name) for name in self.__slots__}
        state["_prefix_cache"] = {}
        state["_fuzzy_cache"] = {}
        for name in ("_entries", "_by_card"):
            if isinstance(state[name], _Lazy):
                state[name] = state[name].decoded()
        state["_rank_of"] = {key: self._rank_of[key] for key in self._entries}
        state["_order_data"] = self._order
        return _PICKLE_FORMAT, state

    def __setstate__(self, state: tuple[int, dict[str, object]]) -> None:
        """Restore :meth:`__getstate__`; a pickle of another format raises ValueError (rebuild it)."""
        if not isinstance(state, tuple) or len(state) != 2 or state[0] != _PICKLE_FORMAT:
            raise ValueError("a citation index pickled by another version")
        for name in self.__slots__:
            setattr(self, name, state[1][name])
        self._rank_of = _Ranks(self._entries, self._rank_of)

    def to_bytes(self) -> bytes:
        """The index as one MessagePack blob for :meth:`from_bytes` (without the lazily filled caches)."""
        return _ENCODER.encode(
            _Packed(
                _PICKLE_FORMAT,
                self._entries,
                self._by_card,
                self._by_surname,
                self._by_first,
                self._opaque,
                self._opaque_sorted,
                self._surnames,
                self._numbered,
                self._display,
                self._ranked(),
                self._order_data,
            )
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> CitationIndex:
        """The index :meth:`to_bytes` gave; ValueError (or a msgspec DecodeError) for anything else.

        One msgspec call decodes the keys and lists that lookups and completion walk; each entry (its citing
        rows) and each card's references stay encoded until first read (see :class:`_Lazy`), and ranks are
        computed when first compared (:class:`_Ranks`). No Python loop runs per row, key or card, which is
        what makes a warm start of a 100k-card library cheap.
        """
        packed = _DECODER.decode(data)
        if packed.format != _PICKLE_FORMAT:
            raise ValueError("a citation index encoded by another version")
        index = cls.__new__(cls)
        index._entries = _Lazy(_ENTRY, packed.entries)
        index._by_card = _Lazy(_REFERENCES, packed.by_card)
        index._by_surname = packed.by_surname
        index._by_first = packed.by_first
        index._opaque = packed.opaque
        index._opaque_sorted = packed.opaque_sorted
        index._surnames = packed.surnames
        index._numbered = packed.numbered
        index._display = packed.display
        index._rank_of = _Ranks(index._entries)
        index._order_data = packed.order
        index._prefix_cache = {}
        index._fuzzy_cache = {}
        index._all_ranked = packed.ranked
        return index

    @classmethod
    def build(cls, cards: Iterable[tuple[str, str, Sequence[str]]]) -> CitationIndex:
        """Index ``(card_id, text, explicit_citations)`` triples (see :func:`card_references`)."""
        return cls.from_references((card_id, card_references(text, explicit)) for card_id, text, explicit in cards)

    @classmethod
    def from_references(cls, cards: Iterable[tuple[str, Sequence[Reference]]]) -> CitationIndex:
        """Index references already extracted per card, e.g. read back from a cache.

        A card id given twice has its references merged.
        """
        index = cls()
        entries = index._entries
        by_card = index._by_card
        by_first = index._by_first
        by_surname = index._by_surname
        orders = index._order
        shared_folded: dict[str, tuple[str, ...]] = {}
        last: dict[str, str] = {}  # key -> the last card counted in its entry (a card given twice counts once)
        for n, (card_id, found) in enumerate(cards, 1):
            order = n * _ORDER_GAP
            refs = by_card.get(card_id)
            if refs is None:
                refs = by_card[card_id] = []
                orders[card_id] = order
                if not found:
                    continue
                seen = set()
            else:
                seen = {r._key for r in refs}
            for ref in found:
                key = ref._key
                if key in seen:
                    continue
                seen.add(key)
                entry = entries.get(key)
                if entry is None:
                    folded = _folded_authors(key, shared_folded) if ref.kind == "author-year" else ()
                    entry = entries[key] = Entry([])
                    if folded:
                        by_first.setdefault(folded[0], []).append(key)
                        for name in set(folded):
                            by_surname.setdefault(name, []).append(key)
                    elif ref.kind == "opaque":
                        index._opaque[key[1:]] = key
                entry.hits.append((order, len(refs), card_id))
                if last.get(key) != card_id:
                    last[key] = card_id
                    entry.cards += 1
                refs.append(ref)
        index._sort_lists()
        return index

    def _sort_lists(self) -> None:
        """Rank every key for autocomplete (most cited first, then by key; numbers in numeric order) and sort the
        lists that completion walks."""
        rank_of = self._rank_of
        for key, entry in self._entries.items():
            rank_of[key] = _rank(key, entry.cards)
        self._surnames = sorted(self._by_surname)
        for keys in self._by_surname.values():
            if len(keys) > 1:
                keys.sort(key=rank_of.__getitem__)
        self._opaque_sorted = sorted(self._opaque)
        self._numbered = sorted((k for k in self._entries if k.startswith("#")), key=_number_of)

    @property
    def _order(self) -> dict[str, int]:
        """Each card's order, decoded on first use: only updates need it, and a warm start should not pay for it."""
        if isinstance(self._order_data, msgspec.Raw):
            self._order_data = _ORDERS.decode(self._order_data)
        return self._order_data

    def __len__(self) -> int:
        """Number of distinct references."""
        return len(self._entries)

    # ------------------------------------------------------------------ incremental updates

    def updated(
        self, changes: Mapping[str, Sequence[Reference] | None], order: Iterable[str] | None = None
    ) -> CitationIndex:
        """A new index with some cards' references replaced; this index is not changed and stays usable.

        ``changes`` maps a card id to its references now (as :func:`card_references` gives them; a new card or
        a changed one) or to None (a removed card). ``order`` is every card id of the new library, in library
        order: it places new cards among the others so that hits keep coming in card order. Without it, new
        cards come after all others. Lookups and completions of the result are the same as those of an index
        built from scratch over the new library.

        Only the entries and lists that change are copied; the top-level dicts are shallow-copied. When the
        kept cards are not in the same relative order as before, or there is no room to place a new card
        between its neighbours, the index is rebuilt from the references it holds (no re-extraction).
        """
        if not changes:
            return self
        if order is not None and not isinstance(order, Sequence):
            order = list(order)
        placed = self._place(changes, order)
        if placed is None:
            return self._rebuilt(changes, order)
        return self._apply(changes, placed)

    def _place(
        self, changes: Mapping[str, Sequence[Reference] | None], order: Iterable[str] | None
    ) -> dict[str, int] | None:
        """The card order of every changed card still present; None when they cannot be placed."""
        if order is None:
            return self._place_at_end(changes)
        old = self._order
        placed: dict[str, int] = {}
        prev = 0
        pending: list[str] = []
        kept = 0
        for card_id in order:
            if card_id in changes:
                if changes[card_id] is None:
                    raise ValueError(f"card {card_id!r} is removed but listed in the new order")
                pending.append(card_id)
                continue
            at = old.get(card_id)
            if at is None:
                raise ValueError(f"card {card_id!r} is neither indexed nor among the changes")
            if at <= prev:
                return None
            if pending:
                step = (at - prev) // (len(pending) + 1)
                if step < 1:
                    return None
                for i, pending_id in enumerate(pending, 1):
                    placed[pending_id] = prev + i * step
                pending.clear()
            prev = at
            kept += 1
        for i, pending_id in enumerate(pending, 1):
            placed[pending_id] = prev + i * _ORDER_GAP
        if kept != len(old) - sum(1 for card_id in changes if card_id in old):
            raise ValueError("the new order leaves out indexed cards that are not among the changes")
        missing = [card_id for card_id, refs in changes.items() if refs is not None and card_id not in placed]
        if missing:
            raise ValueError(f"changed cards missing from the new order: {missing[:5]}")
        return placed

    def _place_at_end(self, changes: Mapping[str, Sequence[Reference] | None]) -> dict[str, int]:
        """Changed cards keep their place; new cards come after all others, in the order given."""
        old = self._order
        placed: dict[str, int] = {}
        last = max(old.values(), default=0)
        for card_id, refs in changes.items():
            if refs is None:
                continue
            if card_id in old:
                placed[card_id] = old[card_id]
            else:
                last += _ORDER_GAP
                placed[card_id] = last
        return placed

    def _rebuilt(self, changes: Mapping[str, Sequence[Reference] | None], order: Iterable[str] | None) -> CitationIndex:
        """The new index built from scratch, reusing the references this one holds for unchanged cards."""
        if order is None:
            order = [*(c for c in self._order if c not in changes), *(c for c in changes if c not in self._order)]
        by_card = self._by_card
        return CitationIndex.from_references(
            (card_id, by_card[card_id] if card_id not in changes else changes[card_id] or ())
            for card_id in order
            if card_id in changes or card_id in by_card
        )

    def _apply(self, changes: Mapping[str, Sequence[Reference] | None], placed: dict[str, int]) -> CitationIndex:
        """Copy-on-write update: copies of the top-level dicts, new lists only where something changed."""
        new = self._shallow_copy()
        losing, rows = new._replace_cards(self._by_card, changes, placed)
        created, dropped = new._merge_rows(self._entries, losing, rows, set(changes))
        changed = losing.keys() | rows.keys()
        new._update_name_lists(self, changed, set(created), set(dropped))
        new._update_sorted_keys(self, created, dropped)
        new._refresh_caches(self, changed)
        return new

    def _shallow_copy(self) -> CitationIndex:
        """A new index sharing everything with this one: dicts copied, sorted lists shared until they change."""
        new = CitationIndex.__new__(CitationIndex)
        new._entries = self._entries.copy()
        new._by_card = self._by_card.copy()
        new._order_data = dict(self._order)
        new._rank_of = _Ranks(new._entries, self._rank_of)
        new._by_surname = dict(self._by_surname)
        new._by_first = dict(self._by_first)
        new._opaque = dict(self._opaque)
        new._surnames = self._surnames
        new._opaque_sorted = self._opaque_sorted
        new._numbered = self._numbered
        new._display = self._display
        new._prefix_cache = {}
        new._fuzzy_cache = self._fuzzy_cache
        new._all_ranked = self._all_ranked
        return new

    def _replace_cards(
        self,
        old_by_card: Mapping[str, list[Reference]],
        changes: Mapping[str, Sequence[Reference] | None],
        placed: dict[str, int],
    ) -> tuple[dict[str, int], dict[str, list[Hit]]]:
        """Give the changed cards their new references; per key, how many cards stop citing it and the new rows."""
        losing: dict[str, int] = {}
        rows: dict[str, list[Hit]] = {}
        for card_id, found in changes.items():
            for ref in old_by_card.get(card_id, ()):
                losing[ref._key] = losing.get(ref._key, 0) + 1
            if found is None:
                self._by_card.pop(card_id, None)
                self._order.pop(card_id, None)
                continue
            at = placed[card_id]
            refs: list[Reference] = []
            seen: set[str] = set()
            for ref in found:
                if ref._key not in seen:
                    seen.add(ref._key)
                    rows.setdefault(ref._key, []).append((at, len(refs), card_id))
                    refs.append(ref)
            self._by_card[card_id] = refs
            self._order[card_id] = at
        return losing, rows

    def _merge_rows(
        self,
        old_entries: Mapping[str, Entry],
        losing: Mapping[str, int],
        rows: Mapping[str, list[Hit]],
        touched: set[str],
    ) -> tuple[list[str], list[str]]:
        """New entries for every changed key; the keys created and those no card cites any more."""
        created: list[str] = []
        dropped: list[str] = []
        for key in losing.keys() | rows.keys():
            entry = old_entries.get(key)
            merged = _merged_entry(entry, rows.get(key, ()), losing.get(key, 0), touched)
            if merged is None:
                del self._entries[key]
                self._rank_of.pop(key, None)
                dropped.append(key)
                continue
            self._entries[key] = merged
            self._rank_of[key] = _rank(key, merged.cards)
            if entry is None:
                created.append(key)
        return created, dropped

    def _update_name_lists(self, old: CitationIndex, changed: Iterable[str], created: set[str], gone: set[str]) -> None:
        """Rebuild the by-surname and by-first-author lists that hold a changed key (and only those)."""
        names: dict[str, list[str]] = {}  # name -> keys created with it
        firsts: dict[str, list[str]] = {}  # first author -> keys created with it
        for key in changed:
            index = self if key in self._entries else old
            if index._canonical(key).kind == "author-year":
                folded = _folded_authors(key)
                fresh = [key] if key in created else []
                firsts.setdefault(folded[0], []).extend(fresh)
                for name in dict.fromkeys(folded):
                    names.setdefault(name, []).extend(fresh)
        self._update_surnames(old, names, gone)
        self._update_firsts(firsts, gone)

    def _update_surnames(self, old: CitationIndex, names: Mapping[str, list[str]], gone: set[str]) -> None:
        by_surname = self._by_surname
        for name, fresh in names.items():
            keys = [k for k in by_surname.get(name, ()) if k not in gone]
            keys.extend(fresh)
            if keys:
                keys.sort(key=self._rank_of.__getitem__)
                if name not in by_surname:
                    self._surnames = _own(self._surnames, old._surnames)
                    insort(self._surnames, name)
                by_surname[name] = keys
            elif name in by_surname:
                del by_surname[name]
                self._surnames = _own(self._surnames, old._surnames)
                del self._surnames[bisect_left(self._surnames, name)]

    def _update_firsts(self, firsts: Mapping[str, list[str]], gone: set[str]) -> None:
        entries = self._entries
        for name, fresh in firsts.items():
            keys = [k for k in self._by_first.get(name, ()) if k not in gone]
            keys.extend(fresh)
            if keys:
                # In order of first citation, as a build adds them.
                keys.sort(key=lambda k: entries[k].hits[0][:2])
                self._by_first[name] = keys
            else:
                self._by_first.pop(name, None)

    def _update_sorted_keys(self, old: CitationIndex, created: list[str], dropped: list[str]) -> None:
        """The sorted lists of opaque texts and numbered keys, copied only when a key comes or goes."""
        for key in dropped:
            if key[0] == "=":
                del self._opaque[key[1:]]
                self._opaque_sorted = _own(self._opaque_sorted, old._opaque_sorted)
                del self._opaque_sorted[bisect_left(self._opaque_sorted, key[1:])]
            elif key[0] == "#":
                self._numbered = _own(self._numbered, old._numbered)
                del self._numbered[bisect_left(self._numbered, int(key[1:]), key=_number_of)]
        for key in created:
            if key[0] == "=":
                self._opaque[key[1:]] = key
                self._opaque_sorted = _own(self._opaque_sorted, old._opaque_sorted)
                insort(self._opaque_sorted, key[1:])
            elif key[0] == "#":
                self._numbered = _own(self._numbered, old._numbered)
                insort(self._numbered, key, key=_number_of)

    def _refresh_caches(self, old: CitationIndex, changed: Iterable[str]) -> None:
        """Displays of keys whose canonical reference may have changed go; prefix results all go."""
        self._display = dict(old._display)
        for key in changed:
            self._display.pop(key, None)
        self._prefix_cache = {}
        self._fuzzy_cache = old._fuzzy_cache if self._surnames is old._surnames else {}
        self._all_ranked = None
        if old._all_ranked is not None:
            ranked = list(old._all_ranked)
            old_rank = old._rank_of.__getitem__
            shown = [key for key in changed if key[-1] != "|"]  # as in _ranked
            for key in shown:
                if key in old._entries:
                    del ranked[bisect_left(ranked, old_rank(key), key=old_rank)]
            for key in shown:
                if key in self._entries:
                    insort(ranked, key, key=self._rank_of.__getitem__)
            self._all_ranked = ranked

    def _canonical(self, key: str) -> Reference:
        """The canonical reference of an indexed key: the one its first citing row points at."""
        _, at, card_id = self._entries[key].hits[0]
        return self._by_card[card_id][at]

    def references_of(self, card_id: str) -> list[Reference]:
        """References of one card, text first then explicit, de-duplicated; ``[]`` if unknown."""
        if not isinstance(card_id, str):
            return []
        return list(self._by_card.get(card_id, ()))

    # ------------------------------------------------------------------ lookup

    def _matching_keys(self, q: ReferenceQuery) -> list[str]:
        if q.numbers:
            return [k for k in (f"#{n}" for n in q.numbers) if k in self._entries]
        folded = tuple(_name_key(a) for a in q.authors)
        if not folded or not all(folded):
            return []
        if len(folded) == 1 and not q.et_al:
            candidates = self._by_surname.get(folded[0], ())
            if not q.years:  # an author alone: every work with that surname among its authors, as indexed
                return list(candidates)
        else:
            candidates = self._by_first.get(folded[0], ())
        if q.years:  # a cheap first pass on the year the key ends with ("names|1991a") before the full checks
            wanted = {y[:4] for y in q.years}
            candidates = [k for k in candidates if k[k.rfind("|") + 1 : k.rfind("|") + 5] in wanted]
        keys = []
        for key in candidates:
            ref = self._canonical(key)
            if _year_matches(ref.year, q.years) and _authors_match(_folded_authors(key), ref.et_al, folded, q.et_al):
                keys.append(key)
        return keys

    def _query_keys(self, query: str) -> list[str]:
        if not isinstance(query, str) or len(query) > _MAX_QUERY_LEN:
            return []
        keys: list[str] = []
        q = parse_reference(query)
        if q is not None:
            keys = self._matching_keys(q)
            if not keys and len(q.authors) == 1 and " " in q.authors[0]:
                # "horvath symonds 1991": retry the words as separate authors.
                keys = self._matching_keys(ReferenceQuery(tuple(q.authors[0].split()), q.et_al, q.years))
        opaque = self._opaque.get(_text_key(query))
        if opaque is not None and opaque not in keys:
            keys.append(opaque)
        return keys

    def _rows(self, keys: list[str]) -> list[Hit]:
        """The citing rows of ``keys`` in library order (each key's rows are already in that order)."""
        entries = self._entries
        if len(keys) == 1:
            return entries[keys[0]].hits
        rows = [row for key in keys for row in entries[key].hits]
        rows.sort()
        return rows

    def lookup(self, query: str) -> list[CitationHit]:
        """Every card citing a work matching ``query``, each with the reference as written there.

        See the class docstring for the matching rules.  ``[]`` when nothing matches or
        the query is no reference.
        """
        keys = self._query_keys(query)
        if not keys:
            return []
        rows = self._rows(keys)
        refs = self._reader(rows)
        return [CitationHit(card_id, refs(card_id)[at]) for _, at, card_id in rows]

    def _reader(self, rows: Sequence[Hit]) -> Callable[[str], list[Reference]]:
        """Reads cards' references as stored, in C, once those of ``rows`` still encoded are decoded.

        A lookup over tens of thousands of rows then pays no Python call per row to read them.
        """
        by_card = self._by_card
        if isinstance(by_card, _Lazy):
            by_card.decode_keys({card_id for _, _, card_id in rows})
        return partial(dict.__getitem__, by_card)

    def cards_citing_work(self, key: str) -> list[str]:
        """Ids of the cards citing exactly the work with this :attr:`Reference.key`, in library order (one lookup:
        the web's "other cards citing the same works" asks it for each work a card cites)."""
        entry = self._entries.get(key)
        return list(dict.fromkeys(card_id for _, _, card_id in entry.hits)) if entry is not None else []

    def cards_citing(
        self, query: str, visible: Callable[[str], bool] | None = None
    ) -> list[tuple[str, list[Reference]]]:
        """What :meth:`lookup` finds, one entry per card: ``(card_id, the matching references it cites)``.

        In library order, built straight from the index rows, so an author cited by tens of thousands of
        cards costs one pass and no per-hit objects. ``visible`` keeps only the cards a reader may see (a
        server's own cards are seen in that server only).
        """
        keys = self._query_keys(query)
        if not keys:
            return []
        out: list[tuple[str, list[Reference]]] = []
        last = None
        rows = self._rows(keys)
        if visible is not None:
            rows = [row for row in rows if visible(row[2])]
        refs = self._reader(rows)
        for _, at, card_id in rows:
            if card_id == last:
                out[-1][1].append(refs(card_id)[at])
            else:
                out.append((card_id, [refs(card_id)[at]]))
                last = card_id
        return out

    # ------------------------------------------------------------------ autocomplete

    def _display_of(self, key: str) -> str:
        """Display form of a key, computed once."""
        display = self._display.get(key)
        if display is None:
            display = self._display[key] = self._canonical(key).display()
        return display

    def _prefix_keys(self, p: str, limit: int) -> set[str]:
        """The ``limit`` best ranked keys having a surname that starts with ``p``.

        Each surname's key list is kept in rank order, so a k-way merge of the lists in the
        prefix range stops after ``limit`` distinct keys, however broad the prefix.
        """
        names = self._surnames
        lo = bisect_left(names, p)
        hi = bisect_left(names, p + "\U0010ffff", lo)
        found: set[str] = set()
        by_surname = self._by_surname
        lists = [by_surname[names[i]] for i in range(lo, hi)]
        for key in heapq.merge(*lists, key=self._rank_of.__getitem__):
            if key[-1] == "|":  # the author of a numbered reference: "Bordin" would find more than it counts
                continue
            found.add(key)
            if len(found) >= limit:
                break
        return found

    def _fuzzy_names(self, p: str, limit: int) -> list[str]:
        n = len(p)
        truncated = self._fuzzy_cache.get(n)
        if truncated is None:
            truncated = self._fuzzy_cache[n] = [s[:n] for s in self._surnames]
        matches = process.extract(p, truncated, scorer=fuzz.ratio, score_cutoff=75, limit=limit * 2)
        return [self._surnames[idx] for _choice, _score, idx in matches]

    def complete(self, prefix: str, limit: int = 25) -> list[tuple[str, int]]:
        """Autocomplete: ``(display, number of citing cards)``, most cited first.

        ``prefix`` matches the start of any author surname (folded) or of the display form
        (``Horvath & S``, ``[1``, or digits for numbered references); an empty prefix gives
        the most cited references.  When fewer than ``limit`` match and the prefix has four
        letters or more, surnames within a small edit distance are added (``Horvaht`` ->
        Horvath), ranked after the exact prefix matches.  Ties rank alphabetically.
        """
        if not isinstance(prefix, str) or not isinstance(limit, int) or limit <= 0 or len(prefix) > 200:
            return []
        p = _text_key(prefix)
        cache_key = (p, limit)
        cached = self._prefix_cache.get(cache_key)
        if cached is not None:
            return list(cached)
        entries = self._entries
        result = [(self._display_of(k), entries[k].cards) for k in self.complete_keys(prefix, limit)]
        if len(p) <= 2:
            self._prefix_cache[cache_key] = result
        return list(result)

    def display_of(self, key: str) -> str:
        """How a cited work (a key of :meth:`complete_keys`) is shown."""
        return self._display_of(key)

    def cited_by(self, key: str) -> int:
        """How many cards cite a work (a key of :meth:`complete_keys`)."""
        return self._entries[key].cards

    def citing_cards(self, key: str) -> list[str]:
        """The ids of the cards citing a work (a key of :meth:`complete_keys`), in card order, once each."""
        return list(dict.fromkeys(card_id for _, _, card_id in self._entries[key].hits))

    def complete_keys(self, prefix: str, limit: int = 25) -> list[str]:
        """The keys of the works :meth:`complete` shows, in its order."""
        if not isinstance(prefix, str) or not isinstance(limit, int) or limit <= 0 or len(prefix) > 200:
            return []
        p = _text_key(prefix)
        rank = self._rank_of.__getitem__
        name_p = _name_key(prefix)
        display_like = any(c in p for c in "&,([") or " et al" in p
        if not p:
            ranked = self._ranked()[:limit]
        else:
            keys = self._prefix_keys(name_p, limit) if name_p else set()
            digits = p.strip("[(# ")
            if digits.isdigit():
                keys.update(k for k in self._numbered if k[1:].startswith(digits))
            if display_like and name_p:
                # Display prefixes ("horvath & sy"): filter the first author's references.
                first = _name_key(re.split(r"[&,(]| et al", prefix, maxsplit=1)[0])
                keys.update(
                    k
                    for k in self._by_first.get(first, ())
                    if k[-1] != "|" and _text_key(self._display_of(k)).startswith(p)
                )
            opaque = self._opaque_sorted
            i = bisect_left(opaque, p)
            while i < len(opaque) and opaque[i].startswith(p):
                keys.add(self._opaque[opaque[i]])
                i += 1
            ranked = heapq.nsmallest(limit, keys, key=rank)
            if len(ranked) < limit and len(name_p) >= 4 and not display_like:
                extra: set[str] = set()
                for name in self._fuzzy_names(name_p, limit):
                    # Each surname's keys are in rank order: its first ``limit`` are enough.
                    extra.update(
                        k for k in islice(self._by_surname.get(name, ()), limit) if k not in keys and k[-1] != "|"
                    )
                ranked.extend(heapq.nsmallest(limit - len(ranked), extra, key=rank))
        return ranked

    def _ranked(self) -> list[str]:
        """Every key in rank order, computed once (for the empty prefix)."""
        if self._all_ranked is None:
            shown = (k for k in self._entries if k[-1] != "|")  # not the authors of numbered references
            self._all_ranked = sorted(shown, key=self._rank_of.__getitem__)
        return self._all_ranked


def _rank(key: str, cards: int) -> tuple[int, str]:
    """Autocomplete rank of a key: most cited first, then by key (numbers in numeric order)."""
    return (-cards, f"#{int(key[1:]):05d}" if key[0] == "#" else key)


def _number_of(key: str) -> int:
    return int(key[1:])


def _own(current: list[_T], shared: list[_T]) -> list[_T]:
    """``current``, copied first if it is still the list shared with the index it was derived from."""
    return list(current) if current is shared else current


def _merged_entry(
    entry: Entry | None,
    added: Sequence[Hit],
    lost: int,
    touched: set[str],
) -> Entry | None:
    """The entry of a key once the ``touched`` cards' rows are replaced by ``added``; None if no card cites it."""
    hits = [row for row in entry.hits if row[2] not in touched] if entry is not None else []
    if added:
        hits.extend(added)
        hits.sort()
    if not hits:
        return None
    return Entry(hits, (entry.cards if entry is not None else 0) - lost + len(added))
