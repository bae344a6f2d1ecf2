"""How a failed daily post reads on Discord: the classifier :class:`bot.daily.DailyEngine` is given.

``discord.Forbidden``/``NotFound`` (and other 4xx, and unexpected exceptions) are permanent; 5xx, 429, timeouts
and network errors are transient (retried with backoff). A refused connection or a rate limit is answered before
Discord does anything, so only those are known not to have posted. The messages name the channel as a mention
and the permissions as Discord's settings call them.
"""

from __future__ import annotations

import aiohttp
import discord

from bot.daily import Failure, FailureKind

__all__ = ["classify", "classify_error", "describe_error", "may_have_posted"]

#: The permissions a daily post needs, as Discord's channel settings name them.
POST_PERMISSIONS = "View Channel, Send Messages, Embed Links"


def classify_error(exc: BaseException) -> FailureKind:
    """Forbidden/NotFound/other 4xx/unexpected -> permanent; 5xx, 429, timeouts and network errors -> transient."""
    if isinstance(exc, discord.Forbidden | discord.NotFound):
        return FailureKind.PERMANENT
    if isinstance(exc, discord.DiscordServerError):
        return FailureKind.TRANSIENT
    if isinstance(exc, discord.HTTPException):
        return FailureKind.TRANSIENT if exc.status >= 500 or exc.status == 429 else FailureKind.PERMANENT
    if isinstance(exc, TimeoutError | OSError | aiohttp.ClientConnectionError):
        return FailureKind.TRANSIENT
    return FailureKind.PERMANENT


def may_have_posted(exc: BaseException) -> bool:
    """Whether a failed send may still have created the message: every error but a refused connection or a
    rate limit, which Discord answers before doing anything."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return False
    return not (isinstance(exc, discord.HTTPException) and exc.status == 429)


def describe_error(exc: BaseException, channel_id: int | None = None) -> str:
    """A one-line explanation of a poster exception, for ``/daily status`` and logs."""
    where = f"<#{channel_id}>" if channel_id is not None else "the channel"
    if isinstance(exc, discord.Forbidden):
        return f"Missing permissions to post in {where} (need {POST_PERMISSIONS}): {exc}"
    if isinstance(exc, discord.NotFound):
        return f"The channel {where} was not found (deleted?): {exc}"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def classify(exc: Exception, channel_id: int) -> Failure:
    """The engine's :data:`bot.daily.Classifier` for the exceptions :class:`bot.discord.cogs.daily.ChannelPoster`
    raises; Discord's HTTP errors are expected (logged without a traceback), anything else is not."""
    return Failure(
        classify_error(exc),
        describe_error(exc, channel_id),
        may_have_posted=may_have_posted(exc),
        expected=isinstance(exc, discord.HTTPException),
    )
