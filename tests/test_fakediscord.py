"""End-to-end tests of the fake Discord itself, through the real discord.py client."""

from __future__ import annotations

import asyncio
import io
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import discord
import pytest
import pytest_asyncio
from discord import app_commands
from discord.ext import commands

from tests.fakediscord import FakeChannel, FakeDiscord, FakeGuild, FakeMember, ResponseType, run_bot

TOPICS = ["therapy", "theory", "thermodynamics", "history", "alliance", "astronomy"] + [
    f"topic-{i:02d}" for i in range(30)
]
PAGES = 3


# ---------------------------------------------------------------------------------------- demo bot
class FactView(discord.ui.View):
    """Two buttons page through results, a select picks a topic: each click edits the message."""

    def __init__(self, query: str) -> None:
        super().__init__(timeout=60)
        self.query = query
        self.page = 1

    def embed(self) -> discord.Embed:
        return discord.Embed(title=f"{self.query} — page {self.page}/{PAGES}", description=f"Fact #{self.page}")

    @discord.ui.button(label="Previous", custom_id="fact:prev")
    async def previous(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        self.page = max(1, self.page - 1)
        await interaction.response.edit_message(embed=self.embed(), view=self)

    @discord.ui.button(label="Next", custom_id="fact:next")
    async def next(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        self.page = min(PAGES, self.page + 1)
        await interaction.response.edit_message(embed=self.embed(), view=self)

    @discord.ui.select(
        custom_id="fact:topic",
        placeholder="Pick a topic",
        options=[discord.SelectOption(label=t.title(), value=t) for t in TOPICS[:5]],
    )
    async def topic(self, interaction: discord.Interaction, select: discord.ui.Select) -> None:
        embed = discord.Embed(title=f"Topic: {select.values[0]}", description=f"picked by {interaction.user.name}")
        await interaction.response.edit_message(embed=embed, view=self)


class SuggestModal(discord.ui.Modal, title="Suggest a fact"):
    fact = discord.ui.TextInput(label="Fact", max_length=200)
    source = discord.ui.TextInput(label="Source", required=False)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            f"Thanks {interaction.user.name}! Got: {self.fact.value} (source: {self.source.value or 'none'})",
            ephemeral=True,
        )


fact = app_commands.Group(name="fact", description="Fact cards")


@fact.command(name="search", description="Search the fact cards")
@app_commands.describe(query="What to look for", topic="Narrow to a topic")
async def fact_search(interaction: discord.Interaction, query: str, topic: str | None = None) -> None:
    view = FactView(query)
    await interaction.response.send_message(
        embed=view.embed(), view=view, allowed_mentions=discord.AllowedMentions.none()
    )


@fact_search.autocomplete("topic")
async def topic_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    hits = [t for t in TOPICS if t.startswith(current)]
    return [app_commands.Choice(name=t, value=t) for t in hits[:25]]


class DemoBot(commands.Bot):
    def __init__(self) -> None:
        intents = discord.Intents.default()
        intents.members = True
        intents.message_content = True
        super().__init__(command_prefix="!", intents=intents)
        self.captured: dict[str, BaseException] = {}
        self.ack_delay = 0.0
        self.tree.add_command(fact)
        self.add_app_commands()

    async def setup_hook(self) -> None:
        await self.tree.sync()

    async def post_daily(self, channel: discord.abc.Messageable) -> discord.Message:
        """What a scheduled daily post does: an embed and a file, never pinging anyone."""
        return await channel.send(
            embed=discord.Embed(title="Fact of the day", description="Honey never spoils."),
            file=discord.File(io.BytesIO(b"Honey never spoils.\n"), filename="fact.txt"),
            allowed_mentions=discord.AllowedMentions.none(),
        )

    def add_app_commands(self) -> None:
        bot = self

        @self.tree.command(name="suggest", description="Suggest a new fact")
        async def suggest(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(SuggestModal())

        @self.tree.command(name="slow", description="Thinks, then answers")
        async def slow(interaction: discord.Interaction) -> None:
            await interaction.response.defer(ephemeral=True, thinking=True)
            await interaction.followup.send("Done thinking", ephemeral=True)
            await interaction.followup.send("And one more thing")

        @self.tree.command(name="late", description="Answers too late")
        async def late(interaction: discord.Interaction) -> None:
            await asyncio.sleep(bot.ack_delay)  # simulates slow work before the first response
            try:
                await interaction.response.send_message("finally")
            except discord.HTTPException as exc:
                bot.captured["late"] = exc

        @self.tree.command(name="answer", description="Answers (run twice to double-acknowledge)")
        async def answer(interaction: discord.Interaction) -> None:
            try:
                await interaction.response.send_message(f"answer from {id(bot)}")
            except discord.HTTPException as exc:
                bot.captured["answer"] = exc

        @self.tree.command(name="export", description="Sends the deck as a file")
        async def export(interaction: discord.Interaction) -> None:
            data = io.BytesIO(b"fact one\nfact two\n")
            await interaction.response.send_message("Here is the deck", file=discord.File(data, "deck.txt"))

        @self.tree.command(name="import", description="Reads an uploaded deck")
        async def import_(interaction: discord.Interaction, deck: discord.Attachment) -> None:
            text = (await deck.read()).decode()
            await interaction.response.send_message(
                f"{deck.filename}: {len(text.splitlines())} facts, first: {text.splitlines()[0]}"
            )

        @self.tree.command(name="post", description="Posts today's fact in a channel")
        async def post(interaction: discord.Interaction, channel: discord.TextChannel) -> None:
            target = bot.get_channel(channel.id)
            try:
                await bot.post_daily(target)
            except discord.Forbidden as exc:
                bot.captured["post"] = exc
                await interaction.response.send_message(f"I can't post in {channel.mention}", ephemeral=True)
            else:
                await interaction.response.send_message(f"Posted in {channel.mention}", ephemeral=True)


class BadBot(commands.Bot):
    """A bot whose command description is too long for Discord."""

    def __init__(self) -> None:
        super().__init__(command_prefix="!", intents=discord.Intents.default())
        self.sync_error: Exception | None = None

        @self.tree.command(name="wordy", description="x" * 101)
        async def wordy(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("hi")

    async def setup_hook(self) -> None:
        try:
            await self.tree.sync()
        except app_commands.CommandSyncFailure as exc:
            self.sync_error = exc


# ---------------------------------------------------------------------------------------- fixtures
@dataclass
class World:
    fake: FakeDiscord
    guild: FakeGuild
    general: FakeChannel
    mods_only: FakeChannel
    alice: FakeMember
    bob: FakeMember


@pytest_asyncio.fixture
async def world() -> AsyncIterator[World]:
    async with FakeDiscord(token="test-token") as fake:
        guild = fake.add_guild("Study Group")
        general = guild.add_channel("general", topic="Chat")
        mods = guild.add_role("Moderators", permissions=discord.Permissions(manage_messages=True))
        mods_only = guild.add_channel("mods-only")
        mods_only.set_permissions(guild.everyone, deny=discord.Permissions(view_channel=True))
        mods_only.set_permissions(mods, allow=discord.Permissions(view_channel=True))
        alice = guild.add_member("alice", roles=[mods])
        bob = guild.add_member("bob")
        yield World(fake, guild, general, mods_only, alice, bob)


@pytest_asyncio.fixture
async def running(world: World) -> AsyncIterator[tuple[World, DemoBot]]:
    async with run_bot(world.fake, DemoBot()) as bot:
        yield world, bot
    assert not world.fake.unhandled, world.fake.unhandled


# ---------------------------------------------------------------------------------------- tests
async def test_ready_and_guild_create_give_the_bot_its_world(running: tuple[World, DemoBot]) -> None:
    w, bot = running
    assert bot.user is not None
    assert bot.user.name == "Factdeck"
    assert bot.application_id == w.fake.application_id
    g = bot.get_guild(w.guild.id)
    assert g is not None
    assert g.name == "Study Group"
    assert {c.name for c in g.text_channels} == {"general", "mods-only"}
    assert g.get_member(w.alice.id).name == "alice"
    assert g.me.id == bot.user.id
    assert g.get_member(w.alice.id).guild_permissions.manage_messages
    assert not g.get_member(w.bob.id).guild_permissions.manage_messages
    mods_only = g.get_channel(w.mods_only.id)
    assert mods_only.permissions_for(g.get_member(w.alice.id)).view_channel
    assert not mods_only.permissions_for(g.get_member(w.bob.id)).view_channel
    assert not mods_only.permissions_for(g.me).view_channel
    assert g.get_channel(w.general.id).permissions_for(g.me).send_messages
    assert math.isfinite(bot.latency)  # heartbeat was ACKed (discord.py reports inf before the first ACK)
    assert w.fake.identify_count == 1


async def test_tree_sync_stores_commands_once(running: tuple[World, DemoBot]) -> None:
    w, _bot = running
    assert sorted(w.fake.command_names()) == ["answer", "export", "fact", "import", "late", "post", "slow", "suggest"]
    assert w.fake.sync_count() == 1
    fact_cmd = next(c for c in w.fake.commands() if c["name"] == "fact")
    search = fact_cmd["options"][0]
    assert (search["name"], search["type"]) == ("search", 1)
    topic = next(o for o in search["options"] if o["name"] == "topic")
    assert topic["autocomplete"] is True


async def test_too_long_description_is_rejected_like_discord(world: World) -> None:
    async with run_bot(world.fake, BadBot()) as bot:
        err = bot.sync_error
    assert isinstance(err, app_commands.CommandSyncFailure)
    assert (err.status, err.code) == (400, 50035)
    assert "wordy" in str(err)
    assert "description" in str(err)
    assert world.fake.sync_count() == 0
    assert world.fake.command_names() == []


async def test_slash_command_reply_and_autocomplete(running: tuple[World, DemoBot]) -> None:
    w, _ = running
    it = await w.fake.slash(w.guild, w.general, w.alice, "fact search", query="alliance")
    reply = await it.wait_response()
    assert reply.type == ResponseType.CHANNEL_MESSAGE
    assert not reply.ephemeral
    msg = await it.wait_message()
    assert msg.embed["title"] == "alliance — page 1/3"
    assert msg.button_labels == ["Previous", "Next"]
    assert msg.allowed_mentions == {"parse": []}  # never pings
    assert w.general.messages == [msg]

    choices = await w.fake.autocomplete(
        w.guild, w.general, w.alice, "fact search", focused="topic", query="alliance", topic="the"
    )
    assert [c["name"] for c in choices] == ["therapy", "theory", "thermodynamics"]
    assert len(await w.fake.autocomplete(w.guild, w.general, w.alice, "fact search", focused="topic")) == 25
    w.fake.assert_no_errors()


async def test_buttons_and_select_update_the_message(running: tuple[World, DemoBot]) -> None:
    w, _ = running
    it = await w.fake.slash(w.guild, w.general, w.alice, "fact search", query="alliance")
    msg = await it.wait_message()

    click = await w.fake.click(msg, "Next", user=w.bob)
    assert (await click.wait_response()).type == ResponseType.UPDATE_MESSAGE
    assert msg.embed["title"] == "alliance — page 2/3"
    await (await w.fake.click(msg, "fact:next", user=w.bob)).wait_response()
    assert msg.embed["description"] == "Fact #3"

    pick = await w.fake.select(msg, "Pick a topic", ["theory"], user=w.bob)
    await pick.wait_response()
    assert msg.embed["title"] == "Topic: theory"
    assert msg.embed["description"] == "picked by bob"
    assert msg.edited
    w.fake.assert_no_errors()


async def test_modal_round_trip(running: tuple[World, DemoBot]) -> None:
    w, _ = running
    it = await w.fake.slash(w.guild, w.general, w.alice, "suggest")
    modal = await it.wait_modal()
    assert modal.title == "Suggest a fact"
    assert modal.labels == ["Fact", "Source"]

    sub = await w.fake.submit_modal(it, {"Fact": "Octopuses have three hearts"})
    msg = await sub.wait_message()
    assert msg.content == "Thanks alice! Got: Octopuses have three hearts (source: none)"
    assert msg.ephemeral
    assert msg not in w.general.messages


async def test_deferral_then_followups(running: tuple[World, DemoBot]) -> None:
    w, _ = running
    it = await w.fake.slash(w.guild, w.general, w.alice, "slow")
    reply = await it.wait_response()
    assert reply.type == ResponseType.DEFERRED_CHANNEL_MESSAGE
    assert reply.ephemeral
    thinking_id = reply.message.id

    msg = await it.wait_message()
    assert msg.id == thinking_id  # the first follow-up replaced the "thinking" message...
    assert msg.content == "Done thinking"
    assert msg.ephemeral
    assert not msg.loading
    second = await it.wait_followup(2)
    assert second.id != thinking_id
    assert second.content == "And one more thing"
    assert not second.ephemeral
    assert w.general.messages == [second]


async def test_double_acknowledgement_is_rejected(world: World) -> None:
    # Two instances of the bot running with the same token both answer the same interaction.
    async with run_bot(world.fake, DemoBot()) as one, run_bot(world.fake, DemoBot()) as two:
        it = await world.fake.slash(world.guild, world.general, world.alice, "answer")
        await world.fake.wait_for(lambda: "answer" in one.captured or "answer" in two.captured)
        failed = one.captured.get("answer") or two.captured.get("answer")
    assert isinstance(failed, discord.HTTPException)
    assert (failed.status, failed.code) == (400, 40060)
    assert [m.content for m in world.general.messages] == [it.original.content]
    assert [e.code for e in world.fake.errors] == [40060]


async def test_late_acknowledgement_is_unknown_interaction(running: tuple[World, DemoBot]) -> None:
    w, bot = running
    w.fake.ack_deadline = 0.2
    bot.ack_delay = 0.3
    it = await w.fake.slash(w.guild, w.general, w.alice, "late")
    with pytest.raises(AssertionError, match="10062"):
        await it.wait_response()
    await w.fake.wait_for(lambda: bot.captured.get("late"))
    exc = bot.captured["late"]
    assert isinstance(exc, discord.NotFound)
    assert exc.code == 10062
    assert w.general.messages == []


async def test_channel_posts_files_and_missing_permission(running: tuple[World, DemoBot]) -> None:
    w, bot = running
    sent = await bot.post_daily(bot.get_channel(w.general.id))
    [post] = w.general.posts
    assert post.id == sent.id
    assert post.embed["title"] == "Fact of the day"
    assert post.attachment("fact.txt").data == b"Honey never spoils.\n"
    assert post.allowed_mentions == {"parse": []}
    assert sent.attachments[0].filename == "fact.txt"

    w.general.forbid_bot()
    await w.fake.wait_for(
        lambda: not bot.get_channel(w.general.id).permissions_for(bot.get_guild(w.guild.id).me).send_messages
    )
    it = await w.fake.slash(w.guild, w.general, w.alice, "post", channel=w.general)
    reply = await it.wait_message()
    assert reply.content == f"I can't post in <#{w.general.id}>"
    assert reply.ephemeral
    assert isinstance(bot.captured["post"], discord.Forbidden)
    assert bot.captured["post"].code == 50013
    assert len(w.general.posts) == 1
    w.fake.assert_no_errors(allow=(50013,))


async def test_attachments_upload_and_download(running: tuple[World, DemoBot]) -> None:
    w, _ = running
    it = await w.fake.slash(w.guild, w.general, w.alice, "export")
    msg = await it.wait_message()
    assert msg.content == "Here is the deck"
    assert msg.attachment("deck.txt").text == "fact one\nfact two\n"

    upload = w.fake.add_attachment("mydeck.txt", "Sloths can hold their breath\nSecond fact\n")
    it = await w.fake.slash(w.guild, w.general, w.alice, "import", deck=upload)
    msg = await it.wait_message()
    assert msg.content == "mydeck.txt: 2 facts, first: Sloths can hold their breath"


async def test_reconnect_resumes_without_identify(running: tuple[World, DemoBot]) -> None:
    w, bot = running
    await w.fake.reconnect()
    await w.fake.drop_connection()
    assert (w.fake.identify_count, w.fake.resume_count) == (1, 2)
    assert [c.path for c in w.fake.gateway_connections] == ["/", "/resume/", "/resume/"]
    it = await w.fake.slash(w.guild, w.general, w.alice, "fact search", query="after resume")
    assert (await it.wait_message()).embed["title"] == "after resume — page 1/3"

    await w.fake.invalidate_session()
    assert w.fake.identify_count == 2
    assert len(w.fake.gateway_connections) == 4  # a fresh session on a new connection
    await w.fake.wait_for(bot.is_ready)


async def test_wrong_token_is_login_failure(world: World) -> None:
    with pytest.raises(discord.LoginFailure):
        async with run_bot(world.fake, DemoBot(), token="wrong-token"):
            pass
    assert world.fake.identify_count == 0
    assert [e.status for e in world.fake.errors] == [401]


async def test_discord_limits_are_enforced(running: tuple[World, DemoBot]) -> None:
    w, _ = running
    it = await w.fake.slash(w.guild, w.general, w.alice, "fact search", query="x" * 300)
    with pytest.raises(AssertionError, match=r"embeds\.0\.title"):
        await it.wait_response()
    assert w.fake.errors[-1].code == 50035
    with pytest.raises(AssertionError, match="has no option 'nope'"):
        await w.fake.slash(w.guild, w.general, w.alice, "fact search", query="q", nope=1)


async def test_a_burst_past_the_global_rate_limit_is_held_back_and_none_is_lost() -> None:
    """Discord answers 429 past 50 requests a second per bot token; discord.py waits ``retry_after`` and sends the
    refused requests again. Here 20 a second (so the test stays short) and a burst of 45 messages at once."""
    async with FakeDiscord(global_rate_limit=20) as fake:
        guild = fake.add_guild("Study Group")
        general = guild.add_channel("general")
        async with run_bot(fake, discord.Client(intents=discord.Intents.default())) as client:
            channel = client.get_channel(general.id)
            assert isinstance(channel, discord.TextChannel)
            sent = await asyncio.gather(*(channel.send(f"fact {n}") for n in range(45)))
        assert fake.global_limit is not None
        assert fake.global_limit.refused > 0  # the burst did hit the limit
        assert sorted(post.content for post in general.posts) == sorted(f"fact {n}" for n in range(45))
        assert [m.id for m in sent] == [post.id for post in sorted(general.posts, key=lambda p: int(p.content[5:]))]
        fake.assert_no_errors()


async def test_a_global_429_carries_what_discord_sends() -> None:
    async with FakeDiscord(global_rate_limit=1) as fake, aiohttp.ClientSession() as http:
        auth = {"Authorization": f"Bot {fake.token}"}
        async with http.get(f"{fake.api_url}/users/@me", headers=auth) as first:
            assert first.status == 200
        async with http.get(f"{fake.api_url}/users/@me", headers=auth) as refused:
            assert refused.status == 429
            assert refused.headers["X-RateLimit-Global"] == "true"
            assert refused.headers["X-RateLimit-Scope"] == "global"
            assert int(refused.headers["Retry-After"]) >= 1
            body = await refused.json()
        assert body["global"] is True
        assert body["message"] == "You are being rate limited."
        assert 0 < body["retry_after"] <= 1.0
        # Interaction callbacks take no bot token and are not counted against it.
        async with http.post(f"{fake.api_url}/interactions/1/tok/callback", json={"type": 1}) as callback:
            assert callback.status != 429
