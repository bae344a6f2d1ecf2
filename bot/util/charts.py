"""What every Factdeck chart shares: matplotlib's object API on the Agg canvas, Discord's colours, a PNG out,
and drawing in a worker thread with a time limit.

No pyplot: it keeps every figure in a global registry, which leaks in a long-running bot. Each chart is drawn on
an opaque background in the colours of Discord's dark embed with light text, so it reads the same in Discord's
dark and light themes (the picture carries its own background rather than taking the theme's).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # matplotlib is imported by the first chart, not by everything that imports this module
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "AHEAD_COLOUR",
    "BACKGROUND",
    "CHART_TIMEOUT",
    "LINES",
    "PAST_COLOUR",
    "SERIES_COLOURS",
    "TEXT",
    "figure",
    "png",
    "render",
    "style_axes",
]

#: Seconds a chart may take before the command answers without it.
CHART_TIMEOUT = 10.0
#: Discord's dark theme: the embed background, its text, and quiet lines (the picture sits inside an embed).
BACKGROUND, TEXT, LINES = "#2b2d31", "#dbdee1", "#4e5058"
#: Bar colours that stand out on the dark background: Discord's blurple for the past, yellow for what is ahead.
PAST_COLOUR, AHEAD_COLOUR = "#5865f2", "#fee75c"
#: Line colours for several series, each legible on the background and distinct from the others.
SERIES_COLOURS = ("#5865f2", "#fee75c", "#57f287", "#eb459e", "#ed4245", "#3ba5ff", "#f0b232")


def figure(width: float, height: float) -> Figure:
    """An empty figure of ``width`` x ``height`` inches at 100 dpi, on the chart background, with its canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    made = Figure(figsize=(width, height), dpi=100, facecolor=BACKGROUND)
    FigureCanvasAgg(made)
    return made


def style_axes(axes: Axes, title: str) -> None:
    """The house style: background, a light title and ticks, a quiet horizontal grid, left and bottom spines."""
    from matplotlib.ticker import MaxNLocator

    axes.set_facecolor(BACKGROUND)
    axes.set_title(title, color=TEXT, fontsize=12)
    axes.tick_params(colors=TEXT, which="both")
    axes.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    axes.grid(axis="y", color=LINES, linewidth=0.6)
    axes.set_axisbelow(True)
    for side, spine in axes.spines.items():
        spine.set_visible(side in ("left", "bottom"))
        spine.set_color(LINES)


def png(drawn: Figure, *, tight: bool = True) -> bytes:
    """The figure as PNG bytes; laid out tight unless ``tight`` is False (then its margins were set by the caller,
    which saves a layout pass: about a third of a simple chart's time)."""
    if tight:
        drawn.tight_layout()
    buffer = io.BytesIO()
    drawn.savefig(buffer, format="png", facecolor=BACKGROUND, pil_kwargs={"compress_level": 3})
    return buffer.getvalue()


async def render(draw: Callable[[], bytes], *, limit: float = CHART_TIMEOUT) -> bytes:
    """``draw()`` in a worker thread; raises ``TimeoutError`` after ``limit`` seconds (the thread finishes its
    picture, which is then dropped: matplotlib cannot be interrupted)."""
    return await asyncio.wait_for(asyncio.to_thread(draw), limit)
