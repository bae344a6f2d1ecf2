"""Views recorded per second: ViewLog batching versus one INSERT + COMMIT per view.

Both runs use 50 concurrent writer tasks, a fresh database file with the bot's settings (WAL,
synchronous=NORMAL, migrations applied) and the same process. A run ends when every view is committed.
The per-view baseline is slow, so it writes at most ``baseline_views`` views (a rate does not need more).

    .venv/bin/python -m benchmarks.bench_views [n_views]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bot.storage import Database, Storage, ViewEvent

WRITERS = 50
_INSERT = "INSERT INTO views (card_id, guild_id, channel_id, user_id, command, at_ms) VALUES (?, ?, ?, ?, ?, ?)"


def _view(writer: int, i: int) -> ViewEvent:
    return ViewEvent(f"card-{(writer * 7919 + i) % 2000}", 10 + writer % 5, 100 + writer, 1000 + i % 300, "random")


def _shares(n: int) -> list[int]:
    return [n // WRITERS + (1 if w < n % WRITERS else 0) for w in range(WRITERS)]


async def _batched(path: Path, n_views: int) -> float:
    async with Storage.open(path) as storage:

        async def writer(w: int, count: int) -> None:
            for i in range(count):
                storage.views.record(_view(w, i))
                await asyncio.sleep(0)  # interleave like interactions do

        start = time.perf_counter()
        await asyncio.gather(*(writer(w, c) for w, c in enumerate(_shares(n_views))))
        await storage.views.close()  # the run ends when everything is committed
        elapsed = time.perf_counter() - start
        stored = await storage.db.fetchval("SELECT COUNT(*) FROM views")
    assert stored == n_views, (stored, n_views)
    return elapsed


async def _per_view(path: Path, n_views: int) -> float:
    async with Database(path) as db:

        async def writer(w: int, count: int) -> None:
            for i in range(count):
                async with db.transaction() as conn:
                    await conn.execute(_INSERT, _view(w, i).as_row())

        start = time.perf_counter()
        await asyncio.gather(*(writer(w, c) for w, c in enumerate(_shares(n_views))))
        elapsed = time.perf_counter() - start
        stored = await db.fetchval("SELECT COUNT(*) FROM views")
    assert stored == n_views, (stored, n_views)
    return elapsed


async def measure(n_views: int = 100_000, baseline_views: int | None = None) -> dict:
    """Run both strategies; return views, seconds and views/s for each, and the ratio batched/per-view."""
    baseline_n = min(n_views, 20_000) if baseline_views is None else baseline_views
    with tempfile.TemporaryDirectory(prefix="factdeck-bench-") as tmp:
        batched_s = await _batched(Path(tmp) / "batched.db", n_views)
        per_view_s = await _per_view(Path(tmp) / "per_view.db", baseline_n)
    batched_rate = n_views / batched_s
    per_view_rate = baseline_n / per_view_s
    return {
        "writers": WRITERS,
        "batched_views": n_views,
        "batched_seconds": batched_s,
        "batched_per_second": batched_rate,
        "per_view_views": baseline_n,
        "per_view_seconds": per_view_s,
        "per_view_per_second": per_view_rate,
        "ratio": batched_rate / per_view_rate,
    }


def main() -> None:
    """Print the comparison table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n_views", nargs="?", type=int, default=100_000, help="views to record (default 100000)")
    n = parser.parse_args().n_views
    r = asyncio.run(measure(n))
    print(f"{r['writers']} concurrent writers, WAL + synchronous=NORMAL")
    print(f"{'strategy':<26}{'views':>10}{'seconds':>10}{'views/s':>12}")
    for label, key in (("ViewLog batching", "batched"), ("INSERT + COMMIT per view", "per_view")):
        print(f"{label:<26}{r[key + '_views']:>10}{r[key + '_seconds']:>10.2f}{r[key + '_per_second']:>12,.0f}")
    print(f"ratio: {r['ratio']:.1f}x (target >= 10x)")


if __name__ == "__main__":
    main()
