"""Run a real discord.py client against :class:`FakeDiscord`."""

# The wait helpers take a `timeout=` on purpose: it is the test-facing API (default 5 s, never hang).
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TypeVar

import discord
import discord.asset
import discord.gateway
import discord.http
import yarl

from .server import FakeDiscord

ClientT = TypeVar("ClientT", bound=discord.Client)


@contextlib.contextmanager
def patch_discord(fake: FakeDiscord) -> Iterator[None]:
    """Point discord.py at ``fake``: ``Route.BASE`` (REST, interaction callbacks, webhooks),
    ``DiscordWebSocket.DEFAULT_GATEWAY`` (first connection and after a session invalidation) and
    ``Asset.BASE`` (CDN). Restored on exit. The resume URL comes from READY and points at the fake too."""
    route, ws, asset = discord.http.Route, discord.gateway.DiscordWebSocket, discord.asset.Asset
    saved = (route.BASE, ws.DEFAULT_GATEWAY, asset.BASE)
    route.BASE = fake.api_url
    ws.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    asset.BASE = fake.base_url
    try:
        yield
    finally:
        route.BASE, ws.DEFAULT_GATEWAY, asset.BASE = saved


class _ErrorCapture(logging.Handler):
    """Collects ERROR log records (with tracebacks) into ``fake.bot_errors`` for timeout messages."""

    def __init__(self, fake: FakeDiscord) -> None:
        super().__init__(level=logging.ERROR)
        self.fake = fake
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("fakediscord"):
            return
        self.fake.bot_errors.append(self.format(record))


@contextlib.asynccontextmanager
async def run_bot(
    fake: FakeDiscord,
    bot: ClientT,
    token: str | None = None,
    *,
    timeout: float = 10.0,
    guild_ready_timeout: float | None = 0.05,
    ready: Callable[[], bool] | None = None,
    fast_reidentify: bool = True,
) -> AsyncIterator[ClientT]:
    """Start ``bot`` against ``fake`` and yield it once ready; close it cleanly on exit.

    - ``token`` defaults to ``fake.token`` (pass a wrong one to test ``discord.LoginFailure``).
    - Waits until ``bot.is_ready()`` (or the ``ready()`` predicate, e.g. ``lambda: bot.synced``)
      for up to ``timeout`` seconds; if ``bot.start`` fails first, its exception is raised here.
    - ``guild_ready_timeout`` overrides discord.py's 2 s wait after the last GUILD_CREATE before
      ``on_ready`` (``None`` keeps the bot's own setting).
    - ``fast_reidentify`` skips discord.py's 5 s sleep before every non-initial IDENTIFY (after an
      invalidated session) by replacing ``bot.before_identify_hook`` with a no-op.
    - ERROR logs (e.g. exceptions in commands) are collected in ``fake.bot_errors`` and quoted by
      every wait helper that times out. An exception from the bot task is re-raised on exit.
    """
    capture = _ErrorCapture(fake)
    root = logging.getLogger()
    root.addHandler(capture)
    if guild_ready_timeout is not None:
        bot._connection.guild_ready_timeout = guild_ready_timeout
    if fast_reidentify:

        async def _no_identify_delay(shard_id: int | None, *, initial: bool = False) -> None:
            return None

        bot.before_identify_hook = _no_identify_delay  # type: ignore[method-assign]
    try:
        with patch_discord(fake):
            task = asyncio.create_task(bot.start(token if token is not None else fake.token), name="fakediscord-bot")
            fake.bot_task = task
            check = ready or bot.is_ready
            try:
                await fake.wait_for(lambda: task.done() or check(), timeout=timeout, what="the bot to become ready")
                if task.done():
                    task.result()  # raises the startup error (LoginFailure, ...)
                    raise AssertionError("bot.start() returned before the bot became ready")
            except BaseException:
                await _shutdown(bot, task, reraise=False)
                raise
            try:
                yield bot
            except BaseException:
                await _shutdown(bot, task, reraise=False)
                raise
            await _shutdown(bot, task, reraise=True)
    finally:
        root.removeHandler(capture)
        fake.bot_task = None


async def _shutdown(bot: discord.Client, task: asyncio.Task[None], *, reraise: bool) -> None:
    if not bot.is_closed():
        await bot.close()
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout=5.0)
    except asyncio.CancelledError:
        if not task.cancelled():
            raise
    except TimeoutError:
        task.cancel()
        if reraise:
            raise AssertionError("the bot did not stop within 5 s of bot.close()") from None
    except Exception:
        if reraise:
            raise
