"""``factdeck run``, ``web``, ``sync``, ``stats``, ``health``, ``reports`` and ``insights``: the bot's side of the
command line.

:func:`add_bot_commands` is picked up by :mod:`bot.cli.main`. Discord is imported only by the commands that need it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli.insights import add_insight_commands, counted_misses, write_chart
from bot.settings import Settings, SettingsError, default_config_path, load_settings, with_shards

if TYPE_CHECKING:
    from bot.service import CardService

__all__ = ["NO_TOKEN", "add_bot_commands"]

NO_TOKEN = """\
No Discord token is configured. To get one: open https://discord.com/developers/applications, create an
application, then Bot > Reset Token; put it in the DISCORD_TOKEN environment variable (never in a tracked file)
and invite the bot with the OAuth2 URL generator (scopes: bot, applications.commands).
Meanwhile, try the cards offline with: factdeck console"""


def _settings(args: argparse.Namespace) -> Settings | None:
    try:
        return load_settings(args.config)
    except SettingsError as exc:
        print(f"factdeck: {exc}", file=sys.stderr)
        return None


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _load_service(settings: Settings) -> CardService:
    from bot.service import CardService

    return CardService.load(
        settings.cards_dir, cache_dir=settings.effective_cache_dir, max_file_bytes=settings.max_card_file_bytes
    )


def cmd_run(args: argparse.Namespace) -> int:
    """Run the bot; with no token, open the offline console (in a terminal) or explain how to get one."""
    settings = _settings(args)
    if settings is None:
        return 2
    try:
        settings = with_shards(settings, args.shards, args.shard_count)
    except SettingsError as exc:
        print(f"factdeck: {exc}", file=sys.stderr)
        return 2
    if not settings.token:
        print(NO_TOKEN, file=sys.stderr)
        if not _interactive():
            return 2
        service = _load_service(settings)
        try:
            from bot.cli.console import run_console
        except ImportError:
            print("The offline console is not available in this build.", file=sys.stderr)
            return 2
        with counted_misses(settings) as misses:  # the console's failed searches count too (curator insights)
            return int(run_console(service, misses=misses) or 0)
    from bot.discord.app import main
    from bot.web.server import beside_the_bot

    return main(settings, beside=beside_the_bot(settings.web))


def cmd_web(args: argparse.Namespace) -> int:
    """Serve the collections as web pages (no Discord token needed), until Ctrl+C."""
    settings = _settings(args)
    if settings is None:
        return 2
    import logging

    from bot.web.server import run_alone

    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    service = _load_service(settings)
    for problem in service.library.errors:
        print(problem, file=sys.stderr)
    try:
        asyncio.run(run_alone(settings, service, host=args.host, port=args.port))
    except OSError as exc:
        where = f"{args.host or settings.web.host}:{settings.web.port if args.port is None else args.port}"
        print(f"factdeck: cannot serve the web pages at {where}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    """Sync the slash commands now, whether or not they changed."""
    settings = _settings(args)
    if settings is None:
        return 2
    if not settings.token:
        print(NO_TOKEN, file=sys.stderr)
        return 2
    from bot.discord.app import sync_now

    results = asyncio.run(sync_now(settings))
    if results is None:
        print("Discord rejected the token (DISCORD_TOKEN).", file=sys.stderr)
        return 1
    for result in results:
        target = "global" if result.guild_id is None else f"guild {result.guild_id}"
        print(f"synced {result.commands} commands to {target}")
    return 0 if results else 1


async def _stats(settings: Settings, guild: int | None) -> dict[str, Any]:
    from bot.service import CardService
    from bot.storage import Storage

    service = await asyncio.to_thread(CardService.load, settings.cards_dir, cache_dir=settings.effective_cache_dir)
    async with Storage.open(settings.database_target) as storage:
        stats = await storage.views.stats(guild, top=10)
        by_card = await storage.views.views_by_card(guild)
    return {
        "guild": guild,
        "total_views": stats.total_views,
        "top_cards": [{"card": c, "views": n} for c, n in stats.top_cards],
        "by_collection": service.views_per_collection(by_card, viewer=guild),
        "by_command": stats.by_command,
        "by_day": [{"date": d.isoformat(), "views": n} for d, n in stats.by_day],
    }


def cmd_stats(args: argparse.Namespace) -> int:
    """Views from the database: total, top cards, per collection, per command and per day."""
    settings = _settings(args)
    if settings is None:
        return 2
    if settings.database_url is None and not settings.database.exists():
        print(f"factdeck: no database at {settings.database} yet (run the bot first)", file=sys.stderr)
        return 1
    from bot.storage import StorageUnavailable

    try:
        data = asyncio.run(_stats(settings, args.guild))
    except StorageUnavailable as exc:
        print(f"factdeck: {exc}", file=sys.stderr)
        return 1
    if args.chart is not None and (failed := write_chart(settings, args.guild, args.chart)):
        return failed
    if args.json:
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    scope = f"guild {args.guild}" if args.guild else "all servers"
    print(f"{data['total_views']} views ({scope})")
    print("\nMost viewed cards:")
    for row in data["top_cards"]:
        print(f"  {row['views']:>7}  {row['card']}")
    print("\nViews per collection:")
    for collection, n in data["by_collection"].items():
        print(f"  {n:>7}  {collection}")
    print("\nViews per command (web: card pages read on the web):")
    for command, n in sorted(data["by_command"].items(), key=lambda item: -item[1]):
        print(f"  {n:>7}  {command}")
    return 0


def cmd_health(args: argparse.Namespace) -> int:
    """Exit 0 when the bot touched its health file within ``--max-age`` seconds (for container health checks)."""
    settings = _settings(args)
    if settings is None:
        return 2
    path = settings.health_file
    if path is None:
        print("factdeck: health_file is not configured", file=sys.stderr)
        return 2
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        print(f"unhealthy: {path} does not exist (not connected yet?)", file=sys.stderr)
        return 1
    if age > args.max_age:
        print(f"unhealthy: last heartbeat {age:.0f}s ago", file=sys.stderr)
        return 1
    print(f"healthy: last heartbeat {age:.0f}s ago")
    return 0


def _port(text: str) -> int:
    """A TCP port number (0: any free port), or an argparse error saying what is expected."""
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)")
    return int(text)


def add_bot_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``run``, ``web``, ``sync``, ``stats`` and ``health`` to the ``factdeck`` parser."""
    config = argparse.ArgumentParser(add_help=False)
    config.add_argument(
        "--config",
        type=Path,
        default=None,
        help=f"settings file (default: $FACTDECK_CONFIG or {default_config_path()})",
    )

    p = sub.add_parser("run", parents=[config], help="run the Discord bot (no token: the offline console)")
    p.add_argument("--shards", help="the gateway shards this process runs, e.g. 0-3 (default: all, as configured)")
    p.add_argument("--shard-count", type=int, help="how many shards all processes run together (with --shards)")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("web", parents=[config], help="serve the collections as web pages (docs/web.md)")
    p.add_argument("--host", help="address to listen on (default: web.host, 127.0.0.1)")
    p.add_argument("--port", type=_port, help="port to listen on, 0 for any free one (default: web.port, 8080)")
    p.set_defaults(func=cmd_web)
    p = sub.add_parser("sync", parents=[config], help="sync the slash commands to Discord now")
    p.set_defaults(func=cmd_sync)
    p = sub.add_parser("stats", parents=[config], help="card views from the bot's database")
    p.add_argument("--server", "--guild", dest="guild", type=int, metavar="ID", help="only this server (default: all)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument("--chart", type=Path, metavar="FILE.png", help="also write the views chart (/fact stats's) there")
    p.set_defaults(func=cmd_stats)
    p = sub.add_parser("health", parents=[config], help="exit 0 if the running bot is connected")
    p.add_argument("--max-age", type=float, default=120.0, help="seconds since the last heartbeat (default 120)")
    p.set_defaults(func=cmd_health)
    add_insight_commands(sub, config, _settings)
