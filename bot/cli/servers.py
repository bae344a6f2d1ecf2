"""``factdeck servers`` and ``factdeck promote``: the operator's side of servers' own collections.

``servers`` lists every server with collections of its own (``cards/servers/<id>/``): their ids, cards, bytes,
when they last changed, and, from the bot's database, when the bot left the server; ``--archive`` archives those
whose grace period (``server_decks.grace_days``) is over, as the running bot does every hour. ``promote`` moves a
server's collection into the shared library (a running bot serves it after ``/cards reload`` or a restart).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from bot.cli.bot_commands import _settings
from bot.settings import Settings

__all__ = ["add_server_commands"]


async def _states(settings: Settings) -> dict[int, tuple[dt.datetime | None, dt.datetime | None]]:
    from bot.storage import Storage

    if not settings.database.exists():
        return {}
    async with Storage.open(settings.database) as storage:
        return {g: (s.left_at, s.archived_at) for g, s in (await storage.decks.states()).items()}


async def _archive_due(settings: Settings, now: dt.datetime) -> list[tuple[int, str]]:
    from bot.curation.servers import archive_server
    from bot.storage import Storage

    done: list[tuple[int, str]] = []
    async with Storage.open(settings.database) as storage:
        for guild_id in await storage.decks.due(now - dt.timedelta(days=settings.server_decks.grace_days)):
            target = await asyncio.to_thread(archive_server, settings.cards_dir.resolve(), guild_id, now)
            await storage.decks.archived(guild_id, now)
            done.append((guild_id, str(target) if target is not None else "(no folder)"))
    return done


def _when(at: dt.datetime | None) -> str | None:
    return at.isoformat(timespec="seconds") if at is not None else None


def cmd_servers(args: argparse.Namespace) -> int:
    """List the servers with collections of their own; with ``--archive``, archive those past their grace."""
    from bot.cards.library import load_library
    from bot.curation.servers import server_summaries

    settings = _settings(args)
    if settings is None:
        return 2
    now = dt.datetime.now(dt.UTC)
    archived = asyncio.run(_archive_due(settings, now)) if args.archive and settings.database.exists() else []
    for guild_id, target in archived:
        print(f"archived server {guild_id}'s collections to {target}", file=sys.stderr)
    library = load_library(settings.cards_dir)
    states = asyncio.run(_states(settings))
    rows: list[dict[str, Any]] = []
    for summary in server_summaries(library):
        left, _archived = states.get(summary.guild_id, (None, None))
        rows.append(
            {
                "server": summary.guild_id,
                "collections": [{"id": c, "title": t, "cards": n} for c, t, n in summary.collections],
                "cards": summary.cards,
                "bytes": summary.bytes,
                "last_change": _when(summary.last_change),
                "bot_left": _when(left),
            }
        )
    if args.json:
        json.dump(rows, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    if not rows:
        print("No server has collections of its own.")
    for row in rows:
        gone = f", the bot left {row['bot_left']}" if row["bot_left"] else ""
        ids = ", ".join(f"{c['id']} ({c['cards']})" for c in row["collections"])
        print(f"{row['server']}: {row['cards']} cards, {row['bytes']:,} bytes, changed {row['last_change']}{gone}")
        print(f"  {ids}")
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    """Move a server's collection into the shared library."""
    from bot.cards.library import load_library
    from bot.curation import CurationError
    from bot.curation.servers import promote

    settings = _settings(args)
    if settings is None:
        return 2
    library = load_library(settings.cards_dir)
    try:
        written, removed = promote(library, args.server, args.collection, args.as_id)
    except CurationError as exc:
        print(f"factdeck: {exc.message}", file=sys.stderr)
        return 1
    print(f"promoted {removed} to {written}; the shared library serves it after /cards reload or a restart")
    return 0


def add_server_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``servers`` and ``promote`` to the ``factdeck`` parser."""
    config = argparse.ArgumentParser(add_help=False)
    config.add_argument("--config", type=Path, default=None, help="settings file (default: as for factdeck run)")
    p = sub.add_parser("servers", parents=[config], help="servers with collections of their own")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument("--archive", action="store_true", help="archive the collections of servers past their grace period")
    p.set_defaults(func=cmd_servers)
    p = sub.add_parser("promote", parents=[config], help="move a server's collection into the shared library")
    p.add_argument("server", type=int, help="the server id")
    p.add_argument("collection", help="the collection id, as in the server's file")
    p.add_argument("--as", dest="as_id", help="the id it gets in the shared library (default: the same)")
    p.set_defaults(func=cmd_promote)
