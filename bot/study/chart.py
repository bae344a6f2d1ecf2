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


#: Discord's dark theme: the embed background, its text, and quiet lines (the picture sits inside an embed).
BACKGROUND, TEXT, LINES = "#2b2d31", "#dbdee1", "#4e5058"
#: Bar colours that stand out on the dark background: Discord's blurple for the past, yellow for what is ahead.
PAST_COLOUR, AHEAD_COLOUR = "#5865f2", "#fee75c"


def draw_progress(reviews: Sequence[tuple[dt.date, int]], coming: Sequence[tuple[dt.date, int]]) -> bytes:
    """A PNG with two bar charts: reviews per day (past) and cards coming due per day (ahead), drawn light on
    Discord's dark embed background so it reads in the default theme."""
    figure = Figure(figsize=(8, 3.2), dpi=100, facecolor=BACKGROUND)
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2)
    for axes, data, title, colour in (
        (left, reviews, "Your reviews per day", PAST_COLOUR),
        (right, coming, "Cards coming due", AHEAD_COLOUR),
    ):
        labels = [day.strftime("%d %b") for day, _n in data]
        axes.set_facecolor(BACKGROUND)
        axes.bar(range(len(data)), [n for _day, n in data], color=colour)
        axes.set_title(title, color=TEXT, fontsize=12)
        axes.set_xticks(range(len(data)), labels, rotation=60, fontsize=8)
        axes.tick_params(colors=TEXT, which="both")
        axes.yaxis.get_major_locator().set_params(integer=True)
        axes.grid(axis="y", color=LINES, linewidth=0.6)
        axes.set_axisbelow(True)
        for side, spine in axes.spines.items():
            spine.set_visible(side in ("left", "bottom"))
            spine.set_color(LINES)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", facecolor=BACKGROUND)
    return buffer.getvalue()


async def render_progress(
    reviews: Sequence[tuple[dt.date, int]], coming: Sequence[tuple[dt.date, int]], *, limit: float = CHART_TIMEOUT
) -> bytes:
    """:func:`draw_progress` in a worker thread; raises ``TimeoutError`` after ``limit`` seconds."""
    return await asyncio.wait_for(asyncio.to_thread(draw_progress, reviews, coming), limit)
