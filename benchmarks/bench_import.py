"""CSV import: the per-row YAML round trip it used to do, against validating the assembled file once.

Both run in one process on the same CSV, each in a thread beside an event loop (as ``/cards import`` runs), and
the loop's worst wait is printed with the time: that wait is how long other members' commands go unanswered.
"Before" reproduces the code this replaced (each row written as YAML, parsed and walked node by node; then the
whole file written and validated again); "after" is ``import_text`` as the bot calls it (a large import goes to a
worker process). Writing the file (``yamlio.dump``) is the writer's cost, the same before and after, and is shown
apart.

Run: .venv/bin/python benchmarks/bench_import.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.cards import importers, validate, yamlio  # noqa: E402
from bot.cards.model import Card, CardFile, Collection  # noqa: E402


def make_csv(rows: int, seed: int = 3) -> str:
    rng = random.Random(seed)
    words = [
        "alliance",
        "outcome",
        "rupture",
        "repair",
        "therapist",
        "client",
        "goal",
        "task",
        "bond",
        "session",
        "early",
        "late",
    ]
    lines = ["text,topics,article,source"]
    for n in range(rows):
        body = " ".join(rng.choice(words) for _ in range(rng.randint(8, 30)))
        lines.append(f'"Fact {n}: the {body}.",alliance;{rng.choice(words)},Article {n % 500},Offline Book/Journal')
    return "\n".join(lines) + "\n"


def before(text: str, path: str) -> int:
    """The import as it was: every row through a YAML round trip and a node walk, then the whole file again."""
    cards: list[Card] = []
    for row in csv.DictReader(io.StringIO(text, newline="")):
        data: dict[str, Any] = {"id": importers.card_id("bench", len(cards) + 1), "text": row["text"].strip()}
        data["topics"] = [t.strip() for t in row["topics"].split(";") if t.strip()]
        data["source"] = {"article": row["article"], "type": row["source"]}
        root = yamlio.compose(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
        walker = validate._Walker(path, "the card")
        walker.struct(root, Card, ())
        if not walker.problems:
            cards.append(msgspec.convert(data, Card))
    card_file = CardFile(collection=Collection(id="bench", title="bench", curator="unknown"), cards=tuple(cards))
    result = validate.validate_text(yamlio.dump(card_file), path)
    return len(result.card_file.cards) if result.card_file else 0


def after(text: str, path: str) -> int:
    result = importers.import_text(text, path, "csv", collection_id="bench")
    return len(result.card_file.cards) if result.card_file else 0


async def beside_a_loop(work: Callable[[str, str], int], text: str) -> tuple[float, float, int]:
    """(seconds, worst event-loop wait in seconds, cards) of ``work`` run in a thread beside a ticking loop."""
    worst = 0.0
    started = time.perf_counter()
    task = asyncio.ensure_future(asyncio.to_thread(work, text, "bench.csv"))
    while not task.done():
        tick = time.perf_counter()
        await asyncio.sleep(0.005)
        worst = max(worst, time.perf_counter() - tick - 0.005)
    return time.perf_counter() - started, worst, task.result()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows in the generated CSV (default 100000)")
    args = parser.parse_args(argv)
    text = make_csv(args.rows)
    print(f"CSV: {args.rows:,} rows, {len(text.encode()) / 1e6:.1f} MB")
    print(f"{'':8}{'seconds':>10}{'worst loop wait (s)':>22}{'cards':>9}")
    for name, work in (("before", before), ("after", after)):
        seconds, worst, cards = asyncio.run(beside_a_loop(work, text))
        print(f"{name:8}{seconds:>10.2f}{worst:>22.3f}{cards:>9,}")
    result = importers.import_text(text, "bench.csv", "csv", collection_id="bench")
    if result.card_file is not None:
        started = time.perf_counter()
        yamlio.dump(result.card_file)
        print(f"writing the imported file (yamlio.dump, unchanged): {time.perf_counter() - started:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
