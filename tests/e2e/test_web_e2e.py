"""The bot and the web pages in one process (``web: {enabled: true}``): a card shown in Discord links to its page,
the page serves from the same card service, and a reader's view there lands in the same view log as "web"."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from bot.discord.app import FactdeckBot
from bot.settings import load_settings
from bot.web.server import beside_the_bot
from tests.e2e.conftest import start_bot, write_config
from tests.e2e.library import PAGED_WORD
from tests.e2e.test_daily_e2e import DUE, World, card_of, w  # noqa: F401 (w: the daily tests' world fixture)
from tests.fakediscord import FakeChannel, FakeDiscord, FakeGuild, FakeMember

pytestmark = pytest.mark.e2e

PUBLIC = "https://facts.example.org"
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest_asyncio.fixture
async def both(
    world: tuple[FakeDiscord, FakeGuild, FakeChannel, FakeMember, FakeMember],
    library: Path,
    warm_cache: Path,
    tmp_path: Path,
) -> AsyncIterator[tuple[FakeDiscord, FakeGuild, FakeChannel, FakeMember, FactdeckBot, str]]:
    fake, guild, chan, alice, _ = world
    config = write_config(tmp_path, library, warm_cache)
    port = _free_port()
    with config.open("a", encoding="utf-8") as out:
        out.write(f"web: {{enabled: true, port: {port}, public_url: '{PUBLIC}/'}}\n")
    beside = beside_the_bot(load_settings(config, env={}).web)  # what `factdeck run` passes
    async with start_bot(fake, config, beside=beside) as (_, bot, _task):
        yield fake, guild, chan, alice, bot, f"http://127.0.0.1:{port}"


async def test_one_process_serves_the_bot_and_the_pages_and_cards_link_to_them(both) -> None:
    fake, guild, chan, alice, bot, web = both
    msg = await (await fake.slash(guild, chan, alice, "fact show", card="lab-003")).wait_message()
    assert msg.embed["author"]["url"] == f"{PUBLIC}/card/lab-003"

    results = await (await fake.slash(guild, chan, alice, "fact search", query=PAGED_WORD)).wait_message()
    values = [f["value"] for f in results.embed["fields"]]
    assert all(f"]({PUBLIC}/card/" in v for v in values)

    async with aiohttp.ClientSession(headers=BROWSER) as session, session.get(f"{web}/card/lab-003") as response:
        assert response.status == 200
        page = await response.text()
    assert "room 3" in page
    assert f'content="{PUBLIC}/card/lab-003"' in page  # the share tags carry the public address
    stats = await bot.storage.views.stats(None)
    assert stats.by_command.get("web") == 1  # kept apart from the Discord commands
    assert stats.by_command.get("show") == 1
    fake.assert_no_errors()


async def test_without_web_enabled_nothing_listens_and_cards_carry_no_link(launch) -> None:
    async with launch() as r:
        assert not r.settings.web.enabled
        msg = await (await r.slash("show", card="lab-003")).wait_message()
        assert "url" not in msg.embed["author"]


async def test_a_daily_post_links_its_card_to_its_page(w: World) -> None:  # noqa: F811 (the fixture)
    with w.config.open("a", encoding="utf-8") as out:
        out.write(f"web: {{public_url: '{PUBLIC}'}}\n")  # links need only the address, not the server here
    async with w.running():
        await w.set()
        await w.tick(DUE)
        post = await w.facts.wait_for_message(posts_only=True)
        assert post.embed["author"]["url"] == f"{PUBLIC}/card/{card_of(post)}"
