"""One error handler for every app command and component: a short ephemeral reply, the traceback in the log."""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any, cast

import discord
from discord import app_commands

from bot.discord import replies
from bot.discord.embeds import clip, safe
from bot.discord.inputs import clean_payload

if TYPE_CHECKING:
    from discord.types.interactions import InteractionData

log = logging.getLogger(__name__)

__all__ = ["FactdeckTree", "reply", "report_error", "user_message"]

NO_MENTIONS = discord.AllowedMentions.none()
#: The most characters a message's content may have.
CONTENT_MAX = 2000


def user_message(error: BaseException) -> tuple[str, bool]:
    """What to tell the user about ``error``, and whether it is expected (no traceback in the log)."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, app_commands.CommandOnCooldown):
        wait = max(math.ceil(error.retry_after), 1)
        return f"Slow down a little: try that again in {wait} second{'s' if wait != 1 else ''}.", True
    if isinstance(error, app_commands.MissingPermissions | app_commands.MissingAnyRole | app_commands.MissingRole):
        return "You need moderator rights for that.", True
    if isinstance(error, app_commands.NoPrivateMessage):
        return "That works in a server, not in direct messages.", True
    if isinstance(error, app_commands.CheckFailure):
        return str(error) or "You cannot use that here.", True
    if isinstance(error, app_commands.TransformerError):
        return f"That value does not work here: {safe(str(error.value), 200)}", True
    if isinstance(error, app_commands.CommandNotFound):
        return "That command is gone or not synced yet; try again in a minute.", True
    return "Something went wrong on our side; it has been logged. Please try again.", False


async def reply(interaction: discord.Interaction, text: str) -> None:
    """Answer ``interaction`` ephemerally, whether or not it was already acknowledged (cut to Discord's 2,000
    characters, so an answer that echoes a long value still arrives)."""
    text = clip(text, CONTENT_MAX)[0]
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
        else:
            await replies.send(interaction, text, ephemeral=True, allowed_mentions=NO_MENTIONS)
    except discord.HTTPException as exc:
        log.warning("could not tell the user about an error: %s", exc)


async def report_error(interaction: discord.Interaction, error: BaseException) -> None:
    """Log ``error`` (with its traceback unless expected) and tell the user in one short ephemeral line."""
    text, expected = user_message(error)
    if not expected:
        command = interaction.command.qualified_name if interaction.command else getattr(interaction, "data", None)
        log.error("error in %s (user %s)", command, interaction.user.id, exc_info=error)
    await reply(interaction, text)


class FactdeckTree(app_commands.CommandTree[Any]):
    """The command tree with the bot's single error handler; every command and autocomplete reads its options
    only after they were made valid Unicode."""

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        """Replace unpaired surrogates in everything the user sent (see :mod:`bot.discord.inputs`)."""
        if interaction.data is not None:
            interaction.data = cast("InteractionData", clean_payload(interaction.data))
        return True

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """Every failed command lands here."""
        await report_error(interaction, error)
