"""Daily posts of many servers due at the same minute, against Discord's global rate limit.

Every server has a daily post at 10:00 UTC; the engine's clock is set to 10:00 and one ``run_due`` sends them all
through the real discord.py client to the fake Discord, which enforces the global rate limit (50 requests a second
per bot token, a 429 past it: ``tests/fakediscord/ratelimit.py``). The limit allows ``servers / rate`` seconds;
the target (issue 11) is every post out within 1.2 times that, none lost, and no 429. Beside it, in the same run:
the engine as it was before it paced its sends (concurrency 16, unpaced: it runs into the limit and waits out each
429), and servers posted one after the other (the engine's concurrency 1), the baseline the bounded concurrency
replaces (200 of them by default, to keep the run short: its time for every server is taken at the rate it measured).
The fake answers each REST request after ``--latency`` (100 ms by default, a typical round trip to Discord's API;
with none, one post after the other would already reach the limit on a fast machine).

The issue asks for 10,000 servers at 50 a second (200 s); on this shared 2-core machine the default is 1,000 servers
at 50 a second (20 s the limit allows), the same ratio of servers to rate. ``--servers 10000`` runs the full size.

The bot is a plain ``discord.Client`` with the shipped cards, a SQLite file and the engine as
``bot.discord.cogs.daily.daily_engine`` builds it (the real ``ChannelPoster`` and its pace, the real ledger claims,
Discord's failure classifier), all in this process with the fake; only the pace and the concurrency vary per run.

    .venv/bin/python -m benchmarks.bench_fanout [--servers 1000] [--rate 50] [--latency 0.1] [--pace 45]
        [--concurrency 50] [--no-unpaced] [--sequential-servers 200]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import discord

from bot.daily.engine import DEFAULT_CONCURRENCY, DailyEngine
from bot.daily.pacing import DEFAULT_POSTS_PER_SECOND, Pacer
from bot.discord.app import load_service
from bot.discord.cogs.daily import ChannelPoster, ServiceCards
from bot.discord.daily_failures import classify
from bot.service import CardService
from bot.settings import Settings
from bot.storage import Storage
from tests.fakediscord import FakeDiscord, run_bot

#: The issue's target: every post out within this many times the time the global rate limit allows.
TARGET = 1.2
DAY = dt.date(2026, 12, 2)
BEFORE = dt.datetime.combine(DAY, dt.time(9, 0), dt.UTC)
DUE = dt.datetime.combine(DAY, dt.time(10, 0), dt.UTC)


class Clock:
    """The engine's clock, moved by hand."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


async def fan_out(
    service: CardService,
    folder: Path,
    *,
    servers: int,
    rate: float,
    concurrency: int,
    pace: float | None,
    latency: float,
) -> dict[str, Any]:
    """``servers`` servers due at 10:00, posted by one ``run_due`` with ``concurrency`` at ``pace`` posts a second
    (None: unpaced); the figures."""
    async with FakeDiscord(global_rate_limit=rate, rest_latency=latency, default_timeout=120) as fake:
        channels = [fake.add_guild(f"Server {n}").add_channel("facts") for n in range(servers)]
        async with Storage.open(folder / f"fanout-{concurrency}-{pace}.db") as storage:
            client = discord.Client(intents=discord.Intents.default())
            async with run_bot(fake, client, timeout=300):
                clock = Clock(BEFORE)
                pacer = Pacer(pace) if pace is not None else None
                poster = ChannelPoster(client, service, storage.views, pacer=pacer)
                engine = DailyEngine(
                    storage.daily,
                    ServiceCards(service),
                    poster,
                    storage.views,
                    clock,
                    classify=classify,
                    concurrency=concurrency,
                )
                for chan in channels:
                    assert chan.guild is not None
                    await engine.set(chan.guild.id, chan.id, "10:00", "UTC")
                await asyncio.sleep(1.1)  # the window of the start's requests has passed: the limit starts afresh
                limit = fake.global_limit
                assert limit is not None
                refused_before = limit.refused
                clock.now = DUE
                started = time.perf_counter()
                results = await engine.run_due()
                elapsed = time.perf_counter() - started
        posted = sum(len(chan.posts) for chan in channels)
        outcomes = Counter(result.outcome for result in results)
        return {
            "servers": servers,
            "seconds": elapsed,
            "posted": posted,
            "sent": outcomes["sent"],
            "other": {k: v for k, v in outcomes.items() if k != "sent"},
            "refused": limit.refused - refused_before,
            "rate": posted / elapsed,
        }


async def main_async(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("discord").setLevel(logging.ERROR)  # every 429 is a warning there
    service = await load_service(Settings(), meaning_search=False)
    allowed = args.servers / args.rate
    print(
        f"{args.servers} servers due at 10:00 UTC; fake global limit {args.rate:g} requests/s; "
        f"every REST answer takes {args.latency * 1000:g} ms",
        flush=True,
    )
    print(f"the limit allows {allowed:.1f} s; target: within {TARGET}x = {TARGET * allowed:.1f} s\n", flush=True)
    runs: list[tuple[str, int, float | None, int]] = [
        (f"paced at {args.pace:g}/s, concurrency {args.concurrency}", args.concurrency, args.pace, args.servers)
    ]
    if args.unpaced:
        runs.append(("before: unpaced, concurrency 16, into the limit", 16, None, args.servers))
    if args.sequential_servers:
        runs.append(("baseline: one after the other", 1, None, args.sequential_servers))
    rows = []
    with tempfile.TemporaryDirectory(prefix="factdeck-fanout-") as tmp:
        for label, concurrency, pace, servers in runs:
            out = await fan_out(
                service,
                Path(tmp),
                servers=servers,
                rate=args.rate,
                concurrency=concurrency,
                pace=pace,
                latency=args.latency,
            )
            rows.append((label, out))
            print(f"measured: {label} ({out['seconds']:.1f} s)", flush=True)
    print()
    print(f"| run | posted | seconds | posts/s | {args.servers} servers take | x the limit's time | 429s |")
    print("|---|---|---|---|---|---|---|")
    for label, out in rows:
        lost = f" (not sent: {out['other']})" if out["other"] else ""
        whole = args.servers / out["rate"]  # measured on fewer servers for the baseline: at its rate
        print(
            f"| {label} | {out['posted']}/{out['servers']}{lost} | {out['seconds']:.1f} | "
            f"{out['rate']:.1f} | {whole:.1f} s | {whole / allowed:.2f} | {out['refused']} |"
        )
    main = rows[0][1]
    ok = main["posted"] == args.servers and main["sent"] == args.servers and main["seconds"] <= TARGET * allowed
    print(f"\n{'PASS' if ok else 'FAIL'}: every post out within {TARGET}x the limit's time, none lost")
    print(f"{'PASS' if main['refused'] == 0 else 'FAIL'}: no 429 (Discord counts them towards an IP ban)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=1000, help="servers due at the same minute (1000)")
    parser.add_argument("--rate", type=float, default=50, help="the fake's global limit, requests a second (50)")
    parser.add_argument(
        "--concurrency", type=int, default=DEFAULT_CONCURRENCY, help="the engine's concurrency (its default)"
    )
    parser.add_argument(
        "--pace", type=float, default=DEFAULT_POSTS_PER_SECOND, help="the engine's posts a second (its default)"
    )
    parser.add_argument(
        "--unpaced", action=argparse.BooleanOptionalAction, default=True, help="also run unpaced, as before (yes)"
    )
    parser.add_argument(
        "--latency", type=float, default=0.1, help="seconds each REST answer takes, as Discord's would (0.1)"
    )
    parser.add_argument(
        "--sequential-servers",
        type=int,
        default=200,
        help="servers posted one after the other for the baseline, its time for all at that rate (200; 0: skip)",
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
