"""Slash interactions per second and response latency through the real discord.py stack and the fake Discord.

The bot runs as in production, in its own process (``tests/fakediscord/process.py``: ``factdeck run --config`` with
only discord.py's URLs pointed at the fake), over 10,000 generated cards (fixed seed), with cooldowns off. The fake
Discord and the load generator share this process, so on a 2-core machine each side has a core, as a deployment
with Discord elsewhere would. Latency is taken from the fake's own clock: from the moment it dispatches
INTERACTION_CREATE to the moment it receives the bot's callback request (``FakeResponse.received_at``), so it
covers the gateway, discord.py's parsing, our command, the embed and the HTTP callback.

- closed loop: N users, each sending its next interaction when the reply to the previous one has arrived;
- open loop: interactions arriving at a fixed offered rate (default 300/s) spread over the users, for a few
  seconds, whether or not earlier ones were answered (so a slow bot shows up as latency, not as a lower rate);
- the old layout for comparison: the bot in this process and event loop, 50 users, closed loop;
- views recorded per second, ViewLog batching versus one commit per view (``benchmarks/bench_views.py``).

This process's garbage collector is paused during each measured window (and run between them), so the harness's
own pauses do not show up as bot latency; the bot process runs untouched (and so does the collector in the
one-process comparison, where the bot shares it).

    .venv/bin/python -m benchmarks.bench_bot [--cards 10000] [--requests 2000] [--users 50] [--rate 300]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SEED = 20240601
TOKEN = "test-token"

#: The figures before this round of work (bot, fake and load in one process; the old polling timer).
BASELINE = {
    ("random", 1): (607, 6.4),
    ("random", 50): (367, 258.0),
    ("search", 1): (400, 6.5),
    ("search", 50): (265, 531.0),
}
#: The issue's target for /fact search with 50 concurrent users.
TARGET_RATE, TARGET_P99_MS = 300, 50.0


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


def write_config(folder: Path, cards: Path, cache: Path) -> Path:
    """A config.yml for one bot: its own database, a shared card cache, cooldowns off."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config.yml"
    config.write_text(
        f"cards_dir: {cards}\ndatabase: {folder / 'bench.db'}\ncache_dir: {cache}\nguild_ready_timeout: 0.05\n"
        "log_level: WARNING\n"
        "cooldowns:\n  search: {rate: 0}\n  cite: {rate: 0}\n  random: {rate: 0}\n",
        encoding="utf-8",
    )
    return config


@dataclass
class World:
    """The fake Discord with one guild, one channel and the users."""

    fake: Any
    guild: Any
    chan: Any
    users: list[Any]


@contextlib.asynccontextmanager
async def fake_world(users: int) -> AsyncIterator[World]:
    """A fake Discord with one guild, #general and ``users`` members."""
    from tests.fakediscord import FakeDiscord

    async with FakeDiscord(token=TOKEN, default_timeout=30) as fake:
        guild = fake.add_guild("Bench")
        chan = guild.add_channel("general")
        members = [guild.add_member(f"user{i}") for i in range(users)]
        yield World(fake, guild, chan, members)
        assert not fake.errors, [str(e) for e in fake.errors[:3]]


async def _wait_until_serving(world: World, alive: Callable[[], bool], limit: float = 120) -> None:
    """Until the bot has synced its commands and answers an interaction (READY alone is not enough)."""
    fake, loop = world.fake, asyncio.get_running_loop()
    deadline = loop.time() + limit
    while "fact" not in fake.command_names(world.guild) and "fact" not in fake.command_names():
        if not alive():
            raise RuntimeError("the bot stopped before it synced its commands")
        if loop.time() > deadline:
            raise TimeoutError("the bot did not sync its commands")
        await asyncio.sleep(0.05)
    await fake.wait_until_connected(timeout=max(1.0, deadline - loop.time()))
    while True:
        with contextlib.suppress(AssertionError):
            it = await fake.slash(world.guild, world.chan, world.users[0], "fact random")
            await it.wait_response(timeout=2)
            return
        if not alive() or loop.time() > deadline:
            raise RuntimeError("the bot does not answer interactions")


@contextlib.asynccontextmanager
async def bot_in_own_process(world: World, config: Path, log_path: Path) -> AsyncIterator[None]:
    """``factdeck run`` in a child process, pointed at ``world.fake``; SIGTERM (a clean shutdown) on exit."""
    env = {**os.environ, "DISCORD_TOKEN": TOKEN, "PYTHONUNBUFFERED": "1"}
    launcher = "tests.fakediscord.process"
    cmd = [sys.executable, "-m", launcher, "--base-url", world.fake.base_url, "--config", str(config)]
    with log_path.open("wb") as log_file:
        proc = await asyncio.create_subprocess_exec(*cmd, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            await _wait_until_serving(world, lambda: proc.returncode is None)
            yield
        except BaseException:
            tail = await asyncio.to_thread(log_path.read_text, errors="replace")
            print(tail[-3000:], file=sys.stderr)
            raise
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), timeout=30)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()


@contextlib.asynccontextmanager
async def bot_in_this_process(world: World, config: Path) -> AsyncIterator[None]:
    """The old layout: ``run(settings)`` as a task in this event loop (``tests/e2e/conftest.py`` ``start_bot``)."""
    from bot.discord.app import FactdeckBot, run
    from bot.settings import load_settings
    from tests.fakediscord import patch_discord

    settings = load_settings(config, env={"DISCORD_TOKEN": TOKEN})
    holder: list[FactdeckBot] = []
    with patch_discord(world.fake):
        task = asyncio.create_task(run(settings, install_signals=False, started=holder.append))
        try:
            await _wait_until_serving(world, lambda: not task.done())
            yield
        finally:
            if holder:
                await holder[0].close()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class Timer:
    """Answers from the fake's response hook: each interaction's latency by the fake's clock, without polling."""

    def __init__(self, world: World, queries: list[str]) -> None:
        self.world = world
        self.queries = queries
        self.rng = random.Random(SEED)
        self._waiting: dict[int, asyncio.Future[float]] = {}
        world.fake.response_hooks.append(self._answered)

    def _answered(self, it: Any) -> None:
        future = self._waiting.pop(it.id, None)
        if future is not None and not future.done():
            future.set_result(it.response.received_at - it.created_at)

    async def send(self, command: str, user: Any) -> float:
        """Send ``/fact <command>`` as ``user``; return seconds from dispatch to the callback reaching the fake."""
        w = self.world
        if command == "search":
            it = await w.fake.slash(w.guild, w.chan, user, "fact search", query=self.rng.choice(self.queries))
        else:
            it = await w.fake.slash(w.guild, w.chan, user, "fact random")
        if it.response is not None:  # cannot happen (no await since the dispatch), but never wait forever
            return it.response.received_at - it.created_at
        future = asyncio.get_running_loop().create_future()
        self._waiting[it.id] = future
        return await asyncio.wait_for(future, timeout=10)


@contextlib.contextmanager
def gc_paused(pause: bool = True) -> Any:
    """No collections in this process during a measured window; one full collection after it."""
    if not pause:  # the bot shares this process: leave its collector alone
        yield
        return
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


def _summary(latencies: list[float], elapsed: float) -> dict[str, float]:
    latencies = sorted(latencies)
    return {
        "count": len(latencies),
        "per_second": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
    }


async def closed_loop(
    timer: Timer, command: str, *, requests: int, users: int, pause_gc: bool = True
) -> dict[str, float]:
    """``users`` users, each sending its next interaction when the previous one was answered."""
    latencies: list[float] = []
    members = timer.world.users

    async def user_loop(index: int, count: int) -> None:
        for _ in range(count):
            latencies.append(await timer.send(command, members[index % len(members)]))

    shares = [requests // users + (1 if i < requests % users else 0) for i in range(users)]
    with gc_paused(pause_gc):
        start = time.perf_counter()
        await asyncio.gather(*(user_loop(i, n) for i, n in enumerate(shares)))
        elapsed = time.perf_counter() - start
    return _summary(latencies, elapsed)


async def open_loop(timer: Timer, command: str, *, rate: float, seconds: float, users: int) -> dict[str, float]:
    """Interactions arriving every ``1/rate`` s for ``seconds`` s, round-robin over ``users`` users."""
    loop = asyncio.get_running_loop()
    members = timer.world.users[:users]
    total = int(rate * seconds)
    tasks: list[asyncio.Task[float]] = []
    lag = 0.0
    with gc_paused():
        start = loop.time()
        for i in range(total):
            due = start + i / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            lag = max(lag, loop.time() - due)
            tasks.append(loop.create_task(timer.send(command, members[i % len(members)])))
        sent = loop.time() - start
        latencies = list(await asyncio.gather(*tasks))
    result = _summary(latencies, sent)  # per_second: the rate actually offered
    result["answered_per_second"] = total / (loop.time() - start)
    result["lag_ms"] = lag * 1000
    return result


Coro = Coroutine[Any, Any, dict[str, float]]


async def measure_bot(timer: Timer, *, requests: int, users: int, rate: float, seconds: float) -> list[dict[str, Any]]:
    """Sequential, closed loop with ``users`` users and open loop at ``rate``/s for both commands."""
    rows: list[dict[str, Any]] = []
    for command in ("random", "search"):
        await closed_loop(timer, command, requests=200, users=1)  # warm up
        runs: list[tuple[str, int, Coro]] = [
            ("closed", 1, closed_loop(timer, command, requests=max(requests // 4, 100), users=1)),
            ("closed", users, closed_loop(timer, command, requests=requests, users=users)),
            ("open", users, open_loop(timer, command, rate=rate, seconds=seconds, users=users)),
        ]
        for mode, n_users, run in runs:
            result = await run
            rows.append({"command": command, "mode": mode, "users": n_users, **result})
    return rows


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="factdeck-bench-bot-") as tmp_name:
        tmp = Path(tmp_name)
        started = time.perf_counter()
        queries = generate_cards(tmp / "cards", args.cards)
        out["setup_s"] = time.perf_counter() - started
        async with fake_world(args.users) as world:
            gc.freeze()  # the fake's long-lived state is not re-scanned by every collection
            timer = Timer(world, queries)
            config = write_config(tmp / "two", tmp / "cards", tmp / "cache")
            async with bot_in_own_process(world, config, tmp / "bot.log"):
                out["two"] = await measure_bot(
                    timer, requests=args.requests, users=args.users, rate=args.rate, seconds=args.seconds
                )
            if not args.skip_single:
                config = write_config(tmp / "one", tmp / "cards", tmp / "cache")
                async with bot_in_this_process(world, config):
                    out["one"] = []
                    for command in ("random", "search"):
                        await closed_loop(timer, command, requests=200, users=1)
                        result = await closed_loop(
                            timer, command, requests=args.requests // 2, users=args.users, pause_gc=False
                        )
                        out["one"].append({"command": command, "mode": "closed", "users": args.users, **result})
    if args.views:
        from benchmarks.bench_views import measure

        out["views"] = await measure(args.views)
    return out


def format_report(out: dict[str, Any], args: argparse.Namespace) -> str:
    """The measurements as one table, each figure beside its baseline or target."""
    head = (
        f"{'what':<16}{'layout':<11}{'load':<18}{'count':>6}{'per s':>8}{'p50 ms':>8}{'p99 ms':>8}   "
        "baseline (old bench, 1 process) / target"
    )
    lines = [head, "-" * len(head)]

    def compare(row: dict[str, Any]) -> str:
        notes = []
        if row["mode"] == "closed" and (base := BASELINE.get((row["command"], row["users"]))):
            notes.append(f"was {base[0]}/s, p99 {base[1]:g} ms")
        if row["command"] == "search" and row["users"] == args.users:
            if row["mode"] == "closed":
                ok = "met" if row["per_second"] >= TARGET_RATE else "NOT met"
                notes.append(f"target >= {TARGET_RATE}/s: {ok}")
                # Little's law: mean latency = users / throughput (a closed loop always has `users` in flight).
                notes.append(f"Little: {args.users / row['per_second'] * 1000:.0f} ms mean")
            else:
                ok = "met" if row["p99_ms"] < TARGET_P99_MS else "NOT met"
                notes.append(f"target p99 < {TARGET_P99_MS:g} ms: {ok}")
        return "; ".join(notes)

    def load(row: dict[str, Any]) -> str:
        if row["mode"] == "open":
            return f"open {args.rate:g}/s x {args.seconds:g}s"
        return f"closed {row['users']} user{'s' if row['users'] != 1 else ''}"

    for layout, key in (("2 procs", "two"), ("1 process", "one")):
        for row in out.get(key, []):
            lines.append(
                f"{'/fact ' + row['command']:<16}{layout:<11}{load(row):<18}{row['count']:>6}{row['per_second']:>8,.0f}"
                f"{row['p50_ms']:>8.1f}{row['p99_ms']:>8.1f}   {compare(row)}"
            )
            if row["mode"] == "open":
                lines.append(
                    f"{'':<45}(answered {row['answered_per_second']:,.0f}/s overall; "
                    f"worst send lag {row['lag_ms']:.1f} ms)"
                )
    if "views" in out:
        v = out["views"]
        writers = f"{v['writers']} writers"
        lines.append(
            f"{'views: batched':<27}{writers:<18}{v['batched_views']:>6}"
            f"{v['batched_per_second']:>8,.0f}{'-':>8}{'-':>8}   "
            f"x{v['batched_per_second'] / v['per_view_per_second']:.0f} vs one commit per view"
        )
        lines.append(
            f"{'views: commit per view':<27}{writers:<18}{v['per_view_views']:>6}"
            f"{v['per_view_per_second']:>8,.0f}{'-':>8}{'-':>8}"
        )
    return "\n".join(lines)


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=2000, help="interactions per closed-loop run")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--rate", type=float, default=300.0, help="open loop: interactions offered per second")
    parser.add_argument("--seconds", type=float, default=5.0, help="open loop: how long")
    parser.add_argument("--views", type=int, default=50_000, help="views for the ViewLog comparison (0: skip)")
    parser.add_argument("--skip-single", action="store_true", help="skip the old one-process comparison")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    started = time.perf_counter()
    out = asyncio.run(main_async(args))
    print(
        f"{args.cards} cards, {os.cpu_count()} cores; latency = INTERACTION_CREATE dispatched -> callback received, "
        "both by the fake's clock"
    )
    print(format_report(out, args))
    print(f"(whole run {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
