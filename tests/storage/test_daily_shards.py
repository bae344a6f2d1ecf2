"""Daily posts with several processes on one database: each posts for its own servers, and a day stays one post."""

from __future__ import annotations

import asyncio
import datetime as dt

from bot.storage import Database
from bot.storage.daily import DailyStore, RotationState

NOW = dt.datetime(2024, 5, 10, 8, 30, tzinfo=dt.UTC)
DAY = dt.date(2024, 5, 10)


def _first_card(state: RotationState) -> tuple[str, int]:
    return "card-1", max(state.cycle, 1)


async def test_two_processes_claiming_one_servers_day_get_one_post_between_them(db_target: str) -> None:
    """Even when they wrongly both own the server and claim it for different channels: the unique key decides."""
    async with Database(db_target) as one, Database(db_target) as two:
        guild = 2**60 + 5
        claims = await asyncio.gather(
            *(
                DailyStore(db).claim(
                    guild, channel, DAY, NOW, NOW + dt.timedelta(hours=6), f"t{channel}", NOW, _first_card
                )
                for db, channel in ((one, 11), (two, 12), (one, 13), (two, 14))
            )
        )
        won = [c for c in claims if c is not None]
        assert len(won) == 1
        assert len(await DailyStore(two).posts_on(guild, [DAY])) == 1


async def test_a_process_of_some_shards_sees_only_its_servers_schedules_and_claims(db_target: str) -> None:
    async with Database(db_target) as db:
        everyone = DailyStore(db)
        guilds = [(ts << 22) | 7 for ts in range(1000, 1004)]  # shards 0, 1, 2, 3 of 4
        for guild in guilds:
            await everyone.upsert_schedule(guild, guild + 1, dt.time(9), "UTC", None, None, NOW)
            await everyone.claim(guild, guild + 1, DAY, NOW, NOW, "tok", NOW, _first_card)
        mine = DailyStore(db)
        mine.owns = lambda guild_id: (guild_id >> 22) % 4 in (0, 1)
        assert [s.guild_id for s in await mine.active_schedules()] == guilds[:2]
        assert [p.guild_id for p in await mine.pending()] == guilds[:2]
        expired = await mine.expire_claims(NOW + dt.timedelta(hours=1), NOW + dt.timedelta(hours=1))
        assert [p.guild_id for p in expired] == guilds[:2]
        assert [p.guild_id for p in await everyone.pending()] == guilds[2:]  # the other process's claims stand
