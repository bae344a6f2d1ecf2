"""A result list's components are sent as JSON built directly (discord.py's items for every page cost more than
the rest of the page): they must be exactly what discord.py's own items send, for every kind of page."""

from __future__ import annotations

import random
from typing import Any

import discord

from bot.discord.reports import ReportButton, ReportMenu
from bot.discord.ui import CardOption, OpenCardMenu, Page, PageButton, ReadMore, card_view, list_components


def items_view(kind: str, key: str, page: Page | None, *, paged: bool, menu: bool) -> discord.ui.View:
    """The same components built from the dynamic items that route their clicks (as result lists were built)."""
    view = discord.ui.View(timeout=None)
    if paged:
        view.add_item(PageButton(kind, key, "prev", disabled=page is None or not page.has_prev))
        view.add_item(PageButton(kind, key, "next", disabled=page is None or not page.has_next))
    if page is None:
        if menu:
            view.add_item(OpenCardMenu(disabled=True))
            view.add_item(ReportMenu(disabled=True))
    elif menu and page.options:
        view.add_item(OpenCardMenu(page.options))
        view.add_item(ReportMenu([o.card_id for o in page.options]))
    view.stop()
    return view


def _text(rng: random.Random, longest: int) -> str:
    words = ["cotton", "Ünïcode", "a", "**bold**", "   ", "x" * 40, "é", "\u200b", "line\nbreak"]
    return "".join(rng.choice(words) + " " for _ in range(rng.randint(0, longest)))[: rng.randint(0, 220)]


def pages(rng: random.Random) -> list[tuple[str, str, Page | None, bool, bool]]:
    cases: list[tuple[str, str, Page | None, bool, bool]] = []
    for _ in range(300):
        options = tuple(
            CardOption(f"card-{rng.randint(0, 10**6)}", _text(rng, 30), rng.choice(["", _text(rng, 40)]))
            for _ in range(rng.choice([0, 1, 5, 25, 30]))
        )
        page = Page(discord.Embed(title="x"), options, has_prev=rng.random() < 0.5, has_next=rng.random() < 0.5)
        key = "".join(rng.choice("0123456789abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(1, 12)))
        cases.append((rng.choice("scl"), key, rng.choice([page, None]), rng.random() < 0.7, rng.random() < 0.7))
    return cases


async def test_a_result_lists_components_are_what_discord_py_items_send() -> None:
    for kind, key, page, paged, menu in pages(random.Random(16)):
        sent: list[dict[str, Any]] = list_components(kind, key, page, paged=paged, menu=menu).to_components()
        assert sent == items_view(kind, key, page, paged=paged, menu=menu).to_components(), (kind, key, page)


async def test_the_components_view_is_finished_so_discord_py_keeps_nothing() -> None:
    view = list_components("s", "k1", None, paged=True, menu=True)
    assert view.is_finished()
    assert not view.has_components_v2()


async def test_the_buttons_under_a_card_are_what_discord_py_items_send() -> None:
    for card_id in ("a", "fact-01", "x" * 80, "server-card@123456789012345678"):
        for truncated in (True, False, True):
            view = discord.ui.View(timeout=None)
            if truncated:
                view.add_item(ReadMore(card_id))
            view.add_item(ReportButton(card_id))
            assert card_view(card_id, truncated=truncated).to_components() == view.to_components()
            assert card_view(card_id, truncated=truncated).is_finished()
