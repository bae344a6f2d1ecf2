"""Where a bot process spends its time per interaction: py-spy attached to it while one kind of interaction runs.

Starts Factdeck (or the bare bot, ``--bare``) in its own process against ``bench_bot``'s fake Discord with 10,000
cards and 50 users, warms it up, then records the process with py-spy (250 samples a second, raw stacks, every
thread) while ``--requests`` interactions of one kind run in a closed loop, and prints the process's CPU time per
interaction over the same window. py-spy is not a dependency of Factdeck: install it beside it
(``pip install py-spy``) or pass its path. docs/performance.md ("Fifth round") shows what these profiles found.

    .venv/bin/python -m benchmarks.profile_bot search --requests 30000 --out search.txt
    .venv/bin/python -m benchmarks.profile_bot ping --bare --requests 30000 --out ping.txt

The output is py-spy's raw format (one stack per line, its frames separated by ";", then a count): the top
frames are ``sort | uniq``-able, or readable by speedscope and inferno.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from benchmarks import bench_bot as bb


async def profile(kind: str, *, bare: bool, requests: int, out: Path, py_spy: str, users: int = 50) -> float:
    """Record ``requests`` interactions of ``kind``; return the bot process's CPU milliseconds per interaction."""
    with tempfile.TemporaryDirectory(prefix="factdeck-profile-") as tmp_name:
        tmp = Path(tmp_name)
        queries, common = bb.generate_library(tmp / "cards", 10_000)
        config = bb.write_config(tmp / "factdeck", tmp / "cards", tmp / "cache")
        args = ["benchmarks.bare_bot"] if bare else ["tests.fakediscord.process", "--config", str(config)]
        ready = bb.SLASH[bb.BARE] if bare else bb.SLASH[bb.RANDOM]
        log = tmp / "bot.log"
        async with bb.fake_world(users, check=False) as world, bb.own_process(world, args, ready, log) as pid:
            timer = bb.Timer(world, queries, common, pid=pid)
            await bb.closed_loop(timer, kind, requests=max(500, 2 * users), users=users)  # warm up
            spy = await asyncio.create_subprocess_exec(
                *[py_spy, "record", "--pid", str(pid), "--rate", "250", "--format", "raw", "--output", str(out)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                await asyncio.sleep(1.0)  # py-spy attached
                before = bb.cpu_seconds(pid)
                await bb.closed_loop(timer, kind, requests=requests, users=users)
                after = bb.cpu_seconds(pid)
            finally:
                spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
                await asyncio.wait_for(spy.wait(), timeout=60)
    if before is None or after is None:
        return float("nan")
    return (after - before) / requests * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=[bb.BARE, bb.RANDOM, bb.SEARCH, bb.PAGE])
    parser.add_argument("--bare", action="store_true", help="profile the bare bot (its only command is ping)")
    parser.add_argument("--requests", type=int, default=30_000)
    parser.add_argument("--out", type=Path, default=Path("profile.txt"))
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "py-spy", help="the py-spy executable")
    args = parser.parse_args()
    if args.bare != (args.kind == bb.BARE):
        parser.error("the bare bot answers ping only, and Factdeck does not answer ping")
    cpu_ms = asyncio.run(profile(args.kind, bare=args.bare, requests=args.requests, out=args.out, py_spy=args.py_spy))
    print(f"{bb.LABELS[args.kind]}: {cpu_ms:.3f} ms of the bot process's CPU per interaction; profile in {args.out}")


if __name__ == "__main__":
    main()
