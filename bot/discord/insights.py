"""``/cards insights``: what this server's readers looked for and did not find, what they read most and least,
and what they reported, with the views chart attached (a curator's command: the cards cog checks who asks)."""

from __future__ import annotations

from typing import Any

import discord

from bot.discord.charts import attach_chart
from bot.discord.embeds import safe
from bot.discord.embeds.insights import insights_embed
from bot.discord.errors import NO_MENTIONS
from bot.insights import gather, views_chart_of
from bot.service import CardService
from bot.storage import Storage

__all__ = ["send_insights"]

CHART_FILE = "insights.png"


async def send_insights(
    interaction: discord.Interaction[Any],
    service: CardService,
    storage: Storage,
    *,
    collection: str | None,
    days: int,
) -> None:
    """Answer ephemerally with the insights for the server it is asked in (its view of the library, and
    ``collection`` among the collections it sees), chart attached."""
    guild_id = interaction.guild_id
    key = service.resolve_collection(collection, guild_id) if collection is not None else None
    if collection is not None and key is None:  # another server's collection is one that does not exist
        await interaction.response.send_message(
            f"There is no collection `{safe(collection, 100)}`.", ephemeral=True, allowed_mentions=NO_MENTIONS
        )
        return
    await interaction.response.defer(ephemeral=True, thinking=True)
    found = await gather(service, storage, guild_id=guild_id, collection=collection, days=days)
    embed = insights_embed(found)
    chart = await views_chart_of(service, storage, guild_id=guild_id, collection=key, days=days)
    files = await attach_chart(embed, chart, title=f"Views per day, last {days} days", filename=CHART_FILE)
    await interaction.followup.send(embed=embed, files=files, ephemeral=True, allowed_mentions=NO_MENTIONS)
