"""Read-only figures over the view log for charts: views per card per UTC day (table ``views``, migration 0001).

The view log buffers views in memory; flush it first (:meth:`bot.storage.ViewLog.flush`) to count them too.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .db import Database

__all__ = ["Activity"]

_DAY_MS = 86_400_000
_EPOCH_DAY = dt.date(1970, 1, 1)


class Activity:
    """Views grouped by card and day."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def views_by_card_day(self, *, since: dt.date, guild_id: int | None = None) -> list[tuple[str, dt.date, int]]:
        """``[(card_id, day, views)]`` for every card shown since ``since`` (in ``guild_id``, or anywhere)."""
        since_ms = (since - _EPOCH_DAY).days * _DAY_MS
        params: list[Any] = [since_ms]
        sql = "SELECT card_id, at_ms / 86400000, COUNT(*) FROM views WHERE at_ms >= ?"
        if guild_id is not None:
            sql += " AND guild_id = ?"
            params.append(guild_id)
        rows = await self._db.fetchall(sql + " GROUP BY card_id, at_ms / 86400000", params)
        return [(str(card), _EPOCH_DAY + dt.timedelta(days=int(day)), int(n)) for card, day, n in rows]
