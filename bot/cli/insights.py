"""``factdeck reports``, ``factdeck insights`` and ``factdeck stats --chart``: curator insights on the command line,
read from the bot's database (the same answers as ``/cards reports``, ``/cards insights`` and ``/fact stats``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from bot.settings import Settings

if TYPE_CHECKING:  # imported when a command runs: matplotlib and the indexes are slow to import for --help
    from bot.insights import CardReports, SearchMisses
    from bot.service import CardService
    from bot.storage import Storage

__all__ = ["add_insight_commands", "counted_misses", "reports_json", "write_chart"]

T = TypeVar("T")
SERVER_HELP = (
    "what this Discord server sees: its readers' reports and searches on the shared library and its own "
    "collections (default: the shared library, every server's readers)"
)


def _report_rows(groups: list[CardReports]) -> list[dict[str, object]]:
    return [
        {
            "card": g.card_id,
            "exists": g.exists,
            "collection": g.detail.collection.id if g.detail else next((r.collection_id for r in g.reports), None),
            "reports": [
                {
                    "id": r.id,
                    "status": r.status,
                    "kind": r.kind,
                    "text": r.text,
                    "guild_id": r.guild_id or None,
                    "reporter_id": r.reporter_id,
                    "reporter": r.reporter_name,
                    "created": r.created.isoformat(),
                    "updated": r.updated.isoformat(),
                    "possibly_stale": g.stale(r) and g.exists,
                    "resolution": r.resolution,
                    "resolved_by": r.resolver_name,
                    "audit_id": r.audit_id,
                }
                for r in g.reports
            ],
        }
        for g in groups
    ]


def reports_json(groups: list[CardReports]) -> list[dict[str, object]]:
    """The queue as JSON: one object per card (most reported first), each with its reports."""
    return _report_rows(groups)


def _load(settings: Settings) -> CardService:
    from bot.service import CardService

    return CardService.load(settings.cards_dir, cache_dir=settings.effective_cache_dir)


def _with_storage(settings: Settings, work: Callable[[CardService, Storage], Awaitable[T]]) -> T | None:
    """Run ``work`` on the card service and the bot's database; None (and one line on stderr) when it cannot."""
    if not settings.database.exists():
        print(f"factdeck: no database at {settings.database} yet (run the bot first)", file=sys.stderr)
        return None

    from bot.storage import Storage, StorageUnavailable

    async def run() -> T:
        service = await asyncio.to_thread(_load, settings)
        async with Storage.open(settings.database) as storage:
            return await work(service, storage)

    try:
        return asyncio.run(run())
    except StorageUnavailable as exc:
        print(f"factdeck: {exc}", file=sys.stderr)
        return None


def _print_json(data: object) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def cmd_reports(args: argparse.Namespace, settings: Settings) -> int:
    """Readers' reports grouped by card, most reported first (``--status``, ``--collection``, ``--server``: the
    reports made in that server on the cards it sees; without it, the shared library's from every server)."""
    from bot.insights import EVERYWHERE, ReportDesk, ReportScope

    async def work(service: CardService, storage: Storage) -> list[CardReports]:
        status = None if args.status == "all" else args.status
        scope = EVERYWHERE if args.server is None else ReportScope(args.server)
        collection = args.collection and (service.resolve_collection(args.collection, args.server) or "\0")
        return await ReportDesk(service, storage.reports).queue(scope=scope, status=status, collection=collection)

    groups = _with_storage(settings, work)
    if groups is None:
        return 1
    if args.json:
        _print_json(reports_json(groups))
        return 0
    if not groups:
        print(f"No {args.status} reports.")
    for g in groups:
        mark = "" if g.exists else "  (no longer in the deck)"
        print(f"{g.card_id}: {len(g.reports)} report{'s' if len(g.reports) != 1 else ''}{mark}")
        for r in g.reports:
            stale = " [possibly stale]" if g.exists and g.stale(r) else ""
            text = " ".join(r.text.split()) or "(no details)"
            print(f"  #{r.id} {r.status} {r.kind} by {r.reporter_name}, {r.updated:%Y-%m-%d}{stale}: {text}")
    return 0


def cmd_insights(args: argparse.Namespace, settings: Settings) -> int:
    """Failed searches, most and least viewed, most reported (``--server``, ``--collection``, ``--days``)."""
    from bot.insights import gather

    async def work(service: CardService, storage: Storage) -> dict[str, object]:
        found = await gather(service, storage, guild_id=args.server, collection=args.collection, days=args.days)
        return found.as_json()

    data = _with_storage(settings, work)
    if data is None:
        return 1
    if args.json:
        _print_json(data)
        return 0
    for key in ("missed", "most_viewed", "least_viewed", "most_reported"):
        print(f"{key.replace('_', ' ')}:")
        rows = data[key]
        assert isinstance(rows, list)
        for row in rows:
            print("  " + ", ".join(f"{k}={v}" for k, v in row.items()))
    return 0


def write_chart(settings: Settings, guild: int | None, path: Path, *, days: int = 30) -> int:
    """Write the views chart (``/fact stats``'s) to ``path`` as a PNG, atomically; 0 when written."""
    from bot.insights import draw_views, views_chart_of
    from bot.util.files import atomic_write_bytes

    async def work(service: CardService, storage: Storage) -> bytes:
        chart = await views_chart_of(service, storage, guild_id=guild, days=days, today=dt.datetime.now(dt.UTC).date())
        return await asyncio.to_thread(draw_views, chart, title=f"Views per day, last {days} days")

    png = _with_storage(settings, work)
    if png is None:
        return 1
    try:
        atomic_write_bytes(path, png)
    except OSError as exc:
        print(f"factdeck: could not write {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"wrote the views chart to {path}", file=sys.stderr)
    return 0


@contextlib.contextmanager
def counted_misses(settings: Settings) -> Iterator[SearchMisses]:
    """Count the console's failed searches in memory, and add them to the bot's database when it ends."""
    from bot.insights import SearchMisses
    from bot.storage import Database, FailedSearchLog, StorageUnavailable

    db = Database(settings.database)
    counts = FailedSearchLog(db, retention_days=settings.insights.search_retention_days)
    try:
        yield SearchMisses(counts, threshold=settings.insights.miss_score)
    finally:
        if counts.pending:

            async def write() -> None:
                async with db:
                    await counts.flush()

            try:
                asyncio.run(write())
            except StorageUnavailable as exc:
                print(f"factdeck: the console's failed searches were not counted: {exc}", file=sys.stderr)


def add_insight_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    config: argparse.ArgumentParser,
    settings_of: Callable[[argparse.Namespace], Settings | None],
) -> None:
    """Add ``reports`` and ``insights`` to the ``factdeck`` parser (``config``: the ``--config`` parent)."""

    def with_settings(command: Callable[[argparse.Namespace, Settings], int]) -> Callable[[argparse.Namespace], int]:
        def run(args: argparse.Namespace) -> int:
            settings = settings_of(args)
            return 2 if settings is None else command(args, settings)

        return run

    p = sub.add_parser("reports", parents=[config], help="readers' problem reports, most reported cards first")
    p.add_argument("--status", choices=["open", "fixed", "dismissed", "all"], default="open")
    p.add_argument("--collection", help="only cards of this collection")
    p.add_argument("--server", type=int, metavar="ID", help=SERVER_HELP)
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=with_settings(cmd_reports))
    p = sub.add_parser("insights", parents=[config], help="failed searches, most and least viewed, most reported")
    p.add_argument("--server", "--guild", dest="server", type=int, metavar="ID", help=SERVER_HELP)
    p.add_argument("--collection", help="only this collection")
    p.add_argument("--days", type=int, default=30, help="how many days back (default 30)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=with_settings(cmd_insights))
