"""Which searches count as "found nothing", and the one form a query is counted under.

A ``/fact search`` (or the console's ``search``) misses when it finds no card, or when its best hit scores below
:data:`MISS_SCORE` (configurable as ``insights.miss_score``). An exact match of a query word in any field scores at
least 1.0 (the index's constant bonus for an exact stem), so a best score below 1.0 means no word of the query was
in any card as typed: only typo corrections or completions matched, which is a card the reader did not ask for.
A ``/fact cite`` misses when no card cites the work.

Queries are counted under :func:`normalise_query`: accent- and case-folded, punctuation dropped, words in the order
typed, cut to :data:`bot.storage.searches.MAX_QUERY` characters. No user id is kept.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from bot.storage.searches import MAX_QUERY
from bot.util.text import fold

__all__ = ["MISS_SCORE", "MissCounter", "SearchMisses", "is_miss", "normalise_query"]

#: A search whose best hit scores below this counts as found nothing (see the module's docstring).
MISS_SCORE = 1.0
_NOT_WORD = re.compile(r"[^\w]+")


def normalise_query(query: str) -> str:
    """The form a failed query is counted under: folded, punctuation gone, single spaces, at most 100 chars.

    ``normalise_query("  Hippo-potamus, WEIGHT? ") == "hippo potamus weight"``.
    """
    words = _NOT_WORD.sub(" ", fold(query).replace("_", " ")).split()
    return " ".join(words)[:MAX_QUERY].rstrip()


def is_miss(scores: Sequence[float], *, threshold: float = MISS_SCORE) -> bool:
    """True when a search found nothing: no hits (``scores`` empty) or a best score below ``threshold``."""
    return not scores or max(scores) < threshold


class MissCounter(Protocol):
    """Where a miss is counted (:class:`bot.storage.FailedSearchLog`)."""

    def record(self, query: str, guild_id: int | None, kind: str = "search", *, at: float | None = None) -> None:
        """Count one failed search of the normalised ``query``."""
        ...


class SearchMisses:
    """Decides whether a search missed and counts it (cheap: it runs on the interaction path)."""

    def __init__(self, counter: MissCounter, *, threshold: float = MISS_SCORE) -> None:
        self.counter = counter
        self.threshold = threshold

    def search(self, query: str, scores: Sequence[float], guild_id: int | None) -> bool:
        """Count ``query`` if its hits' ``scores`` (the first page's) say it found nothing; return whether it did."""
        if not is_miss(scores, threshold=self.threshold):
            return False
        return self._count(query, guild_id, "search")

    def cite(self, reference: str, found: int, guild_id: int | None) -> bool:
        """Count ``reference`` if no card cites it (``found`` cards do); return whether it was counted."""
        if found:
            return False
        return self._count(reference, guild_id, "cite")

    def _count(self, query: str, guild_id: int | None, kind: str) -> bool:
        normal = normalise_query(query)
        if not normal:  # an empty or all-punctuation query is not something a curator can add a card for
            return False
        self.counter.record(normal, guild_id, kind)
        return True
