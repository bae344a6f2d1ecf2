"""Every server its own decks (issue 15): two servers with a collection each, beside the shared library, end to end
through the real discord.py and the fake Discord. Each server sees the shared cards and its own, never the other's,
through every surface a member can reach: commands, options, autocomplete, buttons and forged custom ids."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.e2e.conftest import start_bot
from tests.fakediscord import FakeChannel, FakeDiscord, FakeGuild, FakeMember

pytestmark = pytest.mark.e2e

CONFIG = """\
cards_dir: cards
database: data/factdeck.db
cache_dir: cache
guild_ready_timeout: 0.05
cooldowns:
  search: {rate: 100, per: 30}
  cite: {rate: 100, per: 30}
  random: {rate: 100, per: 30}
"""

#: The same collection id and card id in both servers: ids are unique per audience, never across them.
DECK = """\
collection:
  id: course
  title: {title}
  curator: {curator}
cards:
  - id: course-001
    text: {text}
    topics: [{topic}]
    citations: ["{author} (2001)"]
{more}"""
LONG_END = "and that is the end of the long card."
LONG = f"""\
  - id: course-002
    text: {"Cells divide and grow in many careful steps. " * 60}{LONG_END}
"""
HOME_TEXT = "Mitochondria make adenosine triphosphate for the cell, zebrafish studies show."
OTHER_TEXT = "The quokka smiles because its jaw muscles pull the corners of the mouth, quokkaology says."


@dataclass
class Decks:
    fake: FakeDiscord
    home: FakeGuild
    home_chan: FakeChannel
    home_member: FakeMember
    other: FakeGuild
    other_chan: FakeChannel
    other_member: FakeMember
    tmp: Path

    async def fact(self, where: str, command: str, **options: Any) -> Any:
        guild, chan, member = self.place(where)
        return await self.fake.slash(guild, chan, member, f"fact {command}", **options)

    async def complete(self, where: str, command: str, focused: str, **options: Any) -> list[dict[str, Any]]:
        guild, chan, member = self.place(where)
        return await self.fake.autocomplete(guild, chan, member, f"fact {command}", focused=focused, **options)

    def place(self, where: str) -> tuple[FakeGuild | None, FakeChannel | None, FakeMember]:
        if where == "home":
            return self.home, self.home_chan, self.home_member
        if where == "other":
            return self.other, self.other_chan, self.other_member
        return None, None, self.home_member  # a direct message


@pytest_asyncio.fixture
async def decks(
    world: tuple[FakeDiscord, FakeGuild, FakeChannel, FakeMember, FakeMember], library: Path, tmp_path: Path
) -> AsyncIterator[Decks]:
    fake, home, chan, alice, _bob = world
    other = fake.add_guild("Quokka Club")
    other_chan = other.add_channel("general")
    oscar = other.add_member("oscar")
    cards = tmp_path / "cards"
    await asyncio.to_thread(shutil.copytree, library, cards)
    for guild, text, topic, author in (
        (home, HOME_TEXT, "cell biology", "Zebra"),
        (other, OTHER_TEXT, "quokkas", "Quokkason"),
    ):
        folder = cards / "servers" / str(guild.id)
        folder.mkdir(parents=True)
        more = LONG if guild is home else ""
        deck = DECK.format(
            title=f"{guild.name} course", curator=guild.name, text=text, topic=topic, author=author, more=more
        )
        (folder / "course.yml").write_text(deck, encoding="utf-8")
    (tmp_path / "config.yml").write_text(CONFIG, encoding="utf-8")
    yield Decks(fake, home, chan, alice, other, other_chan, oscar, tmp_path)
    assert not fake.unhandled, [str(u) for u in fake.unhandled]


def _all_text(message: Any) -> str:
    parts = [message.text]
    for embed in message.embeds:
        parts += [
            embed.get("title", ""),
            embed.get("description", ""),
            str(embed.get("footer", "")),
            str(embed.get("fields", "")),
        ]
    return "\n".join(parts)


async def _said(it: Any) -> str:
    return _all_text(await it.wait_message())


async def test_each_server_searches_its_own_cards_and_the_shared_ones_never_the_others(decks: Decks) -> None:
    d = decks
    async with start_bot(d.fake, d.tmp / "config.yml") as (_settings, bot, _task):
        assert "Mitochondria" in await _said(await d.fact("home", "search", query="mitochondria"))
        assert "quokka" not in (await _said(await d.fact("home", "search", query="quokka"))).lower().replace(
            "“quokka”", ""
        )
        assert "jaw muscles" in await _said(await d.fact("other", "search", query="quokka"))
        assert "Mitochondria" not in await _said(await d.fact("other", "search", query="mitochondria"))
        assert "Mitochondria" not in await _said(await d.fact("dm", "search", query="mitochondria"))
        # The shared library is there for everyone.
        for where in ("home", "other", "dm"):
            assert "therapeutic" in (await _said(await d.fact(where, "search", query="alliance"))).lower()
        # The same collection id in both servers: each sees its own under that name.
        assert "Mitochondria" in await _said(await d.fact("home", "search", query="cell", collection="course"))
        assert {f"course@{d.home.id}", f"course@{d.other.id}"} <= set(bot.service.library.collections)


async def test_a_card_id_of_another_server_behaves_as_if_it_did_not_exist(decks: Decks) -> None:
    d = decks
    theirs = f"course-001@{d.other.id}"
    async with start_bot(d.fake, d.tmp / "config.yml") as (_settings, _bot, _task):
        assert "Mitochondria" in await _said(await d.fact("home", "show", card="course-001"))
        assert "Mitochondria" in await _said(await d.fact("home", "show", card=f"course-001@{d.home.id}"))
        for command in ("show", "source"):
            refused = await _said(await d.fact("home", command, card=theirs))
            assert "There is no card" in refused
            assert "quokka" not in refused.lower()
        assert "There is no card" in await _said(await d.fact("dm", "show", card="course-001"))
        # A filter naming the other server's collection finds nothing, as for a collection that does not exist.
        assert "There is no collection" in await _said(
            await d.fact("home", "random", collection=f"course@{d.other.id}")
        )
        said = await _said(await d.fact("home", "search", query="quokka", collection=f"course@{d.other.id}"))
        assert "jaw muscles" not in said


async def test_random_picks_and_collections_stay_within_what_the_server_sees(decks: Decks) -> None:
    d = decks
    async with start_bot(d.fake, d.tmp / "config.yml") as (_settings, bot, _task):
        assert f"@{d.home.id}" in await _said(await d.fact("home", "random", collection="course"))
        assert "jaw muscles" in await _said(await d.fact("other", "random", collection="course"))
        picked = [await _said(await d.fact("home", "random")) for _ in range(15)]
        assert not any("jaw muscles" in said or f"@{d.other.id}" in said for said in picked)
        listed = await _said(await d.fact("home", "collections"))
        assert "Study Group course" in listed
        assert "Quokka Club course" not in listed
        assert "Quokka Club course" not in await _said(await d.fact("dm", "collections"))
        help_text = await _said(await d.fact("home", "help"))
        shared = len(bot.service.pool(viewer=None))
        assert f"{shared + 2} card" in help_text


async def test_citations_see_only_what_the_server_sees(decks: Decks) -> None:
    d = decks
    async with start_bot(d.fake, d.tmp / "config.yml") as (_settings, _bot, _task):
        assert "Mitochondria" in await _said(await d.fact("home", "cite", reference="Zebra 2001"))
        refused = await _said(await d.fact("home", "cite", reference="Quokkason 2001"))
        assert "No card cites" in refused
        assert "jaw muscles" in await _said(await d.fact("other", "cite", reference="Quokkason 2001"))
        offered = await d.complete("home", "cite", "reference", reference="Quokka")
        assert not any("Quokkason" in c["name"] for c in offered)
        offered = await d.complete("other", "cite", "reference", reference="Quokka")
        assert any("Quokkason" in c["name"] for c in offered)


async def test_autocomplete_offers_only_what_the_server_sees(decks: Decks) -> None:
    d = decks
    theirs = f"course-001@{d.other.id}"
    async with start_bot(d.fake, d.tmp / "config.yml") as (_settings, _bot, _task):
        for typed in ("quokka", "course", theirs, ""):
            cards = await d.complete("home", "show", "card", card=typed)
            assert all(theirs != c["value"] and "quokka" not in c["name"].lower() for c in cards), cards
        mine = await d.complete("home", "show", "card", card="mitochondria")
        assert f"course-001@{d.home.id}" in [c["value"] for c in mine]
        topics = await d.complete("home", "random", "topic", topic="quok")
        assert topics == []
        assert [c["value"] for c in await d.complete("other", "random", "topic", topic="quok")] == ["quokkas"]
        collections = await d.complete("home", "random", "collection", collection="course")
        assert [c["value"] for c in collections] == [f"course@{d.home.id}"]
        assert await d.complete("dm", "random", "collection", collection="course") == []


async def test_read_more_on_a_servers_own_long_card_sends_the_rest(decks: Decks) -> None:
    """A server card's key (``id@server``) rides in the Read more button's custom id and is routed back."""
    d = decks
    async with start_bot(d.fake, d.tmp / "config.yml") as (_settings, _bot, _task):
        message = await (await d.fact("home", "show", card="course-002")).wait_message()
        assert message.button_labels == ["Read more"]
        assert message.buttons[0]["custom_id"] == f"factdeck:more:course-002@{d.home.id}"
        full = await (await d.fake.click(message, "Read more", user=d.home_member)).wait_message()
        assert full.ephemeral
        assert LONG_END in _all_text(full)
