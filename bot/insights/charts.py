"""The views chart: views per day over the last days, one line per collection, as a PNG (``/fact stats``,
``/cards insights``, ``factdeck stats --chart``), or as text when it cannot be drawn.

:func:`views_chart` turns view counts per card and day into the chart's data (every day present, zero days
included, the most viewed collections first, the rest added up as "Other collections"); :func:`draw_views` draws
it in the house style (:mod:`bot.util.charts`); :func:`render_views` does so in a worker thread with a time limit.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Iterable, Mapping

from bot.util.charts import BACKGROUND, CHART_TIMEOUT, LINES, SERIES_COLOURS, TEXT, figure, png, render, style_axes

__all__ = ["CHART_SIZE", "MAX_SERIES", "ViewsChart", "chart_text", "draw_views", "render_views", "views_chart"]

#: The PNG's size in pixels (width, height).
CHART_SIZE = (800, 360)
#: Collections drawn as lines of their own; the rest are added up as one.
MAX_SERIES = 6
OTHERS = "Other collections"
REMOVED = "(cards no longer in the deck)"
_SPARKS = "▁▂▃▄▅▆▇█"


@dataclasses.dataclass(frozen=True, slots=True)
class ViewsChart:
    """Views per day: ``days`` oldest first, and per series (a collection's title) one count per day."""

    days: tuple[dt.date, ...]
    series: tuple[tuple[str, tuple[int, ...]], ...]

    @property
    def totals(self) -> tuple[int, ...]:
        """All series added up, per day."""
        return tuple(sum(values) for values in zip(*(v for _name, v in self.series), strict=True)) or tuple(
            0 for _ in self.days
        )


def views_chart(
    rows: Iterable[tuple[str, dt.date, int]],
    collection_of: Mapping[str, str],
    titles: Mapping[str, str],
    *,
    days: int = 30,
    today: dt.date,
    only: str | None = None,
) -> ViewsChart:
    """The chart's data from ``(card_id, day, views)`` rows: ``collection_of`` maps a card to its collection id,
    ``titles`` a collection id to its title; ``only`` keeps one collection."""
    first = today - dt.timedelta(days=days - 1)
    axis = tuple(first + dt.timedelta(days=i) for i in range(days))
    index = {day: i for i, day in enumerate(axis)}
    per: dict[str, list[int]] = {}
    for card_id, day, n in rows:
        slot = index.get(day)
        collection = collection_of.get(card_id)
        if slot is None or (only is not None and collection != only):
            continue
        name = titles.get(collection, collection) if collection is not None else REMOVED
        per.setdefault(name, [0] * days)[slot] += n
    ranked = sorted(per.items(), key=lambda item: (-sum(item[1]), item[0]))
    kept = ranked[:MAX_SERIES] if len(ranked) <= MAX_SERIES else ranked[: MAX_SERIES - 1]
    rest = ranked[len(kept) :]
    series = [(name, tuple(values)) for name, values in kept]
    if rest:
        series.append((OTHERS, tuple(sum(values) for values in zip(*(v for _n, v in rest), strict=True))))
    return ViewsChart(axis, tuple(series))


def draw_views(chart: ViewsChart, *, title: str = "Views per day") -> bytes:
    """The chart as a PNG of :data:`CHART_SIZE` pixels: one line per series, a legend, dates below."""
    width, height = CHART_SIZE
    drawn = figure(width / 100, height / 100)
    axes = drawn.subplots()
    x = range(len(chart.days))
    if not chart.series:
        axes.plot(x, [0] * len(chart.days), color=SERIES_COLOURS[0], linewidth=2)
    for (name, values), colour in zip(chart.series, SERIES_COLOURS, strict=False):
        axes.plot(x, values, color=colour, linewidth=2, label=name)
    step = 7 if len(chart.days) > 14 else 1  # weekly dates: fewer labels to lay out, and readable
    ticks = list(x)[::step]
    axes.set_xticks(ticks, [chart.days[i].strftime("%d %b") for i in ticks], fontsize=8, color=TEXT)
    highest = max((max(values) for _name, values in chart.series), default=0)
    axes.set_ylim(0, max(highest, 1) * (1 + 0.12 * (len(chart.series) + 1)))  # headroom for the legend
    style_axes(axes, title if chart.series else f"{title}: no views yet")
    if chart.series:
        axes.legend(
            loc="upper left", fontsize=8, labelcolor=TEXT, facecolor=BACKGROUND, edgecolor=LINES, framealpha=0.85
        )
    # fixed margins for the fixed size (room for the ticks and the title), rather than a layout pass per chart
    drawn.subplots_adjust(left=0.06, right=0.985, top=0.9, bottom=0.1)
    return png(drawn, tight=False)


def chart_text(chart: ViewsChart) -> str:
    """The chart in one line of text, for when the picture cannot be drawn: a sparkline of the daily totals."""
    totals = chart.totals
    top = max(totals, default=0)
    if not top:
        return f"No views in the last {len(chart.days)} days."
    line = "".join(_SPARKS[min(n * (len(_SPARKS) - 1) // top, len(_SPARKS) - 1)] for n in totals)
    first, last = chart.days[0].strftime("%d %b"), chart.days[-1].strftime("%d %b")
    return f"{first} {line} {last} · {sum(totals)} views, at most {top} a day"


async def render_views(chart: ViewsChart, *, title: str = "Views per day", limit: float = CHART_TIMEOUT) -> bytes:
    """:func:`draw_views` in a worker thread; raises ``TimeoutError`` after ``limit`` seconds."""
    return await render(functools.partial(draw_views, chart, title=title), limit=limit)
