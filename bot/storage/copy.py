"""``factdeck db copy``: move an installation's data between engines (SQLite to PostgreSQL, and back).

Both databases are opened (so both are migrated to this code's schema), every table of the source is copied
into the same table of the target in one transaction (a failed copy leaves the target as it was), identity
counters are moved past the copied ids on PostgreSQL, and the row counts of every table are compared at the end.
Stop the bot first: rows written to the source during the copy may be missed (the counts then say so).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from .db import Connection, Database

__all__ = ["CopyError", "TableCopy", "copy_database"]

#: Rows read and written per statement batch.
BATCH = 2000


class CopyError(RuntimeError):
    """The copy cannot start (target not empty, schemas differ) or its row counts do not match."""


@dataclasses.dataclass(frozen=True, slots=True)
class TableCopy:
    """One table copied: its name and its row count in the source and in the target afterwards."""

    table: str
    source_rows: int
    target_rows: int


#: ``progress(table, rows copied so far in it, rows in it)``, called after each batch.
Progress = Callable[[str, int, int], None]


async def _columns(db: Database, table: str) -> list[str]:
    if db.engine == "postgresql":
        rows = await db.fetchall(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = ? ORDER BY ordinal_position",
            (table,),
        )
        return [str(row[0]) for row in rows]
    return [str(row["name"]) for row in await db.fetchall(f'PRAGMA table_info("{table}")')]


async def _count(db: Database, table: str) -> int:
    return int(await db.fetchval(f'SELECT COUNT(*) FROM "{table}"'))


async def copy_database(
    source: Database, target: Database, *, replace: bool = False, progress: Progress | None = None
) -> list[TableCopy]:
    """Copy every table of ``source`` (open) into ``target`` (open); return the per-table row counts.

    Raises :class:`CopyError` when the two schemas differ, when ``target`` already holds rows (unless
    ``replace``: then they are deleted in the same transaction), or when a table's count differs afterwards.
    """
    versions = [v for v, _, _ in await source.migrations()], [v for v, _, _ in await target.migrations()]
    if versions[0] != versions[1]:
        raise CopyError(f"the schemas differ (source migrations {versions[0]}, target {versions[1]})")
    tables = [t for t in await source.tables() if t != "schema_migrations"]
    missing = sorted(set(tables) - set(await target.tables()))
    if missing:
        raise CopyError(f"the target has no table {', '.join(missing)}")
    filled = [t for t in tables if await _count(target, t)]
    if filled and not replace:
        raise CopyError(
            f"the target already holds rows (in {', '.join(filled)}); copy into an empty database, or pass --replace"
        )
    plan: list[tuple[str, list[str], int]] = []
    for table in tables:
        wanted = set(await _columns(target, table))
        columns = [c for c in await _columns(source, table) if c in wanted]
        plan.append((table, columns, await _count(source, table)))
    async with target.transaction() as conn:
        for table in filled:
            await conn.execute(f'DELETE FROM "{table}"')
        for table, columns, total in plan:
            await _copy_table(source, conn, table, columns, total, progress)
        if target.engine == "postgresql":
            await _move_identities(conn, [table for table, _, _ in plan])
    result = [TableCopy(table, total, await _count(target, table)) for table, _, total in plan]
    wrong = [c for c in result if c.source_rows != c.target_rows]
    if wrong:
        shown = ", ".join(f"{c.table} {c.source_rows} -> {c.target_rows}" for c in wrong)
        raise CopyError(f"row counts differ after the copy ({shown}); was the bot still writing to the source?")
    return result


async def _copy_table(
    source: Database, conn: Connection, table: str, columns: Sequence[str], total: int, progress: Progress | None
) -> None:
    names = ", ".join(f'"{c}"' for c in columns)
    insert = f'INSERT INTO "{table}" ({names}) VALUES ({", ".join(["?"] * len(columns))})'
    done = 0
    if progress is not None:
        progress(table, 0, total)
    while done < total:
        rows = await source.fetchall(f'SELECT {names} FROM "{table}" ORDER BY {names} LIMIT ? OFFSET ?', (BATCH, done))
        if not rows:
            break
        await conn.executemany(insert, [tuple(row) for row in rows])
        done += len(rows)
        if progress is not None:
            progress(table, done, total)


async def _move_identities(conn: Connection, tables: Sequence[str]) -> None:
    """Copied ids were given explicitly: move each identity counter past the highest, or the next row clashes."""
    rows = await conn.execute_fetchall(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND is_identity = 'YES'"
    )
    for table, column in ((str(r[0]), str(r[1])) for r in rows):
        if table in tables:
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'), "
                f'COALESCE(MAX("{column}"), 1), MAX("{column}") IS NOT NULL) FROM "{table}"'
            )
