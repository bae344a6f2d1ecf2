"""Daily facts: scheduling, exactly-once posting, DST, catch-up, rotation and failures.

Everything runs against a real SQLite file in ``tmp_path`` through :class:`bot.storage.Database`, with an
injected clock (no real sleeping), a fake card source and a fake poster that records what it sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import sqlite3
from collections import deque
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import aiohttp
import discord
import pytest

from bot.daily import (
    Classifier,
    DailyEngine,
    DailyError,
    Failure,
    FailureKind,
    NoEligibleCards,
    due_slot,
    local_post_instant,
    next_post_time,
    parse_hhmm,
    pick_card,
    resolve_zone,
    zone_choices,
)
from bot.discord.daily_failures import classify, classify_error
from bot.storage import Database, ViewLog
from bot.storage.daily import DailyStore

UTC = dt.UTC
BERLIN = ZoneInfo("Europe/Berlin")
LA = ZoneInfo("America/Los_Angeles")
G1, G2 = 111, 222
C1, C2 = 1001, 2002


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


class Clock:
    """The injected clock: tests move it by hand."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


class Cards:
    """A card source: ids with topics; mutable so tests can add and remove cards."""

    def __init__(self, ids: Iterable[str], topics: dict[str, set[str]] | None = None) -> None:
        self.ids = set(ids)
        self.topics = topics or {}

    def eligible(self, topic: str | None, collection: str | None, guild_id: int | None = None) -> list[str]:
        return sorted(
            c
            for c in self.ids
            if (topic is None or topic in self.topics.get(c, set()))
            and (collection is None or c.startswith(collection + "-"))
        )

    def exists(self, card_id: str) -> bool:
        return card_id in self.ids


class Poster:
    """Records (channel, card, time) of every send; ``errors`` are raised first, one per call."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.sent: list[tuple[int, str, dt.datetime]] = []
        self.calls = 0
        self.errors: deque[BaseException] = deque()
        self.always: BaseException | None = None
        self.nonces: list[str] = []
        self.modes: list[str] = []
        self._next_id = 9000

    async def __call__(self, channel_id: int, card_id: str, nonce: str, mode: str = "fact") -> int:
        self.calls += 1
        self.nonces.append(nonce)
        self.modes.append(mode)
        await asyncio.sleep(0)  # let a concurrent loop run, as a real HTTP call would
        if self.always is not None:
            raise self.always
        if self.errors:
            raise self.errors.popleft()
        self.sent.append((channel_id, card_id, self.clock()))
        self._next_id += 1
        return self._next_id

    def cards(self) -> list[str]:
        return [card for _, card, _ in self.sent]


def refused() -> aiohttp.ClientConnectorError:
    """A connection Discord never accepted: nothing can have been posted."""
    return aiohttp.ClientConnectorError(
        SimpleNamespace(ssl=None, host="discord.com", port=443), OSError(111, "refused")
    )


def forbidden() -> discord.Forbidden:
    return discord.Forbidden(
        SimpleNamespace(status=403, reason="Forbidden"), {"code": 50013, "message": "Missing Permissions"}
    )


def not_found() -> discord.NotFound:
    return discord.NotFound(
        SimpleNamespace(status=404, reason="Not Found"), {"code": 10003, "message": "Unknown Channel"}
    )


def server_error(status: int = 503) -> discord.DiscordServerError:
    return discord.DiscordServerError(SimpleNamespace(status=status, reason="Service Unavailable"), "upstream")


CARD_IDS = [f"card-{i:02d}" for i in range(1, 6)]


class World:
    """One bot's view of the world: database file, clock, cards, poster; engines are made on demand."""

    def __init__(self, path: Path, stack: contextlib.AsyncExitStack) -> None:
        self.path = path
        self.stack = stack
        self.clock = Clock(utc(2026, 6, 1, 5, 0))
        self.cards = Cards(CARD_IDS)
        self.poster = Poster(self.clock)

    async def engine(self, classifier: Classifier = classify, **kwargs: object) -> tuple[DailyEngine, ViewLog]:
        """A new engine on its own Database connection to the same file: a restart, or another process.
        ``classifier`` reads the poster's exceptions (Discord's by default, as in production)."""
        db = await self.stack.enter_async_context(Database(self.path))
        views = ViewLog(db)
        self.stack.push_async_callback(views.close)
        engine = DailyEngine(DailyStore(db), self.cards, self.poster, views, self.clock, classify=classifier, **kwargs)
        return engine, views

    async def run_until(
        self, engine: DailyEngine, end: dt.datetime, step: dt.timedelta = dt.timedelta(minutes=5)
    ) -> list:
        results = []
        while self.clock.now < end:
            results.extend(await engine.run_due())
            self.clock.now = min(self.clock.now + step, end)
        results.extend(await engine.run_due())
        return results


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with contextlib.AsyncExitStack() as stack:
        yield World(tmp_path / "factdeck.db", stack)


# -- pure functions ------------------------------------------------------------------------------------


def test_parse_hhmm() -> None:
    assert parse_hhmm("09:30") == dt.time(9, 30)
    assert parse_hhmm(" 9:05 ") == dt.time(9, 5)
    assert parse_hhmm("23:59") == dt.time(23, 59)
    for bad in ("24:00", "9.30", "0930", "12:60", "", "noon", "9:5"):
        with pytest.raises(DailyError, match=r"Use HH:MM, 24-hour, e\.g\. 09:30"):
            parse_hhmm(bad)


def test_resolve_zone_and_suggestions() -> None:
    assert resolve_zone("Europe/Berlin").key == "Europe/Berlin"
    assert resolve_zone("europe/berlin").key == "Europe/Berlin"
    assert resolve_zone("America/Los Angeles").key == "America/Los_Angeles"
    with pytest.raises(DailyError, match="Europe/Berlin") as err:
        resolve_zone("Europe/Berln")
    assert "Unknown time zone" in str(err.value)
    with pytest.raises(DailyError, match="Europe/Berlin"):
        resolve_zone("Berlin")
    with pytest.raises(DailyError, match="Unknown time zone"):
        resolve_zone("../../etc/passwd")


def test_zone_choices() -> None:
    assert zone_choices("berlin")[0] == "Europe/Berlin"
    assert zone_choices("Europe/Ber")[0] == "Europe/Berlin"
    assert zone_choices("new york")[0] == "America/New_York"
    assert "America/Los_Angeles" in zone_choices("los")
    assert len(zone_choices("a")) == 25
    assert len(zone_choices("", limit=5)) == 5
    assert zone_choices("zzzz-nothing") == []
    # Prefix matches come before substring ones.
    europe = zone_choices("europe", limit=100)
    assert all(z.startswith("Europe/") for z in europe[:10])


def test_dst_spring_forward_posts_at_end_of_gap() -> None:
    # 2026-03-29 Berlin: 02:00 CET -> 03:00 CEST, so 02:30 does not exist: first valid time is 03:00 CEST.
    instant = local_post_instant(dt.date(2026, 3, 29), dt.time(2, 30), BERLIN)
    assert instant == utc(2026, 3, 29, 1, 0)
    assert instant.astimezone(BERLIN).strftime("%H:%M %Z") == "03:00 CEST"
    # The days around it are normal.
    assert local_post_instant(dt.date(2026, 3, 28), dt.time(2, 30), BERLIN) == utc(2026, 3, 28, 1, 30)
    assert local_post_instant(dt.date(2026, 3, 30), dt.time(2, 30), BERLIN) == utc(2026, 3, 30, 0, 30)
    # next_post_time walks across the gap day without skipping or doubling it.
    t = utc(2026, 3, 27, 12, 0)
    seen = []
    for _ in range(4):
        t = next_post_time(dt.time(2, 30), BERLIN, t)
        seen.append(t)
    assert seen == [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30), utc(2026, 3, 31, 0, 30)]


def test_dst_fall_back_first_occurrence() -> None:
    # 2026-10-25 Berlin: 03:00 CEST -> 02:00 CET, so 02:30 happens twice; the post is at the first (CEST).
    instant = local_post_instant(dt.date(2026, 10, 25), dt.time(2, 30), BERLIN)
    assert instant == utc(2026, 10, 25, 0, 30)
    assert instant.astimezone(BERLIN).strftime("%H:%M %Z") == "02:30 CEST"
    assert next_post_time(dt.time(2, 30), BERLIN, instant) == utc(2026, 10, 26, 1, 30)
    # A time that exists once on that day is unaffected.
    assert local_post_instant(dt.date(2026, 10, 25), dt.time(9, 0), BERLIN) == utc(2026, 10, 25, 8, 0)


def test_next_post_time_requires_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_post_time(dt.time(9, 0), BERLIN, dt.datetime(2026, 1, 1))


def test_due_slot_window() -> None:
    schedule = SimpleNamespace(post_time=dt.time(9, 0), zone="Europe/Berlin", active_from=utc(2026, 1, 1))
    catch_up = dt.timedelta(hours=6)
    assert due_slot(schedule, utc(2026, 6, 1, 6, 59), catch_up) is None  # 08:59 CEST
    slot = due_slot(schedule, utc(2026, 6, 1, 7, 0), catch_up)
    assert slot is not None
    assert slot.due
    assert slot.local_date == dt.date(2026, 6, 1)
    assert due_slot(schedule, utc(2026, 6, 1, 13, 0), catch_up).due  # exactly 6 h late: still on
    late = due_slot(schedule, utc(2026, 6, 1, 13, 1), catch_up)
    assert late is not None
    assert not late.due
    assert "6 h 1 min late" in late.skip_reason
    # A schedule set after today's time owes nothing today.
    fresh = SimpleNamespace(post_time=dt.time(9, 0), zone="Europe/Berlin", active_from=utc(2026, 6, 1, 8, 0))
    assert due_slot(fresh, utc(2026, 6, 1, 9, 0), catch_up) is None


def test_pick_card_is_deterministic_and_fair() -> None:
    ids = ["a", "b", "c", "d"]
    first = pick_card(ids, set(), G1, dt.date(2026, 1, 1), 0)
    assert first == pick_card(list(reversed(ids)), set(), G1, dt.date(2026, 1, 1), 0)
    posted: set[str] = set()
    for day in range(4):
        card, cycle = pick_card(ids, posted, G1, dt.date(2026, 1, 1 + day), 0)
        assert cycle == 0
        assert card not in posted
        posted.add(card)
    card, cycle = pick_card(ids, posted, G1, dt.date(2026, 1, 5), 0, avoid=card)
    assert cycle == 1
    assert card in ids
    # The new cycle does not start with the card posted last.
    last = "c"
    assert pick_card(ids, set(ids), G1, dt.date(2026, 1, 5), 0, avoid=last)[0] != last
    with pytest.raises(NoEligibleCards):
        pick_card([], set(), G1, dt.date(2026, 1, 1), 0)


def test_classify_error() -> None:
    assert classify_error(forbidden()) is FailureKind.PERMANENT
    assert classify_error(not_found()) is FailureKind.PERMANENT
    assert classify_error(server_error()) is FailureKind.TRANSIENT
    assert (
        classify_error(discord.HTTPException(SimpleNamespace(status=502, reason="Bad Gateway"), ""))
        is FailureKind.TRANSIENT
    )
    assert (
        classify_error(discord.HTTPException(SimpleNamespace(status=400, reason="Bad Request"), ""))
        is FailureKind.PERMANENT
    )
    assert classify_error(TimeoutError()) is FailureKind.TRANSIENT
    assert classify_error(ConnectionResetError()) is FailureKind.TRANSIENT
    assert classify_error(ValueError("bug")) is FailureKind.PERMANENT


# -- posting at the right time, once ---------------------------------------------------------------------


async def test_posts_at_the_set_time_not_before(world: World) -> None:
    engine, views = await world.engine()
    status = await engine.set(G1, C1, "09:00", "Europe/Berlin")
    assert status.next_post_at == utc(2026, 6, 1, 7, 0)  # 09:00 CEST
    world.clock.now = utc(2026, 6, 1, 6, 59, 59)
    assert await engine.run_due() == []
    assert world.poster.calls == 0
    assert 0 < engine.seconds_until_next() <= 1
    world.clock.now = utc(2026, 6, 1, 7, 0)
    results = await engine.run_due()
    assert [r.outcome for r in results] == ["sent"]
    assert world.poster.sent == [(C1, results[0].card_id, utc(2026, 6, 1, 7, 0))]
    assert await views.count(results[0].card_id, G1) == 1
    status = await engine.status(G1)
    assert status.last_post.card_id == results[0].card_id
    assert status.last_post.message_id == results[0].message_id
    assert status.last_post.local_date == dt.date(2026, 6, 1)
    assert status.next_post_at == utc(2026, 6, 2, 7, 0)
    assert engine.seconds_until_next() == 60  # capped so edits and reconnects are picked up


async def test_no_double_post_on_reconnect_restart_and_concurrent_loops(world: World) -> None:
    engine, _ = await world.engine()
    await engine.set(G1, C1, "09:00", "Europe/Berlin")
    world.clock.now = utc(2026, 6, 1, 7, 0)
    assert len(await engine.run_due()) == 1
    # Gateway reconnect: a second on_ready calls run_due again.
    assert await engine.run_due() == []
    # Restart: a new engine on a new connection to the same file.
    restarted, _ = await world.engine()
    world.clock.advance(minutes=3)
    assert await restarted.run_due() == []
    assert len(world.poster.sent) == 1
    # Two loops at once (two engines, two connections) on the next day's slot.
    world.clock.now = utc(2026, 6, 2, 7, 0)
    results = await asyncio.gather(engine.run_due(), restarted.run_due(), engine.run_due())
    assert sorted(len(r) for r in results) == [0, 0, 1]
    assert len(world.poster.sent) == 2
    assert world.poster.calls == 2


async def test_catch_up_after_downtime_within_window(world: World) -> None:
    engine, _ = await world.engine()
    await engine.set(G1, C1, "09:00", "Europe/Berlin")
    world.clock.now = utc(2026, 6, 1, 7, 0) + dt.timedelta(hours=5, minutes=59)  # back 5 h 59 min late
    restarted, _ = await world.engine()
    results = await restarted.run_due()
    assert [r.outcome for r in results] == ["sent"]
    world.clock.advance(hours=1)
    assert await restarted.run_due() == []
    assert len(world.poster.sent) == 1


async def test_no_catch_up_past_window_is_skipped_and_visible(world: World) -> None:
    engine, _ = await world.engine()
    await engine.set(G1, C1, "09:00", "Europe/Berlin")
    world.clock.now = utc(2026, 6, 1, 14, 0)  # 16:00 CEST: 7 h late
    restarted, _ = await world.engine()
    results = await restarted.run_due()
    assert [r.outcome for r in results] == ["skipped"]
    assert world.poster.calls == 0
    status = await restarted.status(G1)
    assert [p.state for p in status.problems] == ["skipped"]
    assert status.problems[0].local_date == dt.date(2026, 6, 1)
    assert "7 h late" in status.problems[0].reason
    assert status.next_post_at == utc(2026, 6, 2, 7, 0)
    assert await restarted.run_due() == []  # recorded once
    world.clock.now = utc(2026, 6, 2, 7, 0)
    assert [r.outcome for r in await restarted.run_due()] == ["sent"]


async def test_down_over_midnight_skips_yesterday(world: World) -> None:
    engine, _ = await world.engine()
    await engine.set(G1, C1, "23:30", "Europe/Berlin")
    world.clock.now = utc(2026, 6, 1, 22, 15)  # 00:15 CEST on June 2: June 1's post is 45 min late, next day
    results = await engine.run_due()
    assert [(r.outcome, r.local_date) for r in results] == [("skipped", dt.date(2026, 6, 1))]
    assert "local day had ended" in results[0].error
    assert world.poster.calls == 0


async def test_two_servers_in_different_zones(world: World) -> None:
    engine, _ = await world.engine()
    world.clock.now = utc(2026, 6, 1, 0, 0)
    await engine.set(G1, C1, "09:00", "Europe/Berlin")
    await engine.set(G2, C2, "09:00", "America/Los_Angeles")
    await world.run_until(engine, utc(2026, 6, 3, 0, 0), dt.timedelta(minutes=1))
    times = {(ch, t) for ch, _, t in world.poster.sent}
    assert times == {
        (C1, utc(2026, 6, 1, 7, 0)),
        (C1, utc(2026, 6, 2, 7, 0)),
        (C2, utc(2026, 6, 1, 16, 0)),
        (C2, utc(2026, 6, 2, 16, 0)),
    }


async def test_dst_spring_forward_day_posts_once_at_0300(world: World) -> None:
    engine, _ = await world.engine()
    world.clock.now = utc(2026, 3, 27, 12, 0)
    await engine.set(G1, C1, "02:30", "Europe/Berlin")
    await world.run_until(engine, utc(2026, 3, 30, 12, 0), dt.timedelta(minutes=5))
    assert [t for _, _, t in world.poster.sent] == [
        utc(2026, 3, 28, 1, 30),  # 02:30 CET
        utc(2026, 3, 29, 1, 0),  # 03:00 CEST: the first valid time after the gap
        utc(2026, 3, 30, 0, 30),  # 02:30 CEST
    ]


async def test_dst_fall_back_day_posts_once_at_first_0230(world: World) -> None:
    engine, _ = await world.engine()
    world.clock.now = utc(2026, 10, 24, 12, 0)
    await engine.set(G1, C1, "02:30", "Europe/Berlin")
    await world.run_until(engine, utc(2026, 10, 26, 12, 0), dt.timedelta(minutes=5))
    assert [t for _, _, t in world.poster.sent] == [
        utc(2026, 10, 25, 0, 30),  # 02:30 CEST, the first of the two 02:30s; not again at 01:30 UTC
        utc(2026, 10, 26, 1, 30),  # 02:30 CET
    ]


# -- rotation ----------------------------------------------------------------------------------------------


async def _post_days(world: World, engine: DailyEngine, days: int) -> list[str]:
    """Post ``days`` daily facts (09:00 Berlin) starting from the clock's day; return the cards."""
    cards = []
    for _ in range(days):
        day = world.clock.now.astimezone(BERLIN).date()
        world.clock.now = local_post_instant(day, dt.time(9, 0), BERLIN)
        results = await engine.run_due()
        assert [r.outcome for r in results] == ["sent"], results
        cards.append(results[0].card_id)
        world.clock.now += dt.timedelta(days=1)
    return cards


async def test_rotation_full_cycle_then_new_cycle(world: World) -> None:
    engine, _ = await world.engine()
    await engine.set(G1, C1, "09:00", "Europe/Berlin")
    first = await _post_days(world, engine, 5)
    assert sorted(first) == CARD_IDS  # every card exactly once
    second = await _post_days(world, engine, 5)
    assert sorted(second) == CARD_IDS  # and again in the next cycle
    assert second[0] != first[-1]  # no repeat across the cycle boundary
    rotation = await DailyStore(engine._store._db).rotation(G1)
    assert [c for c, _, _ in rotation] == [0] * 5 + [1] * 5


async def test_rotation_card_added_joins_and_removed_card_is_skipped(world: World) -> None:
    engine, _ = await world.engine()
    await engine.set(G1, C1, "09:00", "Europe/Berlin")
    first = await _post_days(world, engine, 2)
    remaining = [c for c in CARD_IDS if c not in first]
    world.cards.ids.add("card-new")
    world.cards.ids.discard(remaining[0])
    rest = await _post_days(world, engine, 3)  # 2 left of the original 5, one removed, one added: 3
    assert "card-new" in rest
    assert remaining[0] not in rest
    assert sorted(first + rest) == sorted({*CARD_IDS, "card-new"} - {remaining[0]})
    # Then a new cycle over the current cards.
    nxt = await _post_days(world, engine, 5)
    assert sorted(nxt) == sorted(world.cards.ids)
    assert nxt[0] != rest[-1]


async def test_rotation_order_survives_restart(world: World, tmp_path: Path) -> None:
    engine, _ = await world.engine()
    await engine.set(G1, C1, "09:00", "Europe/Berlin")
    before = await _post_days(world, engine, 3)
    restarted, _ = await world.engine()
    after = await _post_days(world, restarted, 4)
    assert sorted(before + after[:2]) == CARD_IDS
    # The same sequence as a bot that never restarted (deterministic picks from the stored rotation).
    other = World(tmp_path / "other.db", world.stack)
    other_engine, _ = await other.engine()
    await other_engine.set(G1, C1, "09:00", "Europe/Berlin")
    assert await _post_days(other, other_engine, 7) == before + after


async def test_preview_is_the_next_post_and_today_is_stable(world: World) -> None:
    engine, _ = await world.engine()
    await engine.set(G1, C1, "09:00", "Europe/Berlin")
    for _ in range(7):
        morning = world.clock.now.astimezone(BERLIN).replace(hour=6, minute=0).astimezone(UTC)
        world.clock.now = morning
        preview = await engine.preview(G1)
        today = await engine.today(G1)
        assert preview == today  # before the post, today's card is the one that will be posted
        world.clock.now = local_post_instant(morning.astimezone(BERLIN).date(), dt.time(9, 0), BERLIN)
        (result,) = await engine.run_due()
        assert result.card_id == preview
        for hours in (0, 5, 14):  # all day, until 23:00
            world.clock.now = result_time = local_post_instant(result.local_date, dt.time(9, 0), BERLIN)
            world.clock.now = result_time + dt.timedelta(hours=hours)
            assert await engine.today(G1) == result.card_id
        tomorrow = await engine.preview(G1)  # after today's post: tomorrow's card
        world.clock.now = result_time + dt.timedelta(hours=15, minutes=30)  # 00:30 next day
        assert await engine.preview(G1) == tomorrow
        assert await engine.today(G1) == tomorrow


async def test_topic_filter_and_no_matching_cards(world: World) -> None:
    world.cards.topics = {"card-01": {"sleep"}, "card-03": {"sleep"}}
    engine, _ = await world.engine()
    await engine.set(G1, C1, "09:00", "Europe/Berlin", topic="sleep")
    cards = await _post_days(world, engine, 4)
    assert set(cards) == {"card-01", "card-03"}
    with pytest.raises(NoEligibleCards, match="topic 'nothing'"):
        await engine.set(G1, C1, "09:00", "Europe/Berlin", topic="nothing")
    with pytest.raises(DailyError, match="HH:MM"):
        await engine.set(G1, C1, "9am", "Europe/Berlin")
    with pytest.raises(DailyError, match="Unknown time zone"):
        await engine.set(G1, C1, "09:00", "Mars/Olympus")


# -- failures ----------------------------------------------------------------------------------------------


async def test_forbidden_is_recorded_and_pauses_after_three(world: World) -> None:
    engine, _ = await world.engine()
    await engine.set(G1, C1, "09:00", "Europe/Berlin")
    world.poster.always = forbidden()
    for day in (1, 2, 3):
        world.clock.now = utc(2026, 6, day, 7, 0)
        (result,) = await engine.run_due()
        assert result.outcome == "failed"
        assert "Missing permissions" in result.error
        assert await engine.run_due() == []  # permanent: not retried the same day
        status = await engine.status(G1)
        assert status.schedule.failures == day
        assert "Missing permissions" in status.schedule.last_error
        assert (status.schedule.paused_reason is not None) == (day == 3)
    assert result.paused_reason is not None
    assert "3 failed posts in a row" in status.schedule.paused_reason
    assert not status.active
    assert status.next_post_at is None
    assert [p.state for p in status.problems] == ["failed"] * 3
    calls = world.poster.calls
    world.clock.now = utc(2026, 6, 4, 7, 0)
    assert await engine.run_due() == []  # paused: no attempt
    assert world.poster.calls == calls
    # Fixing permissions and running /daily set resumes; a success resets the count.
    world.poster.always = None
    world.clock.now = utc(2026, 6, 5, 6, 0)
    status = await engine.set(G1, C1, "09:00", "Europe/Berlin")
    assert status.active
    assert status.schedule.failures == 0
    world.clock.now = utc(2026, 6, 5, 7, 0)
    assert [r.outcome for r in await engine.run_due()] == ["sent"]


async def test_failures_reset_by_a_success(world: World) -> None:
    engine, _ = await world.engine()
    await engine.set(G1, C1, "09:00", "Europe/Berlin")
    world.poster.errors.extend([forbidden(), forbidden()])
    outcomes = []
    for day in range(1, 6):
        world.clock.now = utc(2026, 6, day, 7, 0)
        outcomes += [r.outcome for r in await engine.run_due()]
        if day == 3:
            assert (await engine.status(G1)).schedule.failures == 0
        world.poster.errors.extend([forbidden(), forbidden()] if day == 3 else [])
    assert outcomes == ["failed", "failed", "sent", "failed", "failed"]
    status = await engine.status(G1)
    assert status.active
    assert status.schedule.failures == 2


async def test_not_found_is_permanent_and_recorded(world: World) -> None:
    engine, _ = await world.engine()
    await engine.set(G1, C1, "09:00", "Europe/Berlin")
    world.poster.errors.append(not_found())
    world.clock.now = utc(2026, 6, 1, 7, 0)
    (result,) = await engine.run_due()
    assert result.outcome == "failed"
    assert "not found" in result.error
    world.clock.advance(hours=1)
    assert await engine.run_due() == []
    status = await engine.status(G1)
    assert status.schedule.failures == 1
    assert status.problems[0].state == "failed"
    assert "Unknown Channel" in status.schedule.last_error
    # The failed day's card was not shown: it stays in the rotation (today still shows it).
    assert await engine.today(G1) == result.card_id
    assert (await engine._store.rotation_state(G1)).posted == frozenset()


async def test_transient_error_is_retried_with_backoff_and_posted_once(world: World) -> None:
    engine, views = await world.engine()
    await engine.set(G1, C1, "09:00", "Europe/Berlin")
    world.poster.errors.extend([server_error(503), TimeoutError(), server_error(502)])
    start = utc(2026, 6, 1, 7, 0)
    world.clock.now = start
    (first,) = await engine.run_due()
    assert first.outcome == "retry"
    assert first.retry_at == start + dt.timedelta(seconds=30)
    status = await engine.status(G1)
    assert status.today.state == "retry"
    assert status.next_post_at == first.retry_at
    assert "503" in status.schedule.last_error
    assert status.schedule.failures == 0  # transient failures do not count towards pausing
    assert engine.seconds_until_next() == 30
    world.clock.now = start + dt.timedelta(seconds=29)
    assert await engine.run_due() == []  # not before the backoff
    retry_times = []
    while world.poster.sent == []:
        world.clock.advance(seconds=1)
        results = await engine.run_due()
        if results:
            retry_times.append(world.clock.now - start)
            assert results[0].card_id == first.card_id  # the same card
    assert retry_times == [dt.timedelta(seconds=s) for s in (30, 30 + 60, 30 + 60 + 120)]
    assert world.poster.calls == 4
    assert len(set(world.poster.nonces)) == 1  # every attempt carries the day's nonce: Discord keeps one message
    assert len(world.poster.sent) == 1
    assert await views.count(first.card_id, G1) == 1
    world.clock.advance(hours=1)
    assert await engine.run_due() == []
    assert (await engine.status(G1)).last_post.state == "sent"


async def test_the_surface_decides_what_its_errors_mean_and_says_it_in_its_own_words(world: World) -> None:
    """The engine knows no Discord: whatever surface sends the posts passes in how to read its exceptions."""

    class Busy(Exception):
        pass

    def read(exc: Exception, channel_id: int) -> Failure:
        if isinstance(exc, Busy):
            return Failure(FailureKind.TRANSIENT, f"the board in room {channel_id} is busy", may_have_posted=False)
        return Failure(FailureKind.PERMANENT, "the board is broken", expected=False)

    engine, _ = await world.engine(classifier=read)
    await engine.set(G1, C1, "09:00", "Europe/Berlin")
    world.poster.errors.append(Busy())
    world.clock.now = utc(2026, 6, 1, 7, 0)
    (first,) = await engine.run_due()
    assert first.outcome == "retry"
    assert first.error == f"the board in room {C1} is busy"
    world.clock.advance(seconds=30)
    (second,) = await engine.run_due()
    assert second.outcome == "sent"

    world.poster.errors.append(ValueError("bug"))
    world.clock.now = utc(2026, 6, 2, 7, 0)
    (third,) = await engine.run_due()
    assert third.outcome == "failed"
    assert (await engine.status(G1)).schedule.last_error == "the board is broken"


async def test_status_reads_todays_ledger_rows_once(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    engine, _ = await world.engine()
    await engine.set(G1, C1, "09:00", "Europe/Berlin")
    world.poster.errors.append(server_error(503))
    world.clock.now = utc(2026, 6, 1, 7, 0)
    await engine.run_due()  # today's row is now a retry: status shows it and its next try
    reads: list[list[dt.date]] = []
    posts_on = engine._store.posts_on

    async def counted(guild_id: int, dates: Iterable[dt.date]) -> list:
        reads.append(list(dates))
        return await posts_on(guild_id, reads[-1])

    monkeypatch.setattr(engine._store, "posts_on", counted)
    status = await engine.status(G1)
    assert status.today.state == "retry"
    assert status.next_post_at == status.today.retry_at
    assert reads == [[dt.date(2026, 6, 1)]]


async def test_an_unconfirmed_post_is_not_resent_past_the_nonce_window(world: World) -> None:
    engine, _ = await world.engine()
    await engine.set(G1, C1, "09:00", "Europe/Berlin")
    world.poster.always = server_error(503)  # Discord may have created the message before failing
    world.clock.now = utc(2026, 6, 1, 7, 0)
    results = await world.run_until(engine, utc(2026, 6, 1, 8, 0), dt.timedelta(seconds=10))
    # Attempts at 0 s, 30 s, 1 min 30 s, 3 min 30 s; the next would come 7 min 30 s after the first, when
    # Discord no longer recognises the nonce, so a resend could post the card twice.
    assert [r.outcome for r in results] == ["retry"] * 3 + ["failed"]
    assert "Not retried after 4 attempt(s): the send was not confirmed" in results[-1].error
    assert world.poster.calls == 4
    status = await engine.status(G1)
    assert status.problems[0].state == "failed"
    assert status.schedule.failures == 0


async def test_a_refused_connection_is_retried_for_as_long_as_the_day_allows(world: World) -> None:
    engine, _ = await world.engine()
    await engine.set(G1, C1, "09:00", "Europe/Berlin")
    world.poster.errors.extend([refused() for _ in range(5)])  # nothing reached Discord: resending is always safe
    world.clock.now = utc(2026, 6, 1, 7, 0)
    results = await world.run_until(engine, utc(2026, 6, 1, 9, 0), dt.timedelta(seconds=10))
    assert [r.outcome for r in results] == ["retry"] * 5 + ["sent"]
    assert len(world.poster.sent) == 1


async def test_transient_errors_give_up_when_the_window_closes(world: World) -> None:
    engine, _ = await world.engine(catch_up_hours=0.1)  # 6 minutes
    await engine.set(G1, C1, "09:00", "Europe/Berlin")
    world.poster.always = refused()  # never reached Discord, so only the catch-up window limits the retries
    world.clock.now = utc(2026, 6, 1, 7, 0)
    results = await world.run_until(engine, utc(2026, 6, 1, 8, 0), dt.timedelta(seconds=10))
    # Attempts at 0 s, 30 s, 1 min 30 s, 3 min 30 s; the next (7 min 30 s) would be past the 6 min window.
    assert [r.outcome for r in results] == ["retry"] * 3 + ["failed"]
    assert "Gave up after 4 attempt(s)" in results[-1].error
    assert world.poster.calls == 4
    status = await engine.status(G1)
    assert status.problems[0].state == "failed"
    assert status.schedule.failures == 0
    assert status.active


@pytest.mark.parametrize("crash", [asyncio.CancelledError, SystemExit])
async def test_crash_between_claim_and_send_never_double_posts(world: World, crash: type[BaseException]) -> None:
    engine, _ = await world.engine()
    await engine.set(G1, C1, "09:00", "Europe/Berlin")
    world.poster.errors.append(crash())
    world.clock.now = utc(2026, 6, 1, 7, 0)
    with pytest.raises(crash):
        await engine.run_due()
    assert world.poster.calls == 1
    status = await engine.status(G1)
    assert status.today.state == "claimed"
    claimed_card = status.today.card_id
    # The bot restarts a minute later, and again after the claim's lease: nothing is resent.
    for minutes in (1, 11, 60):
        world.clock.now = utc(2026, 6, 1, 7, 0) + dt.timedelta(minutes=minutes)
        restarted, _ = await world.engine()
        assert await restarted.run_due() == []
    assert world.poster.calls == 1
    assert world.poster.sent == []
    status = await restarted.status(G1)
    assert status.today.state == "unknown"
    assert status.problems[0].state == "unknown"
    assert "may or may not have been posted" in status.problems[0].reason
    assert await restarted.today(G1) == claimed_card  # it may have been shown: it counts as today's card
    world.clock.now = utc(2026, 6, 2, 7, 0)
    (result,) = await restarted.run_due()
    assert result.outcome == "sent"
    assert result.card_id != claimed_card  # the unknown one counts as used in the rotation


async def test_slow_send_finishing_after_lease_is_recorded_sent(world: World) -> None:
    engine, _ = await world.engine(claim_lease=60)
    await engine.set(G1, C1, "09:00", "Europe/Berlin")
    world.clock.now = utc(2026, 6, 1, 7, 0)
    other, _ = await world.engine(claim_lease=60)
    release = asyncio.Event()
    original = world.poster.__call__

    async def slow_poster(channel_id: int, card_id: str, nonce: str, mode: str) -> int:
        await release.wait()
        return await original(channel_id, card_id, nonce)

    engine._poster = slow_poster
    task = asyncio.create_task(engine.run_due())
    await asyncio.sleep(0.05)
    world.clock.advance(minutes=5)
    assert await other.run_due() == []  # the stale claim becomes unknown; not resent
    assert (await other.status(G1)).today.state == "unknown"
    release.set()
    (result,) = await task
    assert result.outcome == "sent"
    assert (await other.status(G1)).today.state == "sent"
    assert len(world.poster.sent) == 1


async def test_off_stops_posting_and_set_changes_time_without_reposting(world: World) -> None:
    engine, _ = await world.engine()
    await engine.set(G1, C1, "09:00", "Europe/Berlin")
    world.clock.now = utc(2026, 6, 1, 7, 0)
    assert len(await engine.run_due()) == 1
    # Moving the time (or channel) later the same day does not post a second time today.
    await engine.set(G1, C2, "18:00", "Europe/Berlin")
    world.clock.now = utc(2026, 6, 1, 16, 0)
    assert await engine.run_due() == []
    assert await engine.off(G1)
    status = await engine.status(G1)
    assert not status.schedule.enabled
    assert status.next_post_at is None
    world.clock.now = utc(2026, 6, 2, 16, 0)
    assert await engine.run_due() == []
    assert len(world.poster.sent) == 1
    assert not await engine.off(G2)
    assert await engine.status(G2) is None
    assert await engine.preview(G2) is None


async def test_setting_after_todays_time_starts_tomorrow(world: World) -> None:
    engine, _ = await world.engine()
    world.clock.now = utc(2026, 6, 1, 10, 0)  # 12:00 CEST
    status = await engine.set(G1, C1, "09:00", "Europe/Berlin")
    assert status.next_post_at == utc(2026, 6, 2, 7, 0)
    assert await engine.run_due() == []
    assert world.poster.calls == 0


async def test_retry_of_a_schedule_turned_off_does_not_spin_and_is_given_up(world: World) -> None:
    engine, _ = await world.engine()
    await engine.set(G1, C1, "09:00", "Europe/Berlin")
    world.poster.errors.append(server_error())
    world.clock.now = utc(2026, 6, 1, 7, 0)
    assert [r.outcome for r in await engine.run_due()] == ["retry"]
    await engine.off(G1)
    world.clock.advance(minutes=5)
    assert await engine.run_due() == []
    assert engine.seconds_until_next() == 60  # the overdue retry does not make the loop spin
    world.clock.now = utc(2026, 6, 1, 13, 1)  # past the catch-up window
    await engine.run_due()
    status = await engine.status(G1)
    assert status.today.state == "failed"
    assert "Gave up after 1 attempt(s)" in status.today.reason
    assert world.poster.calls == 1


async def test_wait_next_sleeps_until_due_and_wakes_on_set(world: World) -> None:
    engine, _ = await world.engine(max_sleep=0.05)
    await engine.set(G1, C1, "09:00", "Europe/Berlin")
    assert engine.seconds_until_next() == 0  # not run yet / schedule changed: run now
    await engine.wait_next()
    await engine.run_due()
    assert engine.seconds_until_next() == pytest.approx(0.05)
    await asyncio.wait_for(engine.wait_next(), timeout=2)  # capped sleep, real time
    engine.max_sleep = 30
    await engine.run_due()
    waiter = asyncio.create_task(engine.wait_next())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    await engine.set(G1, C1, "10:00", "Europe/Berlin")
    await asyncio.wait_for(waiter, timeout=2)


async def test_the_schema_allows_one_post_per_server_and_day_whatever_the_channel(world: World) -> None:
    engine, _ = await world.engine()
    await engine.set(G1, C1, "09:00", "Europe/Berlin")
    world.clock.now = utc(2026, 6, 1, 7, 0)
    (result,) = await engine.run_due()
    assert result.outcome == "sent"
    db = engine._store._db
    with pytest.raises(sqlite3.IntegrityError):
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO daily_posts (guild_id, channel_id, local_date, state, due_ms, deadline_ms, updated_ms)"
                " VALUES (?, ?, '2026-06-01', 'claimed', 0, 0, 0)",
                (G1, C1 + 1),
            )


async def test_a_post_that_went_out_counts_as_a_view_even_if_the_ledger_write_fails(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, views = await world.engine()
    await engine.set(G1, C1, "09:00", "Europe/Berlin")
    world.clock.now = utc(2026, 6, 1, 7, 0)

    async def locked(*args: object, **kwargs: object) -> bool:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(engine._store, "mark_sent", locked)
    await engine.run_due()  # the failure is logged; the loop goes on
    (posted,) = world.poster.cards()
    assert await views.count(posted, G1) == 1
