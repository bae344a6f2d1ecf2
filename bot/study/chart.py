"""The /study progress picture: reviews per day and cards coming due, as a PNG.

Drawn with matplotlib's object API on the Agg canvas (no pyplot: it keeps global figures, which leak in a
server), in a worker thread with a time limit (:func:`render_progress`), so the event loop never waits for it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from collections.abc import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["CHART_TIMEOUT", "draw_progress", "render_progress"]

#: Seconds a chart may take before /study progress answers without it.
CHART_TIMEOUT = 10.0


def draw_progress(reviews: Sequence[tuple[dt.date, int]], coming: Sequence[tuple[dt.date, int]]) -> bytes:
    """A PNG with two bar charts: reviews per day (past) and cards coming due per day (ahead)."""
    figure = Figure(figsize=(8, 3.2), dpi=100)
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2)
    for axes, data, title, colour in (
        (left, reviews, "Reviews per day", "#4c72b0"),
        (right, coming, "Cards coming due", "#dd8452"),
    ):
        labels = [day.strftime("%d %b") for day, _n in data]
        axes.bar(range(len(data)), [n for _day, n in data], color=colour)
        axes.set_title(title)
        axes.set_xticks(range(len(data)), labels, rotation=60, fontsize=7)
        axes.yaxis.get_major_locator().set_params(integer=True)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


async def render_progress(
    reviews: Sequence[tuple[dt.date, int]], coming: Sequence[tuple[dt.date, int]], *, limit: float = CHART_TIMEOUT
) -> bytes:
    """:func:`draw_progress` in a worker thread; raises ``TimeoutError`` after ``limit`` seconds."""
    return await asyncio.wait_for(asyncio.to_thread(draw_progress, reviews, coming), limit)
