"""Searches that found nothing: counted per query, server and UTC day, written in batches (no user id kept).

:meth:`FailedSearchLog.record` only adds one to a counter in memory (a dict keyed by day, server, query and
kind), so the interaction path never waits for the disk; a background task (:meth:`FailedSearchLog.start`) adds the
counters to the table in one transaction every ``flush_interval`` seconds, and :meth:`FailedSearchLog.close`
writes what is left. The caller normalises the query (:mod:`bot.insights.searches`); it is cut to
:data:`MAX_QUERY` characters here whatever it is.

Bounded everywhere: at most ``max_pending`` distinct counters wait in memory (beyond that a new query is counted
as :data:`OTHER`), rows older than ``retention_days`` are dropped (:meth:`FailedSearchLog.prune`, run by the
flusher once a day), and the table never holds more than ``max_rows`` rows (the least searched go first).
``guild_id`` 0 stands for direct messages and the console.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Sequence
from typing import Any

from .db import Database

__all__ = ["MAX_QUERY", "OTHER", "FailedSearchLog", "MissedQuery"]

log = logging.getLogger(__name__)

#: Longest query kept (characters).
MAX_QUERY = 100
#: What a query is counted as when the counters in memory are full.
OTHER = "(other)"
_EPOCH_DAY = dt.date(1970, 1, 1)
_UPSERT = (
    "INSERT INTO failed_searches (day, guild_id, query, kind, count) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (day, guild_id, query, kind) DO UPDATE SET count = failed_searches.count + excluded.count"
)
#: (UTC day number, guild id or 0, query, kind).
_Key = tuple[int, int, str, str]


@dataclasses.dataclass(frozen=True, slots=True)
class MissedQuery:
    """A query that found nothing: how often, on how many days, and the last day it was searched."""

    query: str
    kind: str
    count: int
    days: int
    last: dt.date


def _day_number(at: float | None = None) -> int:
    return int((time.time() if at is None else at) // 86400)


class FailedSearchLog:
    """Buffered counts of failed searches, plus the queries insights need."""

    def __init__(
        self,
        db: Database,
        *,
        flush_interval: float = 1.0,
        retention_days: int = 90,
        max_pending: int = 20_000,
        max_rows: int = 200_000,
    ) -> None:
        if flush_interval <= 0 or retention_days < 1 or max_pending < 1 or max_rows < 1:
            raise ValueError("flush_interval, retention_days, max_pending and max_rows must be positive")
        self._db = db
        self.flush_interval = flush_interval
        self.retention_days = retention_days
        self.max_pending = max_pending
        self.max_rows = max_rows
        self._pending: dict[_Key, int] = {}
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._pruned_day = -1
        self._closed = False
        #: Searches counted as OTHER because the counters in memory were full.
        self.overflowed = 0

    @property
    def pending(self) -> int:
        """Distinct counters waiting to be written."""
        return len(self._pending)

    def record(self, query: str, guild_id: int | None, kind: str = "search", *, at: float | None = None) -> None:
        """Count one failed search of ``query`` (already normalised). Never blocks, never touches the database."""
        key = (_day_number(at), guild_id or 0, query[:MAX_QUERY], kind)
        pending = self._pending
        n = pending.get(key)
        if n is None and len(pending) >= self.max_pending:
            self.overflowed += 1
            key = (key[0], key[1], OTHER, kind)
            n = pending.get(key)
        pending[key] = (n or 0) + 1

    # -- writing -----------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the background flusher (needs a running loop). Calling it again does nothing."""
        if self._task is None and not self._closed:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="factdeck-failed-searches")

    async def _run(self) -> None:
        fault: str | None = None
        while True:
            await asyncio.sleep(self.flush_interval)
            if not self._db.is_open:  # down: said once by whoever opened it; the view flusher reopens it
                continue
            try:
                await self.flush()
                today = _day_number()
                if today != self._pruned_day:  # once a day; a failed prune waits for the next day, not the next tick
                    self._pruned_day = today
                    await self.prune(today=today)
                fault = None
            except Exception as exc:  # noqa: BLE001 - kept in memory and retried at the next tick
                if str(exc) != fault:  # one line per fault, not one per tick
                    fault = str(exc)
                    log.warning("could not write the failed searches (kept in memory, retrying): %s", exc)

    async def flush(self) -> int:
        """Add every counter in memory to the table in one transaction; return how many rows were touched.

        On failure the counters go back into memory (merged with any counted meanwhile) and the error is raised.
        """
        async with self._lock:
            batch, self._pending = self._pending, {}
            if not batch:
                return 0
            rows = [(day, guild, query, kind, n) for (day, guild, query, kind), n in batch.items()]
            try:
                await self._db.executemany(_UPSERT, rows)
            except BaseException:
                for key, n in batch.items():
                    self._pending[key] = self._pending.get(key, 0) + n
                raise
            return len(rows)

    async def prune(self, *, today: int | None = None) -> int:
        """Drop the rows older than the retention, then the least searched beyond ``max_rows``; return how many."""
        cutoff = (today if today is not None else _day_number()) - self.retention_days + 1
        dropped = await self._db.execute("DELETE FROM failed_searches WHERE day < ?", (cutoff,))
        rows = int(await self._db.fetchval("SELECT COUNT(*) FROM failed_searches") or 0)
        if rows > self.max_rows:
            dropped += await self._db.execute(
                "DELETE FROM failed_searches WHERE (day, guild_id, query, kind) IN (SELECT day, guild_id, query, kind"
                " FROM failed_searches ORDER BY count, day, query LIMIT ?)",
                (rows - self.max_rows,),
            )
        return dropped

    async def close(self) -> None:
        """Stop the flusher and write what is left (logged, not raised, when the database is down)."""
        if self._closed:
            return
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if not self._db.is_open:
            if self._pending:
                log.warning("%d failed-search counters were not written: the database is unavailable", self.pending)
            return
        try:
            await self.flush()
        except Exception as exc:  # noqa: BLE001 - the database is closing or gone; say what was lost
            log.warning("could not write %d failed-search counters at shutdown: %s", len(self._pending), exc)

    # -- reading -----------------------------------------------------------------------------------------
    async def top(
        self, *, days: int = 30, guild_id: int | None = None, limit: int = 10, today: dt.date | None = None
    ) -> list[MissedQuery]:
        """The queries that found nothing most often over the last ``days`` UTC days (in ``guild_id``, or
        anywhere), most searched first, the counters not yet written included."""
        last = today or dt.datetime.now(dt.UTC).date()
        first = last - dt.timedelta(days=days - 1)
        first_n = (first - _EPOCH_DAY).days
        params: list[Any] = [first_n]
        sql = "SELECT query, kind, day, SUM(count) FROM failed_searches WHERE day >= ?"
        if guild_id is not None:
            sql += " AND guild_id = ?"
            params.append(guild_id)
        found = await self._db.fetchall(sql + " GROUP BY query, kind, day", params)
        rows: list[Sequence[Any]] = [tuple(r) for r in found]
        for (day, guild, query, kind), n in self._pending.items():
            if day >= first_n and (guild_id is None or guild == guild_id):
                rows.append((query, kind, day, n))
        merged: dict[tuple[str, str], tuple[int, set[int]]] = {}
        for query, kind, day, n in rows:
            count, seen = merged.get((query, kind), (0, set()))
            seen.add(int(day))
            merged[(query, kind)] = (count + int(n), seen)
        ranked = sorted(merged.items(), key=lambda item: (-item[1][0], item[0]))
        return [
            MissedQuery(query, kind, count, len(seen), _EPOCH_DAY + dt.timedelta(days=max(seen)))
            for (query, kind), (count, seen) in ranked[: max(limit, 0)]
        ]
