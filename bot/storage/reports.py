"""Readers' problem reports on cards: plain SQL behind methods (table: ``migrations/0008_reports.sql``).

One row per card, server and member: :meth:`ReportStore.submit` inserts it, or updates the member's earlier report
on that card (and opens it again if it was closed). Moderators close reports as ``fixed`` or ``dismissed`` and may
open them again. ``guild_id`` 0 stands for a direct message. The text is stored exactly as typed; escaping it is
the surface's job.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Sequence
from typing import Any, Literal, get_args

from .db import Database
from .views import check_snowflake

__all__ = ["STATUSES", "Report", "ReportStore", "Status"]

Status = Literal["open", "fixed", "dismissed"]
#: Every status a report can have.
STATUSES: tuple[str, ...] = get_args(Status)

_COLUMNS = (
    "id, card_id, collection_id, guild_id, reporter_id, reporter_name, kind, text, card_digest, status, created_ms,"
    " updated_ms, resolved_ms, resolved_by, resolver_name, resolution, audit_id"
)
_SUBMIT = (
    "INSERT INTO reports (card_id, collection_id, guild_id, reporter_id, reporter_name, kind, text, card_digest,"
    " status, created_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?)"
    " ON CONFLICT (card_id, guild_id, reporter_id) DO UPDATE SET collection_id = excluded.collection_id,"
    " reporter_name = excluded.reporter_name, kind = excluded.kind, text = excluded.text,"
    " card_digest = excluded.card_digest, status = 'open', updated_ms = excluded.updated_ms, resolved_ms = NULL,"
    " resolved_by = NULL, resolver_name = NULL, resolution = NULL, audit_id = NULL"
)


def _ms(at: dt.datetime | None) -> int:
    if at is None:
        return time.time_ns() // 1_000_000
    return int((at if at.tzinfo else at.replace(tzinfo=dt.UTC)).timestamp() * 1000)


def _at(ms: int | None) -> dt.datetime | None:
    return None if ms is None else dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


@dataclasses.dataclass(frozen=True, slots=True)
class Report:
    """One member's report on one card in one server (``guild_id`` 0: a direct message)."""

    id: int
    card_id: str
    collection_id: str | None
    guild_id: int
    reporter_id: int
    reporter_name: str
    kind: str
    text: str
    card_digest: str
    status: str
    created: dt.datetime
    updated: dt.datetime
    resolved: dt.datetime | None = None
    resolved_by: int | None = None
    resolver_name: str | None = None
    resolution: str | None = None
    audit_id: int | None = None


def _report(row: Sequence[Any]) -> Report:
    (rid, card_id, collection_id, guild_id, reporter_id, reporter_name, kind, text, digest, status, created, updated,
     resolved, resolved_by, resolver_name, resolution, audit_id) = row  # fmt: skip
    return Report(
        id=int(rid),
        card_id=card_id,
        collection_id=collection_id,
        guild_id=int(guild_id),
        reporter_id=int(reporter_id),
        reporter_name=reporter_name,
        kind=kind,
        text=text,
        card_digest=digest,
        status=status,
        created=_at(created) or dt.datetime.fromtimestamp(0, dt.UTC),
        updated=_at(updated) or dt.datetime.fromtimestamp(0, dt.UTC),
        resolved=_at(resolved),
        resolved_by=resolved_by,
        resolver_name=resolver_name,
        resolution=resolution,
        audit_id=audit_id,
    )


class ReportStore:
    """The ``reports`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def submit(
        self,
        *,
        card_id: str,
        collection_id: str | None,
        guild_id: int | None,
        reporter_id: int,
        reporter_name: str,
        kind: str,
        text: str,
        card_digest: str,
        at: dt.datetime | None = None,
    ) -> tuple[Report, bool]:
        """Store a report, or update the member's earlier one on this card here; return it and whether it is new."""
        check_snowflake("guild_id", guild_id)
        check_snowflake("reporter_id", reporter_id, optional=False)
        guild = guild_id or 0
        ms = _ms(at)
        key = (card_id, guild, reporter_id)
        where = " WHERE card_id = ? AND guild_id = ? AND reporter_id = ?"
        async with self._db.transaction() as conn:
            async with conn.execute("SELECT id FROM reports" + where, key) as cursor:
                existed = await cursor.fetchone() is not None
            params = (card_id, collection_id, guild, reporter_id, reporter_name, kind, text, card_digest, ms, ms)
            await conn.execute(_SUBMIT, params)
            async with conn.execute(f"SELECT {_COLUMNS} FROM reports" + where, key) as cursor:
                row = await cursor.fetchone()
        assert row is not None
        return _report(tuple(row)), not existed

    async def get(self, report_id: int) -> Report | None:
        """One report by id."""
        row = await self._db.fetchone(f"SELECT {_COLUMNS} FROM reports WHERE id = ?", (report_id,))
        return None if row is None else _report(tuple(row))

    async def find(
        self,
        *,
        status: str | None = "open",
        card_id: str | None = None,
        guild_id: int | None = None,
        since: dt.datetime | None = None,
    ) -> list[Report]:
        """Reports (with ``status``, on ``card_id``, from ``guild_id``, updated since ``since``), oldest first.

        ``None`` for a filter means any. The queue is shared by every server (the card library is), so the
        moderators' queue passes no ``guild_id``.
        """
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (("status", status), ("card_id", card_id), ("guild_id", guild_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            clauses.append("updated_ms >= ?")
            params.append(_ms(since))
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        rows = await self._db.fetchall(f"SELECT {_COLUMNS} FROM reports{where} ORDER BY created_ms, id", params)
        return [_report(tuple(row)) for row in rows]

    async def resolve(
        self,
        report_ids: Sequence[int],
        *,
        status: Literal["fixed", "dismissed"],
        moderator_id: int,
        moderator_name: str,
        resolution: str | None = None,
        audit_id: int | None = None,
        at: dt.datetime | None = None,
    ) -> list[Report]:
        """Close the open reports among ``report_ids``; return the ones this call closed (each reporter once)."""
        if status not in ("fixed", "dismissed"):
            raise ValueError(f"a report is resolved as fixed or dismissed, not {status!r}")
        check_snowflake("moderator_id", moderator_id, optional=False)
        return await self._set(
            report_ids,
            "open",
            "status = ?, resolved_ms = ?, resolved_by = ?, resolver_name = ?, resolution = ?, audit_id = ?",
            (status, _ms(at), moderator_id, moderator_name, resolution, audit_id),
        )

    async def reopen(self, report_ids: Sequence[int], *, at: dt.datetime | None = None) -> list[Report]:
        """Open the closed reports among ``report_ids`` again; return the ones this call opened."""
        return await self._set(
            report_ids,
            None,
            "status = 'open', updated_ms = ?, resolved_ms = NULL, resolved_by = NULL, resolver_name = NULL,"
            " resolution = NULL, audit_id = NULL",
            (_ms(at),),
        )

    async def _set(
        self, report_ids: Sequence[int], only: str | None, assignments: str, values: Sequence[Any]
    ) -> list[Report]:
        ids = list(dict.fromkeys(int(i) for i in report_ids))
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        state = "status = ?" if only is not None else "status <> 'open'"
        where = f" WHERE id IN ({marks}) AND {state}"
        wanted = (*ids, *((only,) if only is not None else ()))
        async with self._db.transaction() as conn:
            async with conn.execute(f"SELECT id FROM reports{where}", wanted) as cursor:
                changed = [int(row[0]) for row in await cursor.fetchall()]
            if not changed:
                return []
            marks = ", ".join("?" for _ in changed)
            await conn.execute(f"UPDATE reports SET {assignments} WHERE id IN ({marks})", (*values, *changed))
            async with conn.execute(f"SELECT {_COLUMNS} FROM reports WHERE id IN ({marks})", changed) as cursor:
                rows = await cursor.fetchall()
        return sorted((_report(tuple(row)) for row in rows), key=lambda r: r.id)
