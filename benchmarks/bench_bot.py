"""Slash interactions per second and response latency through the real discord.py stack and the fake Discord.

The bot runs as in production (``bot.discord.app.run``: settings from a config file, real SQLite storage) over
10,000 generated cards (fixed seed), with cooldowns off. Each interaction is timed from the moment the fake
dispatches INTERACTION_CREATE to the moment it has the bot's callback; both run in this one process and event
loop, so the figures include the gateway, discord.py's parsing, our command, the embed and the HTTP callback.
Then: views recorded per second, ViewLog batching versus one commit per view (``benchmarks/bench_views.py``).

    .venv/bin/python -m benchmarks.bench_bot [--cards 10000] [--requests 2000] [--users 50]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import yaml

from bot.discord.app import FactdeckBot, run
from bot.settings import load_settings

SEED = 20240601


def generate_cards(folder: Path, n: int, seed: int = SEED) -> list[str]:
    """Write ``n`` synthetic cards (grouped into collections) as card files; return some query words."""
    from benchmarks.bench_search_index import synthetic_docs

    docs = synthetic_docs(n, seed=seed)
    by_collection: dict[str, list[Any]] = defaultdict(list)
    for doc in docs:
        by_collection[doc.collection_id].append(doc)
    folder.mkdir(parents=True, exist_ok=True)
    for collection_id, group in by_collection.items():
        data = {
            "collection": {"id": collection_id, "title": group[0].collection_title, "curator": "Bench Curator"},
            "cards": [
                {
                    "id": d.card_id.replace("_", "-"),
                    "text": d.text,
                    "topics": list(d.topics),
                    **({"source": {"article": d.article, "type": "Offline Book/Journal"}} if d.article else {}),
                }
                for d in group
            ],
        }
        (folder / f"{collection_id}.yml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    rng = random.Random(seed)
    words = sorted({w.strip(".,()").lower() for d in docs[:500] for w in d.text.split() if len(w) > 5})
    return rng.sample(words, min(200, len(words)))


@contextlib.asynccontextmanager
async def running_bot(tmp: Path, cards: Path) -> AsyncIterator[tuple[Any, Any, Any, list[Any], FactdeckBot]]:
    """The fake Discord with one guild and 50 members, and the bot started by ``run()``."""
    from tests.fakediscord import FakeDiscord, patch_discord

    config = tmp / "config.yml"
    config.write_text(
        f"cards_dir: {cards}\ndatabase: {tmp / 'bench.db'}\ncache_dir: {tmp / 'cache'}\nguild_ready_timeout: 0.05\n"
        "cooldowns:\n  search: {rate: 0}\n  cite: {rate: 0}\n  random: {rate: 0}\n",
        encoding="utf-8",
    )
    settings = load_settings(config, env={"DISCORD_TOKEN": "test-token"})
    async with FakeDiscord(token="test-token", default_timeout=30) as fake:
        guild = fake.add_guild("Bench")
        chan = guild.add_channel("general")
        users = [guild.add_member(f"user{i}") for i in range(50)]
        holder: list[FactdeckBot] = []
        with patch_discord(fake):
            task = asyncio.create_task(run(settings, install_signals=False, started=holder.append))
            await fake.wait_for(lambda: task.done() or bool(holder and holder[0].is_ready()), timeout=120)
            if task.done():
                task.result()
            try:
                yield fake, guild, chan, users, holder[0]
            finally:
                await holder[0].close()
                await task
        assert not fake.errors, [str(e) for e in fake.errors[:3]]


async def _timed(fake: Any, invoke: Callable[[], Any]) -> float:
    start = time.perf_counter()
    it = await invoke()
    await it.wait_response()
    return time.perf_counter() - start


async def measure_interactions(
    fake: Any,
    guild: Any,
    chan: Any,
    users: list[Any],
    *,
    command: str,
    requests: int,
    concurrency: int,
    queries: list[str],
) -> dict[str, float]:
    """Run ``requests`` interactions over ``concurrency`` users; return rate and latency percentiles."""
    rng = random.Random(SEED)
    latencies: list[float] = []

    def invoke(user: Any) -> Callable[[], Any]:
        if command == "search":
            query = rng.choice(queries)
            return lambda: fake.slash(guild, chan, user, "fact search", query=query)
        return lambda: fake.slash(guild, chan, user, "fact random")

    async def worker(index: int, count: int) -> None:
        user = users[index % len(users)]
        for _ in range(count):
            latencies.append(await _timed(fake, invoke(user)))

    shares = [requests // concurrency + (1 if i < requests % concurrency else 0) for i in range(concurrency)]
    start = time.perf_counter()
    await asyncio.gather(*(worker(i, n) for i, n in enumerate(shares)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "requests": requests,
        "concurrency": concurrency,
        "per_second": requests / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
    }


async def main_async(cards: int, requests: int, users: int, views: int) -> list[dict[str, Any]]:
    """Every measurement, as table rows."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="factdeck-bench-bot-") as tmp_name:
        tmp = Path(tmp_name)
        queries = generate_cards(tmp / "cards", cards)
        async with running_bot(tmp, tmp / "cards") as (fake, guild, chan, members, _bot):
            for command in ("random", "search"):
                await measure_interactions(
                    fake, guild, chan, members, command=command, requests=100, concurrency=1, queries=queries
                )  # warm up
                for concurrency in (1, users):
                    n = requests // 4 if concurrency == 1 else requests
                    result = await measure_interactions(
                        fake,
                        guild,
                        chan,
                        members,
                        command=command,
                        requests=n,
                        concurrency=concurrency,
                        queries=queries,
                    )
                    rows.append({"what": f"/fact {command}", **result})
    try:
        from benchmarks.bench_views import measure
    except ImportError:
        return rows
    result = await measure(views)
    rows.append(
        {
            "what": "views: ViewLog batching",
            "per_second": result["batched_per_second"],
            "requests": result["batched_views"],
            "concurrency": result["writers"],
        }
    )
    rows.append(
        {
            "what": "views: commit per view",
            "per_second": result["per_view_per_second"],
            "requests": result["per_view_views"],
            "concurrency": result["writers"],
        }
    )
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a fixed-width table."""
    lines = [f"{'what':<26}{'users':>7}{'count':>8}{'per second':>13}{'p50 ms':>9}{'p99 ms':>9}"]
    for r in rows:
        p50 = f"{r['p50_ms']:.1f}" if "p50_ms" in r else "-"
        p99 = f"{r['p99_ms']:.1f}" if "p99_ms" in r else "-"
        lines.append(f"{r['what']:<26}{r['concurrency']:>7}{r['requests']:>8}{r['per_second']:>13,.0f}{p50:>9}{p99:>9}")
    return "\n".join(lines)


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--views", type=int, default=100_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = asyncio.run(main_async(args.cards, args.requests, args.users, args.views))
    print(f"{args.cards} cards; latency = INTERACTION_CREATE dispatched -> callback received by the fake")
    print(format_table(rows))


if __name__ == "__main__":
    main()
