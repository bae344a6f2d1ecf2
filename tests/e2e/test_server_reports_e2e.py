"""Readers' reports and curator insights on server decks, end to end through the real discord.py and the fake Discord
with two servers (``home`` and ``other``) that each have their own ``course`` collection beside the shared library.

A server's moderators see the reports made in their server on the cards it sees and act on their own cards; the
shared library's curators see the reports from every server on shared cards; nobody sees or touches another
server's own cards or the reports on them, by any button, menu or crafted custom id.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.discord.checks import NOT_A_CURATOR_GUILD, NOT_THIS_SERVER
from tests.e2e.conftest import start_bot
from tests.e2e.test_server_decks import Decks, decks, mods  # noqa: F401 - the two servers' fixtures
from tests.fakediscord import FakeGuild, FakeMember, FakeMessage
from tests.storage.engines import query

pytestmark = pytest.mark.e2e

KIND, DETAILS = "What is wrong?", "Tell us more (optional)"
SHARED = "therapeutic-alliance-002"
SECRET = "the zebrafish study was retracted"


def _course(d: Decks, where: FakeGuild) -> str:
    return f"course-001@{where.id}"


def _rows(database: str) -> list[tuple[Any, ...]]:
    """The reports as another process reads them, on either engine."""
    return query(database, "SELECT card_id, guild_id, reporter_id, status FROM reports ORDER BY id")


def _text(message: FakeMessage) -> str:
    parts = [message.text]
    for embed in message.embeds:
        parts += [embed.get("title", ""), embed.get("description", ""), str(embed.get("fields", ""))]
    parts += [str(s.get("options", "")) for s in message.selects]
    return "\n".join(parts)


async def _report(d: Decks, where: str, card: str, text: str) -> FakeMessage:
    """A member of ``where`` reports ``card`` (as they name it there) with ``/fact report``; the reply."""
    form = await d.fact(where, "report", card=card)
    return await (await d.fake.submit_modal(form, {KIND: ["wrong-fact"], DETAILS: text})).wait_message()


async def _queue(d: Decks, guild: FakeGuild, mod: FakeMember) -> FakeMessage:
    chan = d.home_chan if guild is d.home else d.other_chan
    return await (await d.fake.slash(guild, chan, mod, "cards reports", status="all")).wait_message()


async def _dm(d: Decks, user: FakeMember) -> FakeMessage:
    def found() -> FakeMessage | None:
        chan = d.fake.dm_channel(user)
        return chan.all_messages[-1] if chan is not None and chan.all_messages else None

    return await d.fake.wait_for(found, what=f"a DM to {user.user.username}")


async def test_a_servers_moderator_fixes_a_report_on_its_own_card_through_the_form(
    mods: tuple[Decks, FakeMember, FakeMember],  # noqa: F811
) -> None:
    d, home_mod, _other_mod = mods
    course = _course(d, d.home)
    home_file = d.tmp / "cards" / "servers" / str(d.home.id) / "course.yml"
    async with start_bot(d.fake, d.tmp / "config.yml", curator_guilds=[]) as (_settings, bot, _task):
        # a member reports the server's own card with the button under it
        shown = await (await d.fact("home", "show", card="course-001")).wait_message()
        form = await d.fake.click(shown, "Report a problem", user=d.home_member)
        thanks = await (await d.fake.submit_modal(form, {KIND: ["wrong-fact"], DETAILS: SECRET})).wait_message()
        assert "Thank you" in thanks.text
        assert "`course-001`" in thanks.text
        # the server's moderator (the server curates only its own collections) sees it and fixes it
        queue = await _queue(d, d.home, home_mod)
        assert f"`{course}`: 1 report" in queue.embed["description"]
        card = await (await d.fake.select(queue, "Open a card's reports…", [course], user=home_mod)).wait_message()
        assert SECRET in _text(card)
        assert [b.get("disabled", False) for b in card.buttons] == [False, False, True]
        modal = await (await d.fake.click(card, "Fix", user=home_mod)).wait_modal()
        values = {t["_label"]: t.get("value") or "" for t in modal.text_inputs()}
        assert values["Text"].startswith("Mitochondria")
        saved = await d.fake.submit_modal(modal, {**values, "Text": "Mitochondria make ATP, the cell's fuel."})
        assert "Updated card `course-001`" in (await saved.wait_followup(1)).text
        assert "Closed 1 report" in (await saved.wait_followup(2)).text
        # the server's own file changed, the served card too, and the report is closed
        written = await asyncio.to_thread(home_file.read_text, encoding="utf-8")
        assert "the cell's fuel" in written
        detail = bot.service.detail("course-001", d.home.id)
        assert detail is not None
        assert "the cell's fuel" in detail.card.text
        assert _rows(bot.settings.database_target) == [(course, d.home.id, d.home_member.user.id, "fixed")]
        # the reporter is told by DM, with the card as they know it
        dm = await _dm(d, d.home_member)
        assert "`course-001`" in dm.text
        assert "fixed" in dm.text
    d.fake.assert_no_errors()


async def test_another_servers_moderator_neither_sees_nor_acts_on_a_servers_reports(
    mods: tuple[Decks, FakeMember, FakeMember],  # noqa: F811
) -> None:
    d, home_mod, other_mod = mods
    course = _course(d, d.home)
    # the other server curates the shared library: its moderator sees shared cards' reports from every server
    async with start_bot(d.fake, d.tmp / "config.yml", curator_guilds=[d.other]) as (settings, _bot, _task):
        assert "Thank you" in (await _report(d, "home", "course-001", SECRET)).text
        assert "Thank you" in (await _report(d, "home", SHARED, "a typo in the shared card")).text
        assert "Thank you" in (await _report(d, "other", "course-001", "the quokka does not smile")).text

        queue = await _queue(d, d.other, other_mod)
        seen = _text(queue)
        assert f"`{SHARED}`: 1 report" in seen  # reported in home, on a shared card
        assert f"`{_course(d, d.other)}`: 1 report" in seen
        assert course not in seen
        assert SECRET not in seen
        # a crafted pick of the home server's card shows nothing of it
        pick = {"custom_id": "factdeck:rq:pick", "component_type": 3, "values": [course]}
        picked = await (await d.fake.forge_component(queue, pick, user=other_mod)).wait_message()
        assert "There are no reports" in picked.text
        assert SECRET not in _text(picked)
        assert "Mitochondria" not in _text(picked)
        # nor can its Fix / Dismiss / Reopen buttons, carried into the other server, touch the reports
        home_card = await (await d.fake.select(await _queue(d, d.home, home_mod), "Open a card's reports…", [course],
                                                user=home_mod)).wait_message()  # fmt: skip
        for button in home_card.buttons:  # as a message posted before they carried a server's card as ``id@``
            button["custom_id"] = f"factdeck:rq:{button['label'].lower()}:{course}"
        for action in ("fix", "dismiss", "reopen"):
            crafted = {"custom_id": f"factdeck:rq:{action}:{course}", "component_type": 2}
            forged = await d.fake.forge_component(home_card, crafted, user=other_mod, channel=d.other_chan)
            assert (await forged.wait_message()).text == NOT_THIS_SERVER
        assert [status for *_row, status in _rows(settings.database_target)] == ["open", "open", "open"]

        # the home moderator sees their server's reports (its own card, and the shared one reported there) but
        # not the other server's, and may act on the shared card only if the server curates the shared library
        home_queue = _text(await _queue(d, d.home, home_mod))
        assert course in home_queue
        assert SHARED in home_queue
        assert _course(d, d.other) not in home_queue
        opened = await d.fake.select(
            await _queue(d, d.home, home_mod), "Open a card's reports…", [SHARED], user=home_mod
        )
        shared = await opened.wait_message()
        assert all(b.get("disabled") for b in shared.buttons)
        dismiss = next(b["custom_id"] for b in shared.buttons if b["label"] == "Dismiss")
        crafted = {"custom_id": dismiss, "component_type": 2}
        answer = await (await d.fake.forge_component(shared, crafted, user=home_mod)).wait_message()
        assert answer.text == NOT_A_CURATOR_GUILD
        assert [status for *_row, status in _rows(settings.database_target)] == ["open", "open", "open"]
    d.fake.assert_no_errors()


async def test_insights_in_a_server_show_its_view_never_another_servers_cards_or_searches(
    mods: tuple[Decks, FakeMember, FakeMember],  # noqa: F811
) -> None:
    d, home_mod, _other_mod = mods
    async with start_bot(d.fake, d.tmp / "config.yml") as (_settings, bot, _task):
        await (await d.fact("home", "show", card="course-001")).wait_message()
        await (await d.fact("other", "show", card="course-001")).wait_message()
        for where, query in (("home", "xylophone homework"), ("other", "quokka jetpack")):
            said = await (await d.fact(where, "search", query=query)).wait_message()
            assert "No card matches" in said.text
        await bot.storage.views.flush()
        it = await d.fake.slash(d.home, d.home_chan, home_mod, "cards insights")
        insights = _text(await it.wait_message())
        assert f"`{_course(d, d.home)}`: 1" in insights  # its own card, the most viewed
        assert "xylophone homework" in insights
        assert f"@{d.other.id}" not in insights
        assert "quokka jetpack" not in insights
        # a collection of the other server is one that does not exist here
        it = await d.fake.slash(d.home, d.home_chan, home_mod, "cards insights", collection=f"course@{d.other.id}")
        assert "There is no collection" in (await it.wait_message()).text
    d.fake.assert_no_errors()
