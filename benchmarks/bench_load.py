"""Card loading and the first start: cold, warm (cached) and one-file-changed loads, and a start of the whole
service (load, validate, every index) cold and warm, each against a bare CSafeLoader parse of the same files
measured in the same run.

Run: .venv/bin/python benchmarks/bench_load.py [--sizes 10000 100000] [--start-only]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.synth import write_library  # noqa: E402

_MEMORY_PROBE = """
import json, sys
from pathlib import Path
from bot.cards.library import load_library

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1])

before = status("VmRSS:")
library = load_library(Path(sys.argv[1]), workers=int(sys.argv[2]))
print(json.dumps({"cards": len(library.cards), "peak_kib": status("VmHWM:"), "import_kib": before,
                  "retained_kib": status("VmRSS:")}))
"""


def bare_parse(folder: Path) -> float:
    started = time.perf_counter()
    for path in sorted(folder.glob("*.yml")):
        yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    return time.perf_counter() - started


def peak_memory(folder: Path, workers: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE, str(folder), str(workers)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout)


def measure_start(cards: int, files: int) -> dict:
    """The whole service started cold (empty cache folder) and warm, and its indexes alone brought back warm.

    Uses only ``bot.service.CardService``, which every version of the layout has, so that the same function
    measures the code before and after a change (run it from each checkout).
    """
    from bot.service import CardService

    with tempfile.TemporaryDirectory(prefix="factdeck-bench-") as tmp:
        folder, cache_dir = Path(tmp) / "cards", Path(tmp) / "cache"
        write_library(folder, cards, files)
        bare_parse(folder)  # warm the page cache so both sides read from memory
        baseline = bare_parse(folder)
        cpu = time.process_time()
        bare_parse(folder)
        baseline_cpu = time.process_time() - cpu
        started, cpu = time.perf_counter(), time.process_time()
        service = CardService.load(folder, cache_dir=cache_dir)
        cold_s, cold_cpu = time.perf_counter() - started, time.process_time() - cpu
        warm_indexes_s, warm_indexes_cpu = [], []
        for _ in range(3):  # the best of three: what the code costs, not what other processes took meanwhile
            started, cpu = time.perf_counter(), time.process_time()
            CardService(service.library, cache_dir=cache_dir)
            warm_indexes_s.append(time.perf_counter() - started)
            warm_indexes_cpu.append(time.process_time() - cpu)
        started = time.perf_counter()
        warm = CardService.load(folder, cache_dir=cache_dir)
        warm_s = time.perf_counter() - started
        assert len(warm.library.cards) == len(service.library.cards) == cards
        return {
            "cards": cards,
            "bare_parse_s": baseline,
            "bare_parse_cpu_s": baseline_cpu,
            "start_cold_s": cold_s,
            "start_cold_ratio": cold_s / baseline,
            "start_cold_cpu_s": cold_cpu,
            "start_cold_cpu_ratio": cold_cpu / baseline_cpu,
            "start_warm_indexes_s": min(warm_indexes_s),
            "start_warm_indexes_ratio": min(warm_indexes_s) / baseline,
            "start_warm_indexes_cpu_s": min(warm_indexes_cpu),
            "start_warm_s": warm_s,
            "start_warm_ratio": warm_s / baseline,
        }


START_ROWS = [
    ("bare_parse_s", "baseline: bare CSafeLoader (s)", "{:>20.2f}"),
    ("bare_parse_cpu_s", "  its CPU time (s)", "{:>20.2f}"),
    ("start_cold_s", "cold start: load+validate+indexes", "{:>20.2f}"),
    ("start_cold_ratio", "  / baseline (target <= 1.3)", "{:>20.2f}"),
    ("start_cold_cpu_s", "  CPU of the main process (s)", "{:>20.2f}"),
    ("start_cold_cpu_ratio", "  / baseline's CPU (target <= 1.3)", "{:>20.2f}"),
    ("start_warm_indexes_s", "warm start, every index (s)", "{:>20.3f}"),
    ("start_warm_indexes_ratio", "  / baseline", "{:>20.3f}"),
    ("start_warm_indexes_cpu_s", "  its CPU time (s)", "{:>20.3f}"),
    ("start_warm_s", "warm start, load + indexes (s)", "{:>20.3f}"),
    ("start_warm_ratio", "  / baseline", "{:>20.3f}"),
]


def measure(cards: int, files: int) -> dict:
    from bot.cards.library import LoadCache, load_library

    with tempfile.TemporaryDirectory(prefix="factdeck-bench-") as tmp:
        folder, cache_dir = Path(tmp) / "cards", Path(tmp) / "cache"
        size = write_library(folder, cards, files)
        bare_parse(folder)  # warm the page cache so both sides read from memory
        baseline = bare_parse(folder)
        started = time.perf_counter()
        cold = load_library(folder, cache=LoadCache(cache_dir))
        cold_s = time.perf_counter() - started
        started = time.perf_counter()
        warm = load_library(folder, cache=LoadCache(cache_dir))
        warm_s = time.perf_counter() - started
        assert len(warm.cards) == len(cold.cards) == cards, (len(warm.cards), len(cold.cards))
        changed = sorted(folder.glob("*.yml"))[files // 2]
        changed.write_text(changed.read_text(encoding="utf-8").replace("Benchmark", "Benchmark team"), encoding="utf-8")
        started = time.perf_counter()
        load_library(folder, cache=LoadCache(cache_dir))
        one_changed_s = time.perf_counter() - started
        serial_started = time.perf_counter()
        load_library(folder, workers=1)
        serial_s = time.perf_counter() - serial_started
        memory = peak_memory(folder, workers=2)
        memory_serial = peak_memory(folder, workers=1)
        shutil.rmtree(cache_dir, ignore_errors=True)
        return {
            "cards": cards,
            "files": files,
            "yaml_mb": size / 1e6,
            "bare_parse_s": baseline,
            "cold_s": cold_s,
            "cold_serial_no_cache_s": serial_s,
            "cold_ratio": cold_s / baseline,
            "warm_s": warm_s,
            "warm_pct_of_cold": 100 * warm_s / cold_s,
            "one_changed_s": one_changed_s,
            "cards_per_s_cold": cards / cold_s,
            "cards_per_s_warm": cards / warm_s,
            "peak_rss_mb": memory["peak_kib"] / 1024,
            "rss_over_yaml": (memory["peak_kib"] - memory["import_kib"]) * 1024 / size,
            "retained_mb": (memory["retained_kib"] - memory["import_kib"]) / 1024,
            "serial_rss_over_yaml": (memory_serial["peak_kib"] - memory_serial["import_kib"]) * 1024 / size,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="*", type=int, default=[10_000, 100_000], help="library sizes in cards")
    parser.add_argument("--start-only", action="store_true", help="only the service start, cold and warm")
    args = parser.parse_args()
    table: list[tuple[str, str, str]] = []
    rows: list[dict] = [{} for _ in args.sizes]
    if not args.start_only:
        for row, n in zip(rows, args.sizes, strict=True):
            row.update(measure(n, max(10, n // 1000)))
        table += LOAD_ROWS
    for row, n in zip(rows, args.sizes, strict=True):
        start = measure_start(n, max(10, n // 1000))
        row.update({("start_" + k if k.startswith("bare_") else k): v for k, v in start.items()})
    table += [(("start_" + k) if k.startswith("bare_") else k, label, fmt) for k, label, fmt in START_ROWS]
    print(f"{'':34}" + "".join(f"{n:>14,} cards" for n in args.sizes))
    for key, label, fmt in table:
        print(f"{label:34}" + "".join(fmt.format(r[key]) for r in rows))


LOAD_ROWS = [
    ("files", "files", "{:>20,}"),
    ("yaml_mb", "YAML on disk (MB)", "{:>20.1f}"),
    ("bare_parse_s", "baseline: bare CSafeLoader (s)", "{:>20.2f}"),
    ("cold_s", "cold load, cache filled (s)", "{:>20.2f}"),
    ("cold_ratio", "cold / baseline (target <= 1.0)", "{:>20.2f}"),
    ("cold_serial_no_cache_s", "cold, one process, no cache (s)", "{:>20.2f}"),
    ("warm_s", "warm load from cache (s)", "{:>20.3f}"),
    ("warm_pct_of_cold", "warm as % of cold (target < 5)", "{:>20.1f}"),
    ("one_changed_s", "one file changed (s)", "{:>20.3f}"),
    ("cards_per_s_cold", "cards/s cold", "{:>20,.0f}"),
    ("cards_per_s_warm", "cards/s warm", "{:>20,.0f}"),
    ("peak_rss_mb", "peak RSS, cold load (MB)", "{:>20.0f}"),
    ("rss_over_yaml", "(peak - start) / YAML (target < 2)", "{:>20.2f}"),
    ("serial_rss_over_yaml", "same, one process", "{:>20.2f}"),
    ("retained_mb", "held after load (MB)", "{:>20.0f}"),
]


if __name__ == "__main__":
    main()
