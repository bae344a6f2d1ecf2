"""Fixtures of the insights tests: a fresh database and the shipped cards (a writable copy)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.service import CardService
from bot.storage import Storage


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[Storage]:
    async with Storage.open(tmp_path / "s.db") as opened:
        yield opened


@pytest.fixture
def service(cards_copy: Path) -> CardService:
    return CardService.load(cards_copy)
