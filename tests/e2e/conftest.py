"""Fixtures that start the fake Discord and the real bot as in production.

The bot is started with :func:`bot.discord.app.run`: settings from a temporary ``config.yml`` (token from the
environment mapping, as ``DISCORD_TOKEN``), a real SQLite file through :class:`bot.storage.Storage`, and the
card service on a generated library (the shipped cards plus a ``lab`` collection, see ``library.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord
import pytest
import pytest_asyncio

from bot.discord.app import FactdeckBot, run
from bot.service import CardService
from bot.settings import Settings, load_settings
from tests.e2e.library import build_library
from tests.fakediscord import FakeChannel, FakeDiscord, FakeGuild, FakeMember, patch_discord
from tests.storage.engines import ENGINES

pytestmark = pytest.mark.e2e

#: The PostgreSQL URL the bots of the running test use instead of their config's SQLite file (None: SQLite).
_database_url: str | None = None


@pytest.fixture(autouse=True, params=ENGINES)
def e2e_engine(request: pytest.FixtureRequest) -> Iterator[str]:
    """Every end-to-end test runs on both engines: ``[sqlite]`` as configured, ``[postgresql]`` with
    ``FACTDECK_DATABASE`` set to a schema of its own (``make test-pg``). A test marked ``sqlite_only`` reads the
    SQLite file itself and runs on SQLite only."""
    global _database_url
    if request.param == "sqlite":
        yield "sqlite"
        return
    if request.node.get_closest_marker("sqlite_only") is not None:
        pytest.skip("reads the SQLite file itself")
    _database_url = request.getfixturevalue("postgres_url")
    try:
        yield "postgresql"
    finally:
        _database_url = None


CONFIG = """\
cards_dir: cards
database: data/factdeck.db
cache_dir: cache
guild_ready_timeout: 0.05
view_flush_interval: 0.2
semantic: {semantic}
results_timeout: {results_timeout}
cooldowns:
  search: {{rate: {search_rate}, per: 30}}
  cite: {{rate: 20, per: 30}}
  random: {{rate: 100, per: 30}}
"""


class _Errors(logging.Handler):
    """Collects ERROR records, so a test can assert the bot logged none (or the one it expects)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith("fakediscord"):
            self.records.append(record)


@dataclass
class Running:
    """The fake, its world, the bot as started by ``run()``, and the settings it runs with."""

    fake: FakeDiscord
    guild: FakeGuild
    chan: FakeChannel
    alice: FakeMember
    bob: FakeMember
    settings: Settings
    bot: FactdeckBot
    task: asyncio.Task[None]
    errors: _Errors
    stopped: bool = field(default=False)

    async def stop(self) -> None:
        """Shut down as SIGTERM does (close the bot; ``run()`` then closes storage); wait for ``run()``."""
        if not self.stopped:
            self.stopped = True
            await self.bot.close()
            await asyncio.wait_for(self.task, timeout=10)

    async def slash(self, command: str, user: FakeMember | None = None, **options: Any) -> Any:
        """Invoke ``/fact <command>`` as ``user`` (alice by default) in #general."""
        return await self.fake.slash(self.guild, self.chan, user or self.alice, f"fact {command}", **options)

    async def complete(self, command: str, focused: str, user: FakeMember | None = None, **options: Any) -> Any:
        """Autocomplete ``focused`` of ``/fact <command>``."""
        return await self.fake.autocomplete(
            self.guild, self.chan, user or self.alice, f"fact {command}", focused=focused, **options
        )


@pytest.fixture(scope="session")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated card folder (built once)."""
    return build_library(tmp_path_factory.mktemp("library") / "cards")


@pytest.fixture(scope="session")
def warm_cache(library: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder shared by the tests, so each start decodes instead of parsing and re-indexing."""
    cache = tmp_path_factory.mktemp("cache")
    CardService.load(library, cache_dir=cache)
    return cache


def write_config(
    folder: Path,
    library: Path,
    cache: Path,
    *,
    results_timeout: float = 300,
    search_rate: int = 50,
    semantic: str = "off",
) -> Path:
    """A config.yml in ``folder`` whose relative paths resolve against ``folder``. Search by meaning is off unless
    a test turns it on (``semantic="on"``): it loads the model and embeds the library at every start."""
    (folder / "cards").symlink_to(library, target_is_directory=True)
    (folder / "cache").symlink_to(cache, target_is_directory=True)
    path = folder / "config.yml"
    text = CONFIG.format(results_timeout=results_timeout, search_rate=search_rate, semantic=semantic)
    path.write_text(text, encoding="utf-8")
    return path


@contextlib.asynccontextmanager
async def start_bot(
    fake: FakeDiscord, config: Path, *, curator_guilds: Sequence[FakeGuild] | None = None, **bot_options: Any
) -> AsyncIterator[tuple[Settings, FactdeckBot, asyncio.Task[None]]]:
    """Start ``run(settings)`` against ``fake`` and yield once the bot is ready; stop it on exit.

    ``curator_guilds``: the servers whose moderators may change the library (``FACTDECK_CURATOR_GUILDS``, as in
    production); by default every server the fake has when the bot starts, so /cards tests run in one.
    """
    curators = fake.guilds if curator_guilds is None else curator_guilds
    env = {"DISCORD_TOKEN": fake.token, "FACTDECK_CURATOR_GUILDS": ",".join(str(g.id) for g in curators)}
    if _database_url is not None:
        env["FACTDECK_DATABASE"] = _database_url
    if "FACTDECK_SEMANTIC" in os.environ:  # off unless the test is marked semantic (tests/conftest.py)
        env["FACTDECK_SEMANTIC"] = os.environ["FACTDECK_SEMANTIC"]
    settings = load_settings(config, env=env)
    holder: list[FactdeckBot] = []

    def started(bot: FactdeckBot) -> None:
        async def no_identify_delay(shard_id: int | None, *, initial: bool = False) -> None:
            return None

        bot.before_identify_hook = no_identify_delay  # type: ignore[method-assign]
        holder.append(bot)

    with patch_discord(fake):
        task = asyncio.create_task(run(settings, install_signals=False, started=started, **bot_options))
        fake.bot_task = task
        try:
            await fake.wait_for(
                lambda: task.done() or bool(holder and holder[0].is_ready()), timeout=15, what="the bot to become ready"
            )
            if task.done():
                task.result()
                raise AssertionError("run() returned before the bot was ready")
            yield settings, holder[0], task
        finally:
            if holder and not holder[0].is_closed():
                await holder[0].close()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=10)
            fake.bot_task = None


@pytest_asyncio.fixture
async def world() -> AsyncIterator[tuple[FakeDiscord, FakeGuild, FakeChannel, FakeMember, FakeMember]]:
    """The fake Discord with one guild, #general, alice and bob."""
    async with FakeDiscord(token="test-token") as fake:
        guild = fake.add_guild("Study Group")
        chan = guild.add_channel("general")
        alice = guild.add_member("alice")
        bob = guild.add_member("bob")
        yield fake, guild, chan, alice, bob


StartFactory = Callable[..., contextlib.AbstractAsyncContextManager[Running]]


@pytest_asyncio.fixture
async def launch(
    world: tuple[FakeDiscord, FakeGuild, FakeChannel, FakeMember, FakeMember],
    library: Path,
    warm_cache: Path,
    tmp_path: Path,
) -> StartFactory:
    """A factory: ``async with launch(**config_overrides) as r:`` runs the bot as in production."""
    fake, guild, chan, alice, bob = world
    counter = iter(range(100))

    @contextlib.asynccontextmanager
    async def factory(*, cards: Path | None = None, **overrides: Any) -> AsyncIterator[Running]:
        """``cards``: serve this card folder instead of the shared library (with a cache of its own)."""
        folder = tmp_path / f"run{next(counter)}"
        folder.mkdir()
        cache = warm_cache
        if cards is not None:
            cache = folder / "own-cache"
            cache.mkdir()
        config = write_config(folder, cards or library, cache, **overrides)
        errors = _Errors()
        logging.getLogger().addHandler(errors)
        try:
            async with start_bot(fake, config) as (settings, bot, task):
                running = Running(fake, guild, chan, alice, bob, settings, bot, task, errors)
                yield running
                await running.stop()
        finally:
            logging.getLogger().removeHandler(errors)
        assert not fake.unhandled, f"unhandled routes: {[str(u) for u in fake.unhandled]}"

    return factory


@pytest_asyncio.fixture
async def running(launch: StartFactory) -> AsyncIterator[Running]:
    """The bot running with the default test config."""
    async with launch() as r:
        yield r


def no_mentions(allowed: dict[str, Any] | None) -> bool:
    """True when ``allowed_mentions`` lets nothing ping."""
    return (
        allowed is not None
        and allowed.get("parse") == []
        and not allowed.get("users")
        and not allowed.get("roles")
        and not allowed.get("replied_user")
    )


def assert_quiet(allowed: dict[str, Any] | None) -> None:
    """Fail unless ``allowed_mentions`` pings nobody."""
    assert no_mentions(allowed), f"allowed_mentions would ping: {allowed}"


__all__ = ["Running", "assert_quiet", "discord", "start_bot", "write_config"]
