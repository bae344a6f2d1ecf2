"""The bot as a real process (`factdeck run`), stopped by signals: no view is ever lost on a clean shutdown.

The fake Discord runs in the test; the bot runs in its own process through ``tests/fakediscord/process.py``,
which changes only the three URLs discord.py talks to and then calls the shipped ``factdeck run --config``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.fakediscord import FakeDiscord

pytestmark = [pytest.mark.e2e, pytest.mark.sqlite_only]  # bots in processes of their own, on a SQLite file

CONFIG = """\
database: data/factdeck.db
cache_dir: cache
guild_ready_timeout: 0.05
view_flush_interval: {flush}
semantic: off
cooldowns:
  random: {{rate: 0, per: 1}}
"""


def _views(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM views").fetchone()[0]


async def _start(fake: FakeDiscord, tmp_path: Path, flush: float, log: str = "bot.log") -> asyncio.subprocess.Process:
    config = tmp_path / "config.yml"
    config.write_text(CONFIG.format(flush=flush), encoding="utf-8")
    env = {**os.environ, "DISCORD_TOKEN": "test-token", "PYTHONPATH": str(ROOT)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakediscord.process",
        "--base-url",
        fake.base_url,
        "--config",
        str(config),
        cwd=ROOT,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=(tmp_path / log).open("wb"),  # a file, so a chatty log can never fill a pipe and stall the bot
    )
    await fake.wait_for(lambda: bool(fake.command_names()), timeout=30, what="the bot to sync its commands")
    await fake.wait_until_connected(timeout=30)
    return process


async def _show_cards(fake: FakeDiscord, count: int) -> None:
    guild = fake.guilds[0] if fake.guilds else fake.add_guild("Study group")
    channel = guild.channels[0] if guild.channels else guild.add_channel("general")
    member = guild.add_member(f"reader{count}")
    for _ in range(count):
        message = await (await fake.slash(guild, channel, member, "fact random")).wait_message()
        assert "Therapeutic Alliance" in message.text


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_a_signal_shuts_down_cleanly_and_every_view_is_written(
    fake_discord: FakeDiscord, tmp_path: Path, sig: signal.Signals
) -> None:
    fake = fake_discord
    fake.add_guild("Study group").add_channel("general")
    process = await _start(fake, tmp_path, flush=60.0)  # nothing is flushed by the timer: only shutdown writes
    try:
        await _show_cards(fake, 25)
        assert _views(tmp_path / "data" / "factdeck.db") == 0  # still buffered
        process.send_signal(sig)
        code = await asyncio.wait_for(process.wait(), timeout=20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    stderr = (tmp_path / "bot.log").read_text(encoding="utf-8", errors="replace")
    assert code == 0, stderr
    assert _views(tmp_path / "data" / "factdeck.db") == 25
    assert "Traceback" not in stderr


async def test_sigkill_loses_at_most_one_flush_interval(fake_discord: FakeDiscord, tmp_path: Path) -> None:
    fake = fake_discord
    fake.add_guild("Study group").add_channel("general")
    process = await _start(fake, tmp_path, flush=0.2)
    try:
        await _show_cards(fake, 20)
        await asyncio.sleep(0.6)  # three flush intervals after the last view
        process.kill()
        await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert _views(tmp_path / "data" / "factdeck.db") == 20


async def _factdeck_sync(fake: FakeDiscord, tmp_path: Path, token: str) -> tuple[int, str]:
    config = tmp_path / "config.yml"
    config.write_text(CONFIG.format(flush=1.0), encoding="utf-8")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "tests.fakediscord.process", "--base-url", fake.base_url, "--config", str(config), "--command", "sync"),
        cwd=ROOT,
        env={**os.environ, "DISCORD_TOKEN": token, "PYTHONPATH": str(ROOT)},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, out.decode()


async def test_factdeck_sync_forces_a_sync_even_when_nothing_changed(fake_discord: FakeDiscord, tmp_path: Path) -> None:
    fake = fake_discord
    fake.add_guild("Study group").add_channel("general")
    process = await _start(fake, tmp_path, flush=1.0)  # a first start syncs the commands once
    process.send_signal(signal.SIGTERM)
    await asyncio.wait_for(process.wait(), timeout=20)
    assert fake.sync_count() == 1
    code, out = await _factdeck_sync(fake, tmp_path, "test-token")
    assert code == 0, out
    assert "synced 4 commands to global" in out
    assert fake.sync_count() == 2
    assert sorted(fake.command_names()) == ["cards", "daily", "fact", "study"]
    code, out = await _factdeck_sync(fake, tmp_path, "wrong-token")
    assert code == 1
    assert "Discord rejected the token" in out
    assert fake.sync_count() == 2


def _spilled(db: Path) -> int:
    """Views in the side file next to the database (its lines, less the header)."""
    side = db.parent / f"{db.name}-views"
    return max(0, len(side.read_bytes().splitlines()) - 1) if side.exists() else 0


async def _stop(process: asyncio.subprocess.Process, *, grace: float = 10.0) -> int:
    """Stop as `docker stop` does: SIGTERM, then SIGKILL after ``grace`` seconds."""
    process.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(process.wait(), timeout=grace)
    except TimeoutError:
        process.kill()
        return await process.wait()


@contextlib.asynccontextmanager
async def _bot(fake: FakeDiscord, tmp_path: Path, flush: float) -> AsyncIterator[asyncio.subprocess.Process]:
    """``factdeck run`` as a process; killed on the way out if the test left it running."""
    process = await _start(fake, tmp_path, flush=flush)
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@contextlib.contextmanager
def _write_lock_held(db: Path) -> Iterator[sqlite3.Connection]:
    """Another process's connection, holding (from ``BEGIN IMMEDIATE``) the write lock until the block ends."""
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        yield holder
    finally:
        if holder.in_transaction:
            holder.execute("ROLLBACK")
        holder.close()


async def _restart_and_count(fake: FakeDiscord, tmp_path: Path) -> int:
    """Start the bot again on the same database (it writes what the side file holds), stop it, count the views."""
    process = await _start(fake, tmp_path, flush=0.2, log="restart.log")
    log_file = tmp_path / "restart.log"
    try:
        await fake.wait_for(lambda: b"ready as" in log_file.read_bytes(), timeout=30, what="the restarted bot")
    finally:
        await _stop(process)
    log = (tmp_path / "restart.log").read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in log, log
    return _views(tmp_path / "data" / "factdeck.db")


async def test_a_corrupt_database_still_serves_cards_and_says_so_in_one_line(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fake = fake_discord
    fake.add_guild("Study group").add_channel("general")
    db = tmp_path / "data" / "factdeck.db"
    db.parent.mkdir()
    db.write_bytes(b"this is not a database " * 400)
    async with _bot(fake, tmp_path, flush=0.2) as process:
        await _show_cards(fake, 5)
        code = await _stop(process)
    log = (tmp_path / "bot.log").read_text(encoding="utf-8", errors="replace")
    assert code == 0, log
    assert "Traceback" not in log, log
    said = [line for line in log.splitlines() if str(db) in line and "damaged" in line]
    assert len(said) == 1, log  # one line at start, not one per flush attempt
    assert "serving the cards" in said[0]
    assert db.read_bytes().startswith(b"this is not a database")  # left as it was, for the operator
    db.rename(db.with_name("factdeck.db.broken"))  # the operator moves it aside; the next start writes the views
    assert await _restart_and_count(fake, tmp_path) == 5


async def test_sigkill_while_a_batch_waits_for_the_write_lock_loses_nothing(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fake = fake_discord
    fake.add_guild("Study group").add_channel("general")
    db = tmp_path / "data" / "factdeck.db"
    async with _bot(fake, tmp_path, flush=0.2) as process:
        with _write_lock_held(db) as holder:
            holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock: batches leave the buffer, wait
            await _show_cards(fake, 12)
            await fake.wait_for(lambda: _spilled(db) >= 12, timeout=30, what="the views to reach the side file")
            process.kill()
            await process.wait()
    assert _views(db) == 0
    assert await _restart_and_count(fake, tmp_path) == 12  # each view once


async def test_docker_stop_while_another_process_holds_the_write_lock_loses_nothing(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fake = fake_discord
    fake.add_guild("Study group").add_channel("general")
    db = tmp_path / "data" / "factdeck.db"
    # flush 60 s: every view is still buffered at the signal
    async with _bot(fake, tmp_path, flush=60.0) as process:
        with _write_lock_held(db) as holder:
            await _show_cards(fake, 15)
            holder.execute("BEGIN IMMEDIATE")
            await _stop(process)  # SIGTERM, then SIGKILL after docker's 10 s
    assert await _restart_and_count(fake, tmp_path) == 15


async def test_views_written_before_a_sigkill_are_not_written_twice(fake_discord: FakeDiscord, tmp_path: Path) -> None:
    fake = fake_discord
    fake.add_guild("Study group").add_channel("general")
    db = tmp_path / "data" / "factdeck.db"
    async with _bot(fake, tmp_path, flush=0.2) as process:
        await _show_cards(fake, 8)
        await fake.wait_for(lambda: _views(db) == 8, timeout=30, what="the views to be written")
        process.kill()
        await process.wait()
    assert _spilled(db) >= 8  # in the side file too, and already in the database
    assert await _restart_and_count(fake, tmp_path) == 8


async def test_a_cache_folder_under_a_regular_file_still_starts_and_serves(
    fake_discord: FakeDiscord, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = fake_discord
    channel = fake.add_guild("Study group").add_channel("general")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("FACTDECK_CACHE_DIR", str(blocker / "cache"))
    async with _bot(fake, tmp_path, flush=0.2) as process:
        await _show_cards(fake, 2)
        member = fake.guilds[0].add_member("reader")
        found = await (
            await fake.slash(fake.guilds[0], channel, member, "fact search", {"query": "alliance"})
        ).wait_message()
        assert "alliance" in (found.text + str(found.embed)).lower()
        cited = await (
            await fake.slash(fake.guilds[0], channel, member, "fact cite", {"reference": "Horvath"})
        ).wait_message()
        assert "cites it as" in cited.text
        code = await _stop(process)
    log = (tmp_path / "bot.log").read_text(encoding="utf-8", errors="replace")
    assert code == 0, log
    assert "Traceback" not in log, log
    assert "working from memory" in log, log
