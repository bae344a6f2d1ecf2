"""When the bot left the servers that have collections of their own, and when those were archived.

Plain SQL behind methods, portable between SQLite and PostgreSQL (``ON CONFLICT ... DO UPDATE``; times as integer
milliseconds computed in Python).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .db import Database

__all__ = ["ServerDeckState", "ServerDecksStore"]


def _ms(at: dt.datetime) -> int:
    return int(at.timestamp() * 1000)


def _at(ms: int | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC) if ms is not None else None


@dataclass(frozen=True, slots=True)
class ServerDeckState:
    """A server's record: when the bot left it (None: it is there) and when its collections were archived."""

    guild_id: int
    left_at: dt.datetime | None
    archived_at: dt.datetime | None


class ServerDecksStore:
    """The ``server_decks`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def left(self, guild_id: int, at: dt.datetime) -> None:
        """The bot was removed from ``guild_id`` at ``at`` (a later removal keeps the first time)."""
        await self._db.execute(
            "INSERT INTO server_decks (guild_id, left_at_ms) VALUES (?, ?) ON CONFLICT (guild_id) "
            "DO UPDATE SET left_at_ms = COALESCE(server_decks.left_at_ms, excluded.left_at_ms)",
            (guild_id, _ms(at)),
        )

    async def joined(self, guild_id: int) -> None:
        """The bot is in ``guild_id`` (again): its collections are no longer due to be archived."""
        await self._db.execute("UPDATE server_decks SET left_at_ms = NULL WHERE guild_id = ?", (guild_id,))

    async def archived(self, guild_id: int, at: dt.datetime) -> None:
        """``guild_id``'s collections were archived at ``at``."""
        await self._db.execute(
            "INSERT INTO server_decks (guild_id, archived_ms) VALUES (?, ?) ON CONFLICT (guild_id) "
            "DO UPDATE SET archived_ms = excluded.archived_ms",
            (guild_id, _ms(at)),
        )

    async def states(self) -> dict[int, ServerDeckState]:
        """Every server's record, by id."""
        rows = await self._db.fetchall("SELECT guild_id, left_at_ms, archived_ms FROM server_decks")
        return {
            int(r["guild_id"]): ServerDeckState(int(r["guild_id"]), _at(r["left_at_ms"]), _at(r["archived_ms"]))
            for r in rows
        }

    async def due(self, before: dt.datetime) -> list[int]:
        """The servers the bot left at or before ``before`` whose collections are still served."""
        rows = await self._db.fetchall(
            "SELECT guild_id FROM server_decks "
            "WHERE left_at_ms IS NOT NULL AND left_at_ms <= ? AND archived_ms IS NULL",
            (_ms(before),),
        )
        return [int(r["guild_id"]) for r in rows]
