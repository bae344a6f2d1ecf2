"""Views recorded per second into PostgreSQL: ViewLog batching versus one INSERT + COMMIT per view.

The same two runs as ``bench_views`` (50 concurrent writer tasks, a run ends when every view is committed), on
a PostgreSQL server instead of a SQLite file, each in a fresh schema that is dropped afterwards. Run it against
a durable throwaway cluster (PostgreSQL's default fsync and synchronous_commit):

    FACTDECK_PG_DURABLE=1 .ci/with-postgres .venv/bin/python -m benchmarks.bench_views_pg [n_views]

or give any server with ``--database postgresql://user@host/db`` (password from FACTDECK_DATABASE_PASSWORD).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from benchmarks.bench_views import WRITERS, _batched, _per_view


@asynccontextmanager
async def _schema(base: str) -> AsyncIterator[str]:
    """A fresh schema on ``base``'s server, as a URL (asyncpg passes ``search_path`` on to the server)."""
    name = f"bench_{uuid.uuid4().hex[:12]}"
    password = os.environ.get("FACTDECK_DATABASE_PASSWORD") or None
    conn = await asyncpg.connect(base, password=password)
    try:
        await conn.execute(f"CREATE SCHEMA {name}")
        yield f"{base}{'&' if '?' in base else '?'}search_path={name}"
    finally:
        await conn.execute(f"DROP SCHEMA {name} CASCADE")
        await conn.close()


async def measure(base: str, n_views: int = 50_000, baseline_views: int = 5_000) -> dict[str, float]:
    """Both strategies on ``base``: views, seconds and views/s for each, and the ratio batched/per-view."""
    async with _schema(base) as batched_url:
        batched_s = await _batched(batched_url, n_views)
    async with _schema(base) as per_view_url:
        per_view_s = await _per_view(per_view_url, baseline_views)
    batched_rate, per_view_rate = n_views / batched_s, baseline_views / per_view_s
    return {
        "batched_views": n_views,
        "batched_seconds": batched_s,
        "batched_per_second": batched_rate,
        "per_view_views": baseline_views,
        "per_view_seconds": per_view_s,
        "per_view_per_second": per_view_rate,
        "ratio": batched_rate / per_view_rate,
    }


def main() -> None:
    """Print the comparison table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n_views", nargs="?", type=int, default=50_000, help="views to record (default 50000)")
    parser.add_argument("--baseline-views", type=int, default=5_000, help="views written one commit each")
    parser.add_argument(
        "--database",
        default=os.environ.get("FACTDECK_TEST_POSTGRES"),
        help="a postgresql:// URL (default: $FACTDECK_TEST_POSTGRES, which .ci/with-postgres sets)",
    )
    args = parser.parse_args()
    if not args.database:
        parser.error("no server: pass --database or run under .ci/with-postgres")
    r = asyncio.run(measure(args.database, args.n_views, args.baseline_views))
    print(f"PostgreSQL, {WRITERS} concurrent writers")
    print(f"{'strategy':<26}{'views':>10}{'seconds':>10}{'views/s':>12}")
    for label, key in (("ViewLog batching", "batched"), ("INSERT + COMMIT per view", "per_view")):
        print(f"{label:<26}{r[key + '_views']:>10.0f}{r[key + '_seconds']:>10.2f}{r[key + '_per_second']:>12,.0f}")
    print(f"ratio: {r['ratio']:.1f}x (target >= 10x)")


if __name__ == "__main__":
    main()
