"""Every component that carries a card or collection fits Discord's 100 characters (custom id and menu option
value) with the longest id a card file may use, in a server with a 19-digit id; and a press reads it back as the
card of the server it is pressed in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import discord
import pytest

from bot.cards.library import qualify
from bot.cards.model import ID_PATTERN
from bot.discord.cogs.study import REVIEW_LABELS, ReviewButton
from bot.discord.daily_questions import ChoiceButton, RevealButton
from bot.discord.keys import CUSTOM_ID_MAX
from bot.discord.reports import (
    STATUS_CHOICES,
    QueueAction,
    QueuePage,
    QueuePick,
    ReportButton,
    ReportMenu,
    _card_view,
    _queue_view,
)
from bot.discord.ui import CardOption, OpenCardMenu, Page, ReadMore, card_view, list_components
from bot.insights import CardReports

SERVER = 9_223_372_036_854_775_807  # 19 digits: the largest id a BIGINT column holds
OTHER = 1_234_567_890_123_456_789
LONGEST = "a" * 79 + "z"
assert re.fullmatch(ID_PATTERN, LONGEST)
KEY = qualify(LONGEST, SERVER)  # 100 characters
COLLECTION = qualify("c" * 80, SERVER)


def _carried(component: Any) -> Iterator[str]:
    """Every custom id and option value in a component payload."""
    if isinstance(component, dict):
        for name, value in component.items():
            if name == "custom_id" or (name == "value" and "label" in component):
                yield str(value)
            else:
                yield from _carried(value)
    elif isinstance(component, list):
        for part in component:
            yield from _carried(part)


def _items() -> list[discord.ui.Item[Any]]:
    return [
        ReadMore(KEY),
        ReportButton(KEY),
        *(QueueAction(action, KEY) for action in QueueAction.LABELS),
        *(QueuePage(status, 99_999, COLLECTION, "Next") for status in STATUS_CHOICES),
        *(ReviewButton(action, KEY) for action in REVIEW_LABELS),
        RevealButton(KEY, 999),
        ChoiceButton(KEY, 999, 3),
    ]


async def test_every_component_that_carries_the_longest_server_card_fits() -> None:
    group = CardReports(KEY, None, (), None)
    options = tuple(CardOption(KEY, "x" * 200, "y" * 200) for _ in range(25))
    page = Page(discord.Embed(title="x"), options, has_prev=True, has_next=True)
    payloads: list[Any] = [item.to_component_dict() for item in _items()]
    payloads += [
        card_view(KEY, truncated=True).to_components(),
        list_components("s", "z" * 40, page, paged=True, menu=True).to_components(),
        OpenCardMenu(options).to_component_dict(),
        ReportMenu([KEY] * 25).to_component_dict(),
        QueuePick([KEY] * 25).to_component_dict(),
        _queue_view("dismissed", COLLECTION, 99_998, [group] * 10, 10**6).to_components(),
        _card_view(group, acts=True).to_components(),
    ]
    carried = [text for payload in payloads for text in _carried(payload)]
    assert len(carried) > 100
    too_long = [text for text in carried if len(text) > CUSTOM_ID_MAX]
    assert too_long == []


#: What the items read back from their custom ids.
STATE = ("card_id", "collection", "action", "status", "page", "index", "choice")


def _state(item: Any, server: int = SERVER) -> dict[str, object]:
    """The item's state, its keys as pressed in ``server``."""
    state = {name: getattr(item, name) for name in STATE if hasattr(item, name)}
    return {k: v.replace(f"@{SERVER}", f"@{server}") if isinstance(v, str) else v for k, v in state.items()}


@pytest.mark.parametrize("item", _items(), ids=lambda item: type(item).__name__)
async def test_a_press_reads_the_card_back_as_the_servers_own_where_it_is_pressed(item: Any) -> None:
    match = type(item).__discord_ui_compiled_template__.fullmatch(item.item.custom_id)
    assert match is not None, item.item.custom_id
    for server in (SERVER, OTHER):
        pressed = await type(item).from_custom_id(SimpleNamespace(guild_id=server), item.item, match)
        assert _state(pressed) == _state(item, server)
    assert any(f"@{SERVER}" in str(v) for v in _state(item).values())
