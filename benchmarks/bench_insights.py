"""Curator insights: what counting a failed search costs on the interaction path, how big the failed-search log
is after a million searches, and how long the views chart takes to draw. Each figure beside a baseline measured
in the same run:

* counting a failed search (:meth:`bot.insights.SearchMisses.search`: the miss test, the query's normal form, one
  counter in memory) beside recording a view (``ViewLog.record(ViewEvent(...))``, what every card shown costs);
  target under 20 µs per search;
* the failed-search table after ``--searches`` failed searches (a Zipf mix of ``--distinct`` queries over 10
  servers and 120 days, flushed once per day as the flusher would, pruned to the 90-day retention) beside the same
  searches kept one row each (what logging every search would store);
* the views chart's p95 drawing time (30 days, 6 collections) beside a bare matplotlib figure saved as PNG (the
  least any chart costs); target under 300 ms.

    .venv/bin/python -m benchmarks.bench_insights [--searches 1000000] [--calls 200000] [--charts 40]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.insights import SearchMisses, draw_views, views_chart
from bot.storage import Storage, ViewEvent

SERVERS = 10
DAYS = 120
RETENTION = 90
WORDS = [
    "alliance",
    "rupture",
    "repair",
    "outcome",
    "therapy",
    "hippo",
    "weight",
    "banknote",
    "lefties",
    "stairs",
    "lightbulb",
    "couple",
    "empathy",
    "bond",
    "goal",
    "task",
    "client",
    "therapist",
    "session",
    "dropout",
    "feedback",
    "measure",
    "trauma",
    "anxiety",
    "sleep",
    "memory",
]


def _queries(distinct: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4))) + f" {i}" for i in range(distinct)]


def _zipf_picks(n: int, distinct: int, seed: int = 11) -> list[int]:
    rng = random.Random(seed)
    weights = [1 / (rank + 1) for rank in range(distinct)]
    return rng.choices(range(distinct), weights=weights, k=n)


def _per_call_us(call: Callable[[int], None], calls: int, repeats: int = 5) -> float:
    """Median over ``repeats`` of the mean cost of one ``call(i)``, in microseconds."""
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(calls):
            call(i)
        runs.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(runs)


async def hot_path(calls: int) -> dict[str, float]:
    """µs per failed search counted, and per view recorded, on the same storage."""
    typed = [q.title() + "?" for q in _queries(5000)]  # as readers type them: case and punctuation to fold
    with tempfile.TemporaryDirectory(prefix="factdeck-bench-") as tmp:
        async with Storage.open(Path(tmp) / "hot.db", flush_interval=3600) as storage:
            misses = SearchMisses(storage.searches)
            views = storage.views
            views.max_buffer = None

            def view(i: int) -> None:
                views.record(ViewEvent(f"card-{i % 2000}", 10 + i % 5, 100, 1000 + i % 300, "search"))

            def miss(i: int) -> None:
                misses.search(typed[i % len(typed)], (), 10 + i % 5)

            view_us = _per_call_us(view, calls)
            miss_us = _per_call_us(miss, calls)
            views._buffer.clear()  # not written: this run measures the interaction path only
    return {"view_us": view_us, "miss_us": miss_us}


async def _used_bytes(storage: Storage) -> int:
    """Bytes the database uses (its pages less the free ones; the same empty tables in both databases)."""
    pages = int(await storage.db.fetchval("PRAGMA page_count"))
    free = int(await storage.db.fetchval("PRAGMA freelist_count"))
    return (pages - free) * int(await storage.db.fetchval("PRAGMA page_size"))


async def log_size(searches: int, distinct: int) -> dict[str, float]:
    """Rows and bytes of the failed-search table after ``searches`` failed searches, beside one row per search."""
    queries = _queries(distinct)
    picks = _zipf_picks(searches, distinct)
    per_day = searches // DAYS
    start_day = int(time.time() // 86400) - DAYS + 1
    with tempfile.TemporaryDirectory(prefix="factdeck-bench-") as tmp:
        path = Path(tmp) / "searches.db"
        async with Storage.open(path, flush_interval=3600) as storage:
            log = storage.searches
            log.retention_days = RETENTION
            started = time.perf_counter()
            for day in range(DAYS):
                at = (start_day + day) * 86400.0 + 3600
                for pick in picks[day * per_day : (day + 1) * per_day]:
                    log.record(queries[pick], 10 + pick % SERVERS, at=at)
                await log.flush()
                await log.prune(today=start_day + day)
            seconds = time.perf_counter() - started
            rows = int(await storage.db.fetchval("SELECT COUNT(*) FROM failed_searches"))
            table_bytes = await _used_bytes(storage)
        naive = Path(tmp) / "naive.db"
        async with Storage.open(naive, flush_interval=3600) as storage:
            rows_naive = [
                (i // per_day, 10 + pick % SERVERS, queries[pick], "search", 1) for i, pick in enumerate(picks)
            ]
            await storage.db.execute("DROP TABLE failed_searches")
            await storage.db.execute(
                "CREATE TABLE failed_searches (day INTEGER, guild_id BIGINT, query TEXT, kind TEXT, count INTEGER)"
            )
            await storage.db.executemany("INSERT INTO failed_searches VALUES (?, ?, ?, ?, ?)", rows_naive)
            naive_bytes = await _used_bytes(storage)
    return {
        "searches": float(searches),
        "rows": float(rows),
        "bytes": float(table_bytes),
        "naive_bytes": float(naive_bytes),
        "seconds": seconds,
    }


def _bare_png() -> bytes:
    figure = Figure(figsize=(8, 3.6), dpi=100)
    FigureCanvasAgg(figure)
    figure.subplots()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def charts(runs: int) -> dict[str, float]:
    """p50/p95 ms of the views chart (30 days, 6 collections) and of a bare figure."""
    today = dt.date(2026, 3, 30)
    rng = random.Random(3)
    owner = {f"c{c}-{i:03}": f"c{c}" for c in range(8) for i in range(50)}
    titles = {f"c{c}": f"Collection number {c}" for c in range(8)}
    rows = [(card, today - dt.timedelta(days=d), rng.randint(0, 40)) for card in owner for d in range(30)]
    chart = views_chart(rows, owner, titles, days=30, today=today)
    draw_views(chart), _bare_png()  # warm up: fonts and caches, as the bot's first chart would
    out: dict[str, float] = {}
    for name, draw in (("chart", lambda: draw_views(chart)), ("bare", _bare_png)):
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            draw()
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        out[f"{name}_p50_ms"] = statistics.median(times)
        out[f"{name}_p95_ms"] = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--searches", type=int, default=1_000_000, help="failed searches for the size figure")
    parser.add_argument("--distinct", type=int, default=200_000, help="distinct queries among them")
    parser.add_argument("--calls", type=int, default=200_000, help="calls per hot-path measurement")
    parser.add_argument("--charts", type=int, default=40, help="charts drawn for the p95")
    args = parser.parse_args()

    hot = asyncio.run(hot_path(args.calls))
    verdict = "PASS" if hot["miss_us"] < 20 else "FAIL"
    print(f"failed search counted: {hot['miss_us']:.2f} µs per search  (target < 20 µs: {verdict})")
    print(f"  baseline, a view recorded: {hot['view_us']:.2f} µs  (ratio {hot['miss_us'] / hot['view_us']:.2f})")

    size = asyncio.run(log_size(args.searches, args.distinct))
    print(
        f"failed-search log after {size['searches']:,.0f} searches over {DAYS} days ({args.distinct:,} distinct "
        f"queries, {SERVERS} servers, {RETENTION}-day retention): {size['rows']:,.0f} rows, "
        f"{size['bytes'] / 1e6:.1f} MB ({size['seconds']:.1f} s to count, flush and prune)"
    )
    print(
        f"  baseline, one row per search: {size['naive_bytes'] / 1e6:.1f} MB "
        f"(ratio {size['bytes'] / size['naive_bytes']:.2f})"
    )

    drawn = charts(args.charts)
    verdict = "PASS" if drawn["chart_p95_ms"] < 300 else "FAIL"
    print(
        f"views chart: p50 {drawn['chart_p50_ms']:.0f} ms, p95 {drawn['chart_p95_ms']:.0f} ms "
        f"(target p95 < 300 ms: {verdict})"
    )
    print(
        f"  baseline, a bare figure saved as PNG: p50 {drawn['bare_p50_ms']:.0f} ms, p95 {drawn['bare_p95_ms']:.0f} ms "
        f"(ratio at p95 {drawn['chart_p95_ms'] / drawn['bare_p95_ms']:.1f})"
    )


if __name__ == "__main__":
    main()
