"""The view log: every card shown is a view, recorded without blocking and written in batches.

:meth:`ViewLog.record` is a plain function that appends to an in-memory buffer, so the interaction path never
waits for the disk. A background task (:meth:`ViewLog.start`) writes the buffer in one transaction at least every
``flush_interval`` seconds, and as soon as it holds ``max_batch`` views. Each batch is first appended to the side
file (:mod:`bot.storage.spill`), so a batch on its way to the database is never lost: a ``SIGKILL`` loses at most
the views of the last ``flush_interval`` (not yet in the side file), whatever the database is doing.
:meth:`ViewLog.close` stops the task, puts every view left in the side file, then writes them, so a clean shutdown
loses nothing even when another process holds the write lock past ``docker stop``'s grace period; the next start
writes what the side file holds, exactly once. A failed write puts the batch back at the front of the buffer and
is retried with back-off; nothing is dropped unless the buffer outgrows ``max_buffer`` (then the oldest views go,
with an error logged).

While the database is unavailable (it could not be opened at start, see :class:`bot.storage.db.StorageUnavailable`)
the views stay in memory (and the side file), the queries answer from memory, and the flusher reopens the database
at each attempt; the first write that succeeds brings everything in.

Queries count the buffered views too, so a card's footer is right the moment after it was recorded. In every
query ``guild_id=None`` means "all guilds and DMs", not "DMs only".

The per-guild queries on the interaction path (:meth:`ViewLog.count`, :meth:`ViewLog.counts` and
:meth:`ViewLog.seen_by_user` with a ``guild_id``) are answered from memory: the first query for a guild (or a
user in a guild) loads its totals from the table plus the buffer, and :meth:`ViewLog.record` keeps them current,
so later queries cost no SQL round trip. This ViewLog is the only writer of ``views`` in this process; a commit by
another connection (another process) is noticed by the flusher through ``PRAGMA data_version`` within one
``flush_interval`` and drops the tallies, as does a full buffer dropping views. The tallies are bounded (least
recently used guilds and users are forgotten and reloaded on demand).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import datetime as dt
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from .db import MAX_SNOWFLAKE, Database, StorageUnavailable, chunked, describe_fault, is_environmental, marks
from .spill import ViewSpill

__all__ = ["Stats", "ViewEvent", "ViewLog"]

log = logging.getLogger(__name__)

_DAY_MS = 86_400_000
#: (card_id, guild_id, channel_id, user_id, command, at_ms): the column order of ``_INSERT``.
_Row = tuple[str, int | None, int | None, int | None, str, int]
_INSERT = "INSERT INTO views (card_id, guild_id, channel_id, user_id, command, at_ms) VALUES (?, ?, ?, ?, ?, ?)"
_SET_MARK = (
    "INSERT INTO meta (key, value, updated_ms) VALUES (?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms"
)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def check_snowflake(name: str, value: object, *, optional: bool = True) -> None:
    """Raise unless ``value`` is an int that fits SQLite's INTEGER (or ``None`` when ``optional``)."""
    if value is None and optional:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int{' or None' if optional else ''}, not {type(value).__name__}")
    if not 0 <= value <= MAX_SNOWFLAKE:
        raise ValueError(f"{name}={value} does not fit a signed 64-bit INTEGER")


@dataclasses.dataclass(frozen=True, slots=True)
class ViewEvent:
    """One card shown to someone. ``guild_id`` is ``None`` in DMs; a naive ``at`` is taken to be UTC.

    Validated on construction (at the call site), so a bad value can never poison a batch later.
    """

    card_id: str
    guild_id: int | None
    channel_id: int | None
    user_id: int | None
    command: str
    at: dt.datetime = dataclasses.field(default_factory=_utcnow)

    def __post_init__(self) -> None:
        if not isinstance(self.card_id, str) or not self.card_id:
            raise TypeError("card_id must be a non-empty str")
        if not isinstance(self.command, str):
            raise TypeError("command must be a str")
        check_snowflake("guild_id", self.guild_id)
        check_snowflake("channel_id", self.channel_id)
        check_snowflake("user_id", self.user_id)
        if not isinstance(self.at, dt.datetime):
            raise TypeError("at must be a datetime")
        if self.at.tzinfo is None:
            object.__setattr__(self, "at", self.at.replace(tzinfo=dt.UTC))
        elif self.at.utcoffset() != dt.timedelta(0):
            object.__setattr__(self, "at", self.at.astimezone(dt.UTC))

    def as_row(self) -> _Row:
        """The row stored in ``views`` (``at`` as Unix milliseconds)."""
        at_ms = (self.at - _EPOCH) // _ONE_MS
        return (self.card_id, self.guild_id, self.channel_id, self.user_id, self.command, at_ms)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ONE_MS = dt.timedelta(milliseconds=1)


@dataclasses.dataclass(frozen=True, slots=True)
class Stats:
    """View figures for one guild or overall.

    ``top_cards`` is ``[(card_id, views)]`` by views descending, then card id; ``by_day`` is
    ``[(date, views)]`` for the last ``days`` UTC days, oldest first, today last, zero days included.
    """

    total_views: int
    top_cards: list[tuple[str, int]]
    by_command: dict[str, int]
    by_day: list[tuple[dt.date, int]]


def _guild_clause(guild_id: int | None, params: list[Any]) -> str:
    if guild_id is None:
        return ""
    params.append(guild_id)
    return " AND guild_id = ?"


class ViewLog:
    """Buffered, batched, never-blocking view recording plus the queries the cogs need."""

    def __init__(
        self,
        db: Database,
        *,
        flush_interval: float = 1.0,
        max_batch: int = 500,
        max_buffer: int | None = 250_000,
        max_backoff: float = 30.0,
        max_tallied_guilds: int = 1024,
        max_tallied_users: int = 20_000,
        spill: ViewSpill | None = None,
    ) -> None:
        if flush_interval <= 0 or max_batch < 1:
            raise ValueError("flush_interval must be > 0 and max_batch >= 1")
        self._db = db
        self.flush_interval = flush_interval
        self.max_batch = max_batch
        self.max_buffer = max_buffer
        self.max_backoff = max(max_backoff, flush_interval)
        self._buffer: list[_Row] = []
        #: The side file (None: not kept), and how many views at the head of the buffer are already in it.
        self._spill = spill
        self._spill_open = False
        self._spilled = 0
        self._fault: str | None = None
        #: Reads of the table that failed (their answers came from memory alone), and the last fault logged.
        self._unread = 0
        self._read_fault: str | None = None
        self._flush_lock = asyncio.Lock()
        self._writing: asyncio.Future[None] | None = None
        self._in_flight = 0  # views taken from the buffer by the write under way
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._closed = False
        #: Views written to the database by this instance.
        self.written = 0
        #: Views lost: recorded after close(), or pushed out of a full buffer.
        self.dropped = 0
        # In-memory tallies (table + buffer), kept current by record(): views per card in a guild, and the cards
        # a user has seen in a guild. Least recently used first; _generation changes whenever they are dropped.
        self.max_tallied_guilds = max_tallied_guilds
        self.max_tallied_users = max_tallied_users
        self._guild_counts: collections.OrderedDict[int, collections.Counter[str]] = collections.OrderedDict()
        self._user_seen: collections.OrderedDict[tuple[int, int], set[str]] = collections.OrderedDict()
        self._generation = 0
        self._data_version: int | None = None

    # -- recording -------------------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Views recorded but not yet written (those of a write under way included)."""
        return len(self._buffer) + self._in_flight

    def record(self, view: ViewEvent, /) -> None:
        """Append ``view`` to the buffer. Never blocks, never awaits, never touches the database."""
        if self._closed:
            self.dropped += 1
            log.warning("view of %r recorded after the view log was closed; dropped", view.card_id)
            return
        row = view.as_row()
        self._buffer.append(row)
        guild_id = row[1]
        if guild_id is not None:
            counts = self._guild_counts.get(guild_id)
            if counts is not None:
                counts[row[0]] += 1
            if row[3] is not None:
                seen = self._user_seen.get((row[3], guild_id))
                if seen is not None:
                    seen.add(row[0])
        if len(self._buffer) >= self.max_batch:
            self._wake.set()
            self._trim()

    def _trim(self) -> None:
        if self.max_buffer is None:
            return
        excess = len(self._buffer) - self.max_buffer
        if excess > 0:
            del self._buffer[:excess]
            self._spilled = max(0, self._spilled - excess)
            self.dropped += excess
            self._forget_tallies()
            log.error("view buffer is full (%d); dropped the %d oldest views", self.max_buffer, excess)

    def _forget_tallies(self) -> None:
        """Drop the in-memory tallies (they no longer match the table plus the buffer); reloaded on demand."""
        self._guild_counts.clear()
        self._user_seen.clear()
        self._generation += 1

    async def _check_other_writers(self) -> None:
        """Drop the tallies if another connection committed to the database since the last check."""
        version = await self._db.data_version()
        if self._data_version is not None and version != self._data_version:
            self._forget_tallies()
        self._data_version = version

    # -- flushing --------------------------------------------------------------------------------------

    async def open_spill(self) -> None:
        """Open the side file and write what an earlier run left in it (when the database is open)."""
        self._fault = self._read_fault = self._db.unavailable  # already said by whoever opened the database
        if self._spill is not None and not self._spill_open:
            self._spill_open = await asyncio.to_thread(self._spill.open)
            if not self._spill_open:
                self._spill = None
            elif self._db.is_open:
                try:
                    await self.flush()
                except Exception:
                    log.exception("could not write the views kept in %s; retrying with the next batch", self._spill)

    def start(self) -> None:
        """Start the background flusher (needs a running event loop). Calling it again does nothing."""
        if self._closed:
            raise RuntimeError("the view log is closed")
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="factdeck-view-flusher")

    async def flush(self) -> int:
        """Write every buffered view in one transaction; return how many. Raises if the write fails.

        On failure the batch is back in the buffer (in order) before the exception reaches the caller. The write
        is shielded: cancelling ``flush()`` does not cancel a write that may already have committed.
        """
        async with self._flush_lock:
            await self._settle()
            if not self._buffer and not (self._spill is not None and self._spill.leftovers):
                return 0
            batch, self._buffer = self._buffer, []
            spilled, self._spilled = self._spilled, 0
            writing = asyncio.ensure_future(self._write(batch, spilled))
            writing.add_done_callback(_retrieve)
            self._writing = writing
            await asyncio.shield(writing)
            return len(batch)

    async def _write(self, batch: list[_Row], spilled: int) -> None:
        spill = self._spill
        self._in_flight = len(batch)
        try:
            if spill is not None:
                spilled = await self._to_spill(spill, batch, spilled)
            if not self._db.is_open and not await self._db.reopen():
                raise StorageUnavailable(self._db.unavailable or "the database is not open")
            replayed = await self._insert(batch, spill)
        except BaseException:
            self._buffer[:0] = batch
            self._spilled = spilled
            self._trim()
            raise
        finally:
            self._in_flight = 0
        self.written += len(batch)
        if replayed:
            log.warning("wrote %d views kept in %s since an earlier stop", replayed, spill and spill.path)

    async def _to_spill(self, spill: ViewSpill, batch: list[_Row], spilled: int) -> int:
        """Append the views of ``batch`` not yet in the side file; return how many of its head are in it."""
        if spilled >= len(batch):
            return spilled
        try:
            await asyncio.to_thread(spill.append, batch[spilled:])
        except OSError as exc:
            log.warning("could not keep views in %s: %s", spill.path, exc)
            return spilled
        return len(batch)

    async def _insert(self, batch: Sequence[_Row], spill: ViewSpill | None) -> int:
        """Insert ``batch`` (and, the first time, what an earlier run left in the side file) with the side file's
        mark, in one transaction; return how many views came from the side file."""
        replayed = 0
        retired = None
        async with self._db.transaction() as conn:
            if spill is not None:
                if spill.leftovers:
                    async with conn.execute("SELECT value FROM meta WHERE key = ?", (spill.mark_key,)) as cursor:
                        found = await cursor.fetchone()
                    leftovers = spill.unreplayed(None if found is None else str(found[0]))
                    await conn.executemany(_INSERT, leftovers)
                    replayed = len(leftovers)
                await conn.execute(_SET_MARK, (spill.mark_key, spill.mark(), time.time_ns() // 1_000_000))
                retired = spill.retired_key
                if retired is not None:
                    await conn.execute("DELETE FROM meta WHERE key = ?", (retired,))
            if batch:
                await conn.executemany(_INSERT, batch)
        if spill is not None:
            if replayed:
                self._forget_tallies()
            if spill.retired_key == retired:
                spill.retired_key = None
            await asyncio.to_thread(spill.committed)
        return replayed

    async def _settle(self) -> None:
        """Wait for a write left running by a cancelled flush(), so the buffer and the table agree."""
        writing = self._writing
        if writing is not None and not writing.done():
            with contextlib.suppress(Exception):
                await asyncio.shield(writing)

    async def _run(self) -> None:
        failures = 0
        self._fault = self._db.unavailable  # a database down at the start was said once then; not again here
        while not self._stop.is_set():
            delay = min(self.flush_interval * 2**failures, self.max_backoff)
            # While failing, a full batch does not cut the back-off short; only close() does.
            event = self._wake if failures == 0 else self._stop
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout=delay)
            if self._stop.is_set():
                break
            self._wake.clear()
            try:
                await self.flush()
            except Exception as exc:
                failures += 1
                fault = self._fault_of(exc)
                if fault is None:
                    log.error(
                        "writing views failed (attempt %d); %d views kept for retry",
                        failures,
                        len(self._buffer),
                        exc_info=True,
                    )
                elif fault != self._fault:  # a fault of the file or the disk: one line when it starts, not a
                    self._fault = fault  # traceback per attempt
                    log.error("%s; %d views kept for retry until it is back", fault, len(self._buffer))
            else:
                if failures:
                    log.info("writing views works again after %d failed attempts", failures)
                failures = 0
                self._fault = None
                try:
                    await self._check_other_writers()
                except Exception as exc:
                    self._forget_tallies()
                    if self._fault_of(exc) is None:  # a fault of the file was said once, when it started
                        log.warning("could not check the database for other writers", exc_info=True)

    def _fault_of(self, exc: BaseException) -> str | None:
        """One line for a fault of the database file or its disk (read-only, full, locked...), else None."""
        if isinstance(exc, StorageUnavailable) or (isinstance(exc, sqlite3.Error) and is_environmental(exc)):
            return describe_fault(self._db.path, exc)
        return None

    async def close(self, *, attempts: int = 3) -> None:
        """Stop the flusher and write everything left. Idempotent.

        The final write is tried ``attempts`` times; if it still fails the error is logged with the number of
        views lost and re-raised (the view log is closed either way).
        """
        if self._closed:
            return
        self._stop.set()
        self._wake.set()
        try:
            spill = self._spill
            if spill is not None:  # first, so that a database that never answers loses nothing
                async with self._flush_lock:
                    await self._settle()
                    self._spilled = await self._to_spill(spill, self._buffer, self._spilled)
            task = self._task
            if task is not None and not task.done():
                await asyncio.wait({task})  # unlike awaiting it, never cancels the flusher
            if spill is not None and self._spilled >= len(self._buffer):
                attempts = 1  # all in the side file: one try, then the next start writes them
            for attempt in range(1, attempts + 1):
                try:
                    while self._buffer or (spill is not None and spill.leftovers):
                        await self.flush()
                    break
                except Exception as exc:
                    if spill is not None and self._spilled >= len(self._buffer):
                        why = "" if str(exc) == self._fault else f" ({exc})"
                        log.warning(
                            "%d views are kept in %s; the next start writes them%s", len(self._buffer), spill.path, why
                        )
                        break
                    if attempt == attempts:
                        log.error("could not write the last %d views on close; lost", len(self._buffer))
                        raise
                    log.warning("writing views on close failed (attempt %d); retrying", attempt, exc_info=True)
                    await asyncio.sleep(0.1 * attempt)
        finally:
            self._closed = True
            if self._spill is not None:
                self._spill.close()

    # -- queries ---------------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _consistent(self) -> AsyncIterator[None]:
        # Holding the flush lock, every view is either in the table or in the buffer, never both or neither.
        # Read the table first, then the buffer: views recorded meanwhile are only in the buffer.
        async with self._flush_lock:
            await self._settle()
            yield

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """The rows of a query on the table; none when the database cannot be read (unavailable, damaged, a disk
        error): the answer then comes from memory alone, is not kept as a tally, and the fault is logged once."""
        try:
            return await self._db.fetchall(sql, params)
        except sqlite3.Error as exc:
            fault = self._fault_of(exc)
            if fault is None:
                raise
            self._unread += 1
            if fault != self._read_fault:
                self._read_fault = fault
                log.error("%s; view counts come from memory until it can be read", fault)
            return []

    def _buffered(self, guild_id: int | None = None) -> list[_Row]:
        if guild_id is None:
            return list(self._buffer)
        return [row for row in self._buffer if row[1] == guild_id]

    async def _guild_tally(self, guild_id: int) -> collections.Counter[str]:
        """Views per card in ``guild_id`` (table + buffer), from memory after the first call."""
        counts = self._guild_counts.get(guild_id)
        if counts is not None:
            self._guild_counts.move_to_end(guild_id)
            return counts
        generation, unread = self._generation, self._unread
        async with self._consistent():
            counts = self._guild_counts.get(guild_id)  # loaded while this call waited for the lock
            if counts is not None:
                return counts
            rows = await self._rows(
                "SELECT card_id, COUNT(*) FROM views WHERE guild_id = ? GROUP BY card_id", (guild_id,)
            )
            counts = collections.Counter({card_id: n for card_id, n in rows})
            # No await from here on: views recorded from now on update the installed tally.
            counts.update(row[0] for row in self._buffer if row[1] == guild_id)
            if generation == self._generation and unread == self._unread:
                self._guild_counts[guild_id] = counts
                while len(self._guild_counts) > self.max_tallied_guilds:
                    self._guild_counts.popitem(last=False)
        return counts

    async def _user_tally(self, user_id: int, guild_id: int) -> set[str]:
        """Cards ``user_id`` has seen in ``guild_id`` (table + buffer), from memory after the first call."""
        key = (user_id, guild_id)
        seen = self._user_seen.get(key)
        if seen is not None:
            self._user_seen.move_to_end(key)
            return seen
        generation, unread = self._generation, self._unread
        async with self._consistent():
            seen = self._user_seen.get(key)
            if seen is not None:
                return seen
            rows = await self._rows(
                "SELECT DISTINCT card_id FROM views WHERE user_id = ? AND guild_id = ?", (user_id, guild_id)
            )
            seen = {row[0] for row in rows}
            seen.update(row[0] for row in self._buffer if row[3] == user_id and row[1] == guild_id)
            if generation == self._generation and unread == self._unread:
                self._user_seen[key] = seen
                while len(self._user_seen) > self.max_tallied_users:
                    self._user_seen.popitem(last=False)
        return seen

    async def count(self, card_id: str, guild_id: int | None = None) -> int:
        """How many times ``card_id`` was shown (in ``guild_id``, or anywhere), including buffered views."""
        if guild_id is not None:
            return (await self._guild_tally(guild_id))[card_id]
        params: list[Any] = [card_id]
        sql = "SELECT COUNT(*) FROM views WHERE card_id = ?" + _guild_clause(guild_id, params)
        async with self._consistent():
            stored = sum(row[0] for row in await self._rows(sql, params))
            return int(stored) + sum(1 for row in self._buffered(guild_id) if row[0] == card_id)

    async def counts(self, card_ids: Iterable[str], guild_id: int | None = None) -> dict[str, int]:
        """``{card_id: views}`` for each of ``card_ids`` (0 when never shown), including buffered views."""
        wanted = list(dict.fromkeys(card_ids))
        if not wanted:
            return {}
        if guild_id is not None:
            counts = await self._guild_tally(guild_id)
            return {card_id: counts[card_id] for card_id in wanted}
        result = dict.fromkeys(wanted, 0)
        async with self._consistent():
            for chunk in chunked(wanted):
                sql = f"SELECT card_id, COUNT(*) FROM views WHERE card_id IN ({marks(len(chunk))}) GROUP BY card_id"
                for card_id, n in await self._rows(sql, chunk):
                    result[card_id] += n
            for row in self._buffered(guild_id):
                if row[0] in result:
                    result[row[0]] += 1
        return result

    async def _by_card(self, guild_id: int | None) -> collections.Counter[str]:
        params: list[Any] = []
        sql = "SELECT card_id, COUNT(*) FROM views WHERE TRUE" + _guild_clause(guild_id, params) + " GROUP BY card_id"
        counter: collections.Counter[str] = collections.Counter()
        for card_id, n in await self._rows(sql, params):
            counter[card_id] = n
        return counter

    async def views_by_card(self, guild_id: int | None = None) -> dict[str, int]:
        """``{card_id: views}`` for every card ever shown (in ``guild_id``, or anywhere)."""
        if guild_id is not None:  # kept in memory per server, as for count() and counts()
            return {card_id: n for card_id, n in (await self._guild_tally(guild_id)).items() if n}
        async with self._consistent():
            counter = await self._by_card(guild_id)
            counter.update(row[0] for row in self._buffered(guild_id))
        return dict(counter)

    async def stats(
        self, guild_id: int | None = None, top: int = 10, *, days: int = 7, now: dt.datetime | None = None
    ) -> Stats:
        """Totals, the ``top`` cards, views per command and per UTC day for the last ``days`` days.

        Group cards by collection with :meth:`views_by_card`; only the caller knows card -> collection.
        """
        today = (now or _utcnow()).astimezone(dt.UTC).date()
        first_day = today - dt.timedelta(days=days - 1)
        since_ms = (dt.datetime.combine(first_day, dt.time(), dt.UTC) - _EPOCH) // _ONE_MS
        cmd_params: list[Any] = []
        cmd_sql = "SELECT command, COUNT(*) FROM views WHERE TRUE" + _guild_clause(guild_id, cmd_params)
        day_params: list[Any] = [since_ms]
        day_sql = "SELECT at_ms / 86400000, COUNT(*) FROM views WHERE at_ms >= ?" + _guild_clause(guild_id, day_params)
        async with self._consistent():
            by_card = await self._by_card(guild_id)
            by_command: collections.Counter[str] = collections.Counter(
                {cmd: n for cmd, n in await self._rows(cmd_sql + " GROUP BY command", cmd_params)}
            )
            by_day_num: collections.Counter[int] = collections.Counter(
                {day: n for day, n in await self._rows(day_sql + " GROUP BY 1", day_params)}
            )
            for card_id, _g, _c, _u, command, at_ms in self._buffered(guild_id):
                by_card[card_id] += 1
                by_command[command] += 1
                if at_ms >= since_ms:
                    by_day_num[at_ms // _DAY_MS] += 1
        epoch_day = dt.date(1970, 1, 1)
        by_day = [
            (day, by_day_num.get((day - epoch_day).days, 0))
            for day in (first_day + dt.timedelta(days=i) for i in range(days))
        ]
        ranked = sorted(by_card.items(), key=lambda item: (-item[1], item[0]))
        return Stats(
            total_views=sum(by_card.values()),
            top_cards=ranked[: max(top, 0)],
            by_command=dict(sorted(by_command.items(), key=lambda item: (-item[1], item[0]))),
            by_day=by_day,
        )

    async def seen_by_user(self, user_id: int, guild_id: int | None = None) -> AbstractSet[str]:
        """Card ids ``user_id`` has been shown (in ``guild_id``, or anywhere).

        In a server this is the set kept in memory, not a copy (a reader's set grows with every card they see, and
        ``/fact random`` asks for it each time): it grows with the views recorded after it was returned, so read
        it before the next ``await`` or copy it."""
        if guild_id is not None:
            return await self._user_tally(user_id, guild_id)
        params: list[Any] = [user_id]
        sql = "SELECT DISTINCT card_id FROM views WHERE user_id = ?" + _guild_clause(guild_id, params)
        async with self._consistent():
            seen = {row[0] for row in await self._rows(sql, params)}
            seen.update(row[0] for row in self._buffered(guild_id) if row[3] == user_id)
        return seen

    async def seen_in_guild(self, guild_id: int) -> set[str]:
        """Card ids shown anywhere in ``guild_id``."""
        async with self._consistent():
            rows = await self._rows("SELECT DISTINCT card_id FROM views WHERE guild_id = ?", (guild_id,))
            seen = {row[0] for row in rows}
            seen.update(row[0] for row in self._buffered(guild_id))
        return seen


def _retrieve(future: asyncio.Future[None]) -> None:
    # Mark a shielded write's exception as retrieved; flush() or the flusher reports it.
    if not future.cancelled():
        future.exception()
