"""The audit log: who changed which card or collection, when, and what it looked like before and after."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any, Literal, get_args

from .db import Database, Row
from .views import check_snowflake

__all__ = ["ACTIONS", "STATES", "Action", "AuditEntry", "AuditLog", "State"]

log = logging.getLogger(__name__)

Action = Literal["add", "edit", "remove", "import", "reload"]
#: The actions :meth:`AuditLog.record` accepts.
ACTIONS: frozenset[str] = frozenset(get_args(Action))

State = Literal["pending", "done", "not written"]
#: A row's states: written before its file (``pending``), then ``done``, or ``not written`` if the write was not.
STATES: frozenset[str] = frozenset(get_args(State))

_COLUMNS = (
    "id, at_ms, action, card_id, collection_id, guild_id, moderator_id, moderator_name, before_json, after_json,"
    " detail, state"
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
    state: str = "done"


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


def _entry(row: Row) -> AuditEntry:
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
        state=row["state"],
    )


_INSERT = (
    "INSERT INTO audit_log (at_ms, action, card_id, collection_id, guild_id, moderator_id, "
    "moderator_name, before_json, after_json, detail, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
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
    state: State = "done",
) -> tuple[Any, ...]:
    """One audit row's parameters, checked."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; expected one of {sorted(ACTIONS)}")
    if state not in STATES:
        raise ValueError(f"unknown audit state {state!r}; expected one of {sorted(STATES)}")
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
        state,
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
        state: State = "done",
    ) -> int:
        """Store one change; return its id. ``before``/``after`` are stored as JSON (dates as ISO strings).

        A write records its row ``pending`` before touching the file and marks it with :meth:`settle` after.
        """
        params = _row(
            action, card_id, collection_id, guild_id, moderator_id, moderator_name, before, after, detail, at, state
        )
        async with self._db.transaction() as conn:
            found = await conn.execute_fetchall(_INSERT + " RETURNING id", params)
        return int(found[0][0])

    async def record_many(self, entries: Iterable[Mapping[str, Any]]) -> int:
        """Store many changes (each the keyword arguments of :meth:`record`, with ``action``) in one
        transaction, as an import or reload does for every card it changes; return how many were stored."""
        rows = [_row(**entry) for entry in entries]
        if rows:
            async with self._db.transaction() as conn:
                await conn.executemany(_INSERT, rows)
        return len(rows)

    async def begin(self, entries: Iterable[Mapping[str, Any]]) -> list[int]:
        """Store the rows of a write about to reach its file, ``pending``, in one transaction; return their ids
        for :meth:`settle`. A start finds the rows a crash left pending (:meth:`pending`)."""
        rows = [_row(**{**entry, "state": "pending"}) for entry in entries]
        ids: list[int] = []
        if rows:
            async with self._db.transaction() as conn:
                for row in rows:
                    found = await conn.execute_fetchall(_INSERT + " RETURNING id", row)
                    ids.append(int(found[0][0]))
        return ids

    async def settle(self, entry_ids: Iterable[int], state: State) -> None:
        """Mark pending rows ``done`` (their write reached the file and is served) or ``not written``."""
        if state not in STATES:
            raise ValueError(f"unknown audit state {state!r}; expected one of {sorted(STATES)}")
        rows = [(state, entry_id) for entry_id in entry_ids]
        if rows:
            await self._db.executemany("UPDATE audit_log SET state = ? WHERE id = ? AND state = 'pending'", rows)

    async def pending(self) -> list[AuditEntry]:
        """The rows whose write was under way when the bot last stopped (oldest first)."""
        rows = await self._db.fetchall(f"SELECT {_COLUMNS} FROM audit_log WHERE state = 'pending' ORDER BY id")
        return [_entry(row) for row in rows]

    # -------------------------------------------------------------------------------- card id high-water marks
    async def marks(self) -> dict[str, int]:
        """Per card id prefix, the highest number ever given to a card ``<prefix>-NNN``."""
        rows = await self._db.fetchall("SELECT prefix, last_number FROM card_id_marks")
        return {row["prefix"]: int(row["last_number"]) for row in rows}

    async def card_ids(self) -> set[str]:
        """Every card id the audit log mentions (to seed the marks from a log older than them)."""
        rows = await self._db.fetchall("SELECT DISTINCT card_id FROM audit_log WHERE card_id IS NOT NULL")
        return {row["card_id"] for row in rows}

    async def raise_marks(self, marks: Mapping[str, int]) -> None:
        """Record that numbers up to ``marks[prefix]`` were given out (a mark never goes down)."""
        rows = [(prefix, number) for prefix, number in marks.items() if number > 0]
        if rows:
            await self._db.executemany(
                "INSERT INTO card_id_marks (prefix, last_number) VALUES (?, ?) ON CONFLICT (prefix) "
                "DO UPDATE SET last_number = "
                "CASE WHEN excluded.last_number > card_id_marks.last_number THEN excluded.last_number "
                "ELSE card_id_marks.last_number END",
                rows,
            )

    async def history(self, card_id: str, limit: int = 25) -> list[AuditEntry]:
        """The changes to ``card_id`` that were written (or are being written), newest first."""
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM audit_log WHERE card_id = ? AND state <> 'not written' ORDER BY id DESC LIMIT ?",
            (card_id, limit),
        )
        return [_entry(row) for row in rows]

    async def recent(self, guild_id: int | None = None, limit: int = 25) -> list[AuditEntry]:
        """The latest changes made in ``guild_id`` (or anywhere when ``None``), newest first; a change that was
        refused or undone (``not written``) is left out."""
        if guild_id is None:
            rows = await self._db.fetchall(
                f"SELECT {_COLUMNS} FROM audit_log WHERE state <> 'not written' ORDER BY id DESC LIMIT ?", (limit,)
            )
        else:
            rows = await self._db.fetchall(
                f"SELECT {_COLUMNS} FROM audit_log WHERE guild_id = ? AND state <> 'not written' ORDER BY id DESC "
                "LIMIT ?",
                (guild_id, limit),
            )
        return [_entry(row) for row in rows]
