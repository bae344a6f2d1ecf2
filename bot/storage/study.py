"""Persistence for study mode: each member's FSRS state per card, the review log, running sessions, settings.

Plain SQL behind methods (tables: ``migrations/0006_study.sql``). The scheduling itself is the caller's:
:meth:`StudyStore.write_batch` takes a function that turns a stored state into the next one, and applies a whole
batch of answers in one transaction (the study recorder calls it once per batch, as the view log does), so two
hundred answers in two seconds cost a handful of commits, not two hundred.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping, Sequence

from .daily import from_ms, to_ms
from .db import Database, Row, chunked, marks
from .views import check_snowflake

__all__ = ["Answer", "DueCard", "MemberStats", "StudyStore", "Updater"]


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    """One answer or review to apply: ``rating`` is py-fsrs's 1..4; ``answer_key`` names the answer the state is
    learned for (a stored state with another key starts afresh)."""

    user_id: int
    guild_id: int | None
    card_id: str
    rating: int
    correct: bool
    source: str
    answer_key: str
    at: dt.datetime

    def __post_init__(self) -> None:
        check_snowflake("user_id", self.user_id, optional=False)
        check_snowflake("guild_id", self.guild_id)
        if self.source not in ("session", "review"):
            raise ValueError(f"unknown source {self.source!r}")
        if not 1 <= self.rating <= 4:
            raise ValueError(f"rating {self.rating} is not 1..4")


#: ``update(card_id, state_json or None, rating, at) -> (new state_json, due)``.
Updater = Callable[[str, str | None, int, dt.datetime], tuple[str, dt.datetime]]


@dataclasses.dataclass(frozen=True, slots=True)
class DueCard:
    """A member's card and its state."""

    card_id: str
    state: str
    due: dt.datetime
    answer_key: str


@dataclasses.dataclass(frozen=True, slots=True)
class MemberStats:
    """What /study progress shows: reviews per UTC day (oldest first) and every state of the member."""

    reviews_by_day: list[tuple[dt.date, int]]
    correct: int
    answered: int
    states: list[DueCard]


_UPSERT = (
    "INSERT INTO study_states (user_id, card_id, state, due_ms, answer_key, reviews, updated_ms) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, card_id) DO UPDATE SET state = excluded.state, "
    "due_ms = excluded.due_ms, answer_key = excluded.answer_key, reviews = study_states.reviews + excluded.reviews, "
    "updated_ms = excluded.updated_ms"
)
#: The stored states of a batch's (user, card) pairs; followed by ``(VALUES (?, ?), ...)``, one pair each.
_CURRENT = "SELECT user_id, card_id, state, answer_key FROM study_states WHERE (user_id, card_id) IN "
_LOG = (
    "INSERT INTO study_reviews (user_id, guild_id, card_id, rating, correct, source, at_ms) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


class StudyStore:
    """The study tables of one :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- answers -------------------------------------------------------------------------------------
    async def write_batch(
        self, answers: Sequence[Answer], update: Updater, sessions: Mapping[int, tuple[int, str] | None] = {}
    ) -> None:
        """Apply ``answers`` in order (each through ``update``) and save or delete ``sessions``
        (``{channel_id: (guild_id, state_json) or None}``), all in one transaction."""
        async with self._db.transaction() as conn:
            keys = sorted({(a.user_id, a.card_id) for a in answers})
            current: dict[tuple[int, str], tuple[str, str]] = {}
            for chunk in chunked(keys):
                sql = f"{_CURRENT}(VALUES {', '.join(['(CAST(? AS BIGINT), ?)'] * len(chunk))})"
                for row in await conn.execute_fetchall(sql, [value for pair in chunk for value in pair]):
                    current[(int(row[0]), str(row[1]))] = (str(row[2]), str(row[3]))
            states: dict[tuple[int, str], tuple[str, int, str, int]] = {}
            reviews: dict[tuple[int, str], int] = {}
            log_rows = []
            for a in answers:  # in order: a member's second answer builds on their first
                key = (a.user_id, a.card_id)
                stored = current.get(key)
                previous = stored[0] if stored is not None and stored[1] == a.answer_key else None
                state, due = update(a.card_id, previous, a.rating, a.at)
                current[key] = (state, a.answer_key)
                at_ms = to_ms(a.at)
                states[key] = (state, to_ms(due), a.answer_key, at_ms)
                reviews[key] = reviews.get(key, 0) + 1
                log_rows.append((a.user_id, a.guild_id, a.card_id, a.rating, int(a.correct), a.source, at_ms))
            await conn.executemany(
                _UPSERT, [(u, c, st, due, k, reviews[(u, c)], at) for (u, c), (st, due, k, at) in states.items()]
            )
            await conn.executemany(_LOG, log_rows)
            for channel_id, saved in sessions.items():
                if saved is None:
                    await conn.execute("DELETE FROM study_sessions WHERE channel_id = ?", (channel_id,))
                else:
                    await conn.execute(
                        "INSERT INTO study_sessions (channel_id, guild_id, state, updated_ms) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT (channel_id) DO UPDATE SET state = excluded.state, "
                        "updated_ms = excluded.updated_ms",
                        (channel_id, saved[0], saved[1], to_ms(dt.datetime.now(dt.UTC))),
                    )

    # -- reading -------------------------------------------------------------------------------------
    async def due(self, user_id: int, now: dt.datetime, limit: int = 50) -> list[DueCard]:
        """The member's cards due at ``now``, most overdue first (one range scan of ``study_states_due``)."""
        rows = await self._db.fetchall(
            "SELECT card_id, state, due_ms, answer_key FROM study_states "
            "WHERE user_id = ? AND due_ms <= ? ORDER BY due_ms LIMIT ?",
            (user_id, to_ms(now), limit),
        )
        return [_due(row) for row in rows]

    async def states(self, user_id: int) -> list[DueCard]:
        """Every card the member has studied."""
        rows = await self._db.fetchall(
            "SELECT card_id, state, due_ms, answer_key FROM study_states WHERE user_id = ? ORDER BY due_ms",
            (user_id,),
        )
        return [_due(row) for row in rows]

    async def stats(self, user_id: int, now: dt.datetime, days: int = 14) -> MemberStats:
        """Reviews per UTC day for the last ``days`` days, answers right and in all, and every state."""
        today = now.astimezone(dt.UTC).date()
        first = today - dt.timedelta(days=days - 1)
        since = to_ms(dt.datetime.combine(first, dt.time(), dt.UTC))
        rows = await self._db.fetchall(
            "SELECT at_ms / 86400000, COUNT(*) FROM study_reviews WHERE user_id = ? AND at_ms >= ? GROUP BY 1",
            (user_id, since),
        )
        per_day = {int(day): int(n) for day, n in rows}
        epoch = dt.date(1970, 1, 1)
        by_day = [(d, per_day.get((d - epoch).days, 0)) for d in (first + dt.timedelta(i) for i in range(days))]
        totals = await self._db.fetchone(
            "SELECT COALESCE(SUM(correct), 0), COUNT(*) FROM study_reviews WHERE user_id = ?", (user_id,)
        )
        correct, answered = (int(totals[0]), int(totals[1])) if totals is not None else (0, 0)
        return MemberStats(by_day, correct, answered, await self.states(user_id))

    async def review_days(self, user_id: int, since: dt.datetime) -> list[dt.datetime]:
        """When the member answered since ``since`` (for streaks, counted in their own zone by the caller)."""
        rows = await self._db.fetchall(
            "SELECT at_ms FROM study_reviews WHERE user_id = ? AND at_ms >= ? ORDER BY at_ms",
            (user_id, to_ms(since)),
        )
        return [_at(row[0]) for row in rows]

    async def leaderboard(self, guild_id: int, since: dt.datetime, limit: int = 10) -> list[tuple[int, int, int]]:
        """``[(user_id, correct, answered)]`` in ``guild_id`` since ``since``, by correct recalls, then accuracy."""
        rows = await self._db.fetchall(
            "SELECT user_id, SUM(correct) AS recalled, COUNT(*) AS total FROM study_reviews "
            "WHERE guild_id = ? AND at_ms >= ? GROUP BY user_id "
            "ORDER BY recalled DESC, CAST(SUM(correct) AS REAL) / COUNT(*) DESC, user_id LIMIT ?",
            (guild_id, to_ms(since), limit),
        )
        return [(int(r[0]), int(r[1]), int(r[2])) for r in rows if int(r[1]) > 0]

    # -- sessions ------------------------------------------------------------------------------------
    async def sessions(self) -> list[tuple[int, int, str]]:
        """Every saved session: ``(channel_id, guild_id, state_json)``."""
        rows = await self._db.fetchall("SELECT channel_id, guild_id, state FROM study_sessions ORDER BY channel_id")
        return [(int(r[0]), int(r[1]), str(r[2])) for r in rows]

    # -- settings ------------------------------------------------------------------------------------
    async def set_streak(self, user_id: int, on: bool, zone: str) -> None:
        """Turn the member's streak on or off, counted in ``zone``."""
        await self._db.execute(
            "INSERT INTO study_members (user_id, streak, zone, updated_ms) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (user_id) DO UPDATE SET streak = excluded.streak, zone = excluded.zone, "
            "updated_ms = excluded.updated_ms",
            (user_id, int(on), zone, to_ms(dt.datetime.now(dt.UTC))),
        )

    async def streak_zone(self, user_id: int) -> str | None:
        """The member's zone when streaks are on for them, else None."""
        row = await self._db.fetchone("SELECT streak, zone FROM study_members WHERE user_id = ?", (user_id,))
        return str(row[1]) if row is not None and row[0] else None

    async def set_exam(self, user_id: int, topic: str, day: dt.date) -> None:
        """Record the member's exam on ``topic`` (a topic key) on ``day``."""
        await self._db.execute(
            "INSERT INTO study_exams (user_id, topic, exam_date, updated_ms) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (user_id, topic) DO UPDATE SET exam_date = excluded.exam_date, "
            "updated_ms = excluded.updated_ms",
            (user_id, topic, day.isoformat(), to_ms(dt.datetime.now(dt.UTC))),
        )

    async def exams(self, user_id: int) -> list[tuple[str, dt.date]]:
        """The member's exams: ``(topic key, date)``, soonest first."""
        rows = await self._db.fetchall(
            "SELECT topic, exam_date FROM study_exams WHERE user_id = ? ORDER BY exam_date", (user_id,)
        )
        return [(str(r[0]), dt.date.fromisoformat(r[1])) for r in rows]

    async def reschedule(self, user_id: int, due: Mapping[str, dt.datetime]) -> None:
        """Bring the member's cards forward: ``{card_id: new due}`` (an exam plan); the FSRS state is kept."""
        async with self._db.transaction() as conn:
            await conn.executemany(
                "UPDATE study_states SET due_ms = ? WHERE user_id = ? AND card_id = ?",
                [(to_ms(when), user_id, card_id) for card_id, when in due.items()],
            )

    async def set_guild_exam(self, guild_id: int, topic: str, day: dt.date) -> None:
        """Record a server's exam on ``topic`` (a topic key) on ``day``."""
        await self._db.execute(
            "INSERT INTO study_guild_exams (guild_id, topic, exam_date, updated_ms) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (guild_id, topic) DO UPDATE SET exam_date = excluded.exam_date, "
            "updated_ms = excluded.updated_ms",
            (guild_id, topic, day.isoformat(), to_ms(dt.datetime.now(dt.UTC))),
        )

    async def guild_exams(self, guild_id: int) -> list[tuple[str, dt.date, dt.datetime]]:
        """A server's exams: ``(topic key, date, when it was set)``, soonest first."""
        rows = await self._db.fetchall(
            "SELECT topic, exam_date, updated_ms FROM study_guild_exams WHERE guild_id = ? ORDER BY exam_date",
            (guild_id,),
        )
        return [(str(r[0]), dt.date.fromisoformat(r[1]), _at(int(r[2]))) for r in rows]

    async def guild_members(self, guild_id: int) -> list[int]:
        """The members who have answered or reviewed in ``guild_id``."""
        rows = await self._db.fetchall(
            "SELECT DISTINCT user_id FROM study_reviews WHERE guild_id = ? ORDER BY user_id", (guild_id,)
        )
        return [int(r[0]) for r in rows]

    async def forgotten(self, guild_id: int, since: dt.datetime, until: dt.datetime) -> dict[str, tuple[int, int]]:
        """``{card_id: (again, reviews)}`` over ``[since, until)`` of the members who studied in ``guild_id``
        (their reviews anywhere, Again = rating 1); empty when nobody studies there. For daily question posts."""
        rows = await self._db.fetchall(
            "SELECT card_id, SUM(CASE WHEN rating = 1 THEN 1 ELSE 0 END), COUNT(*) FROM study_reviews "
            "WHERE at_ms >= ? AND at_ms < ? "
            "AND user_id IN (SELECT DISTINCT user_id FROM study_reviews WHERE guild_id = ?) GROUP BY card_id",
            (to_ms(since), to_ms(until), guild_id),
        )
        return {str(r[0]): (int(r[1]), int(r[2])) for r in rows}

    async def review_counts(self, user_id: int, card_ids: Sequence[str], since: dt.datetime) -> dict[str, int]:
        """``{card_id: reviews}`` of the member since ``since`` (cards with none are left out)."""
        counts: dict[str, int] = {}
        for chunk in chunked(list(dict.fromkeys(card_ids))):
            rows = await self._db.fetchall(
                "SELECT card_id, COUNT(*) FROM study_reviews WHERE user_id = ? AND at_ms >= ? "
                f"AND card_id IN ({marks(len(chunk))}) GROUP BY card_id",
                (user_id, to_ms(since), *chunk),
            )
            counts.update((str(r[0]), int(r[1])) for r in rows)
        return counts

    async def exam_set_at(self, user_id: int, topic: str) -> dt.datetime | None:
        """When the member set their exam on ``topic``."""
        value = await self._db.fetchval(
            "SELECT updated_ms FROM study_exams WHERE user_id = ? AND topic = ?", (user_id, topic)
        )
        return None if value is None else _at(int(value))

    async def forget(self, user_id: int) -> int:
        """Delete every study row of the member; return how many answers were in their log."""
        async with self._db.transaction() as conn:
            async with conn.execute("DELETE FROM study_reviews WHERE user_id = ?", (user_id,)) as cursor:
                answers = cursor.rowcount
            for table in ("study_states", "study_members", "study_exams"):
                await conn.execute(f"DELETE FROM {table} WHERE user_id = ?", (user_id,))
        return max(answers, 0)


def _at(ms: int) -> dt.datetime:
    at = from_ms(ms)
    assert at is not None
    return at


def _due(row: Row) -> DueCard:
    due_ms = row[2]
    assert isinstance(due_ms, int)
    return DueCard(str(row[0]), str(row[1]), _at(due_ms), str(row[3]))
