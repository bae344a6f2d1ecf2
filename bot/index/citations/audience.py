"""The citation index as one reader sees it: a server sees the works its own cards and the shared cards cite,
never what only another server's cards cite, and counts only the cards it can see.

One index serves every server; visibility is a filter over its rows (a card's id says whose it is, see
:func:`bot.cards.library.visible`), not an index per server.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from bot.cards.library import AUDIENCE_MARK, Audience, visible
from bot.index.citations.index import CitationIndex
from bot.index.citations.records import Reference

__all__ = ["AudienceCitations"]

#: How many more candidates than asked for autocomplete looks at, since some may be hidden from the reader.
_OVERSAMPLE = 4


class AudienceCitations:
    """Citation lookups and autocomplete kept to what a reader in one server (or a direct message) may see."""

    __slots__ = ("_index", "_lock", "_private")

    def __init__(self, index: CitationIndex) -> None:
        self._index = index
        self._private: frozenset[str] | None = None  # works some server's own card cites (found once, on demand)
        self._lock = threading.Lock()

    def _private_keys(self) -> frozenset[str]:
        with self._lock:
            if self._private is None:
                index = self._index
                self._private = frozenset(
                    key
                    for key in index.complete_keys("", 1 << 62)
                    if any(AUDIENCE_MARK in card_id for card_id in index.citing_cards(key))
                )
            return self._private

    @staticmethod
    def _seen_by(viewer: Audience) -> Callable[[str], bool]:
        return lambda card_id: visible(card_id, viewer)

    def cards_citing(self, query: str, viewer: Audience) -> list[tuple[str, list[Reference]]]:
        """:meth:`CitationIndex.cards_citing`, without the cards ``viewer`` may not see."""
        return self._index.cards_citing(query, self._seen_by(viewer))

    def complete(self, prefix: str, limit: int, viewer: Audience) -> list[tuple[str, int]]:
        """:meth:`CitationIndex.complete` for ``viewer``: works no card it sees cites are left out, and each count
        is of the cards it sees."""
        private = self._private_keys()
        if not private:
            return self._index.complete(prefix, limit)
        index, seen = self._index, self._seen_by(viewer)
        out: list[tuple[str, int]] = []
        for key in index.complete_keys(prefix, max(limit * _OVERSAMPLE, limit + 25)):
            if key in private:
                count = sum(1 for card_id in index.citing_cards(key) if seen(card_id))
            else:
                count = index.cited_by(key)
            if count:
                out.append((index.display_of(key), count))
            if len(out) >= limit:
                break
        return out
