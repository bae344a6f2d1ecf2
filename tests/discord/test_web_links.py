"""Cards shown in Discord link to their web page when the pages have a public address (``web.public_url``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.discord import embeds
from bot.discord.cogs.daily import post_message
from bot.service import CardService
from bot.settings import SettingsError, Web, load_settings
from tests.conftest import SHIPPED_CARDS

CARD = "therapeutic-alliance-002"


@pytest.fixture(scope="module")
def service() -> CardService:
    return CardService.load(SHIPPED_CARDS)


def test_a_card_links_its_author_line_to_its_page(service: CardService) -> None:
    detail = service.detail(CARD)
    assert detail is not None
    url = Web(public_url="https://facts.example.org/").card_url(CARD)
    assert url == f"https://facts.example.org/card/{CARD}"
    assert embeds.card_embed(detail, link=url).embed.author.url == url
    assert embeds.card_embed(detail).embed.author.url is None


def test_a_daily_post_links_the_card_to_its_page(service: CardService) -> None:
    detail = service.detail(CARD)
    assert detail is not None
    url = f"https://facts.example.org/card/{CARD}"
    sent = post_message(detail, service.library, "fact", None, url)
    assert sent["embed"].author.url == url
    assert post_message(detail, service.library, "fact", None)["embed"].author.url is None


def test_search_results_link_each_card_to_its_page(service: CardService) -> None:
    result = service.search("couple therapy", limit=5)

    def page(web: Web) -> list[str]:
        embed = embeds.search_page_embed(
            result.page.hits, result.details, total=result.page.total, offset=0, query="q", counts={}, link=web.card_url
        )
        return [f.value or "" for f in embed.fields]

    linked = page(Web(public_url="https://facts.example.org"))
    for value, detail in zip(linked, result.details, strict=True):
        assert f"[web page](https://facts.example.org/card/{detail.card.id})" in value
    assert all("web page" not in value for value in page(Web()))


def test_no_public_address_means_no_links() -> None:
    assert Web().card_url(CARD) is None


@pytest.mark.parametrize("url", ["facts.example.org", "ftp://facts.example.org", "javascript:alert(1)", "https://"])
def test_a_public_address_that_is_not_http_is_refused_with_its_line(tmp_path: Path, url: str) -> None:
    config = tmp_path / "config.yml"
    config.write_text(f"log_level: INFO\nweb:\n  public_url: '{url}'\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"config.yml:2: web: public_url must start with http"):
        load_settings(config, env={})
