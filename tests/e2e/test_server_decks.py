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

import discord
import pytest
import pytest_asyncio

from bot.discord.checks import NOT_THIS_SERVER, ONLY_THE_OWNER
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
    study: {{cloze: [{cloze}]}}
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
        cloze = "zebrafish" if guild is home else "quokka"
        deck = DECK.format(
            title=f"{guild.name} course",
            curator=guild.name,
            text=text,
            topic=topic,
            author=author,
            more=more,
            cloze=cloze,
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
    """A server card rides in the Read more button's custom id as ``id@`` (the server is the interaction's, so the
    longest id fits in 100 characters) and is routed back."""
    d = decks
    async with start_bot(d.fake, d.tmp / "config.yml") as (_settings, _bot, _task):
        message = await (await d.fact("home", "show", card="course-002")).wait_message()
        assert message.button_labels == ["Read more", "Report a problem"]
        assert message.buttons[0]["custom_id"] == "factdeck:more:course-002@"
        full = await (await d.fake.click(message, "Read more", user=d.home_member)).wait_message()
        assert full.ephemeral
        assert LONG_END in _all_text(full)


# ------------------------------------------------------------------------------------------------ curating
MANAGE = discord.Permissions(manage_messages=True)
FORM = {
    "Text": "Ribosomes read messenger RNA and build proteins from amino acids.",
    "Topics (comma-separated)": "cell biology",
    "Article": "",
    "Source type": "",
    "References (semicolon-separated)": "",
}


@pytest_asyncio.fixture
async def mods(decks: Decks) -> AsyncIterator[tuple[Decks, FakeMember, FakeMember]]:
    """The two servers, each with a moderator (neither server curates the shared library)."""
    d = decks
    home_mod = d.home.add_member("maria", roles=[d.home.add_role("Moderators", permissions=MANAGE)])
    other_mod = d.other.add_member("oscar-mod", roles=[d.other.add_role("Moderators", permissions=MANAGE)])
    yield d, home_mod, other_mod


def _running(d: Decks) -> Any:
    return start_bot(d.fake, d.tmp / "config.yml", curator_guilds=[])


async def test_a_servers_moderators_create_a_collection_and_add_a_card_only_they_see(
    mods: tuple[Decks, FakeMember, FakeMember],
) -> None:
    d, home_mod, _other_mod = mods
    async with _running(d) as (_settings, bot, _task):
        made = await d.fake.slash(
            d.home, d.home_chan, home_mod, "cards new-collection", id="biology", title="Our biology notes"
        )
        assert "Created the collection `biology`" in (await made.wait_message()).text
        assert (d.tmp / "cards" / "servers" / str(d.home.id) / "biology.yml").exists()
        again = await d.fake.slash(d.home, d.home_chan, home_mod, "cards new-collection", id="biology", title="Again")
        assert "already a collection 'biology'" in (await again.wait_message()).text
        it = await d.fake.slash(d.home, d.home_chan, home_mod, "cards add", collection="biology")
        added = await (await d.fake.submit_modal(it, FORM)).wait_message()
        assert "Added card `biology-001`" in added.text
        assert "Ribosomes" in await _said(await d.fact("home", "search", query="ribosomes"))
        assert "Ribosomes" not in await _said(await d.fact("other", "search", query="ribosomes"))
        assert "Ribosomes" not in await _said(await d.fact("dm", "search", query="ribosomes"))
        history = await d.fake.slash(d.home, d.home_chan, home_mod, "cards history", card="biology-001")
        assert "biology-001" in _all_text(await history.wait_message())
        assert bot.service.detail("biology-001") is None  # not in the shared library


async def test_another_servers_moderator_cannot_touch_a_servers_cards_by_any_route(
    mods: tuple[Decks, FakeMember, FakeMember],
) -> None:
    d, home_mod, other_mod = mods
    home_card = f"course-001@{d.home.id}"
    home_file = d.tmp / "cards" / "servers" / str(d.home.id) / "course.yml"
    before = await asyncio.to_thread(home_file.read_text, encoding="utf-8")
    async with _running(d) as (_settings, _bot, _task):
        for command in ("edit", "remove", "history"):
            it = await d.fake.slash(d.other, d.other_chan, other_mod, f"cards {command}", card=home_card)
            said = (await it.wait_message()).text
            assert "Mitochondria" not in said
            assert "There is no card" in said or "No recorded changes" in said
        it = await d.fake.slash(d.other, d.other_chan, other_mod, "cards export", collection=f"course@{d.home.id}")
        assert "There is no collection" in (await it.wait_message()).text
        offered = await d.fake.autocomplete(d.other, d.other_chan, other_mod, "cards edit", focused="card", card="mito")
        assert all("Mitochondria" not in c["name"] for c in offered)
        # The home moderator's edit form, submitted from the other server (a forged submit), is refused there.
        opened = await d.fake.slash(d.home, d.home_chan, home_mod, "cards edit", card="course-001")
        modal = await opened.wait_modal()
        ids = {t["_label"]: t["custom_id"] for t in modal.text_inputs()}
        forged = await d.fake.submit_modal(
            modal.custom_id,
            {ids["Text"]: "Vandalised from afar.", ids["Topics (comma-separated)"]: "x"},
            user=other_mod,
            guild=d.other,
            channel=d.other_chan,
        )
        assert (await forged.wait_message()).text == NOT_THIS_SERVER
        # The shared library stays the curators' (no server curates it here).
        it = await d.fake.slash(d.home, d.home_chan, home_mod, "cards remove", card="therapeutic-alliance-001")
        assert (await it.wait_message()).text == ONLY_THE_OWNER
    assert await asyncio.to_thread(home_file.read_text, encoding="utf-8") == before


async def test_a_collection_exported_by_one_server_is_imported_by_another_as_its_own(
    mods: tuple[Decks, FakeMember, FakeMember],
) -> None:
    d, home_mod, other_mod = mods
    async with _running(d) as (_settings, bot, _task):
        export = await d.fake.slash(d.home, d.home_chan, home_mod, "cards export", collection="course")
        text = (await export.wait_message()).attachment("course.yml").text
        upload = d.fake.add_attachment("course.yml", text.replace("id: course", "id: borrowed"))
        it = await d.fake.slash(d.other, d.other_chan, other_mod, "cards import", file=upload)
        await it.wait_message()
        done = await (await d.fake.click(it, "Confirm", user=other_mod)).wait_message()
        assert "Imported" in _all_text(done)
        assert "Mitochondria" in await _said(await d.fact("other", "search", query="mitochondria"))
        assert bot.service.detail("borrowed-001", d.home.id) is None  # the copy is the other server's alone
        # A shared collection a moderator may not curate is copied into their own, keeping its cards' sources.
        shared = await d.fake.slash(d.other, d.other_chan, other_mod, "cards export", collection="therapeutic-alliance")
        copied = d.fake.add_attachment(
            "ta.yml", (await shared.wait_message()).attachment("therapeutic-alliance.yml").text
        )
        it = await d.fake.slash(d.other, d.other_chan, other_mod, "cards import", file=copied)
        await it.wait_message()
        await (await d.fake.click(it, "Confirm", user=other_mod)).wait_message()
        own = bot.service.detail(f"therapeutic-alliance-001@{d.other.id}", d.other.id)
        assert own is not None
        original = bot.service.detail("therapeutic-alliance-001")
        assert original is not None
        assert (own.card.text, own.card.source, own.card.citations) == (
            original.card.text,
            original.card.source,
            original.card.citations,
        )


def _files(folder: Path) -> list[tuple[str, bytes]]:
    return sorted((p.name, p.read_bytes()) for p in folder.iterdir())


async def test_a_server_at_its_quota_is_refused_and_nothing_is_written(
    mods: tuple[Decks, FakeMember, FakeMember],
) -> None:
    d, home_mod, _other_mod = mods
    config = d.tmp / "config.yml"
    await asyncio.to_thread(
        config.write_text,
        config.read_text(encoding="utf-8") + "server_decks: {max_collections: 1, max_cards: 2}\n",
        encoding="utf-8",
    )
    home = d.tmp / "cards" / "servers" / str(d.home.id)
    before = await asyncio.to_thread(_files, home)
    async with _running(d) as (_settings, bot, _task):
        listed = await d.fake.slash(d.home, d.home_chan, home_mod, "cards collections")
        shown = (await listed.wait_message()).text
        assert "`course` · Study Group course · 2 cards" in shown
        assert "Used: 1 of 1 collections, 2 of 2 cards" in shown
        it = await d.fake.slash(d.home, d.home_chan, home_mod, "cards add", collection="course")
        refused = (await (await d.fake.submit_modal(it, FORM)).wait_message()).text
        assert "at most 2 cards of its own and this would make 3" in refused
        made = await d.fake.slash(d.home, d.home_chan, home_mod, "cards new-collection", id="more", title="More")
        assert "at most 1 collections of its own" in (await made.wait_message()).text
        upload = d.fake.add_attachment("extra.csv", "text\nOne more fact.\nAnd another.\nAnd a third.\n")
        it = await d.fake.slash(d.home, d.home_chan, home_mod, "cards import", file=upload, collection="course")
        await it.wait_message()
        done = await (await d.fake.click(it, "Confirm", user=home_mod)).wait_message()
        assert "at most 2 cards of its own and this would make 3" in _all_text(done)
        assert bot.service.detail("course-003", d.home.id) is None
    assert await asyncio.to_thread(_files, home) == before


async def test_when_the_bot_leaves_a_server_its_collections_are_archived_after_the_grace_period(decks: Decks) -> None:
    d = decks
    config = d.tmp / "config.yml"
    text = await asyncio.to_thread(config.read_text, encoding="utf-8")
    await asyncio.to_thread(config.write_text, text + "server_decks: {grace_days: 0}\n", encoding="utf-8")
    folder = d.tmp / "cards" / "servers" / str(d.other.id)
    async with _running(d) as (_settings, bot, _task):
        assert bot.service.detail("course-001", d.other.id) is not None
        d.fake.remove_guild(d.other)
        await d.fake.wait_for(lambda: not folder.exists(), timeout=5, what="the other server's folder to be archived")
        archived = list((d.tmp / "cards" / ".archive" / "servers" / str(d.other.id)).glob("*/course.yml"))
        assert len(archived) == 1
        await d.fake.wait_for(
            lambda: bot.service.detail("course-001", d.other.id) is None, timeout=5, what="the cards to go"
        )
        assert "Mitochondria" in await _said(await d.fact("home", "search", query="mitochondria"))  # others stay
        states = await bot.storage.decks.states()
        assert states[d.other.id].archived_at is not None


async def test_a_server_the_bot_left_keeps_its_collections_during_the_grace_period(decks: Decks) -> None:
    d = decks
    folder = d.tmp / "cards" / "servers" / str(d.other.id)
    async with _running(d) as (_settings, bot, _task):
        keeper = bot.get_cog("CardsCog").keeper
        d.fake.remove_guild(d.other)
        await d.fake.wait_for(lambda: d.other.id in keeper.left_here, timeout=5, what="the leave to be recorded")
        assert await keeper.archive_due() == []  # 30 days by default
        states = await bot.storage.decks.states()
        assert states[d.other.id].left_at is not None
        assert states[d.other.id].archived_at is None
        assert folder.exists()
        assert bot.service.detail("course-001", d.other.id) is not None


# ------------------------------------------------------------------------------------ daily posts and study
async def test_daily_posts_draw_from_what_the_server_sees(mods: tuple[Decks, FakeMember, FakeMember]) -> None:
    d, home_mod, other_mod = mods
    async with _running(d) as (_settings, _bot, _task):
        options = {"channel": d.home_chan, "time": "10:30", "timezone": "UTC", "collection": "course"}
        done = await d.fake.slash(d.home, d.home_chan, home_mod, "daily set", **options)
        await done.wait_message()
        preview = await (await d.fake.slash(d.home, d.home_chan, home_mod, "daily preview")).wait_message()
        assert f"@{d.home.id}" in _all_text(preview)
        theirs = {**options, "channel": d.other_chan, "collection": f"course@{d.home.id}"}
        refused = await (await d.fake.slash(d.other, d.other_chan, other_mod, "daily set", **theirs)).wait_message()
        assert "No cards match" in refused.text
        typed = {**options, "channel": d.other_chan, "collection": "course"}
        offered = await d.fake.autocomplete(
            d.other, d.other_chan, other_mod, "daily set", focused="collection", **typed
        )
        assert [c["value"] for c in offered] == [f"course@{d.other.id}"]
        today = await _said(await d.fact("home", "today"))
        assert f"@{d.home.id}" in today


async def test_study_sessions_quiz_only_on_what_the_server_sees(mods: tuple[Decks, FakeMember, FakeMember]) -> None:
    d, _home_mod, other_mod = mods
    async with _running(d) as (_settings, bot, _task):
        it = await d.fake.slash(d.home, d.home_chan, d.home_member, "study start", collection="course", mode="cloze")
        started = _all_text(await it.wait_message())
        assert "quokka" not in started.lower()
        session = bot.get_cog("StudyCog").desk.sessions[d.home_chan.id]
        assert session.card_ids
        assert all(card.endswith(f"@{d.home.id}") for card in session.card_ids)
        it = await d.fake.slash(
            d.other, d.other_chan, other_mod, "study start", collection=f"course@{d.home.id}", mode="cloze"
        )
        assert "There is no collection" in _all_text(await it.wait_message())
        assert d.other_chan.id not in bot.get_cog("StudyCog").desk.sessions


async def test_a_shared_card_is_copied_into_the_servers_own_collection_with_its_source_and_a_link_back(
    mods: tuple[Decks, FakeMember, FakeMember],
) -> None:
    d, home_mod, other_mod = mods
    async with _running(d) as (_settings, bot, _task):
        it = await d.fake.slash(d.home, d.home_chan, home_mod, "cards copy", card="therapeutic-alliance-002")
        said = (await it.wait_message()).text
        assert "Copied `therapeutic-alliance-002` as `course-003`" in said
        copy = bot.service.detail("course-003", d.home.id)
        original = bot.service.detail("therapeutic-alliance-002")
        assert copy is not None
        assert original is not None
        assert (copy.card.text, copy.card.source, copy.card.citations, copy.card.topics) == (
            original.card.text,
            original.card.source,
            original.card.citations,
            original.card.topics,
        )
        assert copy.card.added_by == "maria"
        history = await d.fake.slash(d.home, d.home_chan, home_mod, "cards history", card="course-003")
        assert "copied from therapeutic-alliance-002" in _all_text(await history.wait_message())
        # Another server's card is not there to copy; the server's own is not copied again.
        it = await d.fake.slash(d.other, d.other_chan, other_mod, "cards copy", card=f"course-003@{d.home.id}")
        assert "There is no card" in (await it.wait_message()).text
        it = await d.fake.slash(d.home, d.home_chan, home_mod, "cards copy", card="course-001")
        assert "already this server's own" in (await it.wait_message()).text


async def test_a_forged_pick_of_another_servers_card_in_a_result_list_opens_nothing(decks: Decks) -> None:
    """The "open a card" menu of a search result carries card ids; a forged pick naming another server's card is
    answered as for a card that does not exist, and one of the server's own opens."""
    d = decks
    async with start_bot(d.fake, d.tmp / "config.yml") as (_settings, _bot, _task):
        message = await (await d.fact("home", "search", query="alliance")).wait_message()
        menu = message.selects[0]
        picks = ((f"course-001@{d.other.id}", "no longer in the deck"), (f"course-001@{d.home.id}", "Mitochondria"))
        for card, expected in picks:  # the menu carries served keys
            data = {"custom_id": menu["custom_id"], "component_type": 3, "values": [card]}
            forged = await d.fake.forge_component(message, data, user=d.home_member)
            said = _all_text(await forged.wait_message())
            assert expected in said
            assert "jaw muscles" not in said
