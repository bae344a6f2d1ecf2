"""Charts as Discord attachments: drawn in a worker thread with a time limit, shown as the embed's image, and
given as one line of text in the embed when they cannot be drawn (the command answers either way)."""

from __future__ import annotations

import io
import logging

import discord

from bot.discord.embeds import FIELD_VALUE_MAX, clip
from bot.insights import ViewsChart, chart_text, render_views
from bot.util.charts import CHART_TIMEOUT

__all__ = ["attach_chart"]

log = logging.getLogger(__name__)


async def attach_chart(
    embed: discord.Embed,
    chart: ViewsChart,
    *,
    title: str = "Views per day",
    filename: str = "views.png",
    limit: float = CHART_TIMEOUT,
) -> list[discord.File]:
    """The chart as a file to send with ``embed`` (which shows it as its image); when drawing fails or takes
    longer than ``limit`` seconds, no file, and the chart as text in a field of ``embed``."""
    try:
        png = await render_views(chart, title=title, limit=limit)
    except Exception:  # drawing must never stop the answer; the log has why
        log.exception("the %s chart could not be drawn; answering with text", title)
        embed.add_field(name=title, value=clip(chart_text(chart), FIELD_VALUE_MAX)[0], inline=False)
        return []
    embed.set_image(url=f"attachment://{filename}")
    return [discord.File(io.BytesIO(png), filename=filename)]
