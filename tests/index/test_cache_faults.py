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


def test_a_warm_start_reads_back_every_index_as_it_was_built(tmp_path: Path) -> None:
    cards = tmp_path / "cards"
    shutil.copytree(SHIPPED_CARDS, cards, ignore=shutil.ignore_patterns(".*"))
    memory = CardService.load(cards)
    CardService.load(cards, cache_dir=tmp_path / "cache")  # fills the cache
    warm = CardService(memory.library, cache_dir=tmp_path / "cache")
    for topic in {t for card in memory.library.cards.values() for t in card.topics}:
        assert warm.pool(topic=topic) == memory.pool(topic=topic)
    for collection in memory.library.collections:
        assert warm.pool(collection=collection) == memory.pool(collection=collection)
    assert warm.pool() == memory.pool()
    assert warm.topics("", 100) == memory.topics("", 100)
    assert warm.references("", 100) == memory.references("", 100)
    for display, _ in memory.references("", 100):
        assert [(h.detail.card.id, h.written) for h in warm.cite(display).hits] == [
            (h.detail.card.id, h.written) for h in memory.cite(display).hits
        ]
