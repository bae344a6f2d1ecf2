"""Factdeck's storage: one SQLite database behind a small facade the cogs hold.

    async with Storage.open("data/factdeck.db") as storage:
        storage.views.record(ViewEvent(card.id, guild_id, channel_id, user_id, "random"))
        n = await storage.views.count(card.id, guild_id)

or, for an app that opens in ``setup_hook`` and closes on shutdown::

    storage = await Storage.open(path)
    ...
    await storage.close()

SQL lives only in this package. New tables: add the next ``migrations/NNNN_name.sql`` and a repository class on
top of ``storage.db`` (``db.transaction()`` for writes, ``db.fetchall``/``fetchone`` for reads).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Generator
from importlib.resources.abc import Traversable
from types import TracebackType
from typing import Any, Self

from .audit import ACTIONS, Action, AuditEntry, AuditLog
from .daily import DailyStore
from .db import MAX_SNOWFLAKE, Database, Migration, MigrationError, load_migrations
from .meta import Meta
from .views import Stats, ViewEvent, ViewLog

__all__ = [
    "ACTIONS",
    "MAX_SNOWFLAKE",
    "Action",
    "AuditEntry",
    "AuditLog",
    "Database",
    "Meta",
    "Migration",
    "MigrationError",
    "Stats",
    "Storage",
    "ViewEvent",
    "ViewLog",
    "load_migrations",
]

log = logging.getLogger(__name__)


class Storage:
    """Owns the :class:`Database` and the repositories built on it: ``db``, ``meta``, ``views``, ``audit``, ``daily``.

    Create it with :meth:`open`; :meth:`close` writes the buffered views, then closes the database (idempotent).
    """

    def __init__(
        self,
        db: Database,
        *,
        flush_interval: float = 1.0,
        max_batch: int = 500,
        max_buffer: int | None = 250_000,
    ) -> None:
        self.db = db
        self.meta = Meta(db)
        self.views = ViewLog(db, flush_interval=flush_interval, max_batch=max_batch, max_buffer=max_buffer)
        self.audit = AuditLog(db)
        self.daily = DailyStore(db)
        self._closed = False

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
    ) -> _Opening:
        """Open the database at ``path`` (migrating it) and start the view flusher.

        Use ``async with Storage.open(path) as storage:`` or ``storage = await Storage.open(path)``.
        """
        db = Database(path, migrations_dir=migrations_dir, busy_timeout=busy_timeout)
        return _Opening(cls(db, flush_interval=flush_interval, max_batch=max_batch, max_buffer=max_buffer))

    async def _start(self) -> Self:
        await self.db.open()
        self.views.start()
        return self

    async def close(self) -> None:
        """Write every buffered view, then close the database. Idempotent; safe after a failed open."""
        if self._closed:
            return
        self._closed = True
        try:
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
