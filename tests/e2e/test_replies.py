"""Replies that do not ask Discord for the message back (``bot.discord.replies``).

A card, a page of results, a page turn and a short ephemeral answer reach Discord exactly as discord.py's own
``send_message`` and ``edit_message`` send them, only without ``?with_response``: the same interactions answered
with discord.py's methods (the fallback, ``_FAST`` off) give the same request bodies.
"""

from __future__ import annotations

import re
from typing import Any

import discord
import pytest

from bot.discord import replies
from tests.e2e.conftest import Running
from tests.e2e.library import PAGED_WORD

pytestmark = pytest.mark.e2e

#: A result list's key (in its buttons' custom ids) is new for every list.
LIST_KEY = re.compile(r"(factdeck:results:[scl])[0-9a-z]+")
#: /fact show records a view, so the second showing of a card says one view more.
VIEWS = re.compile(r"\d+ views?")


async def _answered(r: Running) -> list[Any]:
    """A card, a page of results, Next on it, an unknown card's ephemeral answer: their interactions, answered."""
    card = await r.slash("show", card="lab-003")
    await card.wait_message()
    search = await r.slash("search", query=PAGED_WORD)
    listed = await search.wait_message()
    click = await r.fake.click(listed, "Next")
    await click.wait_response()
    unknown = await r.slash("show", card="no-such-card-anywhere")
    await unknown.wait_response()
    return [card, search, click, unknown]


def _comparable(body: dict[str, Any]) -> str:
    return VIEWS.sub("N views", LIST_KEY.sub(r"\1K", repr(body)))


async def test_replies_do_not_ask_for_the_message_back(running: Running) -> None:
    assert replies.fast_path_available()  # the installed discord.py has what the fast path uses
    answered = await _answered(running)
    assert [it.response.with_response for it in answered] == [False, False, False, False]
    assert answered[0].response.message.embeds[0]["footer"]["text"].startswith("card lab-003")
    assert answered[2].response.message.embeds[0]["footer"]["text"].startswith("Showing 6–")
    assert answered[3].response.message.ephemeral
    running.fake.assert_no_errors()


async def test_they_send_what_discord_py_s_own_methods_send(running: Running, monkeypatch: Any) -> None:
    fast = await _answered(running)
    monkeypatch.setattr(replies, "_FAST", False)
    slow = await _answered(running)
    assert [it.response.with_response for it in slow] == [True, True, True, True]
    assert [_comparable(it.response.raw) for it in fast] == [_comparable(it.response.raw) for it in slow]
    assert [it.response.type for it in fast] == [it.response.type for it in slow]
    running.fake.assert_no_errors()


async def test_an_interaction_answered_twice_is_refused_as_discord_py_refuses_it(running: Running) -> None:
    r = running
    seen: list[BaseException] = []
    cog = r.bot.get_cog("FactsCog")
    assert cog is not None
    show_card = cog.show_card

    async def twice(interaction: Any, *args: Any, **kwargs: Any) -> None:
        await show_card(interaction, *args, **kwargs)
        try:
            await replies.send(interaction, "again")
        except discord.InteractionResponded as exc:
            seen.append(exc)

    cog.show_card = twice
    await (await r.slash("show", card="lab-003")).wait_message()
    assert len(seen) == 1
    assert seen[0].interaction.id == r.fake.interactions[-1].id
