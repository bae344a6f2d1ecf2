"""``/fact search`` throughput: one bot process running every shard, against two processes of two shards each.

Four shards (``shard_count: 4``), one server on each, the users spread over the four servers. The same closed loop
(each user sends its next ``/fact search`` when the previous one was answered) drives, in the same run:

1. one process running shards 0-3 (``factdeck run`` with ``shards: 0-3``);
2. two processes, shards 0-1 and 2-3, as in ``deploy/compose.yml`` (README, "Running more than one process");
3. the one process again, so a machine that got busier or quieter during the run shows as two different
   one-process figures.

Every bot is the production entry point in its own process (``tests/fakediscord/process.py``) against one fake
Discord in this process, over the same generated library (``benchmarks/bench_bot.py``'s, fixed seed), with
cooldowns and search by meaning off (so no model loads; its cost is ``benchmarks/bench_semantic.py``'s). Two
processes need a database they share: every configuration gets a fresh schema on the PostgreSQL server
``FACTDECK_TEST_POSTGRES`` names, so run it under ``.ci/with-postgres``. On this 2-core machine the fake and the load
generator take a share of the cores too; the bot processes' CPU time per search (from /proc) is printed beside the
rates, as it depends far less on the neighbours.

    .ci/with-postgres .venv/bin/python -m benchmarks.bench_shards [--cards 10000] [--requests 1500] [--users 40]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from benchmarks.bench_bot import (
    RANDOM,
    SEARCH,
    SLASH,
    Timer,
    World,
    _summary,
    _wait_until_serving,
    cpu_seconds,
    gc_paused,
    generate_library,
    own_process,
)

ENV = "FACTDECK_TEST_POSTGRES"
SHARD_COUNT = 4
#: The processes of each configuration, by their shards.
ONE = ("0-3",)
TWO = ("0-1", "2-3")


def write_config(folder: Path, cards: Path, cache: Path, database: str, shards: str) -> Path:
    """A config.yml for one process: the shared library and cache, the database, its shards, cooldowns off."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config.yml"
    config.write_text(
        f"cards_dir: {cards}\ndatabase: '{database}'\ncache_dir: {cache}\nguild_ready_timeout: 0.05\n"
        f"log_level: WARNING\nsemantic: off\nshards: '{shards}'\nshard_count: {SHARD_COUNT}\n"
        "cooldowns:\n  search: {rate: 0}\n  cite: {rate: 0}\n  random: {rate: 0}\n",
        encoding="utf-8",
    )
    return config


def shard_ids(shards: str) -> range:
    first, _, last = shards.partition("-")
    return range(int(first), int(last or first) + 1)


@contextlib.asynccontextmanager
async def processes(worlds: list[World], configs: list[tuple[str, Path]], folder: Path) -> AsyncIterator[list[int]]:
    """Each ``(shards, config)`` as ``factdeck run`` in its own process, serving (checked on a server of its own
    shards), and every shard answering; their process ids. All start together, as a deployment's processes do."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(shards: str, config: Path) -> int:
            world = worlds[shard_ids(shards)[0]]
            args = ["tests.fakediscord.process", "--config", str(config)]
            log = folder / f"bot-{shards}.log"
            return await stack.enter_async_context(own_process(world, args, SLASH[RANDOM], log))

        pids = list(await asyncio.gather(*(start(shards, config) for shards, config in configs)))
        fake = worlds[0].fake  # every shard connected (discord.py identifies one shard every 5 s), then answering
        await fake.wait_for(lambda: len(set(fake.identified_shards)) >= SHARD_COUNT, timeout=120, what="every shard")
        for world in worlds:
            await _wait_until_serving(world, lambda: True, SLASH[RANDOM])
        yield pids


async def measure(timers: list[Timer], pids: list[int], *, requests: int, users: int) -> dict[str, float]:
    """``users`` users over the servers of ``timers`` (one per shard), ``requests`` searches in all."""
    latencies: list[float] = []

    async def user_loop(index: int, count: int) -> None:
        timer = timers[index % len(timers)]
        member = timer.world.users[(index // len(timers)) % len(timer.world.users)]
        for _ in range(count):
            latencies.append(await timer.send(SEARCH, member))

    shares = [requests // users + (1 if i < requests % users else 0) for i in range(users)]
    with gc_paused():
        before = [cpu_seconds(pid) for pid in pids]
        own = time.process_time()
        start = time.perf_counter()
        await asyncio.gather(*(user_loop(i, n) for i, n in enumerate(shares)))
        elapsed = time.perf_counter() - start
        own = time.process_time() - own
        after = [cpu_seconds(pid) for pid in pids]
    known = all(x is not None for x in before + after)
    cpu_before = sum(x or 0.0 for x in before) if known else None
    cpu_after = sum(x or 0.0 for x in after) if known else None
    return _summary(latencies, elapsed, cpu_before, cpu_after, own)


async def main_async(args: argparse.Namespace, schemas: list[str]) -> list[tuple[str, dict[str, float]]]:
    from tests.fakediscord import FakeDiscord

    rows: list[tuple[str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory(prefix="factdeck-shards-") as tmp:
        folder = Path(tmp)
        queries, _common = await asyncio.to_thread(generate_library, folder / "cards", args.cards)
        runs = [
            ("one process, shards 0-3", ONE),
            ("two processes, shards 0-1 and 2-3", TWO),
            ("one process again", ONE),
        ]
        for (label, layout), schema in zip(runs, schemas, strict=True):
            async with FakeDiscord(token="test-token", default_timeout=60) as fake:
                fake.recommended_shards = SHARD_COUNT
                worlds = []
                for shard in range(SHARD_COUNT):
                    guild = fake.add_guild(f"Bench {shard}", shard=(shard, SHARD_COUNT))
                    chan = guild.add_channel("general")
                    members = [guild.add_member(f"user{shard}-{i}") for i in range(args.users // SHARD_COUNT + 1)]
                    worlds.append(World(fake, guild, chan, members))
                configs = [
                    (
                        shards,
                        write_config(
                            folder / f"{label[:3]}-{shards}", folder / "cards", folder / "cache", schema, shards
                        ),
                    )
                    for shards in layout
                ]
                async with processes(worlds, configs, folder) as pids:
                    timers = [Timer(world, queries) for world in worlds]
                    await measure(timers, pids, requests=max(args.requests // 5, args.users), users=args.users)  # warm
                    out = await measure(timers, pids, requests=args.requests, users=args.users)
                assert not fake.errors, [str(e) for e in fake.errors[:3]]
            rows.append((label, out))
            print(f"measured: {label}: {out['per_second']:.0f} searches/s", flush=True)
    return rows


def report(rows: list[tuple[str, dict[str, float]]], args: argparse.Namespace) -> str:
    lines = [
        f"/fact search, closed loop, {args.users} users over 4 servers (one per shard), {args.requests} searches, "
        f"{args.cards} cards, PostgreSQL; {os.cpu_count()} cores",
        "",
        "| configuration | searches/s | p50 ms | p99 ms | lost | bot CPU ms/search | x one process |",
        "|---|---|---|---|---|---|---|",
    ]
    baseline = (rows[0][1]["per_second"] + rows[-1][1]["per_second"]) / 2
    for label, out in rows:
        lines.append(
            f"| {label} | {out['per_second']:.0f} | {out['p50_ms']:.0f} | {out['p99_ms']:.0f} | {out['lost']:.0f} | "
            f"{out['cpu_ms']:.2f} | {out['per_second'] / baseline:.2f} |"
        )
    lines.append("")
    lines.append(f"(x one process: against the mean of the two one-process runs, {baseline:.0f} searches/s)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=10_000, help="generated cards (10000)")
    parser.add_argument("--requests", type=int, default=1500, help="searches measured per configuration (1500)")
    parser.add_argument("--users", type=int, default=40, help="users sending searches at once (40)")
    args = parser.parse_args()
    base = os.environ.get(ENV)
    if not base:
        sys.exit(f"two processes share a PostgreSQL database: run under .ci/with-postgres (or set {ENV})")
    from tests.storage.engines import drop_schema, new_schema_url

    made = [new_schema_url(base) for _ in range(3)]
    try:
        rows = asyncio.run(main_async(args, [url for url, _ in made]))
    finally:
        for _url, name in made:
            drop_schema(base, name)
    print()
    print(report(rows, args))
    if any(math.isinf(out["p99_ms"]) for _, out in rows):
        print("some searches were not answered within Discord's 3 s: the figures of that configuration are rough")


if __name__ == "__main__":
    main()
