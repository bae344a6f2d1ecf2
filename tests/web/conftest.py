"""Fixtures: the web application over a card service, through aiohttp's test client (a real server on loopback)."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from bot.service import CardService
from bot.storage import ViewEvent
from bot.web import create_app
from bot.web.server import RUNNER_OPTIONS
from tests.web.library import build

BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"}


class Views:
    """A view log in memory, as :class:`bot.storage.ViewLog` answers (``record`` and ``views_by_card``)."""

    def __init__(self) -> None:
        self.events: list[ViewEvent] = []

    def record(self, view: ViewEvent, /) -> None:
        self.events.append(view)

    async def views_by_card(self, guild_id: int | None = None) -> dict[str, int]:
        return dict(Counter(e.card_id for e in self.events))


@pytest.fixture(scope="session")
def web_cards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("web") / "cards")


@pytest.fixture(scope="session")
def web_service(web_cards: Path) -> CardService:
    return CardService.load(web_cards)


@pytest.fixture
def views() -> Views:
    return Views()


@pytest_asyncio.fixture
async def client(web_service: CardService, views: Views) -> AsyncIterator[TestClient[object, object]]:
    app = create_app(web_service, views=views, base_url="https://facts.example.org/")
    server = TestServer(app)
    await server.start_server(**RUNNER_OPTIONS)  # as WebServer runs it
    async with TestClient(server) as test_client:
        yield test_client
