"""A small key/value store for bot state (for example the hash of the last synced command tree)."""

from __future__ import annotations

import logging
import time

from .db import Database, StorageUnavailable

__all__ = ["Meta"]

log = logging.getLogger(__name__)


class Meta:
    """String keys to string values, kept in the ``meta`` table.

    Bot state that can be rebuilt: while the database is unavailable, :meth:`get` finds nothing and :meth:`set`
    keeps nothing (the command tree is then synced at each start, as for a new database).
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, key: str) -> str | None:
        """The value stored under ``key``, or ``None``."""
        try:
            value = await self._db.fetchval("SELECT value FROM meta WHERE key = ?", (key,))
        except StorageUnavailable:
            return None
        return None if value is None else str(value)

    async def set(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``, replacing any previous value."""
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError("Meta keys and values are strings")
        if not self._db.is_open and self._db.unavailable is not None:
            log.debug("not keeping %s: %s", key, self._db.unavailable)
            return
        await self._db.execute(
            "INSERT INTO meta (key, value, updated_ms) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms",
            (key, value, time.time_ns() // 1_000_000),
        )

    async def delete(self, key: str) -> bool:
        """Remove ``key``; return whether it existed."""
        return await self._db.execute("DELETE FROM meta WHERE key = ?", (key,)) > 0
