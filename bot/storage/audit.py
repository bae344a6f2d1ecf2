"""The audit log: who changed which card or collection, when, and what it looked like before and after."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import sqlite3
import time
from collections.abc import Iterable, Mapping
from typing import Any, Literal, get_args

from .db import Database
from .views import check_snowflake

__all__ = ["ACTIONS", "Action", "AuditEntry", "AuditLog"]

log = logging.getLogger(__name__)

Action = Literal["add", "edit", "remove", "import", "reload"]
#: The actions :meth:`AuditLog.record` accepts.
ACTIONS: frozenset[str] = frozenset(get_args(Action))

_COLUMNS = (
    "id, at_ms, action, card_id, collection_id, guild_id, moderator_id, moderator_name, before_json, after_json, detail"
)


@dataclasses.dataclass(frozen=True, slots=True)
class AuditEntry:
    """One moderator change. ``before``/``after`` are the JSON objects stored, ``None`` when absent."""

    id: int
    at: dt.datetime
    action: str
    card_id: str | None
    collection_id: str | None
    guild_id: int | None
    moderator_id: int | None
    moderator_name: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    detail: str | None


def _json_default(value: object) -> object:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=repr) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable; convert it first (msgspec.to_builtins)")


def _dump(value: Mapping[str, Any] | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError("before/after must be a mapping or None")
    return json.dumps(dict(value), ensure_ascii=False, sort_keys=True, default=_json_default)


def _entry(row: sqlite3.Row) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        at=dt.datetime.fromtimestamp(row["at_ms"] / 1000, dt.UTC),
        action=row["action"],
        card_id=row["card_id"],
        collection_id=row["collection_id"],
        guild_id=row["guild_id"],
        moderator_id=row["moderator_id"],
        moderator_name=row["moderator_name"],
        before=None if row["before_json"] is None else json.loads(row["before_json"]),
        after=None if row["after_json"] is None else json.loads(row["after_json"]),
        detail=row["detail"],
    )


_INSERT = (
    "INSERT INTO audit_log (at_ms, action, card_id, collection_id, guild_id, moderator_id, "
    "moderator_name, before_json, after_json, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _row(
    action: Action,
    card_id: str | None = None,
    collection_id: str | None = None,
    guild_id: int | None = None,
    moderator_id: int | None = None,
    moderator_name: str | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    detail: str | None = None,
    at: dt.datetime | None = None,
) -> tuple[Any, ...]:
    """One audit row's parameters, checked."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; expected one of {sorted(ACTIONS)}")
    check_snowflake("guild_id", guild_id)
    check_snowflake("moderator_id", moderator_id)
    if at is None:
        at_ms = time.time_ns() // 1_000_000
    else:
        at_ms = int((at if at.tzinfo else at.replace(tzinfo=dt.UTC)).timestamp() * 1000)
    return (
        at_ms,
        action,
        card_id,
        collection_id,
        guild_id,
        moderator_id,
        moderator_name,
        _dump(before),
        _dump(after),
        detail,
    )


class AuditLog:
    """Append-only record of moderator changes, written straight away (changes are rare and must not be lost)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(
        self,
        action: Action,
        *,
        card_id: str | None = None,
        collection_id: str | None = None,
        guild_id: int | None = None,
        moderator_id: int | None = None,
        moderator_name: str | None = None,
        before: Mapping[str, Any] | None = None,
        after: Mapping[str, Any] | None = None,
        detail: str | None = None,
        at: dt.datetime | None = None,
    ) -> int:
        """Store one change; return its id. ``before``/``after`` are stored as JSON (dates as ISO strings)."""
        params = _row(action, card_id, collection_id, guild_id, moderator_id, moderator_name, before, after, detail, at)
        async with self._db.transaction() as conn:
            cursor = await conn.execute(_INSERT, params)
            entry_id = cursor.lastrowid
            await cursor.close()
        if entry_id is None:  # pragma: no cover - SQLite always reports the rowid of an INSERT
            raise RuntimeError("SQLite did not report the audit entry id")
        return entry_id

    async def record_many(self, entries: Iterable[Mapping[str, Any]]) -> int:
        """Store many changes (each the keyword arguments of :meth:`record`, with ``action``) in one
        transaction, as an import or reload does for every card it changes; return how many were stored."""
        rows = [_row(**entry) for entry in entries]
        if rows:
            async with self._db.transaction() as conn:
                await conn.executemany(_INSERT, rows)
        return len(rows)

    async def history(self, card_id: str, limit: int = 25) -> list[AuditEntry]:
        """The changes to ``card_id``, newest first."""
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM audit_log WHERE card_id = ? ORDER BY id DESC LIMIT ?", (card_id, limit)
        )
        return [_entry(row) for row in rows]

    async def recent(self, guild_id: int | None = None, limit: int = 25) -> list[AuditEntry]:
        """The latest changes made in ``guild_id`` (or anywhere when ``None``), newest first."""
        if guild_id is None:
            rows = await self._db.fetchall(f"SELECT {_COLUMNS} FROM audit_log ORDER BY id DESC LIMIT ?", (limit,))
        else:
            rows = await self._db.fetchall(
                f"SELECT {_COLUMNS} FROM audit_log WHERE guild_id = ? ORDER BY id DESC LIMIT ?", (guild_id, limit)
            )
        return [_entry(row) for row in rows]
