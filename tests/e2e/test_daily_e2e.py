"""/daily, /fact today and the daily post, end to end: the real discord.py client, the bot as started in
production (``run()``, a real SQLite file), and the fake Discord.

Time is the daily cog's injected clock: a test moves it and wakes the loop (``tick``), so nothing sleeps for
real minutes. Moderators: ``maria`` has Manage Messages through a role; ``carl`` has the ``Curators`` role named
in the settings' ``moderator_roles``; ``bob`` is a plain member. Posts go to ``#facts``; commands are run in
``#general``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord
import pytest
import pytest_asyncio

from bot.discord.app import FactdeckBot
from bot.discord.checks import NOT_MODERATOR
from bot.discord.cogs.daily import POST_HEADER, DailyCog
from bot.discord.cogs.facts import FactsCog
from bot.discord.daily_questions import QUESTION_HEADER, REVEAL_LABEL
from bot.storage.study import Answer
from tests.e2e.conftest import assert_quiet, start_bot
from tests.fakediscord import FakeChannel, FakeDiscord, FakeGuild, FakeMember, FakeMessage
from tests.fakediscord.ratelimit import GlobalRateLimit

pytestmark = pytest.mark.e2e

UTC = dt.UTC
CONFIG = """\
cards_dir: cards
database: data/factdeck.db
cache_dir: cache
guild_ready_timeout: 0.05
view_flush_interval: 0.1
moderator_roles: [Curators]
daily:
  catch_up_hours: 6
"""
#: Monday 30 March 2026, 10:00 in Berlin (CEST, UTC+2): the day after the spring-forward change.
START = dt.datetime(2026, 3, 30, 8, 0, tzinfo=UTC)
#: 10:30 Berlin on START's day.
DUE = dt.datetime(2026, 3, 30, 8, 30, tzinfo=UTC)


class Clock:
    """The daily cog's clock; tests move it by hand."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def set(self, moment: dt.datetime) -> None:
        self.now = moment


@dataclass
class World:
    """The fake Discord, its guild and members, the clock, the config, and the bot now running."""

    fake: FakeDiscord
    guild: FakeGuild
    general: FakeChannel
    facts: FakeChannel
    maria: FakeMember
    carl: FakeMember
    bob: FakeMember
    clock: Clock
    config: Path
    bot: FactdeckBot | None = None
    errors: list[logging.LogRecord] = field(default_factory=list)

    @property
    def cog(self) -> DailyCog:
        """The running bot's daily cog."""
        assert self.bot is not None
        cog = self.bot.get_cog("DailyCog")
        assert isinstance(cog, DailyCog)
        return cog

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[FactdeckBot]:
        """Start the bot as in production (``run()``) with the test clock; stop it (like SIGTERM) on exit."""
        async with start_bot(self.fake, self.config, daily_clock=self.clock) as (_settings, bot, _task):
            self.bot = bot
            try:
                yield bot
            finally:
                self.bot = None

    async def daily(self, command: str, user: FakeMember | None = None, **options: Any) -> FakeMessage:
        """Run ``/daily <command>`` in #general (as maria by default); return the reply."""
        it = await self.fake.slash(self.guild, self.general, user or self.maria, f"daily {command}", **options)
        return await it.wait_message()

    async def set(self, **options: Any) -> FakeMessage:
        """``/daily set`` in #facts at 10:30 Europe/Berlin, unless told otherwise."""
        values = {"channel": self.facts, "time": "10:30", "timezone": "Europe/Berlin", **options}
        return await self.daily("set", **values)

    async def tick(self, moment: dt.datetime | None = None) -> None:
        """Move the clock (optionally), wake the loop and wait until it has run at that time."""
        if moment is not None:
            self.clock.set(moment)
        target, cog = self.clock.now, self.cog
        cog.wake()
        await self.fake.wait_for(
            lambda: cog.last_run is not None and cog.last_run >= target, what="the daily loop to run"
        )

    def bot_errors(self) -> list[str]:
        """ERROR log lines from the bot's own modules."""
        return [r.getMessage() for r in self.errors if r.name.startswith("bot.")]


class _Collect(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(level=logging.ERROR)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest_asyncio.fixture
async def w(
    world: tuple[FakeDiscord, FakeGuild, FakeChannel, FakeMember, FakeMember],
    library: Path,
    warm_cache: Path,
    tmp_path: Path,
) -> AsyncIterator[World]:
    """The world with #facts, the moderators and a config; the bot is started by the test (``w.running()``)."""
    fake, guild, general, _alice, bob = world
    facts = guild.add_channel("facts")
    mods = guild.add_role("Moderators", permissions=discord.Permissions(manage_messages=True))
    curators = guild.add_role("Curators")
    maria = guild.add_member("maria", roles=[mods])
    carl = guild.add_member("carl", roles=[curators])
    (tmp_path / "cards").symlink_to(library, target_is_directory=True)
    (tmp_path / "cache").symlink_to(warm_cache, target_is_directory=True)
    config = tmp_path / "config.yml"
    config.write_text(CONFIG, encoding="utf-8")
    state = World(fake, guild, general, facts, maria, carl, bob, Clock(START), config)
    handler = _Collect(state.errors)
    logging.getLogger().addHandler(handler)
    try:
        yield state
    finally:
        logging.getLogger().removeHandler(handler)
    assert not fake.unhandled, [str(u) for u in fake.unhandled]


def card_of(message: FakeMessage) -> str:
    """The card id in a card embed's footer."""
    assert message.embed is not None, message
    found = re.search(r"card (\S+)", message.embed["footer"]["text"])
    assert found, message.embed["footer"]
    return found[1]


def field_of(message: FakeMessage, name: str) -> str:
    """The value of the embed field ``name`` (AssertionError when there is none)."""
    assert message.embed is not None, message
    for item in message.embed.get("fields", []):
        if item["name"] == name:
            return item["value"]
    raise AssertionError(f"no field {name!r} in {[f['name'] for f in message.embed.get('fields', [])]}")


def daily_tasks() -> list[asyncio.Task[Any]]:
    """The posting loops alive in this event loop."""
    return [t for t in asyncio.all_tasks() if t.get_name() == "factdeck-daily" and not t.done()]


# ------------------------------------------------------------------------------------------------ the tests
async def test_daily_is_a_hidden_moderator_group_and_refuses_everyone_else(w: World) -> None:
    async with w.running():
        (group,) = [c for c in w.fake.commands() if c["name"] == "daily"]
        assert int(group["default_member_permissions"]) == discord.Permissions(manage_messages=True).value
        subs = {o["name"]: o for o in group["options"]}
        assert set(subs) == {"set", "off", "status", "preview"}
        assert [o["name"] for o in subs["set"]["options"]] == [
            "channel",
            "time",
            "timezone",
            "topic",
            "collection",
            "mode",
        ]
        assert [c["value"] for c in subs["set"]["options"][-1]["choices"]] == ["fact", "question"]
        assert {o["name"] for o in subs["set"]["options"] if o.get("autocomplete")} == {
            "timezone",
            "topic",
            "collection",
        }
        fact = next(c for c in w.fake.commands() if c["name"] == "fact")
        assert "today" in {o["name"] for o in fact["options"]}

        for command, options in [
            ("set", {"channel": w.facts, "time": "10:30", "timezone": "Europe/Berlin"}),
            ("off", {}),
            ("status", {}),
            ("preview", {}),
        ]:
            refused = await w.daily(command, w.bob, **options)
            assert refused.ephemeral, command
            assert refused.text == NOT_MODERATOR, command
        assert await w.cog.engine.status(w.guild.id) is None  # nothing was saved

        # a role named in moderator_roles is enough
        answer = await w.daily("status", w.carl)
        assert answer.ephemeral
        assert "/daily set" in answer.text
        # ...and refusing bob did not break anything for a moderator
        await w.set()
        refused = await w.daily("off", w.bob)
        assert refused.text == NOT_MODERATOR
        assert (await w.cog.engine.status(w.guild.id)).active
        assert w.facts.posts == []
    w.fake.assert_no_errors()
    assert w.bot_errors() == []


async def test_set_posts_on_time_and_preview_status_and_fact_today_tell_the_truth(w: World) -> None:
    async with w.running():
        zones = await w.fake.autocomplete(
            w.guild,
            w.general,
            w.maria,
            "daily set",
            focused="timezone",
            channel=w.facts,
            time="10:30",
            timezone="berl",
        )
        assert zones[0]["value"] == "Europe/Berlin"
        collections = await w.fake.autocomplete(
            w.guild,
            w.general,
            w.maria,
            "daily set",
            focused="collection",
            channel=w.facts,
            time="10:30",
            timezone="Europe/Berlin",
            collection="lab",
        )
        assert "lab" in [c["value"] for c in collections]

        answer = await w.set(topic="cell biology", collection="lab")
        assert answer.ephemeral
        unix = int(DUE.timestamp())
        assert "Monday 30 March 2026, 10:30 CEST (Europe/Berlin)" in answer.text  # the server's zone
        assert f"<t:{unix}:F>" in answer.text
        assert f"<t:{unix}:R>" in answer.text
        assert f"<#{w.facts.id}>" in answer.text

        preview = await w.daily("preview")
        assert preview.ephemeral
        previewed = card_of(preview)
        assert previewed.startswith("lab-")
        assert f"<t:{unix}:F>" in preview.text
        assert w.facts.posts == []  # a preview never posts

        status = await w.daily("status")
        assert status.ephemeral
        assert field_of(status, "State") == "On"
        assert field_of(status, "Channel") == f"<#{w.facts.id}>"
        assert field_of(status, "Time") == "10:30 Europe/Berlin"
        assert "cell biology" in field_of(status, "Filters")
        assert "lab" in field_of(status, "Filters")
        assert f"<t:{unix}:F>" in field_of(status, "Next post")
        assert field_of(status, "Last post") == "None yet"

        await w.tick(DUE - dt.timedelta(minutes=1))
        assert w.facts.posts == []  # not a minute early
        await w.tick(DUE)
        post = await w.facts.wait_for_message(posts_only=True)
        assert post.content == POST_HEADER
        assert card_of(post) == previewed  # preview == what was posted
        assert "Lab Notebook" in post.embed["author"]["name"]
        assert_quiet(post.allowed_mentions)

        today = await (await w.fake.slash(w.guild, w.general, w.bob, "fact today")).wait_message()
        assert not today.ephemeral
        assert card_of(today) == previewed  # the same card as the post, for anyone
        assert_quiet(today.allowed_mentions)
        w.clock.set(DUE + dt.timedelta(hours=12))  # still the same local day in Berlin (22:30)
        later = await (await w.fake.slash(w.guild, w.general, w.maria, "fact today")).wait_message()
        assert card_of(later) == previewed
        assert await w.bot.storage.views.count(previewed, w.guild.id) >= 3  # the post and two /fact today

        status = await w.daily("status")
        last = field_of(status, "Last post")
        assert f"card `{previewed}`" in last
        assert f"/{w.facts.id}/{post.id}" in last
        assert "Last error" not in [f["name"] for f in status.embed["fields"]]
        next_day = int((DUE + dt.timedelta(days=1)).timestamp())
        assert f"<t:{next_day}:F>" in field_of(status, "Next post")
        assert len(w.facts.posts) == 1
    w.fake.assert_no_errors()
    assert w.bot_errors() == []


async def test_reconnects_and_a_restart_never_post_twice(w: World) -> None:
    async with w.running() as bot:
        await w.set()
        await w.tick(DUE)
        first = await w.facts.wait_for_message(posts_only=True)
        loop_task = w.cog._task
        assert len(daily_tasks()) == 1

        await w.fake.reconnect()  # RESUME
        await w.fake.invalidate_session()  # a fresh IDENTIFY: READY and on_ready again
        await w.fake.wait_for(lambda: bot.is_ready() and bot.ready_count == 2, what="a second on_ready")
        await w.tick(DUE + dt.timedelta(minutes=5))
        assert w.cog._task is loop_task
        assert len(daily_tasks()) == 1
        assert [m.id for m in w.facts.posts] == [first.id]

    async with w.running():  # a new process on the same database, same day
        assert len(daily_tasks()) == 1
        await w.tick(DUE + dt.timedelta(minutes=10))
        assert [m.id for m in w.facts.posts] == [first.id]

        await w.tick(DUE + dt.timedelta(days=1))  # the next day: exactly one new post, another card
        second = await w.fake.wait_for(lambda: w.facts.posts[1] if len(w.facts.posts) > 1 else None)
        assert card_of(second) != card_of(first)
        await w.tick(DUE + dt.timedelta(days=1, minutes=1))
        assert len(w.facts.posts) == 2
    assert daily_tasks() == []  # the loop stops with the bot
    w.fake.assert_no_errors()
    assert w.bot_errors() == []


async def test_set_refuses_a_channel_the_bot_cannot_post_in_and_bad_input(w: World) -> None:
    locked = w.guild.add_channel("locked")
    locked.set_permissions(w.guild.me, deny=discord.Permissions(embed_links=True))
    async with w.running() as bot:
        await w.fake.wait_for(
            lambda: not bot.get_channel(locked.id).permissions_for(bot.get_guild(w.guild.id).me).embed_links
        )
        refused = await w.set(channel=locked)
        assert refused.ephemeral
        assert "Embed Links" in refused.text
        assert "Nothing was changed" in refused.text
        assert await w.cog.engine.status(w.guild.id) is None

        bad_time = await w.set(time="25:00")
        assert "not a valid time" in bad_time.text
        assert "HH:MM" in bad_time.text
        bad_zone = await w.set(timezone="Europe/Berln")
        assert "Unknown time zone" in bad_zone.text
        assert "Europe/Berlin" in bad_zone.text
        no_cards = await w.set(topic="no such topic")
        assert "No cards match" in no_cards.text
        assert await w.cog.engine.status(w.guild.id) is None

        await w.tick(DUE)
        assert locked.posts == []
        assert w.facts.posts == []
    w.fake.assert_no_errors()


async def test_a_forbidden_post_shows_in_status_and_off_stops_posting(w: World) -> None:
    async with w.running() as bot:
        await w.set()
        w.facts.forbid_bot()  # permissions change after /daily set
        await w.fake.wait_for(
            lambda: not bot.get_channel(w.facts.id).permissions_for(bot.get_guild(w.guild.id).me).send_messages
        )
        await w.tick(DUE)
        await w.fake.wait_for(lambda: any(e.code == 50013 for e in w.fake.errors), what="the 403")
        assert w.facts.posts == []

        status = await w.daily("status")
        error = field_of(status, "Last error")
        assert "Missing permissions" in error
        assert f"<#{w.facts.id}>" in error
        assert "1 failure in a row" in error
        assert "failed" in field_of(status, "Days without a post")
        assert any("failed (permanent)" in line for line in w.bot_errors())  # logged, not silent

        off = await w.daily("off")
        assert "off" in off.text
        status = await w.daily("status")
        assert field_of(status, "State").startswith("Off")
        assert "Next post" not in [f["name"] for f in status.embed["fields"]]
        w.facts.set_permissions(w.guild.me)  # permission back; still off: nothing goes out
        await w.tick(DUE + dt.timedelta(days=1))
        assert w.facts.posts == []
        assert "were not on" in (await w.daily("off")).text
    w.fake.assert_no_errors(allow=(50013,))


async def test_an_iteration_that_raises_is_logged_and_the_loop_goes_on(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with w.running():
        await w.set()
        cog = w.cog
        cog.error_pause = 0.01
        real = cog.engine.run_due
        calls = 0

        async def flaky() -> Any:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise RuntimeError("database is having a bad day")
            return await real()

        monkeypatch.setattr(cog.engine, "run_due", flaky)
        await w.tick(DUE)
        post = await w.facts.wait_for_message(posts_only=True)
        assert calls >= 2
        assert cog.running
        assert any("run_due failed" in line for line in w.bot_errors())
        assert card_of(post)
    w.fake.assert_no_errors()


async def test_two_bots_on_one_database_post_once(w: World) -> None:
    """Two processes by mistake (an old one not yet stopped during a deploy): the database claim decides."""
    async with w.running():
        await w.set()
        first = w.cog
        async with w.running():
            second = w.cog
            assert second is not first
            w.clock.set(DUE)
            first.wake()
            second.wake()
            await w.facts.wait_for_message(posts_only=True)
            await w.fake.wait_for(lambda: (first.last_run or START) >= DUE and (second.last_run or START) >= DUE)
            await w.tick(DUE + dt.timedelta(minutes=1))
            assert len(w.facts.posts) == 1
    w.fake.assert_no_errors()


async def test_before_any_set_up_status_preview_and_today_say_what_there_is(w: World) -> None:
    async with w.running() as bot:
        for command in ("status", "preview"):
            reply = await w.daily(command)
            assert reply.ephemeral
            assert reply.text == "No daily fact is set up here. Start one with /daily set."
        # Without a schedule, today's card is still one card all day, for everyone.
        first = await (await w.fake.slash(w.guild, w.general, w.bob, "fact today")).wait_message()
        again = await (await w.fake.slash(w.guild, w.general, w.maria, "fact today")).wait_message()
        card_id = first.embed["footer"]["text"].split()[1]
        assert bot.service.detail(card_id) is not None
        assert again.embed["footer"]["text"].split()[1] == card_id
        assert w.facts.posts == []
        assert w.bot_errors() == []
        w.fake.assert_no_errors()


async def test_fact_today_is_a_fact_command_of_its_own(w: World) -> None:
    """/fact today is defined with the other /fact commands: a bot with the facts cog alone (no /daily, no posting
    loop) still answers it with the server's card of the day, the same for everyone."""
    async with start_bot(w.fake, w.config, cogs=(FactsCog.from_bot,), daily_clock=w.clock) as (_settings, bot, _task):
        assert bot.get_cog("DailyCog") is None
        assert daily_tasks() == []
        first = await (await w.fake.slash(w.guild, w.general, w.bob, "fact today")).wait_message()
        again = await (await w.fake.slash(w.guild, w.general, w.maria, "fact today")).wait_message()
        assert not first.ephemeral
        assert bot.service.detail(card_of(first)) is not None
        assert card_of(again) == card_of(first)
        assert_quiet(first.allowed_mentions)
    assert w.bot_errors() == []
    w.fake.assert_no_errors()


async def test_set_autocompletes_topics(w: World) -> None:
    async with w.running():
        topics = await w.fake.autocomplete(
            w.guild,
            w.general,
            w.maria,
            "daily set",
            focused="topic",
            channel=w.facts,
            time="10:30",
            timezone="Europe/Berlin",
            topic="couple",
        )
        assert topics[0] == {"name": "couple therapy", "value": "couple therapy"}
        w.fake.assert_no_errors()


async def test_an_option_of_thousands_of_characters_is_refused_in_one_short_line(w: World) -> None:
    """Discord holds /daily's text options to their ``max_length``; a forged 3,000-character time zone (or time,
    topic, collection) is refused at once, in one short line that says which option and how long it may be, and
    nothing is saved (issue 14.5)."""
    async with w.running():
        (group,) = [c for c in w.fake.commands() if c["name"] == "daily"]
        (set_command,) = [o for o in group["options"] if o["name"] == "set"]
        texts = [o for o in set_command["options"] if o["type"] == 3 and "choices" not in o]  # mode is a choice
        limits = {o["name"]: o.get("max_length") for o in texts}
        assert limits == {"time": 10, "timezone": 64, "topic": 100, "collection": 100}

        refused = await w.set(timezone="Europe/" + "B" * 3000)
        assert refused.ephemeral
        assert refused.text == (
            "The time zone is too long: 3,007 characters, at most 64 (an IANA name such as Europe/Berlin). "
            "Nothing was changed."
        )
        for option, wording, limit in (
            ("time", "time", 10),
            ("topic", "topic", 100),
            ("collection", "collection", 100),
        ):
            answer = await w.set(**{option: "x" * 3000})
            assert answer.text.startswith(f"The {wording} is too long: 3,000 characters, at most {limit}"), answer.text
            assert len(answer.text) < 200
        assert await w.cog.engine.status(w.guild.id) is None
        assert w.bot_errors() == []
    w.fake.assert_no_errors()


# ------------------------------------------------------------------------------------------ question posts
def shown_card(message: FakeMessage) -> str:
    """The card id in the footer of a whole card (its last embed)."""
    found = re.search(r"card (\S+)", message.embeds[-1]["footer"]["text"])
    assert found, message.embeds[-1]
    return found[1]


def reveal_id(message: FakeMessage) -> str:
    """The custom id of the "Reveal the answer" button on a question post."""
    (button,) = [b for b in message.buttons if b.get("label") == REVEAL_LABEL]
    return str(button["custom_id"])


def set_custom_id(message: FakeMessage, custom_id: str) -> None:
    """Make the post's Reveal button carry ``custom_id`` as Discord holds it (a post made before its card changed)."""
    (button,) = [b for b in message.walk_components() if b.get("label") == REVEAL_LABEL]
    button["custom_id"] = custom_id


async def test_a_question_post_reveals_the_answer_and_card_to_whoever_presses_also_after_a_restart(w: World) -> None:
    async with w.running():
        answer = await w.set(topic="room 3", mode="question")
        assert "Mode: Question" in answer.text
        status = await w.daily("status")
        assert field_of(status, "Mode").startswith("Question")

        preview = await w.daily("preview")
        assert preview.ephemeral
        assert preview.embed is not None
        assert preview.embed["title"] == "Question of the day"
        assert "_____" in preview.embed["description"]
        assert "||room 3||" in preview.content  # the moderator sees the answer, hidden
        assert reveal_id(preview) == "factdeck:dq:lab-003:1"  # the choice question (index 1), not the cloze
        assert w.facts.posts == []

        await w.tick(DUE)
        post = await w.facts.wait_for_message(posts_only=True)
        assert post.content == QUESTION_HEADER
        assert post.embed is not None
        assert "_____" in post.embed["description"]
        assert "room 3" not in post.embed["description"]  # the blank hides the answer ...
        options = field_of(post, "Which one fills the blank?")
        assert "room 3" in options
        assert options.count("\n") == 3
        assert "lab-003" not in post.text  # no card id or source that could give it away
        assert reveal_id(post) == reveal_id(preview)  # preview == post
        assert_quiet(post.allowed_mentions)

        # /fact today asks the same question: it must not give the answer away on a question day
        today = await (await w.fake.slash(w.guild, w.general, w.carl, "fact today")).wait_message()
        assert today.content == QUESTION_HEADER
        assert today.embed is not None
        assert "room 3" not in today.embed["description"]
        assert reveal_id(today) == reveal_id(post)
        assert_quiet(today.allowed_mentions)

        pressed = await (await w.fake.click(post, REVEAL_LABEL, user=w.bob)).wait_message()
        assert pressed.ephemeral  # only bob sees it
        assert pressed.content == "The answer: **room 3**"
        assert shown_card(pressed) == "lab-003"  # the whole card ...
        assert "Quillfeather" in pressed.text  # ... with its citation
        assert "Lab Notebook" in pressed.text  # ... and its source
        assert_quiet(pressed.allowed_mentions)

        options = [b for b in post.buttons if b.get("label") != REVEAL_LABEL]
        assert len(options) == 4
        (right,) = [b for b in options if b["label"].endswith(". room 3")]
        wrong = next(b for b in options if b is not right)
        told = await (await w.fake.click(post, right["custom_id"], user=w.bob)).wait_message()
        assert told.ephemeral
        assert told.content.startswith("Right: the answer is **room 3**.")
        told = await (await w.fake.click(post, wrong["custom_id"], user=w.carl)).wait_message()
        assert told.ephemeral
        picked = wrong["label"].split(". ", 1)[1]
        assert told.content.startswith(f"Not quite: you picked **{picked}**; the answer is **room 3**.")
        assert len(w.facts.posts) == 1
        assert len(w.facts.messages) == 1  # every answer was private

    async with w.running():  # a new process: the button still works
        again = await (await w.fake.click(post, REVEAL_LABEL, user=w.carl)).wait_message()
        assert again.ephemeral
        assert again.content == "The answer: **room 3**"
        assert shown_card(again) == "lab-003"
        told = await (await w.fake.click(post, right["custom_id"], user=w.carl)).wait_message()
        assert told.content.startswith("Right: the answer is **room 3**.")  # the options survive a restart too
        status = await w.daily("status")
        assert field_of(status, "Mode").startswith("Question")  # the mode survives the restart
    w.fake.assert_no_errors()
    assert w.bot_errors() == []


async def test_forged_and_stale_reveal_buttons_are_told_what_is_wrong(w: World) -> None:
    async with w.running():
        await w.set(topic="room 3", mode="question")
        await w.tick(DUE)
        post = await w.facts.wait_for_message(posts_only=True)

        forged = {"custom_id": "factdeck:dq:lab-004:1", "component_type": 2}  # not the button on this post
        told = await (await w.fake.forge_component(post, forged, user=w.bob)).wait_message()
        assert told.ephemeral
        assert told.content == "That button is not on this message, so there is nothing to reveal."
        assert told.embed is None

        forged_option = {"custom_id": "factdeck:dq:lab-003:1:0x", "component_type": 2}
        told = await (await w.fake.forge_component(post, forged_option, user=w.bob)).wait_message()
        assert told.content == "That button is not on this message, so there is nothing to reveal."

        set_custom_id(post, "factdeck:dq:lab-003:99")  # its card was edited: the question is gone
        stale = await (await w.fake.click(post, REVEAL_LABEL, user=w.bob)).wait_message()
        assert stale.content.startswith("This question changed since it was posted")
        assert shown_card(stale) == "lab-003"  # the card as it is now

        set_custom_id(post, "factdeck:dq:lab-gone:1")  # its card was removed from the deck
        gone = await (await w.fake.click(post, REVEAL_LABEL, user=w.bob)).wait_message()
        assert gone.content == "That card is no longer in the deck, so this question cannot be revealed."

    w.fake.assert_no_errors()
    assert w.bot_errors() == []


async def test_a_question_schedule_asks_about_the_card_the_servers_studying_members_forget_most(w: World) -> None:
    async with w.running() as bot:
        await w.set(topic="cell biology", mode="question")
        rotation_pick = reveal_id(await w.daily("preview")).split(":")[2]  # nobody studies here yet: the rotation
        hard = "lab-007" if rotation_pick != "lab-007" else "lab-008"
        easy = "lab-005" if rotation_pick != "lab-005" else "lab-006"
        week_ago = DUE - dt.timedelta(days=7)
        reviews = [
            Answer(w.bob.id, w.guild.id, hard, 1, False, "session", "k", week_ago),
            Answer(w.bob.id, w.guild.id, hard, 1, False, "session", "k", week_ago + dt.timedelta(hours=1)),
            Answer(w.bob.id, w.guild.id, easy, 1, False, "session", "k", week_ago),
            Answer(w.bob.id, w.guild.id, easy, 3, True, "session", "k", week_ago + dt.timedelta(hours=1)),
        ]
        await bot.storage.study.write_batch(reviews, lambda card, state, rating, at: ("{}", at))

        preview = await w.daily("preview")
        assert reveal_id(preview).split(":")[2] == hard  # two Again ratings beat one
        await w.tick(DUE)
        post = await w.facts.wait_for_message(posts_only=True)
        assert reveal_id(post) == reveal_id(preview)

        await w.set(topic="cell biology", mode="fact")  # a fact schedule keeps the fair rotation
        fact_preview = await w.daily("preview")
        assert fact_preview.content.endswith(POST_HEADER)
        assert fact_preview.buttons == [] or REVEAL_LABEL not in [b.get("label") for b in fact_preview.buttons]
        assert card_of(fact_preview).startswith("lab-")  # the card itself, not a question
    w.fake.assert_no_errors()
    assert w.bot_errors() == []


async def test_many_servers_due_at_once_are_posted_at_the_configured_pace_without_a_429(w: World) -> None:
    """Many servers due at the same minute: the posts go out at ``daily.posts_per_second``, under Discord's global
    rate limit (the fake enforces one here, a 429 past it), every one once. Running into the limit instead piles up
    429s, which Discord counts towards an hour's IP ban (10,000 invalid requests in 10 minutes); the figures at
    Discord's 50 a second are in ``benchmarks/bench_fanout.py``. The pace is two thirds of the limit, so a busy
    test machine that delays some sends cannot bunch them up past it."""
    w.config.write_text(CONFIG.replace("daily:\n", "daily:\n  posts_per_second: 20\n"), encoding="utf-8")
    channels = [w.facts] + [w.fake.add_guild(f"Server {n}").add_channel("facts") for n in range(39)]
    async with w.running() as bot:
        for chan in channels:
            assert chan.guild is not None
            await bot.daily.set(chan.guild.id, chan.id, "10:30", "Europe/Berlin")
        limit = w.fake.global_limit = GlobalRateLimit(30)
        await w.tick(DUE)
        await w.fake.wait_for(lambda: all(chan.posts for chan in channels), what="every server's daily post")
    assert [len(chan.posts) for chan in channels] == [1] * len(channels)
    assert limit.refused == 0  # paced under the limit: Discord never had to refuse one
