"""Curator insights: readers' problem reports, searches that found nothing, and what readers read.

:mod:`.reports` (the report desk, its rate limit and the queue), :mod:`.searches` (what counts as a failed search
and the form it is counted under), :mod:`.overview` (insights), :mod:`.charts` (the views chart).
"""

from __future__ import annotations

from .charts import CHART_SIZE, ViewsChart, chart_text, draw_views, render_views, views_chart
from .overview import Insights, gather, views_chart_of
from .reports import (
    EVERYWHERE,
    KINDS,
    MAX_TEXT,
    CardReports,
    RateLimiter,
    ReportDesk,
    ReportRefused,
    ReportScope,
    card_digest,
)
from .searches import MISS_SCORE, SearchMisses, is_miss, normalise_query

__all__ = [
    "CHART_SIZE",
    "EVERYWHERE",
    "KINDS",
    "MAX_TEXT",
    "MISS_SCORE",
    "CardReports",
    "Insights",
    "RateLimiter",
    "ReportDesk",
    "ReportRefused",
    "ReportScope",
    "SearchMisses",
    "ViewsChart",
    "card_digest",
    "chart_text",
    "draw_views",
    "gather",
    "is_miss",
    "normalise_query",
    "render_views",
    "views_chart",
    "views_chart_of",
]
