"""Every benchmark answers ``--help`` with its usage, without running (a newcomer's first look at one)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = sorted(p for p in (Path(__file__).parent.parent / "benchmarks").glob("bench_*.py"))


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda p: p.name)
def test_a_benchmark_answers_help(script: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{script.stem}", "--help"],  # as `make bench` runs them
        capture_output=True,
        text=True,
        timeout=120,
        cwd=script.parent.parent,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:")


async def test_the_bare_bot_the_bot_benchmark_measures_against_answers_its_command(tmp_path: Path) -> None:
    """bench_bot's limit is a real discord.py bot: its own process, the fake Discord, one command, a plain reply."""
    from benchmarks.bare_bot import COMMAND, REPLY
    from benchmarks.bench_bot import fake_world, own_process

    async with (
        fake_world(1) as world,
        own_process(world, ["benchmarks.bare_bot"], COMMAND, tmp_path / "bare.log") as pid,
    ):
        assert pid > 0
        it = await world.fake.slash(world.guild, world.chan, world.users[0], COMMAND)
        message = await it.wait_message()
        assert message.content == REPLY
        assert not message.embeds
        assert world.fake.command_names() == [COMMAND]
