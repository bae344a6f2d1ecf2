"""The citation index as one reader sees it: a server sees the works its own cards and the shared cards cite,
never what only another server's cards cite, and counts only the cards it can see.

The shared library's citations are one index every reader uses; each server's own cards have a small index of
their own, built from the server's card files when that server first asks (from the per-file reference cache, so
without extracting again) and kept while it is among the servers asking lately. A bot serving a thousand
servers' decks so holds the shared citations and only the active servers' own, not a row per server card.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from bot.cards.library import AUDIENCE_MARK, Audience, audience_of_key
from bot.cards.model import Card
from bot.index.citations.index import CitationIndex
from bot.index.citations.records import Reference

__all__ = ["OWN_INDEXES", "AudienceCitations"]

#: How many servers' own citation indexes are kept built at once (each is that server's cards' references).
OWN_INDEXES = 64


class AudienceCitations:
    """Citation lookups and autocomplete kept to what a reader in one server (or a direct message) may see."""

    __slots__ = ("_built", "_extract", "_index", "_lock", "_own")

    def __init__(
        self,
        index: CitationIndex,
        own: Callable[[int], CitationIndex | None] | None = None,
        extract: Callable[[str, Card | None], list[Reference]] | None = None,
    ) -> None:
        """``index`` holds the shared cards' citations; ``own`` builds one server's (None: it has no cards);
        ``extract`` gives one server card's references from the card (read by its key unless given), for a card
        shown in a server whose index is not built (showing a card then costs no index)."""
        self._index = index
        self._own = own
        self._extract = extract
        self._built: OrderedDict[int, CitationIndex | None] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def shared(self) -> CitationIndex:
        """The shared cards' citation index."""
        return self._index

    def own(self, viewer: Audience) -> CitationIndex | None:
        """The citation index of server ``viewer``'s own cards (None in a direct message or for none)."""
        if viewer is None or self._own is None:
            return None
        with self._lock:
            if viewer in self._built:
                self._built.move_to_end(viewer)
                return self._built[viewer]
        index = self._own(viewer)
        with self._lock:
            self._built[viewer] = index
            while len(self._built) > OWN_INDEXES:
                self._built.popitem(last=False)
        return index

    def cards_citing(self, query: str, viewer: Audience) -> list[tuple[str, list[Reference]]]:
        """:meth:`CitationIndex.cards_citing` over the cards ``viewer`` sees: the shared ones, then its own."""
        found = self._index.cards_citing(query)
        own = self.own(viewer)
        return found + own.cards_citing(query) if own is not None else found

    def cards_citing_work(self, key: str, viewer: Audience) -> list[str]:
        """:meth:`CitationIndex.cards_citing_work` over the cards ``viewer`` sees."""
        found = self._index.cards_citing_work(key)
        own = self.own(viewer)
        return found + own.cards_citing_work(key) if own is not None else found

    def references_of(self, card_id: str, card: Card | None = None) -> list[Reference]:
        """The references a served card cites (a server's card in its server's own index). ``card``: the card
        itself, when the caller has it (a server's card whose index is not built is then not read again)."""
        if AUDIENCE_MARK in card_id:
            audience = audience_of_key(card_id)
            with self._lock:
                built = audience in self._built
            if not built and self._extract is not None and audience is not None:
                return self._extract(card_id, card)
            own = self.own(audience)
            return own.references_of(card_id) if own is not None else []
        return self._index.references_of(card_id)

    def complete(self, prefix: str, limit: int, viewer: Audience) -> list[tuple[str, int]]:
        """:meth:`CitationIndex.complete` for ``viewer``: works no card it sees cites are left out, and each count
        is of the cards it sees (a work both its own and shared cards cite counts both)."""
        shared = self._index.complete(prefix, limit)
        own = self.own(viewer)
        if own is None:
            return shared
        counts: dict[str, int] = {}
        for display, count in (*shared, *own.complete(prefix, limit)):
            counts[display] = counts.get(display, 0) + count
        return sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))[:limit]
