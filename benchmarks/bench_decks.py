"""Every server its own decks (issue 15): one index with a visibility filter, measured beside today's library.

Three libraries, each built and queried in a fresh process of its own (so memory figures are not mixed up), in the
same run:

* **today**: SHARED shared cards only (what a bot serves today), searched and autocompleted as a server sees it;
* **mixed**: the same shared cards plus SERVERS servers with PER_SERVER cards of their own each
  (``cards/servers/<id>/``), searched and autocompleted as a random one of those servers sees it (its own cards
  and the shared ones; the filter is inside the query), and as a direct message sees it (shared only);
* **all shared**: the mixed library's cards all in the shared library, no visibility at all: what the same number
  of cards costs without audiences, so the cost of the filter itself shows.

Each library is started as the bot starts it (``CardService.load`` with a cache folder beside the cards, so the
search index is on disk and mmapped): a **first start** (every index built) and a **restart** (indexes read back
from the cache), each in a fresh process. For each: the time, the resident memory the library and its indexes
take (RSS after the start, less RSS before it; private and file-backed parts apart), the memory after the queries,
and search, card-autocomplete and random-card p50/p99 (queries of ``bench_search``, drawn from the shared cards,
the same for every library), and, in the mixed library, a server's own card shown (its deck is decoded to show
it). Printed with the ratios the issue sets, PASS or FAIL: mixed p99 within 1.5x of today's, memory within 1.3x.
``--baseline DIR`` also measures today's library with the code of another checkout (e.g. a worktree of main), in
the same run.

Run: .venv/bin/python -m benchmarks.bench_decks [--shared N] [--servers N] [--per-server N] [--baseline DIR]
(default 100,000 shared cards and 1,000 servers x 100 cards; on a shared 2-core machine scale both sides down the
same way, e.g. ``--shared 20000 --servers 200``).
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The checkout whose ``bot`` is measured (``--code``, default this one): the same benchmark can measure main's code
#: beside a branch's, in the same run.
CODE = Path(sys.argv[sys.argv.index("--code") + 1]).resolve() if "--code" in sys.argv[:-1] else ROOT
for _path in (ROOT, CODE):
    if str(_path) in sys.path:
        sys.path.remove(str(_path))
    sys.path.insert(0, str(_path))

from benchmarks.bench_search_index import _percentiles, _time_calls, query_sets, write_docs_library  # noqa: E402

KINDS = ("today", "mixed", "all shared")


def _memory_mb() -> dict[str, float]:
    """Resident memory of this process in MB: all of it, and its private (anonymous) and file-backed parts (the
    pages of the mmapped search index that were read count as file-backed: the kernel can drop them at will)."""
    found: dict[str, float] = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "RssAnon", "RssFile"):
                found[name] = int(value.split()[0]) / 1024
    return found


def _write(folder: Path, kind: str, shared: int, servers: int, per_server: int) -> list[int]:
    """The library of ``kind`` in ``folder``; the ids of the servers with collections of their own."""
    write_docs_library(folder, shared)  # bench_search's library: today's figure at 100,000 cards
    if kind == "today" or not servers:
        return []
    ids = [10**17 + n for n in range(servers)]
    for n, guild_id in enumerate(ids):
        target = folder if kind == "all shared" else folder / "servers" / str(guild_id)
        # Server collections reuse the same ids (ids are per audience); in the all-shared library they must differ.
        write_server_deck(target, n, per_server, "course" if kind == "mixed" else f"course-{n:05d}")
    return ids if kind == "mixed" else []


def write_server_deck(target: Path, n: int, per_server: int, collection_id: str = "course") -> Path:
    """Server ``n``'s deck of ``per_server`` cards, ``target/course-<n>.yml``, its collection ``collection_id`` (cards
    ``<collection_id>-NNNNN``, written like the shared ones from the same vocabulary)."""
    target.mkdir(parents=True, exist_ok=True)
    part = Path(tempfile.mkdtemp(dir=target.parent))
    write_docs_library(part, per_server, seed=1000 + n, collection=collection_id)
    path = target / f"course-{n:05d}.yml"
    (part / f"{collection_id}.yml").rename(path)
    part.rmdir()
    return path


def one(kind: str, shared: int, servers: int, per_server: int, folder: Path, start: str) -> dict[str, float]:
    """Start a service on the library in ``folder`` as the bot does (its cache folder beside it, the search index
    on disk), measure the memory it holds, then search and autocomplete in it. ``start`` is "cold" for a first
    start (every index built) or "warm" for a restart (indexes read back from the cache)."""
    from bot.index.search import SearchDoc
    from bot.service import CardService

    out: dict[str, float] = {}
    # The same servers ask in every library (in today's and the all-shared one they have no collections of their own).
    guilds = [10**17 + n for n in range(max(1, servers))]
    own_decks = kind == "mixed"
    gc.collect()
    before = _memory_mb()
    started = time.perf_counter()
    service = CardService.load(folder, cache_dir=folder.parent / "cache")
    out["build_s"] = time.perf_counter() - started
    gc.collect()
    after = _memory_mb()
    out["rss_mb"] = after["VmRSS"] - before["VmRSS"]
    out["anon_mb"] = after["RssAnon"] - before["RssAnon"]
    out["file_mb"] = after["RssFile"] - before["RssFile"]
    library = service.library
    out["cards"] = len(library.cards)
    gc.freeze()  # as the bot does once it is up

    # The same queries for every library: drawn from the shared cards (server decks use the same words).
    shared_ids = [i for i in library.cards if "@" not in i]
    docs = [SearchDoc.of(library.cards[i], library.collections[library.card_collection[i]]) for i in shared_ids]
    sets = query_sets(docs)
    del docs
    queries = [q for qs in sets.values() for q in qs]
    prefixes = sets["prefix"]
    rng = random.Random(5)
    viewers = [rng.choice(guilds) for _ in range(len(queries))]
    asked = iter(range(10**9))
    words = service._snapshot.search

    # Each search and autocomplete timed as a first search, as bench_search times today's figure: the index
    # forgets the totals, plans and pages it keeps, so a query text asked before (by any server) is not a kept page.
    def search(q: str) -> object:
        words.forget()
        return service.search(q, limit=5, viewer=viewers[next(asked) % len(viewers)])

    samples = _time_calls(search, queries)
    out["search_p50"], out["search_p99"] = _percentiles(samples)

    def dm_search(q: str) -> object:
        words.forget()
        return service.search(q, limit=5, viewer=None)

    samples = _time_calls(dm_search, queries)
    out["dm_search_p50"], out["dm_search_p99"] = _percentiles(samples)

    def complete(q: str) -> object:
        words.forget()
        return service.card_choices(q, viewer=viewers[next(asked) % len(viewers)])

    samples = _time_calls(complete, prefixes * 2)
    out["complete_p50"], out["complete_p99"] = _percentiles(samples)

    def show(n: int) -> object:  # a random card a random server sees (nearly always a shared one)
        return service.random(viewer=viewers[n % len(viewers)])

    samples = _time_calls(show, list(range(1000)))
    out["show_p50"], out["show_p99"] = _percentiles(samples)
    # A server's own card shown (``/fact show``, a search hit or a citation in its own deck): its deck is decoded.
    own = [(rng.choice(guilds), f"course-{rng.randrange(per_server):05d}") for _ in range(1000)] if own_decks else []

    def show_own(n: int) -> object:
        guild, card_id = own[n]
        return service.detail(card_id, viewer=guild)

    if own:
        assert show_own(0) is not None
        out["own_p50"], out["own_p99"] = _percentiles(_time_calls(show_own, list(range(len(own)))))
    gc.collect()
    out["rss_after_mb"] = _memory_mb()["VmRSS"] - before["VmRSS"]
    gc.unfreeze()
    return out


def _run(kind: str, args: argparse.Namespace, code: Path | None = None) -> dict[str, float]:
    """One library: written once, then a cold first start and a warm restart, each in a fresh process."""
    result: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="factdeck-decks-") as tmp:
        folder = Path(tmp) / "cards"
        _write(folder, kind, args.shared, args.servers, args.per_server)
        for start in ("cold", "warm"):
            command = [sys.executable, str(Path(__file__).resolve()), "--one", kind, "--start", start]
            command += ["--shared", str(args.shared), "--servers", str(args.servers)]
            command += ["--per-server", str(args.per_server), "--folder", str(folder), "--code", str(code or args.code)]
            done = subprocess.run(command, cwd=args.code, capture_output=True, text=True, check=True)
            measured: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
            result.update({f"{start}_{key}": value for key, value in measured.items()})
    return result


def main(args: argparse.Namespace) -> None:
    results = {kind: _run(kind, args) for kind in KINDS}
    if args.baseline is not None:
        results["today, baseline code"] = _run("today", args, args.baseline.resolve())
    today, mixed, flat = results["today"], results["mixed"], results["all shared"]
    print(
        f"shared cards {args.shared:,}; servers {args.servers:,} x {args.per_server:,} cards "
        f"(mixed: {int(mixed['cold_cards']):,} cards); code: {args.code}\n"
    )
    rows = [
        ("cards", "{:,.0f}", "cold_cards"),
        ("first start: load + build every index (s)", "{:.2f}", "cold_build_s"),
        ("first start: memory (MB RSS)", "{:.1f}", "cold_rss_mb"),
        ("  of which private / file-backed (MB)", "{}", "cold_split"),
        ("restart: load + read indexes back (s)", "{:.2f}", "warm_build_s"),
        ("restart: memory (MB RSS)", "{:.1f}", "warm_rss_mb"),
        ("  of which private / file-backed (MB)", "{}", "warm_split"),
        ("restart: memory after the queries (MB RSS)", "{:.1f}", "warm_rss_after_mb"),
        ("search p50 (ms), as a server", "{:.2f}", "warm_search_p50"),
        ("search p99 (ms), as a server", "{:.2f}", "warm_search_p99"),
        ("search p99 (ms), in a direct message", "{:.2f}", "warm_dm_search_p99"),
        ("card autocomplete p50 (ms), as a server", "{:.2f}", "warm_complete_p50"),
        ("card autocomplete p99 (ms), as a server", "{:.2f}", "warm_complete_p99"),
        ("random card shown p50 / p99 (ms)", "{}", "warm_show"),
        ("a server's own card shown p50 / p99 (ms)", "{}", "warm_own"),
    ]
    for r in results.values():
        for start in ("cold", "warm"):
            r[f"{start}_split"] = f"{r[f'{start}_anon_mb']:.0f} / {r[f'{start}_file_mb']:.0f}"  # type: ignore[assignment]
        r["warm_show"] = f"{r['warm_show_p50']:.2f} / {r['warm_show_p99']:.2f}"  # type: ignore[assignment]
        own = f"{r['warm_own_p50']:.3f} / {r['warm_own_p99']:.3f}" if "warm_own_p50" in r else "-"
        r["warm_own"] = own  # type: ignore[assignment]
    width = max(len(r[0]) for r in rows)
    columns = [today, mixed, flat]
    header = f"{'':{width}}  {'today':>12}  {'mixed':>12}  {'all shared':>12}"
    if args.baseline is not None:
        columns.append(results["today, baseline code"])
        header += f"  {'today, --baseline':>18}"
    print(header)
    for label, fmt, key in rows:
        print(f"{label:{width}}  " + "  ".join(f"{fmt.format(r[key]):>12}" for r in columns[:3]), end="")
        print(f"  {fmt.format(columns[3][key]):>18}" if len(columns) > 3 else "")
    print()

    def ratio(key: str) -> float:
        return mixed[key] / today[key]

    checks = [
        ("search p99, mixed / today (target <= 1.5)", ratio("warm_search_p99"), 1.5),
        ("autocomplete p99, mixed / today (target <= 1.5)", ratio("warm_complete_p99"), 1.5),
        ("memory at a first start, mixed / today (target <= 1.3)", ratio("cold_rss_mb"), 1.3),
        ("memory at a restart, mixed / today (target <= 1.3)", ratio("warm_rss_mb"), 1.3),
        ("memory after the queries, mixed / today (target <= 1.3)", ratio("warm_rss_after_mb"), 1.3),
    ]
    label_width = width + 12
    print(f"{'search p50, mixed / today (steadier on a busy machine)':{label_width}}  {ratio('warm_search_p50'):5.2f}x")
    print(f"{'autocomplete p50, mixed / today':{label_width}}  {ratio('warm_complete_p50'):5.2f}x")
    for label, value, target in checks:
        print(f"{label:{label_width}}  {value:5.2f}x  {'PASS' if value <= target else 'FAIL'}")
    print(
        f"{'memory at a restart, mixed / all shared':{label_width}}  {mixed['warm_rss_mb'] / flat['warm_rss_mb']:5.2f}x"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=int, default=100_000, help="shared cards (default 100,000)")
    parser.add_argument("--servers", type=int, default=1_000, help="servers with collections of their own")
    parser.add_argument("--per-server", type=int, default=100, help="cards in each server's collection")
    parser.add_argument(
        "--code", type=Path, default=ROOT, help="the checkout whose bot package is measured (default: this one)"
    )
    parser.add_argument(
        "--baseline", type=Path, help="another checkout (e.g. a worktree of main): its today's figures, same run"
    )
    parser.add_argument("--one", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--start", choices=("cold", "warm"), default="cold", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.one:
        print(
            json.dumps(one(parsed.one, parsed.shared, parsed.servers, parsed.per_server, parsed.folder, parsed.start))
        )
    else:
        main(parsed)
