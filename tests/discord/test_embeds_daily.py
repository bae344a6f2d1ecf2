"""What ``/daily status`` and ``/daily set`` show, built from the daily engine's real answers with no Discord
(issue 12.4): the engine runs as in tests/daily (a SQLite file, a test clock, a poster that records or fails)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import discord
import pytest

from bot.discord import embeds
from bot.discord.embeds import set_text, status_embed
from tests.daily.test_daily import C1, G1, Cards, World, forbidden, utc

#: A topic a moderator could type: markdown and a mention that must show as typed and ping nobody.
HOSTILE_TOPIC = "**@everyone** _x_"
#: 09:00 in Berlin (CEST) on Monday 1 June 2026, as a Discord timestamp.
FIRST_POST = int(utc(2026, 6, 1, 7, 0).timestamp())


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with contextlib.AsyncExitStack() as stack:
        yield World(tmp_path / "factdeck.db", stack)


def fields(embed: discord.Embed) -> dict[str, str]:
    return {str(f.name): str(f.value) for f in embed.fields}


def within_limits(embed: discord.Embed) -> None:
    assert len(embed) <= embeds.EMBED_TOTAL_MAX
    for field in embed.fields:
        assert 0 < len(field.value or "") <= embeds.FIELD_VALUE_MAX


async def test_a_new_schedule_shows_where_when_and_the_next_post(world: World) -> None:
    engine, _ = await world.engine()
    status = await engine.set(G1, C1, "09:00", "Europe/Berlin")
    embed = status_embed(status)
    assert embed.title == "Daily fact"
    next_post = f"Monday 01 June 2026, 09:00 CEST (Europe/Berlin); your time: <t:{FIRST_POST}:F> (<t:{FIRST_POST}:R>)"
    assert fields(embed) == {
        "State": "On",
        "Channel": f"<#{C1}>",
        "Time": "09:00 Europe/Berlin",
        "Filters": "none (every card)",
        "Mode": "Fact: the day's card",
        "Next post": next_post,
        "Last post": "None yet",
    }
    assert set_text(status, f"<#{C1}>") == (
        f"Daily facts go to <#{C1}> every day at 09:00 (Europe/Berlin).\n"
        "Filters: none (every card).\n"
        "Mode: Fact: the day's card.\n"
        f"Next post: {next_post}."
    )


async def test_after_a_post_status_links_the_message(world: World) -> None:
    engine, _ = await world.engine()
    await engine.set(G1, C1, "09:00", "Europe/Berlin")
    world.clock.now = utc(2026, 6, 1, 7, 0)
    (sent,) = await engine.run_due()
    shown = fields(status_embed(await engine.status(G1)))
    link = f"https://discord.com/channels/{G1}/{C1}/{sent.message_id}"
    assert shown["Last post"] == f"<t:{FIRST_POST}:f>, card `{sent.card_id}` · [message]({link})"
    assert shown["Next post"].startswith("Tuesday 02 June 2026, 09:00 CEST (Europe/Berlin)")
    assert "Today" not in shown  # today's post went out: nothing to report
    await engine.off(G1)
    assert fields(status_embed(await engine.status(G1)))["State"] == "Off. Turn it on again with /daily set."


async def test_a_typed_topic_shows_verbatim_and_pings_nobody(world: World) -> None:
    world.cards = Cards(["card-01", "card-02"], {"card-01": {HOSTILE_TOPIC}})
    engine, _ = await world.engine()
    status = await engine.set(G1, C1, "09:00", "Europe/Berlin", topic=HOSTILE_TOPIC)
    shown = fields(status_embed(status))["Filters"]
    assert shown == "topic “\\*\\*@\u200beveryone\\*\\* \\_x\\_”"
    assert "Filters: topic “\\*\\*@\u200beveryone\\*\\* \\_x\\_”." in set_text(status, f"<#{C1}>")


async def test_a_long_topic_is_cut_in_status_and_in_the_set_reply(world: World) -> None:
    topic = "alliance " * 300
    world.cards = Cards(["card-01"], {"card-01": {topic.strip()}})
    engine, _ = await world.engine()
    status = await engine.set(G1, C1, "09:00", "Europe/Berlin", topic=topic)
    shown = fields(status_embed(status))["Filters"]
    assert shown.startswith("topic “alliance alliance")
    assert shown.endswith(f"{embeds.ELLIPSIS}”")
    assert len(shown) <= embeds.daily.FILTER_MAX + len("topic “”")
    assert len(set_text(status, f"<#{C1}>")) < 400


async def test_failed_posts_show_the_pause_the_error_and_the_days_without_a_post(world: World) -> None:
    engine, _ = await world.engine()
    await engine.set(G1, C1, "09:00", "Europe/Berlin")
    world.poster.always = forbidden()
    for day in (1, 2, 3):
        world.clock.now = utc(2026, 6, day, 7, 0)
        await engine.run_due()
    embed = status_embed(await engine.status(G1))
    shown = fields(embed)
    assert list(shown) == [
        "State",
        "Channel",
        "Time",
        "Filters",
        "Mode",
        "Today",
        "Last post",
        "Last error",
        "Days without a post",
    ]
    assert shown["State"].startswith("Paused: Paused after 3 failed posts in a row.")
    assert shown["State"].endswith("\nRun /daily set again to resume.")
    assert shown["Today"].startswith("2026-06-03: failed, card `card-")
    assert "Missing permissions" in shown["Today"]
    assert shown["Last error"].startswith("Missing permissions")
    assert shown["Last error"].endswith("\n3 failures in a row")
    days = shown["Days without a post"].splitlines()
    assert [d[:17] for d in days] == ["2026-06-03 failed", "2026-06-02 failed", "2026-06-01 failed"]
    assert "Next post" not in shown  # paused: no next post
    within_limits(embed)


async def test_a_long_error_with_markdown_is_escaped_and_cut(world: World) -> None:
    engine, _ = await world.engine()
    await engine.set(G1, C1, "09:00", "Europe/Berlin")
    world.poster.always = ValueError("**bold** @everyone " + "word " * 300)
    for day in (1, 2, 3):
        world.clock.now = utc(2026, 6, day, 7, 0)
        await engine.run_due()
    embed = status_embed(await engine.status(G1))
    within_limits(embed)
    for name in ("State", "Today", "Last error", "Days without a post"):
        value = fields(embed)[name]
        assert "\\*\\*bold\\*\\* @\u200beveryone" in value, name
        assert "@everyone" not in value, name
        assert embeds.ELLIPSIS in value, name
