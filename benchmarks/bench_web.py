"""The web pages at 100,000 cards: pages per second and latency for /c/..., /card/... and /search, each beside a
bare aiohttp handler returning a constant page of the same size, measured in the same run.

The server runs as `factdeck web` runs it (bot.web.server.WebServer, a real SQLite view log) in this process; the
load comes from aiohttp clients in a second process, so the server's loop is not shared with the load. "Server"
times are the handler's own (a middleware measures each request from routing to the finished response); "client"
times include the HTTP round trip.

Run: .venv/bin/python -m benchmarks.bench_web [--cards 100000] [--requests 2000] [--concurrency 8] [--rounds 4]
     [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from aiohttp import ClientSession, web  # noqa: E402

from benchmarks.synth import _WORDS, write_library  # noqa: E402
from bot.service import CardService  # noqa: E402
from bot.storage import Storage  # noqa: E402
from bot.web import WebServer, create_app  # noqa: E402

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

# The load generator, run with `python -c`: fetch every path with N connections, print latencies (ms) as JSON.
LOAD = r"""
import asyncio, json, sys, time
import aiohttp

async def main(base, paths, concurrency, agent):
    latencies, sizes = [], []
    queue = list(reversed(paths))
    async with aiohttp.ClientSession(base, headers={"User-Agent": agent}) as session:
        async def worker():
            while queue:
                path = queue.pop()
                started = time.perf_counter()
                async with session.get(path) as response:
                    body = await response.read()
                    assert response.status == 200, (path, response.status)
                latencies.append((time.perf_counter() - started) * 1000)
                sizes.append(len(body))
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    print(json.dumps({"elapsed": elapsed, "latencies": latencies, "sizes": sizes}))

args = json.loads(sys.stdin.read())
asyncio.run(main(args["base"], args["paths"], args["concurrency"], args["agent"]))
"""


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class _Timer:
    """A middleware recording each request's time in the server (ms), per kind of page."""

    def __init__(self) -> None:
        self.samples: list[float] = []

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        started = time.perf_counter()
        response = await handler(request)
        self.samples.append((time.perf_counter() - started) * 1000)
        return response


async def _load(base: str, paths: list[str], concurrency: int) -> dict[str, object]:
    """Run the load generator in its own process against ``base`` (the server keeps serving meanwhile)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        LOAD,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    request = {"base": base, "paths": paths, "concurrency": concurrency, "agent": BROWSER}
    out, _ = await process.communicate(json.dumps(request).encode())
    if process.returncode != 0:
        raise RuntimeError("the load generator failed")
    result: dict[str, object] = json.loads(out)
    return result


def _paths(service: CardService, kind: str, n: int, rng: random.Random) -> list[str]:
    library = service.library
    if kind == "collection":
        ids = list(library.collections)
        out = []
        for _ in range(n):
            cid = rng.choice(ids)
            pages = max(1, -(-len(library.cards_of(cid)) // 20))
            out.append(f"/c/{cid}?page={rng.randint(1, pages)}")
        return out
    if kind == "card":
        cards = list(library.cards)
        return [f"/card/{rng.choice(cards)}" for _ in range(n)]
    words = [w for w in _WORDS if w.isalpha()]
    return [f"/search?q={'+'.join(rng.sample(words, rng.choice((1, 2))))}" for _ in range(n)]


@dataclass
class _Kind:
    """One kind of page: its paths, and what the rounds measured of it."""

    label: str
    paths: list[str]
    latencies: list[float] = field(default_factory=list)
    server: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    elapsed: float = 0.0
    cpu: float = 0.0


async def measure(cards: int, requests: int, concurrency: int, rounds: int, keep: Path | None) -> None:
    rng = random.Random(17)
    with tempfile.TemporaryDirectory(prefix="factdeck-bench-web-") as tmp:
        base = keep if keep is not None else Path(tmp)
        folder = base / f"cards-{cards}"
        started = time.perf_counter()
        if not folder.is_dir():
            write_library(folder, cards, max(10, cards // 1000))
        service = await asyncio.to_thread(CardService.load, folder, cache_dir=base / f"cache-{cards}")
        print(
            f"library: {len(service.library.cards):,} cards in {len(service.library.collections)} collections "
            f"(written and indexed in {time.perf_counter() - started:.0f} s)",
            flush=True,
        )
        gc.collect()
        gc.freeze()  # as the bot does once it is up
        async with Storage.open(Path(tmp) / "factdeck.db") as storage:
            timer = _Timer()
            app = create_app(service, views=storage.views)
            app.middlewares.insert(0, timer.middleware)
            kinds = [
                _Kind("/c/<collection>?page=", _paths(service, "collection", requests, rng)),
                _Kind("/card/<id>", _paths(service, "card", requests, rng)),
                _Kind("/search?q=", _paths(service, "search", requests, rng)),
            ]
            async with WebServer(app, "127.0.0.1", 0) as server:
                for kind in kinds:  # warm up (caches, lazily decoded indexes), and learn the page sizes
                    await _load(server.url, kind.paths[: max(20, requests // 20)], concurrency)
                size = int(statistics.median(len(p) for p in [await _page(server.url, k.paths[0]) for k in kinds]))
                constant = "x" * size

                async def bare(request: web.Request) -> web.Response:
                    return web.Response(text=constant, content_type="text/html")

                baseline_app = web.Application(middlewares=[timer.middleware])
                baseline_app.router.add_get("/", bare)
                bare_kind = _Kind(f"bare aiohttp ({size / 1024:.0f} KB)", ["/"] * requests)
                async with WebServer(baseline_app, "127.0.0.1", 0) as bare_server:
                    await _load(bare_server.url, ["/"] * max(20, requests // 20), concurrency)
                    # Rounds alternate the kinds, so whatever else the machine does falls on all of them alike.
                    chunk = -(-requests // rounds)
                    for number in range(rounds):
                        for kind, url in [(bare_kind, bare_server.url)] + [(k, server.url) for k in kinds]:
                            paths = kind.paths[number * chunk : (number + 1) * chunk]
                            timer.samples.clear()
                            cpu = time.process_time()
                            result = await _load(url, paths, concurrency)
                            kind.cpu += time.process_time() - cpu
                            kind.elapsed += float(result["elapsed"])  # type: ignore[arg-type]
                            kind.latencies += result["latencies"]  # type: ignore[arg-type]
                            kind.sizes += result["sizes"]  # type: ignore[arg-type]
                            kind.server += timer.samples
    print(f"\n{requests} requests per kind in {rounds} alternating rounds, {concurrency} connections, load from a")
    print("second process. 'CPU/page' is the server process's CPU time per page (the figure least moved by other")
    print("work on the machine); 'server' is the handler's own time; 'client' includes the HTTP round trip.\n")
    head = (
        f"{'page':24} {'pages/s':>8} {'× bare':>7} {'CPU/page ms':>12} {'× bare':>7} "
        f"{'server p50/p99 ms':>18} {'client p50/p99 ms':>18} {'KB':>6}"
    )
    print(head)
    print("-" * len(head))
    bare_rate = requests / bare_kind.elapsed
    bare_cpu = bare_kind.cpu / requests * 1000
    for kind in [bare_kind, *kinds]:
        rate = requests / kind.elapsed
        cpu = kind.cpu / requests * 1000
        size_kb = statistics.median(kind.sizes) / 1024
        print(
            f"{kind.label:24} {rate:8.0f} {rate / bare_rate:7.2f} {cpu:12.2f} {cpu / bare_cpu:7.1f} "
            f"{_p(kind.server, 0.5):8.2f} / {_p(kind.server, 0.99):6.2f} "
            f"{_p(kind.latencies, 0.5):8.2f} / {_p(kind.latencies, 0.99):6.2f} {size_kb:6.1f}"
        )


async def _page(base: str, path: str) -> bytes:
    async with ClientSession(base, headers={"User-Agent": BROWSER}) as session, session.get(path) as response:
        return await response.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cards", type=int, default=100_000, help="library size in cards (default 100000)")
    parser.add_argument("--requests", type=int, default=2000, help="requests per page kind (default 2000)")
    parser.add_argument("--concurrency", type=int, default=8, help="connections of the load (default 8)")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds over the kinds (default 4)")
    parser.add_argument("--keep", type=Path, help="write the library (and its cache) here and reuse it next time")
    args = parser.parse_args()
    asyncio.run(measure(args.cards, args.requests, args.concurrency, args.rounds, args.keep))


if __name__ == "__main__":
    main()
