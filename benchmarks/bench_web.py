"""The web pages at 100,000 cards: pages per second and latency for /c/..., /card/... and /search, each beside a
bare aiohttp handler returning a constant page of the same size, measured in the same run.

The server runs as `factdeck web` runs it (bot.web.server.WebServer, a real SQLite view log) in this process; the
load comes from aiohttp clients in a second process, so the server's loop is not shared with the load. "Server"
times are the handler's own (a middleware measures each request from routing to the finished response); "client"
times include the HTTP round trip.

Run: .venv/bin/python -m benchmarks.bench_web [--cards 100000] [--requests 2000] [--concurrency 8]
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from aiohttp import web  # noqa: E402

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


async def measure(cards: int, requests: int, concurrency: int) -> None:
    rng = random.Random(17)
    with tempfile.TemporaryDirectory(prefix="factdeck-bench-web-") as tmp:
        folder = Path(tmp) / "cards"
        started = time.perf_counter()
        write_library(folder, cards, max(10, cards // 1000))
        service = await asyncio.to_thread(CardService.load, folder, cache_dir=Path(tmp) / "cache")
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
            rows = []
            async with WebServer(app, "127.0.0.1", 0) as server:
                for label, kind in (
                    ("/c/<collection>?page=", "collection"),
                    ("/card/<id>", "card"),
                    ("/search?q=", "search"),
                ):
                    paths = _paths(service, kind, requests, rng)
                    await _load(server.url, paths[: max(20, requests // 20)], concurrency)  # warm up
                    timer.samples.clear()
                    result = await _load(server.url, paths, concurrency)
                    rows.append((label, result, list(timer.samples)))
                size = max(int(statistics.median(r[1]["sizes"])) for r in rows)  # type: ignore[arg-type]
            constant = "x" * size

            async def bare(request: web.Request) -> web.Response:
                return web.Response(text=constant, content_type="text/html")

            baseline_app = web.Application(middlewares=[timer.middleware])
            baseline_app.router.add_get("/", bare)
            async with WebServer(baseline_app, "127.0.0.1", 0) as server:
                await _load(server.url, ["/"] * max(20, requests // 20), concurrency)
                timer.samples.clear()
                base = await _load(server.url, ["/"] * requests, concurrency)
                base_server = list(timer.samples)
    base_rate = requests / float(base["elapsed"])  # type: ignore[arg-type]
    print(f"\n{requests} requests per page kind, {concurrency} connections, load from a second process\n")
    head = f"{'page':24} {'pages/s':>8} {'× bare':>7} {'client p50/p99 ms':>18} {'server p50/p99 ms':>18} {'KB':>6}"
    print(head)
    print("-" * len(head))

    def line(label: str, result: dict[str, object], server_ms: list[float]) -> None:
        latencies: list[float] = result["latencies"]  # type: ignore[assignment]
        sizes: list[int] = result["sizes"]  # type: ignore[assignment]
        rate = requests / float(result["elapsed"])  # type: ignore[arg-type]
        print(
            f"{label:24} {rate:8.0f} {rate / base_rate:7.2f} "
            f"{_p(latencies, 0.5):8.2f} / {_p(latencies, 0.99):6.2f} "
            f"{_p(server_ms, 0.5):8.2f} / {_p(server_ms, 0.99):6.2f} {statistics.median(sizes) / 1024:6.1f}"
        )

    line(f"bare aiohttp ({size // 1024} KB)", base, base_server)
    for label, result, server_ms in rows:
        line(label, result, server_ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cards", type=int, default=100_000, help="library size in cards (default 100000)")
    parser.add_argument("--requests", type=int, default=2000, help="requests per page kind (default 2000)")
    parser.add_argument("--concurrency", type=int, default=8, help="connections of the load (default 8)")
    args = parser.parse_args()
    asyncio.run(measure(args.cards, args.requests, args.concurrency))


if __name__ == "__main__":
    main()
