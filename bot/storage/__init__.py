"""Factdeck's storage: one database (a SQLite file, or PostgreSQL shared by several processes) behind a small
facade the cogs hold.

    async with Storage.open("data/factdeck.db") as storage:
        storage.views.record(ViewEvent(card.id, guild_id, channel_id, user_id, "random"))
        n = await storage.views.count(card.id, guild_id)

or, for an app that opens in ``setup_hook`` and closes on shutdown::

    storage = await Storage.open(path)
    ...
    await storage.close()

A database that cannot be used (damaged, read-only, full, locked, a folder, not ours) raises
:class:`StorageUnavailable` from ``open``, one line that says what and where. The bot opens with
``in_memory_fallback=True`` instead: it then starts anyway, :attr:`Storage.unavailable` says why, the views are
kept in memory (and in the side file, :mod:`bot.storage.spill`) and the view flusher reopens the database at each
attempt until it is back; the other repositories raise :class:`StorageUnavailable` meanwhile (``meta`` reads
nothing and writes nothing).

SQL lives only in this package. New tables: add the next ``migrations/NNNN_name.sql`` and a repository class on
top of ``storage.db`` (``db.transaction()`` for writes, ``db.fetchall``/``fetchone`` for reads), in the portable
SQL :mod:`bot.storage.db` describes, so it runs on both engines. On PostgreSQL the views side file is the one the
caller names (``side_file``, a file of the process's own in its data folder); without one, views stay in memory
while the server is unreachable.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Generator
from importlib.resources.abc import Traversable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from .activity import Activity
from .audit import ACTIONS, Action, AuditEntry, AuditLog
from .cardbus import CardBus
from .daily import DailyStore
from .db import (
    MAX_SNOWFLAKE,
    Connection,
    Database,
    Migration,
    MigrationError,
    Row,
    StorageUnavailable,
    load_migrations,
)
from .decks import ServerDecksStore, ServerDeckState
from .meta import Meta
from .reports import Report, ReportStore
from .searches import FailedSearchLog, MissedQuery
from .spill import ViewSpill, spill_path
from .study import StudyStore
from .views import Stats, ViewEvent, ViewLog

__all__ = [
    "ACTIONS",
    "MAX_SNOWFLAKE",
    "Action",
    "Activity",
    "AuditEntry",
    "AuditLog",
    "CardBus",
    "Connection",
    "Database",
    "FailedSearchLog",
    "Meta",
    "Migration",
    "MigrationError",
    "MissedQuery",
    "Report",
    "ReportStore",
    "Row",
    "ServerDeckState",
    "ServerDecksStore",
    "Stats",
    "Storage",
    "StorageUnavailable",
    "StudyStore",
    "ViewEvent",
    "ViewLog",
    "load_migrations",
]

log = logging.getLogger(__name__)


class Storage:
    """Owns the :class:`Database` and its repositories: ``db``, ``meta``, ``views``, ``audit``, ``daily``, ``study``,
    ``reports``, ``searches`` (failed searches) and ``activity`` (views per day, for charts).
    and ``cards`` (card-file locks and change notices between processes).

    Create it with :meth:`open`; :meth:`close` writes the buffered views, then closes the database (idempotent).
    """

    def __init__(
        self,
        db: Database,
        *,
        flush_interval: float = 1.0,
        max_batch: int = 500,
        max_buffer: int | None = 250_000,
        in_memory_fallback: bool = False,
        side_file: str | os.PathLike[str] | None = None,
    ) -> None:
        self.db = db
        self.meta = Meta(db)
        # The side file keeps the views while the database cannot be written: beside a SQLite file, or (a server
        # has no file beside it) the file of this process's own that the caller names.
        spill: ViewSpill | None = None
        if db.engine == "postgresql":
            spill = None if side_file is None else ViewSpill(Path(side_file), shared=True)
        elif db.path != ":memory:":
            spill = ViewSpill(Path(side_file) if side_file is not None else spill_path(db.path))
        self.views = ViewLog(db, flush_interval=flush_interval, max_batch=max_batch, max_buffer=max_buffer, spill=spill)
        self.audit = AuditLog(db)
        self.daily = DailyStore(db)
        self.study = StudyStore(db)
        self.reports = ReportStore(db)
        self.activity = Activity(db)
        self.searches = FailedSearchLog(db, flush_interval=flush_interval)
        self.decks = ServerDecksStore(db)
        self.cards = CardBus(db)
        self.in_memory_fallback = in_memory_fallback
        self._closed = False

    @property
    def unavailable(self) -> str | None:
        """Why the database cannot be used now (one line), or None when it is open."""
        return None if self.db.is_open else self.db.unavailable

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        flush_interval: float = 1.0,
        max_batch: int = 500,
        max_buffer: int | None = 250_000,
        migrations_dir: Traversable | os.PathLike[str] | str | None = None,
        busy_timeout: float = 5.0,
        in_memory_fallback: bool = False,
        side_file: str | os.PathLike[str] | None = None,
    ) -> _Opening:
        """Open the database at ``path`` (migrating it), write the views an earlier run left in the side file,
        and start the view flusher.

        Use ``async with Storage.open(path) as storage:`` or ``storage = await Storage.open(path)``. Raises
        :class:`StorageUnavailable` when the database cannot be used, unless ``in_memory_fallback``. ``side_file``:
        where views wait while the database cannot be written (default: ``<file>-views`` beside a SQLite file, none
        for PostgreSQL; give each process on a shared PostgreSQL a file of its own).
        """
        db = Database(path, migrations_dir=migrations_dir, busy_timeout=busy_timeout)
        storage = cls(
            db,
            flush_interval=flush_interval,
            max_batch=max_batch,
            max_buffer=max_buffer,
            in_memory_fallback=in_memory_fallback,
            side_file=side_file,
        )
        return _Opening(storage)

    async def _start(self) -> Self:
        try:
            await self.db.open()
        except StorageUnavailable:
            if not self.in_memory_fallback:
                await self.close()
                raise
        await self.views.open_spill()
        self.views.start()
        self.searches.start()
        return self

    async def close(self) -> None:
        """Write every buffered view, then close the database. Idempotent; safe after a failed open."""
        if self._closed:
            return
        self._closed = True
        try:
            await self.searches.close()
            await self.cards.close()
            await self.views.close()
        finally:
            await self.db.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


class _Opening:
    """What :meth:`Storage.open` returns: await it, or use it with ``async with``."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def __await__(self) -> Generator[Any, None, Storage]:
        return self._storage._start().__await__()

    async def __aenter__(self) -> Storage:
        return await self._storage._start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._storage.close()
