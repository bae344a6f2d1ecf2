"""What every reader's interaction costs beyond its reply: no listener tasks for commands and page clicks.

discord.py starts a task per listener for every event it dispatches; the cogs that must see clicks discord.py would
not route (a forged daily-question button, a stale study button, a cloze answer) listen for their own area's
clicks only (``bot.discord.ui.component_event``), so a slash command or a page click starts none. Those cogs still
answering their clicks is proven by ``test_daily_e2e.py`` and ``test_study_e2e.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Running

pytestmark = pytest.mark.e2e


async def test_commands_and_page_clicks_start_no_listener_tasks(running: Running, monkeypatch: Any) -> None:
    r = running
    scheduled: list[str] = []
    schedule = r.bot._schedule_event

    def counting(coro: Any, event_name: str, *args: Any, **kwargs: Any) -> Any:
        scheduled.append(event_name)
        return schedule(coro, event_name, *args, **kwargs)

    monkeypatch.setattr(r.bot, "_schedule_event", counting)
    await (await r.slash("random")).wait_message()
    msg = await (await r.slash("search", query="cell")).wait_message()
    await (await r.fake.click(msg, "Next")).wait_message()
    assert scheduled == []
    r.fake.assert_no_errors()


async def test_a_search_asked_again_shows_the_page_made_before_until_a_card_on_it_is_viewed(
    running: Running, monkeypatch: Any
) -> None:
    from bot.discord import embeds

    r = running
    rendered: list[str] = []
    render = embeds.search_page_embed

    def counting(*args: Any, **kwargs: Any) -> Any:
        rendered.append(kwargs["query"])
        return render(*args, **kwargs)

    monkeypatch.setattr(embeds, "search_page_embed", counting)
    first = await (await r.slash("search", query="mitochondria")).wait_message()
    again = await (await r.slash("search", query="mitochondria", user=r.bob)).wait_message()
    assert again.embeds == first.embeds
    assert len(rendered) == 1  # the second search showed the page made for the first
    top = first.embeds[0]["fields"][0]
    card = top["name"].rsplit(" · ", 1)[1]
    assert top["value"].endswith("0 views")
    await (await r.slash("show", card=card)).wait_message()  # a view of the first card on the page
    after = await (await r.slash("search", query="mitochondria")).wait_message()
    assert len(rendered) == 2
    assert after.embeds[0]["fields"][0]["value"].endswith("1 view")
    r.fake.assert_no_errors()
