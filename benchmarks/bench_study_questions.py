"""Study questions: deriving every question of a whole library, against loading that library (cold and warm).

Times are CPU seconds of this process (the benchmark machine is shared). Both are done in the same run on the same
synthetic cards (benchmarks/synth.py, academic-sounding text with citations): the baseline is what the bot already
pays to have the cards at all (the cold load in this process, workers=1, so its CPU time counts). Derivation is
measured cold (a fresh library: terms extracted, pools built) and warm (the same library again: pools cached), plus
the first card of a fresh library alone (what `factdeck questions` waits for: its collection's pools) and one whole
collection of a fresh library (what a quiz on a collection derives).

Run: .venv/bin/python -m benchmarks.bench_study_questions [--sizes 10000] [--files 10]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.synth import write_library  # noqa: E402
from bot.cards.library import LoadCache, load_library  # noqa: E402
from bot.study.questions import questions_for  # noqa: E402


def _timed(action):
    """The action's result and its CPU time (the machine may be shared, so wall time would measure the others)."""
    started = time.process_time()
    result = action()
    return result, time.process_time() - started


def measure(cards: int, files: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="factdeck-bench-") as tmp:
        folder, cache_dir = Path(tmp) / "cards", Path(tmp) / "cache"
        write_library(folder, cards, files)
        # In this process (workers=1), so that its CPU time is counted like the derivation's.
        _, cold_load_s = _timed(lambda: load_library(folder, cache=LoadCache(cache_dir), workers=1))
        library, warm_load_s = _timed(lambda: load_library(folder, cache=LoadCache(cache_dir)))
        first = next(iter(library.cards.values()))
        _, first_card_s = _timed(lambda: questions_for(first, library))
        library, _ = _timed(lambda: load_library(folder, cache=LoadCache(cache_dir)))  # a fresh library: no pools
        collection = next(iter(library.collections))
        _, one_collection_s = _timed(lambda: [questions_for(c, library) for c in library.cards_of(collection)])
        library, _ = _timed(lambda: load_library(folder, cache=LoadCache(cache_dir)))

        def everything() -> list:
            return [q for card in library.cards.values() for q in questions_for(card, library)]

        questions, cold_derive_s = _timed(everything)
        again, warm_derive_s = _timed(everything)
        assert questions == again
        return {
            "cards": cards,
            "files": files,
            "questions": len(questions),
            "choices": sum(q.kind == "choice" for q in questions),
            "baseline_cold_load_s": round(cold_load_s, 3),
            "baseline_warm_load_s": round(warm_load_s, 3),
            "first_card_fresh_library_s": round(first_card_s, 3),
            "one_collection_fresh_library_s": round(one_collection_s, 3),
            "cards_per_collection": cards // files,
            "derive_all_cold_s": round(cold_derive_s, 3),
            "derive_all_warm_s": round(warm_derive_s, 3),
            "per_card_cold_us": round(cold_derive_s / cards * 1e6, 1),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000])
    parser.add_argument("--files", type=int, default=10)
    args = parser.parse_args()
    for size in args.sizes:
        print(json.dumps(measure(size, args.files)))


if __name__ == "__main__":
    main()
