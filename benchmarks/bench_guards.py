"""What hostile input costs, each beside ordinary input of the same kind measured in the same run.

The unit tests assert the behaviour (the billion-laughs file is refused, hostile citation text never raises, the
CSL style is parsed once); the time it takes is measured here, where a busy machine cannot fail a test:

- a billion-laughs card file (9**10 strings if expanded), refused before expansion, beside a valid card file;
- every hostile citation text of ``tests/index/test_citations.py`` (extract, parse, look up, complete, index),
  the slowest of them beside an ordinary cited sentence;
- an APA rendering once its CSL style is cached, beside the first rendering, which parses the style.

Run: .venv/bin/python -m benchmarks.bench_guards [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.cards import sources  # noqa: E402
from bot.cards.sources import render_source  # noqa: E402
from bot.cards.validate import validate_text  # noqa: E402
from bot.index.citations import CitationIndex, extract, parse_reference  # noqa: E402
from tests.cards.test_sources import JOURNAL  # noqa: E402
from tests.cards.test_validate import GOOD, billion_laughs  # noqa: E402
from tests.index.test_citations import HOSTILE, seed_index  # noqa: E402

ORDINARY_CITATION = "The alliance predicts outcome (Horvath & Symonds, 1991; Martin, Garske & Davis, 2000)."


def _median_ms(call: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1e3


def _citation_work(index: CitationIndex, text: str) -> Callable[[], object]:
    def work() -> object:
        extract(text)
        parse_reference(text)
        index.lookup(text)
        index.complete(text)
        return CitationIndex.build([("h", text, [text])]).lookup(text)

    return work


def _first_render() -> object:
    sources._csl_style.cache_clear()
    return render_source(JOURNAL, "apa", key="k")  # type: ignore[arg-type]


def measure(repeat: int) -> dict[str, str]:
    rows: dict[str, str] = {}
    laughs = billion_laughs()
    rows["billion-laughs card file, refused"] = f"{_median_ms(lambda: validate_text(laughs, 'l.yml'), repeat):.2f} ms"
    rows["baseline: a valid card file"] = f"{_median_ms(lambda: validate_text(GOOD, 'g.yml'), repeat):.2f} ms"

    index = seed_index()
    hostile = {text: _median_ms(_citation_work(index, text), repeat) for text in HOSTILE}
    slowest = max(hostile, key=hostile.__getitem__)
    rows["hostile citation text, slowest of " + str(len(HOSTILE))] = f"{hostile[slowest]:.2f} ms ({slowest[:20]!r}…)"
    rows["hostile citation text, median"] = f"{statistics.median(hostile.values()):.2f} ms"
    ordinary = _median_ms(_citation_work(index, ORDINARY_CITATION), repeat)
    rows["baseline: an ordinary cited sentence"] = f"{ordinary:.2f} ms"

    first = _median_ms(_first_render, max(3, repeat // 10))
    render_source(JOURNAL, "apa", key="k")  # type: ignore[arg-type]
    rows["APA rendering, style cached"] = f"{_median_ms(lambda: render_source(JOURNAL, 'apa', key='k'), repeat):.2f} ms"  # type: ignore[arg-type]
    rows["baseline: first rendering (parses the CSL style)"] = f"{first:.2f} ms"
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="runs per figure; the median is shown (30)")
    args = parser.parse_args()
    rows = measure(args.repeat)
    width = max(len(k) for k in rows)
    for key, value in rows.items():
        print(f"{key:{width}}  {value:>32}")


if __name__ == "__main__":
    main()
