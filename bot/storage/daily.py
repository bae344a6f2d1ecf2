"""Persistence for daily facts: schedules, the per-day post ledger and the card rotation (all the SQL).

The policy (when to post, which card, how to treat failures) lives in :mod:`bot.daily`; this module only
reads and writes rows, each multi-step change in one :meth:`Database.transaction`. The post ledger is what
makes posting exactly-once: :meth:`DailyStore.claim` inserts the day's row (``INSERT ... ON CONFLICT DO
NOTHING`` on the unique keys ``(guild_id, channel_id, local_date)`` and ``(guild_id, local_date)``) before anything
is sent, and only the caller that got the row back may send: two processes that both claim a server's day, even
for different channels, get one row between them, and the database decides which. Tables: see
``migrations/0003_daily.sql``.

While the database is unavailable (see :class:`bot.storage.db.StorageUnavailable`) the posting loop finds no
active schedule, no claim and nothing pending: no daily post goes out, since nothing could record it and a post
that is not recorded could go out twice. A missed post still goes out when the database is back, within
``daily.catch_up_hours``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any, Literal, get_args

from .db import Connection, Database, Row, chunked, marks
from .views import check_snowflake

__all__ = ["DAILY_MODES", "DailyMode", "DailyPost", "DailySchedule", "DailyStore", "RotationState"]

#: How a schedule posts the day's card: the card itself, or a question about it whose answer a button reveals.
DailyMode = Literal["fact", "question"]
DAILY_MODES: tuple[DailyMode, ...] = get_args(DailyMode)

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ONE_MS = dt.timedelta(milliseconds=1)

_SCHEDULE_COLUMNS = (
    "guild_id, channel_id, post_time, zone, topic, collection, enabled, paused_reason, last_error, "
    "last_error_ms, failures, active_from_ms, created_ms, updated_ms, mode"
)
_POST_COLUMNS = (
    "id, guild_id, channel_id, local_date, state, card_id, cycle, due_ms, deadline_ms, claim_token, claimed_ms, "
    "attempts, retry_ms, message_id, sent_ms, reason, updated_ms"
)


def to_ms(moment: dt.datetime) -> int:
    """Unix milliseconds of an aware datetime."""
    if moment.tzinfo is None:
        raise ValueError("expected an aware datetime")
    return (moment - _EPOCH) // _ONE_MS


def from_ms(ms: int | None) -> dt.datetime | None:
    """The UTC datetime of Unix milliseconds (``None`` stays ``None``)."""
    return None if ms is None else _EPOCH + ms * _ONE_MS


def _from_ms(ms: int) -> dt.datetime:
    return _EPOCH + ms * _ONE_MS


@dataclasses.dataclass(frozen=True, slots=True)
class DailySchedule:
    """A guild's daily-post settings. ``active`` when enabled and not paused."""

    guild_id: int
    channel_id: int
    post_time: dt.time
    zone: str
    topic: str | None
    collection: str | None
    enabled: bool
    paused_reason: str | None
    last_error: str | None
    last_error_at: dt.datetime | None
    failures: int
    #: When the schedule was last set: days whose post time is earlier are not owed a post.
    active_from: dt.datetime
    created_at: dt.datetime
    updated_at: dt.datetime
    #: ``fact`` (the card) or ``question`` (a question on the card, answer behind a button); see 0007.
    mode: DailyMode = "fact"

    @property
    def active(self) -> bool:
        """Whether posts go out."""
        return self.enabled and self.paused_reason is None


@dataclasses.dataclass(frozen=True, slots=True)
class DailyPost:
    """One row of the post ledger: a guild's day in a channel, and what became of it."""

    id: int
    guild_id: int
    channel_id: int
    local_date: dt.date
    #: claimed, retry, sent, skipped, failed or unknown (see the migration).
    state: str
    card_id: str | None
    cycle: int | None
    due_at: dt.datetime
    deadline: dt.datetime
    claim_token: str | None
    claimed_at: dt.datetime | None
    attempts: int
    retry_at: dt.datetime | None
    message_id: int | None
    sent_at: dt.datetime | None
    #: Why it was skipped/failed/unknown, or the last transient error of a retry.
    reason: str | None
    updated_at: dt.datetime


@dataclasses.dataclass(frozen=True, slots=True)
class RotationState:
    """A guild's rotation: the current cycle, the cards posted in it, and the last card posted at all."""

    cycle: int
    posted: frozenset[str]
    last_card: str | None


def _schedule(row: Row) -> DailySchedule:
    hour, minute = row["post_time"].split(":")
    return DailySchedule(
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        post_time=dt.time(int(hour), int(minute)),
        zone=row["zone"],
        topic=row["topic"],
        collection=row["collection"],
        enabled=bool(row["enabled"]),
        paused_reason=row["paused_reason"],
        last_error=row["last_error"],
        last_error_at=from_ms(row["last_error_ms"]),
        failures=row["failures"],
        active_from=_from_ms(row["active_from_ms"]),
        created_at=_from_ms(row["created_ms"]),
        updated_at=_from_ms(row["updated_ms"]),
        mode="question" if row["mode"] == "question" else "fact",
    )


def _post(row: Row) -> DailyPost:
    return DailyPost(
        id=row["id"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        local_date=dt.date.fromisoformat(row["local_date"]),
        state=row["state"],
        card_id=row["card_id"],
        cycle=row["cycle"],
        due_at=_from_ms(row["due_ms"]),
        deadline=_from_ms(row["deadline_ms"]),
        claim_token=row["claim_token"],
        claimed_at=from_ms(row["claimed_ms"]),
        attempts=row["attempts"],
        retry_at=from_ms(row["retry_ms"]),
        message_id=row["message_id"],
        sent_at=from_ms(row["sent_ms"]),
        reason=row["reason"],
        updated_at=_from_ms(row["updated_ms"]),
    )


async def _rows(conn: Connection, sql: str, params: Iterable[Any] = ()) -> list[Row]:
    return list(await conn.execute_fetchall(sql, tuple(params)))


async def _changed(conn: Connection, sql: str, params: Iterable[Any] = ()) -> int:
    async with conn.execute(sql, tuple(params)) as cursor:
        return cursor.rowcount


Chooser = Callable[[RotationState], tuple[str, int]]


class DailyStore:
    """Repository for ``daily_schedules``, ``daily_posts`` and ``daily_rotation``."""

    def __init__(self, db: Database) -> None:
        self._db = db
        #: Which servers this process posts for (a process of some shards: the servers on them); None: all.
        #: :meth:`active_schedules`, :meth:`pending` and :meth:`expire_claims` leave the others out.
        self.owns: Callable[[int], bool] | None = None

    def _own(self, guild_id: int) -> bool:
        return self.owns is None or self.owns(guild_id)

    # -- schedules -------------------------------------------------------------------------------------

    async def get_schedule(self, guild_id: int) -> DailySchedule | None:
        """The guild's schedule (enabled or not), or ``None`` if it never set one."""
        row = await self._db.fetchone(
            f"SELECT {_SCHEDULE_COLUMNS} FROM daily_schedules WHERE guild_id = ?", (guild_id,)
        )
        return None if row is None else _schedule(row)

    def _down(self) -> bool:
        """The database could not be opened (the bot runs without it until the view flusher reopens it)."""
        return not self._db.is_open and self._db.unavailable is not None

    async def active_schedules(self) -> list[DailySchedule]:
        """Schedules that are enabled and not paused, by guild id (none while the database is unavailable)."""
        if self._down():
            return []
        rows = await self._db.fetchall(
            f"SELECT {_SCHEDULE_COLUMNS} FROM daily_schedules "
            "WHERE enabled = 1 AND paused_reason IS NULL ORDER BY guild_id"
        )
        return [_schedule(row) for row in rows if self._own(row["guild_id"])]

    async def upsert_schedule(
        self,
        guild_id: int,
        channel_id: int,
        post_time: dt.time,
        zone: str,
        topic: str | None,
        collection: str | None,
        now: dt.datetime,
        *,
        mode: DailyMode = "fact",
    ) -> None:
        """Create or replace the guild's schedule: enabled, unpaused, failures reset, active from ``now``, posting
        in ``mode``."""
        check_snowflake("guild_id", guild_id, optional=False)
        check_snowflake("channel_id", channel_id, optional=False)
        if mode not in DAILY_MODES:
            raise ValueError(f"mode must be one of {DAILY_MODES}, not {mode!r}")
        now_ms = to_ms(now)
        await self._db.execute(
            "INSERT INTO daily_schedules (guild_id, channel_id, post_time, zone, topic, collection, enabled, "
            "paused_reason, failures, active_from_ms, created_ms, updated_ms, mode) "
            "VALUES (?, ?, ?, ?, ?, ?, 1, NULL, 0, ?, ?, ?, ?) "
            "ON CONFLICT (guild_id) DO UPDATE SET channel_id = excluded.channel_id, "
            "post_time = excluded.post_time, zone = excluded.zone, topic = excluded.topic, "
            "collection = excluded.collection, enabled = 1, paused_reason = NULL, failures = 0, "
            "active_from_ms = excluded.active_from_ms, updated_ms = excluded.updated_ms, mode = excluded.mode",
            (guild_id, channel_id, f"{post_time:%H:%M}", zone, topic, collection, now_ms, now_ms, now_ms, mode),
        )

    async def disable(self, guild_id: int, now: dt.datetime) -> bool:
        """Turn the schedule off (kept for status and history); False if there is none."""
        changed = await self._db.execute(
            "UPDATE daily_schedules SET enabled = 0, updated_ms = ? WHERE guild_id = ?", (to_ms(now), guild_id)
        )
        return changed > 0

    async def note_failure(self, guild_id: int, error: str, now: dt.datetime, *, pause_after: int | None) -> str | None:
        """Count one permanent failure and set ``last_error``; pause at ``pause_after`` in a row.

        Returns the pause reason if this failure paused the schedule.
        """
        async with self._db.transaction() as conn:
            return await self._count_failure(conn, guild_id, error, to_ms(now), pause_after)

    async def _count_failure(
        self, conn: Connection, guild_id: int, error: str, now_ms: int, pause_after: int | None
    ) -> str | None:
        await _changed(
            conn,
            "UPDATE daily_schedules SET failures = failures + 1, last_error = ?, last_error_ms = ?, "
            "updated_ms = ? WHERE guild_id = ?",
            (error, now_ms, now_ms, guild_id),
        )
        rows = await _rows(conn, "SELECT failures, paused_reason FROM daily_schedules WHERE guild_id = ?", (guild_id,))
        if not rows or pause_after is None:
            return None
        failures, paused = rows[0]
        if paused is not None or failures < pause_after:
            return None
        reason = (
            f"Paused after {failures} failed posts in a row. Last error: {error} "
            "Fix the problem, then run /daily set to resume."
        )
        await _changed(conn, "UPDATE daily_schedules SET paused_reason = ? WHERE guild_id = ?", (reason, guild_id))
        return reason

    async def _note_error(self, conn: Connection, guild_id: int, error: str, now_ms: int) -> None:
        await _changed(
            conn,
            "UPDATE daily_schedules SET last_error = ?, last_error_ms = ?, updated_ms = ? WHERE guild_id = ?",
            (error, now_ms, now_ms, guild_id),
        )

    # -- the post ledger -------------------------------------------------------------------------------

    async def posts_on(self, guild_id: int, local_dates: Iterable[dt.date]) -> list[DailyPost]:
        """The guild's ledger rows for ``local_dates`` (any channel), oldest first."""
        dates = [d.isoformat() for d in local_dates]
        if not dates:
            return []
        rows = [
            row
            for chunk in chunked(dates)
            for row in await self._db.fetchall(
                f"SELECT {_POST_COLUMNS} FROM daily_posts WHERE guild_id = ? AND local_date IN ({marks(len(chunk))})",
                (guild_id, *chunk),
            )
        ]
        return sorted((_post(row) for row in rows), key=lambda post: (post.local_date, post.id))

    async def claim(
        self,
        guild_id: int,
        channel_id: int,
        local_date: dt.date,
        due_at: dt.datetime,
        deadline: dt.datetime,
        token: str,
        now: dt.datetime,
        choose: Chooser,
    ) -> DailyPost | None:
        """Claim the guild's post for ``local_date`` before sending; ``None`` if the day is already taken.

        In one transaction: give up if the guild has any row for that day (in any channel), read the
        rotation, let ``choose`` pick the card (its exception rolls everything back), insert the ``claimed``
        row (``ON CONFLICT DO NOTHING``) and the rotation entry.
        """
        day = local_date.isoformat()
        now_ms = to_ms(now)
        async with self._db.transaction() as conn:
            taken = await _rows(
                conn, "SELECT 1 FROM daily_posts WHERE guild_id = ? AND local_date = ? LIMIT 1", (guild_id, day)
            )
            if taken:
                return None
            card_id, cycle = choose(await self._rotation_state(conn, guild_id))
            inserted = await _rows(
                conn,
                "INSERT INTO daily_posts (guild_id, channel_id, local_date, state, card_id, cycle, due_ms, "
                "deadline_ms, claim_token, claimed_ms, attempts, updated_ms) "
                "VALUES (?, ?, ?, 'claimed', ?, ?, ?, ?, ?, ?, 0, ?) "
                "ON CONFLICT DO NOTHING RETURNING id",
                (guild_id, channel_id, day, card_id, cycle, to_ms(due_at), to_ms(deadline), token, now_ms, now_ms),
            )
            if not inserted:
                return None
            await _changed(
                conn,
                "INSERT INTO daily_rotation (guild_id, cycle, card_id, local_date) VALUES (?, ?, ?, ?)",
                (guild_id, cycle, card_id, day),
            )
            row = await _rows(conn, f"SELECT {_POST_COLUMNS} FROM daily_posts WHERE id = ?", (inserted[0][0],))
        return _post(row[0])

    async def reclaim(
        self,
        post_id: int,
        token: str,
        now: dt.datetime,
        *,
        exists: Callable[[str], bool],
        choose: Chooser,
    ) -> DailyPost | None:
        """Claim a ``retry`` row whose retry time has come; ``None`` if it is not (or no longer) retryable.

        The day keeps its card unless ``exists`` says the card was removed; then a new one is chosen.
        """
        now_ms = to_ms(now)
        async with self._db.transaction() as conn:
            rows = await _rows(conn, f"SELECT {_POST_COLUMNS} FROM daily_posts WHERE id = ?", (post_id,))
            if not rows:
                return None
            post = _post(rows[0])
            if post.state != "retry" or (post.retry_at is not None and to_ms(post.retry_at) > now_ms):
                return None
            day = post.local_date.isoformat()
            card_id, cycle = post.card_id, post.cycle
            if card_id is None or not exists(card_id):
                await _changed(
                    conn, "DELETE FROM daily_rotation WHERE guild_id = ? AND local_date = ?", (post.guild_id, day)
                )
                card_id, cycle = choose(await self._rotation_state(conn, post.guild_id))
                await _changed(
                    conn,
                    "INSERT INTO daily_rotation (guild_id, cycle, card_id, local_date) VALUES (?, ?, ?, ?)",
                    (post.guild_id, cycle, card_id, day),
                )
            changed = await _changed(
                conn,
                "UPDATE daily_posts SET state = 'claimed', claim_token = ?, claimed_ms = ?, card_id = ?, "
                "cycle = ?, updated_ms = ? WHERE id = ? AND state = 'retry'",
                (token, now_ms, card_id, cycle, now_ms, post_id),
            )
            if not changed:
                return None
            rows = await _rows(conn, f"SELECT {_POST_COLUMNS} FROM daily_posts WHERE id = ?", (post_id,))
        return _post(rows[0])

    async def mark_sent(self, post_id: int, token: str, message_id: int, now: dt.datetime) -> bool:
        """Record a successful send and reset the guild's failure count.

        Matches on the claim token, and also accepts a row that :meth:`expire_claims` already marked
        ``unknown`` (a slow send that did finish), so status is corrected. False if the claim was lost.
        """
        now_ms = to_ms(now)
        async with self._db.transaction() as conn:
            changed = await _changed(
                conn,
                "UPDATE daily_posts SET state = 'sent', message_id = ?, sent_ms = ?, retry_ms = NULL, "
                "updated_ms = ? WHERE id = ? AND claim_token = ? AND state IN ('claimed', 'unknown')",
                (message_id, now_ms, now_ms, post_id, token),
            )
            if changed:
                await _changed(
                    conn,
                    "UPDATE daily_schedules SET failures = 0, updated_ms = ? "
                    "WHERE guild_id = (SELECT guild_id FROM daily_posts WHERE id = ?)",
                    (now_ms, post_id),
                )
        return changed > 0

    async def mark_retry(
        self, post_id: int, token: str, attempts: int, retry_at: dt.datetime, error: str, now: dt.datetime
    ) -> bool:
        """Release a claim after a transient failure: state ``retry`` at ``retry_at``; set ``last_error``."""
        now_ms = to_ms(now)
        async with self._db.transaction() as conn:
            changed = await _changed(
                conn,
                "UPDATE daily_posts SET state = 'retry', attempts = ?, retry_ms = ?, reason = ?, updated_ms = ? "
                "WHERE id = ? AND claim_token = ? AND state = 'claimed'",
                (attempts, to_ms(retry_at), error, now_ms, post_id, token),
            )
            if changed:
                await self._note_error(conn, await self._guild_of(conn, post_id), error, now_ms)
        return changed > 0

    async def mark_failed(
        self,
        post_id: int,
        token: str | None,
        error: str,
        now: dt.datetime,
        *,
        count: bool,
        pause_after: int | None,
    ) -> str | None:
        """Mark the day ``failed`` (its card goes back into the rotation) and set ``last_error``.

        With ``count``, it is a permanent failure: the guild's failure count goes up and the schedule is
        paused when it reaches ``pause_after``; returns the pause reason if it paused now.
        """
        now_ms = to_ms(now)
        async with self._db.transaction() as conn:
            rows = await _rows(conn, "SELECT guild_id, local_date FROM daily_posts WHERE id = ?", (post_id,))
            changed = await _changed(
                conn,
                "UPDATE daily_posts SET state = 'failed', reason = ?, retry_ms = NULL, updated_ms = ? "
                "WHERE id = ? AND COALESCE(claim_token, '') = COALESCE(?, '') AND state IN ('claimed', 'retry')",
                (error, now_ms, post_id, token),
            )
            if not changed or not rows:
                return None
            guild_id, day = rows[0]
            await _changed(conn, "DELETE FROM daily_rotation WHERE guild_id = ? AND local_date = ?", (guild_id, day))
            if count:
                return await self._count_failure(conn, guild_id, error, now_ms, pause_after)
            await self._note_error(conn, guild_id, error, now_ms)
        return None

    async def record_missed(
        self,
        guild_id: int,
        channel_id: int,
        local_date: dt.date,
        due_at: dt.datetime,
        deadline: dt.datetime,
        state: str,
        reason: str,
        now: dt.datetime,
    ) -> bool:
        """Record a day that was not attempted (``skipped``) or could not be (``failed``); False if the
        guild already has a row for that day."""
        if state not in ("skipped", "failed"):
            raise ValueError(f"record_missed takes skipped or failed, not {state!r}")
        day = local_date.isoformat()
        now_ms = to_ms(now)
        async with self._db.transaction() as conn:
            taken = await _rows(
                conn, "SELECT 1 FROM daily_posts WHERE guild_id = ? AND local_date = ? LIMIT 1", (guild_id, day)
            )
            if taken:
                return False
            changed = await _changed(
                conn,
                "INSERT INTO daily_posts (guild_id, channel_id, local_date, state, due_ms, deadline_ms, reason, "
                "updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (guild_id, channel_id, day, state, to_ms(due_at), to_ms(deadline), reason, now_ms),
            )
        return changed > 0

    async def expire_claims(self, claimed_before: dt.datetime, now: dt.datetime) -> list[DailyPost]:
        """Mark ``unknown`` every claim older than ``claimed_before`` (its sender is gone); return them."""
        now_ms = to_ms(now)
        reason = (
            "The bot stopped while sending this post, so it may or may not have been posted; "
            "not resent, to never post twice."
        )
        if self._down():
            return []
        expired: list[DailyPost] = []
        async with self._db.transaction() as conn:
            stale = await _rows(
                conn,
                "SELECT id, guild_id FROM daily_posts WHERE state = 'claimed' AND claimed_ms < ? ORDER BY id",
                (to_ms(claimed_before),),
            )
            for chunk in chunked([row["id"] for row in stale if self._own(row["guild_id"])]):
                rows = await _rows(
                    conn,
                    f"UPDATE daily_posts SET state = 'unknown', reason = ?, updated_ms = ? "
                    f"WHERE id IN ({marks(len(chunk))}) AND state = 'claimed' RETURNING {_POST_COLUMNS}",
                    (reason, now_ms, *chunk),
                )
                expired += sorted((_post(row) for row in rows), key=lambda post: post.id)
        return expired

    async def pending(self) -> list[DailyPost]:
        """Rows still in flight (``claimed``) or waiting for a retry (none while the database is unavailable)."""
        if self._down():
            return []
        rows = await self._db.fetchall(
            f"SELECT {_POST_COLUMNS} FROM daily_posts WHERE state IN ('claimed', 'retry') ORDER BY id"
        )
        return [_post(row) for row in rows if self._own(row["guild_id"])]

    async def last_sent(self, guild_id: int) -> DailyPost | None:
        """The guild's most recent successful post."""
        row = await self._db.fetchone(
            f"SELECT {_POST_COLUMNS} FROM daily_posts WHERE guild_id = ? AND state = 'sent' "
            "ORDER BY local_date DESC, id DESC LIMIT 1",
            (guild_id,),
        )
        return None if row is None else _post(row)

    async def problems(self, guild_id: int, limit: int = 10) -> list[DailyPost]:
        """The guild's recent skipped, failed and unknown days, newest first."""
        rows = await self._db.fetchall(
            f"SELECT {_POST_COLUMNS} FROM daily_posts WHERE guild_id = ? "
            "AND state IN ('skipped', 'failed', 'unknown') ORDER BY local_date DESC, id DESC LIMIT ?",
            (guild_id, limit),
        )
        return [_post(row) for row in rows]

    async def rotation_state(self, guild_id: int) -> RotationState:
        """The guild's current cycle, the cards posted in it, and the last card posted."""
        async with self._db.transaction() as conn:
            return await self._rotation_state(conn, guild_id)

    async def rotation(self, guild_id: int) -> list[tuple[int, str, dt.date]]:
        """Every rotation entry of the guild as ``(cycle, card_id, local_date)``, oldest first."""
        rows = await self._db.fetchall(
            "SELECT cycle, card_id, local_date FROM daily_rotation WHERE guild_id = ? ORDER BY local_date, cycle",
            (guild_id,),
        )
        return [(row[0], row[1], dt.date.fromisoformat(row[2])) for row in rows]

    @staticmethod
    async def _rotation_state(conn: Connection, guild_id: int) -> RotationState:
        rows = await _rows(conn, "SELECT COALESCE(MAX(cycle), 0) FROM daily_rotation WHERE guild_id = ?", (guild_id,))
        cycle = int(rows[0][0])
        posted = await _rows(
            conn, "SELECT card_id FROM daily_rotation WHERE guild_id = ? AND cycle = ?", (guild_id, cycle)
        )
        last = await _rows(
            conn,
            "SELECT card_id FROM daily_rotation WHERE guild_id = ? ORDER BY local_date DESC, cycle DESC LIMIT 1",
            (guild_id,),
        )
        return RotationState(cycle, frozenset(row[0] for row in posted), last[0][0] if last else None)

    @staticmethod
    async def _guild_of(conn: Connection, post_id: int) -> int:
        rows = await _rows(conn, "SELECT guild_id FROM daily_posts WHERE id = ?", (post_id,))
        return int(rows[0][0])
