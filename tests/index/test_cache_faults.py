"""A cache folder that cannot be created or read: the indexes are built in memory and the service still serves."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from bot.service import CardService
from tests.conftest import SHIPPED_CARDS


def test_a_cache_folder_under_a_regular_file_still_serves_search_and_citations(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cards = tmp_path / "cards"
    shutil.copytree(SHIPPED_CARDS, cards, ignore=shutil.ignore_patterns(".*"))
    reference = CardService.load(cards)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        service = CardService.load(cards, cache_dir=blocker / "cache")
    found = service.search("alliance").page
    assert found.total == reference.search("alliance").page.total > 0
    cited = [(h.detail.card.id, h.written) for h in service.cite("Horvath & Symonds 1991").hits]
    assert cited == [(h.detail.card.id, h.written) for h in reference.cite("Horvath & Symonds 1991").hits] != []
    assert service.references("Hor") == reference.references("Hor")
    assert any("working from memory" in record.getMessage() for record in caplog.records)
