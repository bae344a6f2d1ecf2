"""The /study progress picture: reviews per day and cards coming due, as a PNG.

Drawn in the house style of :mod:`bot.util.charts` (matplotlib's object API, no pyplot), in a worker thread with
a time limit (:func:`render_progress`), so the event loop never waits for it.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence

from bot.util.charts import AHEAD_COLOUR, CHART_TIMEOUT, PAST_COLOUR, TEXT, figure, png, render, style_axes

__all__ = ["CHART_TIMEOUT", "draw_progress", "render_progress"]


def draw_progress(reviews: Sequence[tuple[dt.date, int]], coming: Sequence[tuple[dt.date, int]]) -> bytes:
    """A PNG with two bar charts: reviews per day (past) and cards coming due per day (ahead), drawn light on
    Discord's dark embed background so it reads in the default theme."""
    drawn = figure(8, 3.2)
    left, right = drawn.subplots(1, 2)
    for axes, data, title, colour in (
        (left, reviews, "Your reviews per day", PAST_COLOUR),
        (right, coming, "Cards coming due", AHEAD_COLOUR),
    ):
        labels = [day.strftime("%d %b") for day, _n in data]
        axes.bar(range(len(data)), [n for _day, n in data], color=colour)
        axes.set_xticks(range(len(data)), labels, rotation=60, fontsize=8, color=TEXT)
        style_axes(axes, title)
    return png(drawn)


async def render_progress(
    reviews: Sequence[tuple[dt.date, int]], coming: Sequence[tuple[dt.date, int]], *, limit: float = CHART_TIMEOUT
) -> bytes:
    """:func:`draw_progress` in a worker thread; raises ``TimeoutError`` after ``limit`` seconds."""
    return await render(functools.partial(draw_progress, reviews, coming), limit=limit)
