"""Who may change the shared card library (issue 14.13), end to end through the real discord.py and the fake.

Every server that invites the bot reads the same cards, so /cards works only for the bot's owner (anywhere) and
for the moderators of the servers named in ``curator_guilds``; a moderator is read from the member's server-wide
permissions, so a Manage Messages overwrite on one channel makes nobody a moderator.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
import pytest
import pytest_asyncio

from bot.discord.checks import NOT_A_CURATOR_GUILD, NOT_MODERATOR, ONLY_THE_OWNER
from tests.e2e.conftest import start_bot
from tests.fakediscord import FakeChannel, FakeDiscord, FakeGuild, FakeInteraction, FakeMember

pytestmark = pytest.mark.e2e

CARD = "therapeutic-alliance-001"
CONFIG = """\
cards_dir: cards
database: data/factdeck.db
cache_dir: cache
guild_ready_timeout: 0.05
"""
FORM = {
    "Text": "A curated fact added by the bot's owner.",
    "Topics (comma-separated)": "ownership",
    "Article": "",
    "Source type": "",
    "References (semicolon-separated)": "",
}
MANAGE = discord.Permissions(manage_messages=True)


@dataclass
class Servers:
    """A curating server (``home``) and one that only reads (``elsewhere``), each with a moderator."""

    fake: FakeDiscord
    home: FakeGuild
    home_chan: FakeChannel
    home_mod: FakeMember
    elsewhere: FakeGuild
    elsewhere_chan: FakeChannel
    elsewhere_mod: FakeMember
    cards: Path
    tmp: Path

    def file(self) -> Path:
        return self.cards / "therapeutic-alliance.yml"

    async def cards_cmd(
        self, guild: FakeGuild, chan: FakeChannel, user: FakeMember, command: str, **options: Any
    ) -> FakeInteraction:
        return await self.fake.slash(guild, chan, user, f"cards {command}", **options)


@pytest_asyncio.fixture
async def servers(
    world: tuple[FakeDiscord, FakeGuild, FakeChannel, FakeMember, FakeMember], library: Path, tmp_path: Path
) -> AsyncIterator[Servers]:
    fake, home, chan, _alice, _bob = world
    home_mod = home.add_member("maria", roles=[home.add_role("Moderators", permissions=MANAGE)])
    elsewhere = fake.add_guild("Another Server")
    other_chan = elsewhere.add_channel("general")
    other_mod = elsewhere.add_member("oscar", roles=[elsewhere.add_role("Moderators", permissions=MANAGE)])
    cards = tmp_path / "cards"
    await asyncio.to_thread(shutil.copytree, library, cards)
    (tmp_path / "config.yml").write_text(CONFIG, encoding="utf-8")
    yield Servers(fake, home, chan, home_mod, elsewhere, other_chan, other_mod, cards, tmp_path)
    assert not fake.unhandled, [str(u) for u in fake.unhandled]


def _running(s: Servers, curators: Sequence[FakeGuild]) -> Any:
    return start_bot(s.fake, s.tmp / "config.yml", curator_guilds=curators)


async def _refused(it: FakeInteraction) -> str:
    response = await it.wait_response()
    assert response.modal is None
    message = await it.wait_message()
    assert message.ephemeral
    return message.text


async def test_a_moderator_of_a_server_that_does_not_curate_is_told_why(servers: Servers) -> None:
    s = servers
    before = await asyncio.to_thread(s.file().read_text, encoding="utf-8")
    async with _running(s, [s.home]) as (_settings, bot, _task):
        for command, options in (("add", {"collection": "therapeutic-alliance"}), ("remove", {"card": CARD})):
            it = await s.cards_cmd(s.elsewhere, s.elsewhere_chan, s.elsewhere_mod, command, **options)
            assert await _refused(it) == NOT_A_CURATOR_GUILD
        home = await s.cards_cmd(s.home, s.home_chan, s.home_mod, "remove", card=CARD)  # the curating server may
        assert (await home.wait_message()).button_labels == ["Remove", "Cancel"]
        assert bot.service.detail(CARD) is not None
    assert await asyncio.to_thread(s.file().read_text, encoding="utf-8") == before


async def test_a_manage_messages_overwrite_on_one_channel_makes_no_moderator(servers: Servers) -> None:
    s = servers
    chantal = s.home.add_member("chantal")
    s.home_chan.set_permissions(chantal, allow=MANAGE)
    async with _running(s, [s.home]) as (_settings, bot, _task):
        it = await s.cards_cmd(s.home, s.home_chan, chantal, "remove", card=CARD)
        assert await _refused(it) == NOT_MODERATOR
        daily = await s.fake.slash(s.home, s.home_chan, chantal, "daily status")  # server moderators' too
        assert await _refused(daily) == NOT_MODERATOR
        assert bot.service.detail(CARD) is not None


async def test_the_owner_curates_from_any_server(servers: Servers) -> None:
    s = servers
    owner = s.elsewhere.add_member("owner", user=s.fake.app_owner)  # no role, no permission there
    async with _running(s, [s.home]) as (_settings, bot, _task):
        it = await s.cards_cmd(s.elsewhere, s.elsewhere_chan, owner, "add", collection="therapeutic-alliance")
        added = await (await s.fake.submit_modal(it, FORM)).wait_message()
        assert "Added card `" in added.text
        assert any(c.text == FORM["Text"] for c in bot.service.library.cards.values())
        assert FORM["Text"] in await asyncio.to_thread(s.file().read_text, encoding="utf-8")


async def test_with_no_curator_guilds_only_the_owner_curates(servers: Servers) -> None:
    s = servers
    async with _running(s, []) as (settings, _bot, _task):
        assert settings.curator_guilds == ()
        it = await s.cards_cmd(s.home, s.home_chan, s.home_mod, "remove", card=CARD)
        assert await _refused(it) == ONLY_THE_OWNER


async def test_a_form_submitted_from_a_server_that_does_not_curate_is_refused(servers: Servers) -> None:
    """The form checks again on submit, server-side: a forged submit from another server changes nothing."""
    s = servers
    async with _running(s, [s.home]) as (_settings, bot, _task):
        it = await s.cards_cmd(s.home, s.home_chan, s.home_mod, "edit", card=CARD)
        modal = await it.wait_modal()
        ids = {t["_label"]: t["custom_id"] for t in modal.text_inputs()}
        forged = await s.fake.submit_modal(
            modal.custom_id,
            {ids["Text"]: "Vandalised from afar.", ids["Topics (comma-separated)"]: "x"},
            user=s.elsewhere_mod,
            guild=s.elsewhere,
            channel=s.elsewhere_chan,
        )
        message = await forged.wait_message()
        assert message.ephemeral
        assert message.text == NOT_A_CURATOR_GUILD
        assert "Vandalised" not in bot.service.detail(CARD).card.text


async def test_a_form_with_broken_text_adds_the_card_with_the_replacement_character(servers: Servers) -> None:
    """A form is not a command, so its text is cleaned where the form is read (issue 14.5)."""
    s = servers
    async with _running(s, [s.home]) as (_settings, bot, _task):
        it = await s.cards_cmd(s.home, s.home_chan, s.home_mod, "add", collection="therapeutic-alliance")
        text = "A fact with a broken \ud800 character."
        added = await (await s.fake.submit_modal(it, {**FORM, "Text": text})).wait_message()
        assert "Added card `" in added.text
        assert any(c.text == "A fact with a broken \ufffd character." for c in bot.service.library.cards.values())
