"""``factdeck migrate`` and ``factdeck db copy``: the database's schema and moving data between engines.

:func:`add_db_commands` is picked up by :mod:`bot.cli.main`. A database is named as in the config's ``database``:
a SQLite file's path, or a ``postgresql://user@host/db`` URL (its password from ``FACTDECK_DATABASE_PASSWORD``
or a ``PGPASSFILE``, never in the URL).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Never

from tqdm import tqdm

from bot.settings import SettingsError, default_config_path, load_settings
from bot.storage import Database, MigrationError, StorageUnavailable
from bot.storage.copy import CopyError, TableCopy, copy_database
from bot.storage.db import display_target

__all__ = ["add_db_commands"]


async def _migrate(target: str) -> tuple[list[int], int]:
    async with Database(target) as db:
        versions = [v for v, _, _ in await db.migrations()]
        return db.applied_now, max(versions, default=0)


def cmd_migrate(args: argparse.Namespace) -> int:
    """Apply the pending migrations to the configured database (the bot also does this at start)."""
    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        print(f"factdeck: {exc}", file=sys.stderr)
        return 2
    target = settings.database_target
    try:
        applied, version = asyncio.run(_migrate(target))
    except (StorageUnavailable, MigrationError) as exc:
        print(f"factdeck: {exc}", file=sys.stderr)
        return 1
    shown = display_target(target)
    if applied:
        print(f"{shown}: applied {', '.join(f'{v:04d}' for v in applied)}; the schema is at {version:04d}")
    else:
        print(f"{shown}: the schema is current ({version:04d})")
    return 0


async def _copy(source: str, target: str, replace: bool) -> list[TableCopy]:
    bars: dict[str, tqdm[Never]] = {}  # bars without an iterable

    def progress(table: str, done: int, total: int) -> None:
        if table not in bars:
            bars[table] = tqdm(total=total, desc=table, unit="rows", leave=True, file=sys.stderr)
        bars[table].update(done - bars[table].n)

    try:
        async with Database(source) as src, Database(target) as dst:
            return await copy_database(src, dst, replace=replace, progress=progress)
    finally:
        for bar in bars.values():
            bar.close()


def cmd_db_copy(args: argparse.Namespace) -> int:
    """Copy every table from SOURCE to TARGET (SQLite file or PostgreSQL URL), then compare the row counts."""
    try:
        copied = asyncio.run(_copy(args.source, args.target, args.replace))
    except (ValueError, StorageUnavailable, MigrationError, CopyError) as exc:
        print(f"factdeck: {exc}", file=sys.stderr)
        return 1
    rows = sum(c.target_rows for c in copied)
    print(
        f"copied {rows} rows in {len(copied)} tables from {display_target(args.source)} to "
        f"{display_target(args.target)}; every table's row count matches"
    )
    return 0


def add_db_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``migrate`` and ``db copy`` to the ``factdeck`` parser."""
    p = sub.add_parser("migrate", help="apply the database's pending migrations (the bot does it at start too)")
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        help=f"settings file (default: $FACTDECK_CONFIG or {default_config_path()})",
    )
    p.set_defaults(func=cmd_migrate)
    p = sub.add_parser("db", help="move the bot's data between databases")
    db_sub = p.add_subparsers(dest="db_command", metavar="DB_COMMAND", required=True)
    c = db_sub.add_parser(
        "copy", help="copy every table from SOURCE to TARGET (SQLite file <-> postgresql:// URL), checked by counts"
    )
    c.add_argument("source", help="the database to read: a SQLite file or a postgresql://user@host/db URL")
    c.add_argument("target", help="the database to fill (migrated first; must be empty unless --replace)")
    c.add_argument("--replace", action="store_true", help="delete the target's rows first (in the same transaction)")
    c.set_defaults(func=cmd_db_copy)
