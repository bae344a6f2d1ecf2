"""Every server its own decks (issue 15): one index with a visibility filter, measured beside today's library.

Three libraries, each built and queried in a fresh process of its own (so memory figures are not mixed up), in the
same run:

* **today**: SHARED shared cards only (what a bot serves today), searched and autocompleted as a server sees it;
* **mixed**: the same shared cards plus SERVERS servers with PER_SERVER cards of their own each
  (``cards/servers/<id>/``), searched and autocompleted as a random one of those servers sees it (its own cards
  and the shared ones; the filter is inside the query), and as a direct message sees it (shared only);
* **all shared**: the mixed library's cards all in the shared library, no visibility at all: what the same number
  of cards costs without audiences, so the cost of the filter itself shows.

For each: the cold index build (every index of :class:`bot.service.CardService`, no cache), the resident memory
the library and its indexes take (RSS after the build, less RSS before loading), and search and card-autocomplete
p50/p99 over the query sets of ``bench_search``. Printed with the ratios the issue sets: mixed p99 within 1.5x of
today's, memory within 1.3x.

Run: .venv/bin/python -m benchmarks.bench_decks [--shared N] [--servers N] [--per-server N]
(default 100,000 shared cards and 1,000 servers x 100 cards; on a shared 2-core machine scale both sides down the
same way, e.g. ``--shared 20000 --servers 200``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.bench_search_index import _percentiles, _time_calls, query_sets  # noqa: E402
from benchmarks.synth import write_library  # noqa: E402

KINDS = ("today", "mixed", "all shared")


def _rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _write(folder: Path, kind: str, shared: int, servers: int, per_server: int) -> list[int]:
    """The library of ``kind`` in ``folder``; the ids of the servers with collections of their own."""
    write_library(folder, shared, max(10, shared // 1000), seed=7)
    if kind == "today" or not servers:
        return []
    ids = [10**17 + n for n in range(servers)]
    for n, guild_id in enumerate(ids):
        target = folder if kind == "all shared" else folder / "servers" / str(guild_id)
        part = Path(tempfile.mkdtemp(dir=folder.parent))
        write_library(part, per_server, 1, seed=1000 + n)
        target.mkdir(parents=True, exist_ok=True)
        (part / "bench-0000.yml").rename(target / f"course-{n:05d}.yml")
        text = (target / f"course-{n:05d}.yml").read_text(encoding="utf-8")
        # Server collections reuse the same ids (ids are per audience); in the all-shared library they must differ.
        own = "course" if kind == "mixed" else f"course-{n:05d}"
        (target / f"course-{n:05d}.yml").write_text(text.replace("bench-0000", own), encoding="utf-8")
        part.rmdir()
    return ids if kind == "mixed" else []


def one(kind: str, shared: int, servers: int, per_server: int) -> dict[str, float]:
    """Build and measure one library in this process."""
    from bot.cards.library import load_library
    from bot.index.search import SearchDoc
    from bot.service import CardService

    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="factdeck-decks-") as tmp:
        folder = Path(tmp) / "cards"
        guilds = _write(folder, kind, shared, servers, per_server)
        gc.collect()
        before = _rss_bytes()
        library = load_library(folder)
        started = time.perf_counter()
        service = CardService(library)  # every index, no cache: a cold build
        out["build_s"] = time.perf_counter() - started
        gc.collect()
        out["rss_mb"] = (_rss_bytes() - before) / 2**20
        out["cards"] = len(library.cards)
        gc.freeze()  # as the bot does once it is up

        docs = [SearchDoc.of(c, library.collections[library.card_collection[i]]) for i, c in library.cards.items()]
        sets = query_sets(docs)
        queries = [q for qs in sets.values() for q in qs]
        prefixes = sets["prefix"]
        rng = random.Random(5)
        viewers = [rng.choice(guilds) if guilds else 10**17 for _ in range(len(queries))]
        asked = iter(range(10**9))

        def search(q: str) -> object:
            return service.search(q, limit=5, viewer=viewers[next(asked) % len(viewers)])

        samples = _time_calls(search, queries)
        out["search_p50"], out["search_p99"] = _percentiles(samples)
        samples = _time_calls(lambda q: service.search(q, limit=5, viewer=None), queries)
        out["dm_search_p50"], out["dm_search_p99"] = _percentiles(samples)
        bare = service._snapshot.search
        samples = _time_calls(lambda q: bare.search(q, limit=5), queries)
        out["bare_p50"], out["bare_p99"] = _percentiles(samples)

        def complete(q: str) -> object:
            return service.card_choices(q, viewer=viewers[next(asked) % len(viewers)])

        samples = _time_calls(complete, prefixes * 2)
        out["complete_p50"], out["complete_p99"] = _percentiles(samples)
        gc.unfreeze()
    return out


def _run(kind: str, args: argparse.Namespace) -> dict[str, float]:
    command = [sys.executable, "-m", "benchmarks.bench_decks", "--one", kind]
    command += ["--shared", str(args.shared), "--servers", str(args.servers), "--per-server", str(args.per_server)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(args: argparse.Namespace) -> None:
    results = {kind: _run(kind, args) for kind in KINDS}
    today, mixed, flat = results["today"], results["mixed"], results["all shared"]
    print(
        f"shared cards {args.shared:,}; servers {args.servers:,} x {args.per_server:,} cards "
        f"(mixed: {int(mixed['cards']):,} cards)\n"
    )
    rows = [
        ("cards", "{:,.0f}", "cards"),
        ("cold build of every index (s)", "{:.2f}", "build_s"),
        ("memory: library + indexes (MB RSS)", "{:.0f}", "rss_mb"),
        ("search p50 (ms), as a server", "{:.2f}", "search_p50"),
        ("search p99 (ms), as a server", "{:.2f}", "search_p99"),
        ("search p99 (ms), in a direct message", "{:.2f}", "dm_search_p99"),
        ("search p99 (ms), the index with no filter", "{:.2f}", "bare_p99"),
        ("card autocomplete p50 (ms), as a server", "{:.2f}", "complete_p50"),
        ("card autocomplete p99 (ms), as a server", "{:.2f}", "complete_p99"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'':{width}}  {'today':>12}  {'mixed':>12}  {'all shared':>12}")
    for label, fmt, key in rows:
        print(f"{label:{width}}  " + "  ".join(f"{fmt.format(r[key]):>12}" for r in (today, mixed, flat)))
    print()
    checks = [
        ("search p99, mixed / today (target <= 1.5)", mixed["search_p99"] / today["search_p99"], 1.5),
        ("autocomplete p99, mixed / today (target <= 1.5)", mixed["complete_p99"] / today["complete_p99"], 1.5),
        ("memory, mixed / today (target <= 1.3)", mixed["rss_mb"] / today["rss_mb"], 1.3),
    ]
    print(
        f"{'search p50, mixed / today (steadier on a busy machine)':{width + 8}}  "
        f"{mixed['search_p50'] / today['search_p50']:5.2f}x"
    )
    print(f"{'autocomplete p50, mixed / today':{width + 8}}  {mixed['complete_p50'] / today['complete_p50']:5.2f}x")
    for label, ratio, target in checks:
        print(f"{label:{width + 8}}  {ratio:5.2f}x  {'PASS' if ratio <= target else 'FAIL'}")
    print(
        f"{'search p99, mixed / all shared (the filter itself)':{width + 8}}  "
        f"{mixed['search_p99'] / flat['search_p99']:5.2f}x"
    )
    print(f"{'memory, mixed / all shared (what audiences cost)':{width + 8}}  {mixed['rss_mb'] / flat['rss_mb']:5.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=int, default=100_000, help="shared cards (default 100,000)")
    parser.add_argument("--servers", type=int, default=1_000, help="servers with collections of their own")
    parser.add_argument("--per-server", type=int, default=100, help="cards in each server's collection")
    parser.add_argument("--one", choices=KINDS, help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.one:
        print(json.dumps(one(parsed.one, parsed.shared, parsed.servers, parsed.per_server)))
    else:
        main(parsed)
