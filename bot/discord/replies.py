"""Answering an interaction without asking Discord to send the message back.

Since 2.5, discord.py asks Discord to return the message every interaction response creates (the callback's
``?with_response=1``) and builds a full :class:`discord.InteractionMessage` from it: author, embeds, every
component and option. Factdeck never reads it: what it needs later (editing the message of a result list, a
follow-up) goes through the interaction's token. For a card or a page of results, reading and parsing that echo
was a fifth to a quarter of the bot's CPU time per interaction (docs/performance.md, "Fifth round"), so
:func:`send` and :func:`edit` answer as discord.py did before 2.5: the same request, built by discord.py's own
functions and sent through its own webhook adapter (rate limits, retries and errors as before), without the query
string, and Discord answers "204 No Content".

A view that discord.py must keep (an unfinished one, to route its clicks) needs the message's id, which only the
echo gives: with such a view, both fall back to discord.py's own method. So does everything when the discord.py
installed lacks one of the internals used here (``tests/e2e/test_replies.py`` checks them against the
installed version and compares what reaches Discord both ways).
"""

from __future__ import annotations

from typing import Any

import discord
from discord.enums import InteractionResponseType
from discord.utils import MISSING

__all__ = ["edit", "fast_path_available", "send"]

try:  # discord.py's internals used below (present from 2.5 to at least 2.7)
    from discord.http import Route
    from discord.webhook.async_ import async_context, interaction_message_response_params
except ImportError:  # pragma: no cover - an older or newer discord.py: its own methods are used
    Route = None  # type: ignore[assignment,misc]
    async_context = None  # type: ignore[assignment]
    interaction_message_response_params = None  # type: ignore[assignment]

_CALLBACK = "/interactions/{webhook_id}/{webhook_token}/callback"


def fast_path_available() -> bool:
    """Whether the installed discord.py has what :func:`send` and :func:`edit` use (else they call its methods)."""
    return (
        Route is not None
        and async_context is not None
        and interaction_message_response_params is not None
        and hasattr(discord.InteractionResponse, "_response_type")
    )


_FAST = fast_path_available()


def _kept_by_discord_py(view: Any) -> bool:
    """Whether discord.py would keep ``view`` after the response (it then needs the message's id)."""
    return view is not MISSING and view is not None and not view.is_finished()


async def _respond(interaction: discord.Interaction[Any], kind: InteractionResponseType, **fields: Any) -> None:
    if interaction.response.is_done():
        raise discord.InteractionResponded(interaction)
    state = interaction._state
    params = interaction_message_response_params(
        type=kind.value, previous_allowed_mentions=state.allowed_mentions, **fields
    )
    http = state.http
    route = Route("POST", _CALLBACK, webhook_id=interaction.id, webhook_token=interaction.token)
    await async_context.get().request(
        route, session=interaction._session, proxy=http.proxy, proxy_auth=http.proxy_auth, payload=params.payload
    )
    interaction.response._response_type = kind


async def send(
    interaction: discord.Interaction[Any],
    content: str | None = None,
    *,
    embed: discord.Embed = MISSING,
    view: discord.ui.View = MISSING,
    ephemeral: bool = False,
    allowed_mentions: discord.AllowedMentions = MISSING,
) -> None:
    """The first response to ``interaction``: a message, as ``interaction.response.send_message`` sends it.

    Raises :class:`discord.InteractionResponded` when it was already answered and :class:`discord.HTTPException`
    when Discord refuses it, as that method does."""
    if not _FAST or _kept_by_discord_py(view):
        await interaction.response.send_message(
            content, embed=embed, view=view, ephemeral=ephemeral, allowed_mentions=allowed_mentions
        )
        return
    await _respond(
        interaction,
        InteractionResponseType.channel_message,
        content=content,
        embed=embed,
        view=view,
        allowed_mentions=allowed_mentions,
        flags=discord.MessageFlags(ephemeral=True) if ephemeral else MISSING,
    )


async def edit(
    interaction: discord.Interaction[Any], *, embed: discord.Embed = MISSING, view: discord.ui.View = MISSING
) -> None:
    """The first response to a component click: the clicked message changed, as
    ``interaction.response.edit_message`` changes it."""
    if not _FAST or _kept_by_discord_py(view):
        await interaction.response.edit_message(embed=embed, view=view)
        return
    if interaction.type not in (discord.InteractionType.component, discord.InteractionType.modal_submit):
        return  # discord.py's edit_message answers nothing here either
    message = interaction.message
    if view is not MISSING and message is not None:
        interaction._state.prevent_view_updates_for(message.id)
    await _respond(interaction, InteractionResponseType.message_update, embed=embed, view=view)
