"""Shared fixtures: the shipped cards, a copy of them to write to, and the seed page."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest_plugins = ["tests.fakediscord.pytest_plugin"]

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_CARDS = ROOT / "cards"
SEED_PAGE = Path(__file__).resolve().parent / "fixtures" / "therapeutic-alliance.txt"


@pytest.fixture
def cards_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped card folder."""
    target = tmp_path / "cards"
    shutil.copytree(SHIPPED_CARDS, target, ignore=shutil.ignore_patterns(".*"))
    return target


@pytest.fixture
def cli_cache_outside_repo(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """CLI commands cache parsed cards beside the card folder by default; tests of the CLI keep the checkout clean."""
    monkeypatch.setenv("FACTDECK_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "factdeck-cache"))
