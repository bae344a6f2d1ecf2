"""Every benchmark answers ``--help`` with its usage, without running (a newcomer's first look at one)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = sorted(p for p in (Path(__file__).parent.parent / "benchmarks").glob("bench_*.py"))


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda p: p.name)
def test_a_benchmark_answers_help(script: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{script.stem}", "--help"],  # as `make bench` runs them
        capture_output=True,
        text=True,
        timeout=120,
        cwd=script.parent.parent,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:")
