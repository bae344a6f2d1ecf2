"""Daily question schedules: the mode as stored, the pick of the card the server forgets most, and what the post
says when its card yields no question. Real SQLite files, an injected clock, no Discord."""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.resources
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest

from bot.daily import DailyError, pick_card, rank_forgotten
from bot.storage import Database
from bot.storage.daily import DailyStore
from bot.storage.study import Answer, StudyStore
from tests.daily.test_daily import C1, CARD_IDS, G1, G2, World, utc

DAY = dt.date(2026, 6, 1)


# -- the pick ----------------------------------------------------------------------------------------------
def test_rank_forgotten_orders_by_again_then_share_then_id_and_leaves_out_the_unforgotten() -> None:
    counts = {
        "b": (2, 10),  # two Again of ten
        "a": (2, 4),  # two Again of four: forgotten more often
        "c": (3, 30),  # the most Again ratings
        "d": (0, 8),  # never forgotten
        "e": (5, 5),  # not eligible (filtered out, or removed from the deck)
        "f": (2, 4),  # as "a": the id decides
    }
    assert rank_forgotten(counts, ["a", "b", "c", "d", "f"]) == ["c", "a", "f", "b"]
    assert rank_forgotten({}, ["a", "b"]) == []


def test_pick_card_takes_the_first_preferred_card_left_in_the_cycle() -> None:
    ids = ["a", "b", "c", "d"]
    assert pick_card(ids, set(), G1, DAY, 0, prefer=["c", "a"]) == ("c", 0)
    assert pick_card(ids, {"c"}, G1, DAY, 0, prefer=["c", "a"]) == ("a", 0)  # c was posted in this cycle
    assert pick_card(ids, set(ids), G1, DAY, 0, avoid="c", prefer=["c", "a"]) == ("a", 1)  # not yesterday's again
    # Nothing preferred is left: the seeded rotation, exactly as without a preference.
    assert pick_card(ids, {"a", "c"}, G1, DAY, 0, prefer=["c", "a"]) == pick_card(ids, {"a", "c"}, G1, DAY, 0)


# -- the mode as stored ------------------------------------------------------------------------------------
@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with contextlib.AsyncExitStack() as stack:
        yield World(tmp_path / "factdeck.db", stack)


async def test_the_mode_is_stored_shown_in_status_and_defaults_to_fact(world: World) -> None:
    engine, _ = await world.engine()
    assert (await engine.set(G1, C1, "09:00", "Europe/Berlin")).schedule.mode == "fact"
    assert (await engine.set(G1, C1, "09:00", "Europe/Berlin", mode="question")).schedule.mode == "question"
    again, _ = await world.engine()  # a restart reads it back
    status = await again.status(G1)
    assert status is not None
    assert status.schedule.mode == "question"
    assert (await again.set(G1, C1, "10:00", "Europe/Berlin")).schedule.mode == "fact"  # set again: fact
    with pytest.raises(DailyError, match="The mode must be one of fact, question"):
        await again.set(G1, C1, "10:00", "Europe/Berlin", mode="poem")  # a forged value
    status = await again.status(G1)
    assert status is not None
    assert status.schedule.mode == "fact"


async def test_a_schedule_made_before_the_migration_keeps_posting_facts(tmp_path: Path) -> None:
    shipped = importlib.resources.files("bot.storage") / "migrations"
    old = tmp_path / "old-migrations"
    old.mkdir()
    for item in shipped.iterdir():
        if item.name.endswith(".sql") and int(item.name[:4]) < 7:
            (old / item.name).write_text(item.read_text("utf-8"), "utf-8")
    async with Database(tmp_path / "factdeck.db", migrations_dir=old) as db:
        await db.execute(
            "INSERT INTO daily_schedules (guild_id, channel_id, post_time, zone, active_from_ms, created_ms, "
            "updated_ms) VALUES (?, ?, '09:00', 'Europe/Berlin', 0, 0, 0)",
            (G1, C1),
        )
    async with Database(tmp_path / "factdeck.db") as db:
        schedule = await DailyStore(db).get_schedule(G1)
    assert schedule is not None
    assert schedule.mode == "fact"


# -- the engine's pick in question mode --------------------------------------------------------------------
class Forgetting:
    """A server's forgetting counts, as study mode would give them; records what it was asked."""

    def __init__(self, counts: Mapping[str, tuple[int, int]]) -> None:
        self.counts = counts
        self.asked: list[tuple[int, dt.date]] = []

    async def __call__(self, guild_id: int, local_date: dt.date) -> Mapping[str, tuple[int, int]]:
        self.asked.append((guild_id, local_date))
        return self.counts if guild_id == G1 else {}


async def test_a_question_schedule_posts_the_most_forgotten_card_left_and_the_preview_says_so(world: World) -> None:
    forgetting = Forgetting({CARD_IDS[3]: (4, 9), CARD_IDS[1]: (1, 9)})
    engine, _ = await world.engine(forgotten=forgetting)
    await engine.set(G1, C1, "09:00", "Europe/Berlin", mode="question")
    assert await engine.preview(G1) == CARD_IDS[3]
    world.clock.now = utc(2026, 6, 1, 7, 0)
    (first,) = await engine.run_due()
    assert first.card_id == CARD_IDS[3]
    assert world.poster.modes == ["question"]
    assert (G1, dt.date(2026, 6, 1)) in forgetting.asked  # counts for the post's own local day

    assert await engine.preview(G1) == CARD_IDS[1]  # the next most forgotten: no repeat within the cycle
    world.clock.now = utc(2026, 6, 2, 7, 0)
    (second,) = await engine.run_due()
    assert second.card_id == CARD_IDS[1]


async def test_a_fact_schedule_or_a_server_that_does_not_study_keeps_the_fair_rotation(world: World) -> None:
    plain, _ = await world.engine()
    await plain.set(G2, C1, "09:00", "Europe/Berlin", mode="question")
    rotation = await plain.preview(G2)
    forgetting = Forgetting({CARD_IDS[3]: (4, 9)})
    engine, _ = await world.engine(forgotten=forgetting)
    assert await engine.preview(G2) == rotation  # G2's members never studied: the counts are empty
    await engine.set(G1, C1, "09:00", "Europe/Berlin")  # fact mode: the counts are not even asked
    await engine.preview(G1)
    assert all(guild != G1 for guild, _ in forgetting.asked)


async def test_broken_study_data_never_stops_the_day_s_post(world: World) -> None:
    async def broken(guild_id: int, local_date: dt.date) -> Mapping[str, tuple[int, int]]:
        raise OSError("disk gone")

    engine, _ = await world.engine(forgotten=broken)
    await engine.set(G1, C1, "09:00", "Europe/Berlin", mode="question")
    world.clock.now = utc(2026, 6, 1, 7, 0)
    (result,) = await engine.run_due()
    assert result.outcome == "sent"


# -- the storage query -------------------------------------------------------------------------------------
async def test_forgotten_counts_the_again_ratings_of_the_members_who_study_in_the_server(tmp_path: Path) -> None:
    day = utc(2026, 6, 1, 12, 0)
    answers = [
        Answer(1, G1, "a", 1, False, "session", "k", day),  # member 1 studies in G1
        Answer(1, None, "a", 1, False, "review", "k", day),  # ... and reviews privately: counts too
        Answer(1, G1, "b", 3, True, "session", "k", day),
        Answer(2, G2, "a", 1, False, "session", "k", day),  # member 2 studies elsewhere only
        Answer(1, G1, "c", 1, False, "session", "k", day - dt.timedelta(days=40)),  # outside the window
    ]
    async with Database(tmp_path / "factdeck.db") as db:
        store = StudyStore(db)
        await store.write_batch(answers, lambda card, state, rating, at: ("{}", at))
        since, until = day - dt.timedelta(days=30), day + dt.timedelta(hours=1)
        assert await store.forgotten(G1, since, until) == {"a": (2, 2), "b": (0, 1)}
        assert await store.forgotten(G2, since, until) == {"a": (1, 1)}
        assert await store.forgotten(333, since, until) == {}  # nobody studies there
        assert await store.forgotten(G1, since, day) == {}  # [since, until): the end is left out
