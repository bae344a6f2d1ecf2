"""Curator insights: readers' problem reports, searches that found nothing, and what readers read.

:mod:`.reports` (the report desk, its rate limit and the queue), :mod:`.searches` (what counts as a failed search
and the form it is counted under), :mod:`.overview` (insights), :mod:`.charts` (the views chart).
"""

from __future__ import annotations

from .overview import Insights, gather
from .reports import KINDS, MAX_TEXT, CardReports, RateLimiter, ReportDesk, ReportRefused, card_digest
from .searches import MISS_SCORE, SearchMisses, is_miss, normalise_query

__all__ = [
    "KINDS",
    "MAX_TEXT",
    "MISS_SCORE",
    "CardReports",
    "Insights",
    "RateLimiter",
    "ReportDesk",
    "ReportRefused",
    "SearchMisses",
    "card_digest",
    "gather",
    "is_miss",
    "normalise_query",
]
