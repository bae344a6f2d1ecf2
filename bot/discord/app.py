"""The bot: :class:`FactdeckBot`, its cogs, and :func:`run` / :func:`main` that start it as in production.

Cog convention
--------------
:data:`COGS` lists each cog's ``from_bot`` factory. A cog's constructor takes its typed dependencies and nothing else
(the card service, storage, settings, the curator, the daily engine, the client it routes components through),
so a test builds a cog from exactly what it needs; ``from_bot`` takes them from the bot's public attributes:
``bot.settings`` (:class:`bot.settings.Settings`), ``bot.service`` (:class:`bot.service.CardService`),
``bot.storage`` (:class:`bot.storage.Storage`) and ``bot.daily`` (the :class:`bot.daily.DailyEngine` that the daily
cog drives and ``/fact today`` asks). ``setup_hook`` adds them in order; a cog that fails to load stops the start
rather than leaving a server without its moderation or daily posts. Background loops start in ``cog_load`` and stop
in ``cog_unload``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import logging
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import discord
from discord.ext import commands

from bot.curation.follow import CardFollower
from bot.daily import Clock
from bot.discord import jsonio
from bot.discord.cogs.cards import CardsCog
from bot.discord.cogs.daily import DailyCog, daily_engine
from bot.discord.cogs.facts import FactsCog
from bot.discord.cogs.study import StudyCog
from bot.discord.errors import NO_MENTIONS, FactdeckTree
from bot.discord.reports import ReportsCog
from bot.discord.sync import SyncResult, sync_commands
from bot.discord.ui import ReadMore, component_area, component_event
from bot.service import CardService
from bot.service.semantic import open_meaning
from bot.settings import Settings
from bot.storage import Storage

log = logging.getLogger(__name__)

__all__ = ["COGS", "CogFactory", "FactdeckBot", "intents", "main", "run"]

CogFactory = Callable[["FactdeckBot"], commands.Cog | Awaitable[commands.Cog]]

#: Every cog, in the order they are added.
COGS: tuple[CogFactory, ...] = (
    FactsCog.from_bot,
    CardsCog.from_bot,
    DailyCog.from_bot,
    StudyCog.from_bot,
    ReportsCog.from_bot,
)
#: New objects between two collections of the youngest generation once the bot is up (Python's default: 700).
GC_YOUNG_THRESHOLD = 20_000
#: How often the health file is touched while connected (seconds).
HEALTH_EVERY = 30.0


#: The interactions :func:`bot.discord.ui.component_event` events are dispatched for.
_COMPONENT_TYPES = frozenset({discord.InteractionType.component, discord.InteractionType.modal_submit})


def intents() -> discord.Intents:
    """The minimum: guild events (for the guild and channel cache). No privileged intents."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    return wanted


class FactdeckBot(commands.AutoShardedBot, commands.Bot):
    """The Factdeck bot. Settings, the card service and storage come in through the constructor.

    discord.py's sharding: with ``shards``/``shard_count`` configured, this process runs those shards only (and
    posts the daily posts of their servers only); without, every shard, as many as Discord recommends. It is
    also a ``commands.Bot`` (whose class adds nothing to their common base), so code that checks for one works.

    ``daily_clock`` (default: now in UTC) is the time daily posts go by; tests move it.
    """

    def __init__(
        self,
        settings: Settings,
        service: CardService,
        storage: Storage,
        *,
        cogs: Sequence[CogFactory] = COGS,
        sync_on_start: bool = True,
        daily_clock: Clock | None = None,
        **options: Any,
    ) -> None:
        jsonio.install()  # orjson's speed without its refusals (see bot.discord.jsonio)
        options.setdefault("guild_ready_timeout", settings.guild_ready_timeout)
        if settings.shard_ids is not None:
            options.setdefault("shard_ids", list(settings.shard_ids))
            options.setdefault("shard_count", settings.shard_count)
            storage.daily.owns = settings.owns_guild
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents(),
            allowed_mentions=NO_MENTIONS,
            tree_cls=FactdeckTree,
            help_command=None,
            max_messages=None,
            **options,
        )
        self.settings = settings
        self.service = service
        self.storage = storage
        self.daily = daily_engine(self, service, storage, settings, clock=daily_clock)
        self.cog_factories = tuple(cogs)
        self.sync_on_start = sync_on_start
        self.last_sync: list[SyncResult] = []
        self.ready_count = 0
        self._health_task: asyncio.Task[None] | None = None

    async def setup_hook(self) -> None:
        """Add the dynamic items and cogs, then sync the commands if they changed."""
        self.add_dynamic_items(ReadMore)
        for factory in self.cog_factories:
            cog = factory(self)
            if inspect.isawaitable(cog):
                cog = await cog
            await self.add_cog(cog)
            log.info("added cog %s", type(cog).__name__)
        if self.storage.cards.shared:  # other processes may write the card files: serve their edits too
            follower = CardFollower(self.service, self.service.library.root)
            self.storage.cards.follow(follower.changed, follower.reconcile)
        if self.sync_on_start:
            await self.sync_commands()
        if self.settings.health_file is not None:
            self._health_task = asyncio.create_task(self._health(self.settings.health_file), name="factdeck-health")

    def dispatch(self, event_name: str, /, *args: Any, **kwargs: Any) -> None:
        """discord.py's dispatch; after the ``interaction`` event of a component click or a modal submit whose custom
        id is ``factdeck:<area>:…``, also :func:`bot.discord.ui.component_event` of that area. The cogs that must see
        every click of their components listen for their area's event, not for ``on_interaction``: discord.py starts
        a task per listener per event, so every slash command, autocomplete and page click started two that had
        nothing to do."""
        super().dispatch(event_name, *args, **kwargs)
        if event_name == "interaction" and args[0].type in _COMPONENT_TYPES:
            area = component_area(args[0].data)
            if area is not None:
                super().dispatch(component_event(area), args[0])

    async def sync_commands(self, *, force: bool = False) -> list[SyncResult]:
        """Sync the command tree where its hash changed (every target with ``force``)."""
        assert self.application_id is not None, "log in before syncing"
        self.last_sync = await sync_commands(
            self.tree,
            self.storage.meta,
            application_id=self.application_id,
            dev_guilds=self.settings.dev_guilds,
            force=force,
        )
        return self.last_sync

    async def on_ready(self) -> None:
        """Log who we are; a reconnect lands here again and changes nothing else."""
        self.ready_count += 1
        if self.ready_count == 1:
            _freeze_startup_heap()
        user = self.user
        log.info(
            "ready as %s (%s) in %d servers%s",
            user,
            user.id if user else "?",
            len(self.guilds),
            "" if self.ready_count == 1 else f" (ready #{self.ready_count})",
        )

    async def _health(self, path: Path) -> None:
        """Touch ``path`` while connected, so a container health check can tell a live bot from a stuck one."""
        await self.wait_until_ready()
        while not self.is_closed():
            if self.is_ready() and self.shards and not any(info.is_closed() for info in self.shards.values()):
                await asyncio.to_thread(path.write_text, f"{time.time():.0f}\n")
            await asyncio.sleep(HEALTH_EVERY)

    async def close(self) -> None:
        """Stop background work and disconnect (the caller closes storage afterwards)."""
        if self._health_task is not None:
            self._health_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._health_task
            self._health_task = None
        # Stopped within guild_ready_timeout of connecting, discord.py's pending READY task would wake after
        # close() has dropped the loop and end in a traceback; it has nothing left to announce, so cancel it.
        ready = self._connection._ready_task
        if ready is not None and not ready.done():
            ready.cancel()
        await super().close()


def _freeze_startup_heap() -> None:
    """Move everything alive once the bot is up (the library, its indexes, discord.py's caches) out of the
    garbage collector's sight, and collect the youngest objects less often. Full collections scan every tracked
    object; without this, each one re-scans the whole startup heap and pauses the event loop for tens of
    milliseconds. Frozen objects are still freed by reference counting when they are dropped (e.g. the old
    library after a reload).

    The youngest generation is collected after :data:`GC_YOUNG_THRESHOLD` new objects rather than Python's 700:
    with many interactions in flight, each collection traversed every one of their live objects (coroutines,
    requests, messages) and promoted them to be traversed again by the older generations, about a sixth of the
    bot's CPU per interaction (``docs/performance.md``). What the bot makes per interaction is freed by reference
    counting; the few cycles (aiohttp's requests) wait a little longer."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


async def load_service(settings: Settings, *, meaning_search: bool = True) -> CardService:
    """Load and index the cards off the event loop (with search by meaning, as configured, unless
    ``meaning_search`` is False: syncing the commands needs no model)."""
    meaning = open_meaning(settings.search_by_meaning, settings.effective_cache_dir) if meaning_search else None
    service = await asyncio.to_thread(
        CardService.load,
        settings.cards_dir,
        cache_dir=settings.effective_cache_dir,
        max_file_bytes=settings.max_card_file_bytes,
        meaning=meaning,
    )
    for problem in service.library.errors:
        log.error("%s", problem)
    log.info("serving %d cards from %s", len(service.library.cards), settings.cards_dir)
    return service


@contextlib.asynccontextmanager
async def _open_storage(settings: Settings) -> AsyncIterator[Storage]:
    """Storage for the bot; a database that cannot be used is one logged line, and the cards are served anyway."""
    async with Storage.open(
        settings.database_target,
        flush_interval=settings.view_flush_interval,
        in_memory_fallback=True,
        side_file=settings.views_side_file,
    ) as storage:
        storage.searches.retention_days = settings.insights.search_retention_days
        if storage.unavailable is not None:
            log.error("%s; serving the cards, views kept in memory until it is back", storage.unavailable)
        yield storage


#: Something served beside the bot in the same process and event loop (the web pages): entered once the card
#: service and storage are open, left after the bot has closed and before storage closes.
Beside = Callable[[CardService, Storage], contextlib.AbstractAsyncContextManager[object]]


async def run(
    settings: Settings,
    *,
    service: CardService | None = None,
    install_signals: bool = True,
    started: Callable[[FactdeckBot], object] | None = None,
    beside: Beside | None = None,
    **bot_options: Any,
) -> None:
    """Open the card service and storage, start the bot, and shut down cleanly on SIGINT/SIGTERM:
    close the bot first, then storage (which writes every buffered view). ``started`` gets the bot; ``beside``
    (the web pages) runs on the same loop with the same service and storage while the bot runs."""
    if not settings.token:
        raise ValueError("no Discord token configured")
    owned = service is None
    service = service if service is not None else await load_service(settings)
    try:
        await _serve(
            settings,
            settings.token,
            service,
            install_signals=install_signals,
            started=started,
            beside=beside,
            **bot_options,
        )
    finally:
        if owned:
            await asyncio.to_thread(service.close)  # stops embedding cards and frees the model


async def _serve(
    settings: Settings,
    token: str,
    service: CardService,
    *,
    install_signals: bool,
    started: Callable[[FactdeckBot], object] | None,
    beside: Beside | None,
    **bot_options: Any,
) -> None:
    async with _open_storage(settings) as storage, contextlib.AsyncExitStack() as stack:
        if beside is not None:
            await stack.enter_async_context(beside(service, storage))
        bot = FactdeckBot(settings, service, storage, **bot_options)
        loop = asyncio.get_running_loop()
        handled: list[signal.Signals] = []
        if install_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(sig, _stop, bot, sig)
                    handled.append(sig)
                except (NotImplementedError, RuntimeError):  # pragma: no cover - not on the main thread / Windows
                    pass
        try:
            async with bot:
                if started is not None:
                    started(bot)
                await bot.start(token)
        finally:
            for sig in handled:
                loop.remove_signal_handler(sig)
        log.info("bot closed; writing the last views")
    log.info("storage closed; goodbye")


async def sync_now(settings: Settings) -> list[SyncResult] | None:
    """Log in and sync the slash commands whether or not they changed; ``None`` when Discord rejects the token."""
    service = await load_service(settings, meaning_search=False)
    async with _open_storage(settings) as storage:
        bot = FactdeckBot(settings, service, storage, sync_on_start=False)
        async with bot:
            try:
                await bot.login(settings.token or "")
            except discord.LoginFailure:
                return None
            return await bot.sync_commands(force=True)


def _stop(bot: FactdeckBot, sig: signal.Signals) -> None:
    log.info("received %s; shutting down", sig.name)
    bot.loop.create_task(bot.close(), name="factdeck-shutdown")


def main(settings: Settings, *, beside: Beside | None = None) -> int:
    """Run the bot (and ``beside`` it, the web pages) until it is stopped; set up logging first. Returns the
    process exit code."""
    discord.utils.setup_logging(level=logging.getLevelName(settings.log_level), root=True)
    try:
        asyncio.run(run(settings, beside=beside))
    except discord.LoginFailure:
        print(
            "Discord rejected the token. Check DISCORD_TOKEN (Developer Portal > your app > Bot > Reset Token).",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
