"""The bot as a real process (`factdeck run`), stopped by signals: no view is ever lost on a clean shutdown.

The fake Discord runs in the test; the bot runs in its own process through ``tests/fakediscord/process.py``,
which changes only the three URLs discord.py talks to and then calls the shipped ``factdeck run --config``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.fakediscord import FakeDiscord

pytestmark = pytest.mark.e2e

CONFIG = """\
database: data/factdeck.db
cache_dir: cache
guild_ready_timeout: 0.05
view_flush_interval: {flush}
cooldowns:
  random: {{rate: 0, per: 1}}
"""


def _views(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM views").fetchone()[0]


async def _start(fake: FakeDiscord, tmp_path: Path, flush: float) -> asyncio.subprocess.Process:
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
        stderr=(tmp_path / "bot.log").open("wb"),  # a file, so a chatty log can never fill a pipe and stall the bot
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
    assert "synced 3 commands to global" in out
    assert fake.sync_count() == 2
    assert sorted(fake.command_names()) == ["cards", "daily", "fact"]
    code, out = await _factdeck_sync(fake, tmp_path, "wrong-token")
    assert code == 1
    assert "Discord rejected the token" in out
    assert fake.sync_count() == 2
