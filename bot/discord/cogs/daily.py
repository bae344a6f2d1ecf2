"""``/daily`` (moderators: set, off, status, preview), the daily post, and the loop that sends it.

The decisions (when, which card, exactly once, failures) are :class:`bot.daily.DailyEngine`'s; this module only
turns interactions into engine calls, renders the answers with :mod:`bot.discord.embeds.daily`, sends the post
(:class:`ChannelPoster`), and runs the loop::

    while True: await engine.run_due(); await engine.wait_next()

The loop is one asyncio task started in :meth:`DailyCog.cog_load` (it waits until the bot is ready) and
cancelled in :meth:`DailyCog.cog_unload`; a reconnect (another ``on_ready``) starts nothing, and even a second
process on the same database cannot post twice, because the engine claims each day in the database first.

The engine is built by :func:`daily_engine` (with the Discord failure classifier,
:func:`bot.discord.daily_failures.classify`) and shared: this cog drives it, and ``/fact today``
(:class:`bot.discord.cogs.facts.FactsCog`) asks it for today's card.

A schedule in ``question`` mode posts the day's card as a question (:mod:`bot.discord.daily_questions`); its
"Reveal the answer" button is answered here (:meth:`DailyCog.on_reveal`), also after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.cards.library import Library
from bot.daily import VIEW_COMMAND, Clock, DailyEngine, DailyError, PostResult, zone_choices
from bot.daily.pacing import Pacer
from bot.discord import choices
from bot.discord.checks import moderator_only
from bot.discord.daily_failures import classify
from bot.discord.daily_questions import (
    REVEAL_PREFIX,
    ChoiceButton,
    RevealButton,
    day_question,
    forgetting,
    no_question_note,
    question_post,
)
from bot.discord.embeds import full_card_messages, safe, set_text, status_embed, when_text
from bot.discord.errors import NO_MENTIONS, reply
from bot.discord.inputs import (
    COLLECTION_MAX,
    TIME_MAX,
    TOPIC_MAX,
    ZONE_MAX,
    CollectionId,
    TimeOfDay,
    Topic,
    ZoneName,
    too_long,
)
from bot.discord.ui import card_message, card_view, component_event
from bot.service import CardDetail, CardService
from bot.settings import Settings
from bot.storage import Storage, ViewEvent, ViewLog
from bot.storage.daily import DailyMode
from bot.study.questions import Question, questions_for

if TYPE_CHECKING:
    from bot.discord.app import FactdeckBot

log = logging.getLogger(__name__)

__all__ = [
    "POST_HEADER",
    "ChannelPoster",
    "DailyCog",
    "ServiceCards",
    "daily_engine",
    "missing_post_permissions",
]

#: The line above the card in a daily post.
POST_HEADER = "**Fact of the day**"
#: The permissions the bot needs in the daily channel.
NEEDED = ("view_channel", "send_messages", "embed_links")
#: What a press of a Reveal button that is not on its message (a forged one) is told.
FORGED_REVEAL = "That button is not on this message, so there is nothing to reveal."
#: What a press under a daily question whose card was removed is told.
GONE = "That card is no longer in the deck, so this question cannot be revealed."
#: What follows the verdict on a picked option.
MORE = "Press “Reveal the answer” for the whole card and its source."
#: Seconds the loop pauses after an iteration that raised (so a broken database does not make it spin).
ERROR_PAUSE = 30.0
#: The most characters of the engine's refusal a /daily set reply repeats (it may quote what was typed).
ERROR_ECHO_MAX = 500


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---------------------------------------------------------------------------------------------- the engine
class ServiceCards:
    """The engine's :class:`bot.daily.CardSource` over the card service's current library.

    The filters are those of ``/fact random`` (the same pools, kept with each library snapshot).
    """

    def __init__(self, service: CardService) -> None:
        self._service = service

    def eligible(self, topic: str | None, collection: str | None, guild_id: int | None = None) -> Sequence[str]:
        """Ids of the cards with ``topic`` (``None``: any) in ``collection`` (``None``: any) that server
        ``guild_id`` sees."""
        return self._service.pool(topic=topic, collection=collection, viewer=guild_id)

    def exists(self, card_id: str) -> bool:
        """Whether the card is still in the library."""
        return card_id in self._service.library.cards


class ChannelPoster:
    """The engine's :data:`bot.daily.Poster`: sends a day's card to its channel, pinging nobody."""

    def __init__(
        self,
        client: discord.Client,
        service: CardService,
        views: ViewLog,
        link: Callable[[str], str | None] | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        """``pacer`` spaces the sends (None: unpaced), so many servers due at once stay under Discord's global rate
        limit instead of running into it (see :mod:`bot.daily.pacing`)."""
        self._client = client
        self._service = service
        self._views = views
        self._link = link
        self._pacer = pacer

    async def __call__(self, channel_id: int, card_id: str, nonce: str, mode: DailyMode = "fact") -> int:
        """Send the card (``mode`` ``question``: a question on it) to the channel; return the message id.

        ``nonce`` goes with the message (discord.py asks Discord to enforce it), so a retry of the same day's post
        that Discord already received returns that message instead of posting again.

        Raises the discord exception (the engine records it), or :class:`DailyError` when the channel cannot
        take messages or the card is gone.
        """
        channel = self._client.get_channel(channel_id) or await self._client.fetch_channel(channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            raise DailyError(f"<#{channel_id}> is not a channel messages can be posted in")
        guild = getattr(channel, "guild", None)  # DMs and group DMs have none
        viewer = guild.id if isinstance(guild, discord.Guild) else None
        detail = self._service.detail(card_id, viewer=viewer, exact=True)  # the served key the engine picked
        if detail is None:
            raise DailyError(f"The card {card_id} is no longer in the deck")
        count = await self._views.count(card_id, guild.id) if isinstance(guild, discord.Guild) else None
        message = post_message(detail, self._service.library, mode, count, self._link(card_id) if self._link else None)
        if self._pacer is not None:
            await self._pacer.wait()
        sent = await channel.send(nonce=nonce, allowed_mentions=NO_MENTIONS, **message)
        return sent.id


def post_message(
    detail: CardDetail, library: Library, mode: DailyMode, views: int | None, link: str | None = None
) -> dict[str, Any]:
    """The daily post of a card: the fact, or in question mode the question (the fact, said so, when the card
    yields no question). Keyword arguments for a send; ``link`` is the card's web page."""
    if mode == "question":
        question = question_post(detail.card, library)
        if question is not None:
            return question
        return {"content": no_question_note(detail.card), **card_message(detail, views=views, link=link)}
    return {"content": POST_HEADER, **card_message(detail, views=views, link=link)}


def daily_engine(
    client: discord.Client, service: CardService, storage: Storage, settings: Settings, *, clock: Clock | None = None
) -> DailyEngine:
    """The daily engine of a bot: posts through ``client``, cards from ``service``, the ledger in ``storage``,
    Discord's failures read by :func:`bot.discord.daily_failures.classify`; ``clock`` (default: now in UTC)
    lets tests move time."""
    return DailyEngine(
        storage.daily,
        ServiceCards(service),
        ChannelPoster(client, service, storage.views, settings.web.card_url, Pacer(settings.daily.posts_per_second)),
        storage.views,
        clock or _utcnow,
        classify=classify,
        catch_up_hours=settings.daily.catch_up_hours,
        forgotten=forgetting(storage.study),
    )


# --------------------------------------------------------------------------------------------- rendering
def _carries(message: discord.Message, custom_id: str) -> bool:
    """Whether ``message`` has a component with ``custom_id`` (a forged press names one it does not have)."""
    view = discord.ui.View.from_message(message, timeout=None)
    return any(getattr(item, "custom_id", None) == custom_id for item in view.walk_children())


def missing_post_permissions(permissions: discord.Permissions) -> list[str]:
    """The permissions a daily post needs that ``permissions`` lacks, as Discord names them."""
    return [name.replace("_", " ").title() for name in NEEDED if not getattr(permissions, name)]


# --------------------------------------------------------------------------------------------------- cog
class DailyCog(commands.Cog):
    """Daily fact posts: the ``/daily`` commands and the posting loop.

    Dependencies come in through the constructor: the ``engine`` it drives (:func:`daily_engine`), the card
    ``service`` and ``views`` (for ``/daily preview``), and the ``client`` whose readiness the loop waits for.
    ``error_pause`` is how long the loop rests after an iteration that raised.
    """

    daily = app_commands.Group(
        name="daily",
        description="Post one fact card every day in a channel (moderators)",
        guild_only=True,
        default_permissions=discord.Permissions(manage_messages=True),
    )

    def __init__(
        self,
        engine: DailyEngine,
        service: CardService,
        views: ViewLog,
        client: discord.Client,
        *,
        error_pause: float = ERROR_PAUSE,
    ) -> None:
        self.engine = engine
        self.service = service
        self.views = views
        self.client = client
        self.error_pause = error_pause
        #: Completed loop iterations (each one ``run_due``), for tests and health checks.
        self.iterations = 0
        #: What the last iteration did.
        self.last_results: list[PostResult] = []
        #: The engine's time when the last completed ``run_due`` started (None before the first one).
        self.last_run: dt.datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        #: Set while ``run_due`` is not running, so :meth:`stop` can let a post in flight finish and be recorded.
        self._idle = asyncio.Event()
        self._idle.set()

    @classmethod
    def from_bot(cls, bot: FactdeckBot) -> DailyCog:
        """The cog factory used by :data:`bot.discord.app.COGS`: the bot's engine, service and view log."""
        return cls(bot.daily, bot.service, bot.storage.views, bot)

    # -------------------------------------------------------------------------------------- lifecycle
    async def cog_load(self) -> None:
        """Route the "Reveal the answer" buttons and start the loop (once)."""
        self.client.add_dynamic_items(RevealButton, ChoiceButton)
        self.start()

    async def cog_unload(self) -> None:
        """Stop the loop."""
        self.client.remove_dynamic_items(RevealButton, ChoiceButton)
        await self.stop()

    def start(self) -> None:
        """Start the posting loop unless it is running (a reconnect never starts a second one)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="factdeck-daily")

    async def stop(self, *, grace: float = 5.0) -> None:
        """Stop the posting loop: let a ``run_due`` in progress finish (up to ``grace`` seconds), then cancel.

        A post cut short between claim and record leaves its day unconfirmed, which the engine never resends
        (at most once), so the day would go without a post; the grace period avoids that on an ordinary shutdown.
        """
        task, self._task = self._task, None
        if task is not None and not task.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), timeout=grace)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def running(self) -> bool:
        """Whether the posting loop is alive."""
        return self._task is not None and not self._task.done()

    def wake(self) -> None:
        """Make the loop run ``run_due`` now instead of when it planned to (e.g. after moving a test clock)."""
        self._wake.set()

    async def _run(self) -> None:
        await self.client.wait_until_ready()
        log.info("daily posting loop started")
        while True:
            self._wake.clear()
            started = self.engine.now()
            self._idle.clear()
            try:
                self.last_results = await self.engine.run_due()
                self.last_run = started
                pause: float | None = None
            except Exception:
                log.exception("daily posting loop: run_due failed; trying again in %g s", self.error_pause)
                pause = self.error_pause
            finally:
                self._idle.set()
            self.iterations += 1
            try:
                await self._wait(pause)
            except Exception:
                log.exception("daily posting loop: waiting failed; trying again in %g s", self.error_pause)
                await asyncio.sleep(self.error_pause)

    async def _wait(self, pause: float | None) -> None:
        """Sleep until the engine's next due instant (or ``pause`` seconds), or until :meth:`wake`."""
        sleeper = asyncio.ensure_future(self.engine.wait_next() if pause is None else asyncio.sleep(pause))
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (sleeper, woken):
                waiter.cancel()
            await asyncio.gather(sleeper, woken, return_exceptions=True)
        if sleeper.done() and not sleeper.cancelled():
            failure = sleeper.exception()
            if failure is not None:
                raise failure

    # ----------------------------------------------------------------------------------------- commands
    @daily.command(name="set", description="Post a fact card every day at a time, in a channel")
    @app_commands.rename(at="time", zone="timezone")
    @app_commands.describe(
        channel="Where the daily fact goes",
        at="Local time of day, 24-hour HH:MM, e.g. 09:30",
        zone="The server's time zone (IANA name, e.g. Europe/Berlin; start typing)",
        topic="Only cards with this topic",
        collection="Only cards from this collection",
        mode="fact: post the card; question: ask about it, the answer behind a button (default: fact)",
    )
    @moderator_only()
    async def daily_set(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel,
        at: TimeOfDay,
        zone: ZoneName,
        topic: Topic | None = None,
        collection: CollectionId | None = None,
        mode: Literal["fact", "question"] = "fact",
    ) -> None:
        """/daily set: refuse a forged option too long to be a time, a zone or a filter before anything else."""
        refusals = (
            too_long("time", at, TIME_MAX, "HH:MM, e.g. 09:30"),
            too_long("time zone", zone, ZONE_MAX, "an IANA name such as Europe/Berlin"),
            too_long("topic", topic, TOPIC_MAX),
            too_long("collection", collection, COLLECTION_MAX),
        )
        refusal = next((r for r in refusals if r is not None), None)
        if refusal is not None:
            await reply(interaction, f"{refusal} Nothing was changed.")
            return
        guild = interaction.guild
        assert guild is not None  # the group is guild-only and the check refuses DMs
        missing = missing_post_permissions(channel.permissions_for(guild.me))
        if missing:
            await reply(
                interaction,
                f"I cannot post in {channel.mention}: I am missing {', '.join(missing)} there. "
                "Give me those permissions (or pick another channel) and run /daily set again. Nothing was changed.",
            )
            return
        try:
            status = await self.engine.set(
                guild.id, channel.id, at, zone, topic=topic, collection=collection, mode=mode
            )
        except DailyError as exc:
            await reply(interaction, f"{safe(str(exc), ERROR_ECHO_MAX)} Nothing was changed.")
            return
        await reply(interaction, set_text(status, channel.mention))

    @daily.command(name="off", description="Stop the daily fact in this server")
    @moderator_only()
    async def daily_off(self, interaction: discord.Interaction) -> None:
        """/daily off."""
        assert interaction.guild_id is not None
        status = await self.engine.status(interaction.guild_id)
        if status is None or not status.schedule.enabled:
            await reply(interaction, "Daily facts were not on in this server; /daily set turns them on.")
            return
        await self.engine.off(interaction.guild_id)
        await reply(interaction, "Daily facts are off. /daily set turns them on again.")

    @daily.command(name="status", description="The daily fact's channel, time, next and last post, and errors")
    @moderator_only()
    async def daily_status(self, interaction: discord.Interaction) -> None:
        """/daily status."""
        assert interaction.guild_id is not None
        status = await self.engine.status(interaction.guild_id)
        if status is None:
            await reply(interaction, "No daily fact is set up here. Start one with /daily set.")
            return
        await interaction.response.send_message(
            embed=status_embed(status), ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @daily.command(name="preview", description="The card the next daily post will show (only you see it)")
    @moderator_only()
    async def daily_preview(self, interaction: discord.Interaction) -> None:
        """/daily preview."""
        assert interaction.guild_id is not None
        status = await self.engine.status(interaction.guild_id)
        if status is None:
            await reply(interaction, "No daily fact is set up here. Start one with /daily set.")
            return
        card_id = await self.engine.preview(interaction.guild_id)
        detail = self.service.detail(card_id, viewer=interaction.guild_id, exact=True) if card_id else None
        if detail is None:
            await reply(interaction, "No card matches this server's daily filters. Change them with /daily set.")
            return
        if status.next_post_at is not None:
            note = f"The next daily post ({when_text(status.next_post_at, status.schedule.zone)}) will show:"
        else:
            note = "Daily posts are off or paused; when they resume, the next one will show:"
        count = await self.views.count(detail.card.id, interaction.guild_id)
        post = post_message(detail, self.service.library, status.schedule.mode, count)
        found = day_question(detail.card, self.service.library) if status.schedule.mode == "question" else None
        answer = (
            f"\n(Answer, hidden in the post until someone reveals it: ||{safe(found[1].answer)}||)" if found else ""
        )
        await interaction.response.send_message(
            ephemeral=True, allowed_mentions=NO_MENTIONS, **{**post, "content": f"{note}\n{post['content']}{answer}"}
        )

    # -------------------------------------------------------------------------------------------- reveal
    async def _question(
        self, interaction: discord.Interaction, card_id: str
    ) -> tuple[CardDetail, tuple[Question, ...]] | None:
        """The card a daily question asked about (``card_id``: its served key) and its questions now; ``None`` (the
        member told) when it is gone."""
        detail = self.service.detail(card_id, viewer=interaction.guild_id, exact=True)
        if detail is None:
            await reply(interaction, GONE)
            return None
        return detail, questions_for(detail.card, self.service.library)

    async def on_choice(self, interaction: discord.Interaction, card_id: str, index: int, choice: int) -> None:
        """An option picked under a daily multiple choice: right or wrong and the answer, to the member alone.
        Nothing is recorded (members who never studied are never tracked)."""
        found = await self._question(interaction, card_id)
        if found is None:
            return
        _, questions = found
        question = questions[index] if index < len(questions) else None
        if question is None or question.kind != "choice" or choice >= len(question.choices):
            await reply(interaction, "This question changed since it was posted (its card was edited).")
            return
        answer = safe(question.answer, 200)
        picked = question.choices[choice]
        if picked == question.answer:
            await reply(interaction, f"Right: the answer is **{answer}**. {MORE}")
        else:
            await reply(
                interaction, f"Not quite: you picked **{safe(picked, 200)}**; the answer is **{answer}**. {MORE}"
            )

    @commands.Cog.listener("on_" + component_event("dq"))
    async def on_question_click(self, interaction: discord.Interaction) -> None:
        """Answer a press of a daily-question button that is not on its message (forged): discord.py routes only
        components a message carries, and would leave the member with "This interaction failed". (Called for
        clicks of ``factdeck:dq:`` components only: see :func:`bot.discord.ui.component_event`.)"""
        if interaction.type != discord.InteractionType.component:
            return
        data = interaction.data
        custom_id = str(data.get("custom_id", "")) if data is not None else ""
        message = interaction.message
        if custom_id.startswith(REVEAL_PREFIX) and (message is None or not _carries(message, custom_id)):
            await reply(interaction, FORGED_REVEAL)

    async def on_reveal(self, interaction: discord.Interaction, card_id: str, index: int) -> None:
        """ "Reveal the answer" under a daily question: the answer and the whole card (citation, source) to whoever
        pressed, ephemerally, counted as a view. A button whose question is gone (the card was removed or edited)
        says so; a forged one (not on its message) is answered by :meth:`on_question_click`."""
        found = await self._question(interaction, card_id)
        if found is None:
            return
        detail, questions = found
        if index >= len(questions):
            head = "This question changed since it was posted (its card was edited). The card as it is now:"
        else:
            head = f"The answer: **{safe(questions[index].answer, 200)}**"
        self.views.record(
            ViewEvent(
                card_id=card_id,
                guild_id=interaction.guild_id,
                channel_id=interaction.channel_id,
                user_id=interaction.user.id,
                command=VIEW_COMMAND,
                at=self.engine.now(),
            )
        )
        count = await self.views.count(card_id, interaction.guild_id) if interaction.guild_id else None
        messages = full_card_messages(detail, views=count)
        report = card_view(card_id, truncated=False)  # "Report a problem"
        await interaction.response.send_message(
            head, embeds=messages[0], view=report, ephemeral=True, allowed_mentions=NO_MENTIONS
        )
        for more in messages[1:]:
            await interaction.followup.send(embeds=more, ephemeral=True, allowed_mentions=NO_MENTIONS)

    # ------------------------------------------------------------------------------------ autocomplete
    @daily_set.autocomplete("zone")
    async def zone_autocomplete(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        """IANA zone names matching what was typed; common zones first when nothing was."""
        return choices.zones(zone_choices(current, limit=choices.CHOICES_MAX))

    @daily_set.autocomplete("topic")
    async def topic_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Topics, best match first."""
        return choices.topics(self.service, current, interaction.guild_id)

    @daily_set.autocomplete("collection")
    async def collection_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Collections as "Title (id)"; the value is the id."""
        return choices.collections(self.service, current, interaction.guild_id)
