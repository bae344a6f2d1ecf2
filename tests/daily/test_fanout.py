"""Daily fan-out: when many servers are due at the same minute, their posts go out together, a bounded number
at a time (each send still waits its turn in discord.py's global rate limiter)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.daily.test_daily import Poster, World

SERVERS = 40
AT_ONCE = 8


class SlowPoster(Poster):
    """A send that takes as long as the test says: counts how many are in flight at once."""

    def __init__(self, bot: World) -> None:
        super().__init__(bot.clock)
        self.in_flight = 0
        self.most = 0
        self.release = asyncio.Event()

    async def __call__(self, channel_id: int, card_id: str, nonce: str, mode: str = "fact") -> int:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await self.release.wait()
            return await super().__call__(channel_id, card_id, nonce, mode)
        finally:
            self.in_flight -= 1


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with contextlib.AsyncExitStack() as stack:
        yield World(tmp_path / "factdeck.db", stack)


async def test_servers_due_at_one_minute_are_posted_concurrently_and_a_bounded_number_at_a_time(
    world: World,
) -> None:
    poster = world.poster = SlowPoster(world)
    world.cards.ids = {f"card-{i:02d}" for i in range(SERVERS)}
    engine, _views = await world.engine(concurrency=AT_ONCE)
    for guild in range(1, SERVERS + 1):
        await engine.set(guild, 10_000 + guild, "06:00", "UTC")
    world.clock.advance(hours=1)  # 06:00 UTC: every server is due
    running = asyncio.create_task(engine.run_due())
    for _ in range(1000):  # until the sends under way fill the bound (one at a time would never get there)
        if poster.in_flight == AT_ONCE:
            break
        await asyncio.sleep(0.01)
    assert poster.in_flight == AT_ONCE
    poster.release.set()
    results = await running
    assert poster.most == AT_ONCE
    assert sorted(channel for channel, _, _ in poster.sent) == [10_000 + g for g in range(1, SERVERS + 1)]
    assert len(results) == SERVERS
