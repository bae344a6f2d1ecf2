"""``/study``: group quiz sessions in a channel, private reviews on FSRS's schedule, progress, streaks, exams.

The cog is thin: it turns interactions into :class:`bot.study.desk.StudyDesk` calls and renders the answers with
:mod:`bot.discord.embeds.study`. Buttons are dynamic items whose custom ids carry what they act on (a session's
token and question number, or a card), so they work across restarts and a stale or forged one is told apart;
answers typed in the cloze modal are handled by :meth:`StudyCog.on_study_interaction`, even when discord.py no longer
knows the modal (after a restart). Every permission is checked here, when the command, button or modal runs.

A session's state is saved at every change and resumed when the bot starts (:meth:`StudyCog.resume`); one whose
channel is gone is ended and forgotten, so no question is left with live buttons and nobody to reveal it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import logging
import re
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.daily import zone_choices
from bot.discord import choices
from bot.discord.checks import NOT_MODERATOR, is_moderator
from bot.discord.embeds import safe
from bot.discord.embeds.study import (
    leaderboard_embed,
    missing,
    progress_embed,
    question_embed,
    reveal_embeds,
    review_answer_embeds,
    review_question_embed,
    summary_embed,
)
from bot.discord.errors import NO_MENTIONS, reply
from bot.discord.keys import CARRIED, component_key, served_key
from bot.discord.ui import card_view, component_event
from bot.service import CardService
from bot.settings import Settings
from bot.storage import StorageUnavailable
from bot.study.chart import render_progress
from bot.study.desk import StudyDesk, StudyError
from bot.study.questions import Question
from bot.study.recorder import StudyRecorder
from bot.study.session import MAX_ANSWER, Lead, Outcome, Session
from bot.study.srs import Clock, Rating, Srs, utcnow

if TYPE_CHECKING:
    from bot.discord.app import FactdeckBot

log = logging.getLogger(__name__)

__all__ = ["ANSWER_REPLIES", "StudyCog"]

PREFIX = "factdeck:study:"
MODAL_PREFIX = f"{PREFIX}m:"
#: What a member is told about an answer that is not recorded.
ANSWER_REPLIES: dict[Outcome, str] = {
    "twice": "You already answered this question: one answer each.",
    "closed": "Too late: this question has been revealed.",
    "stale": "This question is no longer open (the session moved on or ended).",
    "too_long": f"That answer is too long: answers are at most {MAX_ANSWER} characters. Nothing was recorded.",
    "empty": "That answer is empty. Nothing was recorded.",
    "buttons": "This question is answered by picking one of its four choices. Nothing was recorded.",
}
NO_SESSION = "No study session is running in this channel. Start one with `/study start`."
ONLY_STARTER = "Only whoever started this session, or a moderator, can do that."
LEAD_REPLIES: dict[Lead, str] = {
    "starter_only": ONLY_STARTER,
    "starter_left": "Whoever started this session has left the server: anyone who answered, or a moderator, can.",
}
REVIEW_LABELS = {"s": "Show answer", "1": "Again", "2": "Hard", "3": "Good", "4": "Easy"}
RATINGS = {"1": Rating.Again, "2": Rating.Hard, "3": Rating.Good, "4": Rating.Easy}


def _cog(interaction: discord.Interaction[Any]) -> StudyCog | None:
    client = interaction.client
    cog = client.get_cog("StudyCog") if isinstance(client, commands.Bot) else None
    return cog if isinstance(cog, StudyCog) else None


class AnswerButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"factdeck:study:(?P<token>[0-9a-f]{8}):(?P<index>\d{1,4}):(?P<choice>[0-3a])",
):
    """A choice under a session's question (``0``..``3``), or ``a``: open the cloze answer modal."""

    def __init__(self, token: str, index: int, choice: str, label: str = "Answer") -> None:
        super().__init__(
            discord.ui.Button(
                label=label[:80] or "-",
                style=discord.ButtonStyle.primary if choice == "a" else discord.ButtonStyle.secondary,
                custom_id=f"{PREFIX}{token}:{index}:{choice}",
            )
        )
        self.token, self.index, self.choice = token, index, choice

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> AnswerButton:
        """Rebuild the button from its custom id."""
        return cls(match["token"], int(match["index"]), match["choice"])

    async def callback(self, interaction: discord.Interaction) -> None:
        """Hand the click to the cog."""
        cog = _cog(interaction)
        if cog is None:
            await reply(interaction, "Study mode is not available right now.")
            return
        await cog.on_answer_button(interaction, self.token, self.index, self.choice)


class ReviewButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=rf"factdeck:study:r:(?P<action>[s1-4]):(?P<card>{CARRIED})",
):
    """A personal review's "Show answer" (``s``) or a rating (``1`` Again .. ``4`` Easy) of a card (carried as
    :func:`component_key` does, so that the longest id fits)."""

    def __init__(self, action: str, card_id: str) -> None:
        style = discord.ButtonStyle.danger if action == "1" else discord.ButtonStyle.primary
        super().__init__(
            discord.ui.Button(
                label=REVIEW_LABELS[action], style=style, custom_id=f"{PREFIX}r:{action}:{component_key(card_id)}"
            )
        )
        self.action, self.card_id = action, card_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ReviewButton:
        """Rebuild the button from its custom id."""
        return cls(match["action"], served_key(match["card"], interaction.guild_id))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Hand the click to the cog."""
        cog = _cog(interaction)
        if cog is None:
            await reply(interaction, "Study mode is not available right now.")
            return
        await cog.on_review_button(interaction, self.action, self.card_id)


class ForgetButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"factdeck:study:forget:(?P<user>\d{1,20})"
):
    """Confirms ``/study forget`` for the member named in its custom id (nobody else may press it)."""

    def __init__(self, user_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Delete my study data", style=discord.ButtonStyle.danger, custom_id=f"{PREFIX}forget:{user_id}"
            )
        )
        self.user_id = user_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ForgetButton:
        """Rebuild the button from its custom id."""
        return cls(int(match["user"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Hand the click to the cog."""
        cog = _cog(interaction)
        if cog is None:
            await reply(interaction, "Study mode is not available right now.")
            return
        await cog.on_forget_button(interaction, self.user_id)


class AnswerModal(discord.ui.Modal):
    """The cloze answer form. Its submit is handled by :meth:`StudyCog.on_study_interaction` (also after a restart)."""

    def __init__(self, token: str, index: int, timeout: float, what: str = "the missing term") -> None:
        super().__init__(title=f"Question {index + 1}", timeout=timeout, custom_id=f"{MODAL_PREFIX}{token}:{index}")
        #: What is missing ("The missing year"), so the member knows what to type.
        self.answer: discord.ui.TextInput[AnswerModal] = discord.ui.TextInput(
            label=(what[:1].upper() + what[1:])[:45], max_length=MAX_ANSWER, custom_id="answer"
        )
        self.add_item(self.answer)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Nothing: the cog's listener answers every study modal submit."""


def _view(*items: discord.ui.Item[Any]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for item in items:
        view.add_item(item)
    view.stop()  # a finished view is not stored: the dynamic items route the clicks
    return view


def _modal_text(data: dict[str, object]) -> str:
    """The text typed in a study modal's ``answer`` input (as submitted; a forged payload may hold anything)."""
    rows = data.get("components")
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, dict):
            continue
        parts = row.get("components") or ([row["component"]] if "component" in row else [])
        for part in parts if isinstance(parts, list) else []:
            if isinstance(part, dict) and part.get("custom_id") == "answer":
                return str(part.get("value", ""))
    return ""


def _on_message(message: discord.Message | None, custom_id: str) -> bool:
    """True when ``message`` carries a component with ``custom_id`` (discord.py routes only those)."""
    if message is None:
        return False
    view = discord.ui.View.from_message(message, timeout=None)
    return any(getattr(item, "custom_id", None) == custom_id for item in view.walk_children())


class StudyCog(commands.Cog):
    """Study mode in Discord. Dependencies: the ``desk`` (study logic), the card ``service``, the ``settings``
    (moderator roles) and the ``client`` it posts through; ``clock`` is the time sessions and reviews go by."""

    study = app_commands.Group(name="study", description="Quiz together and review on a schedule", guild_only=True)

    def __init__(
        self,
        desk: StudyDesk,
        service: CardService,
        settings: Settings,
        client: discord.Client,
        *,
        clock: Clock = utcnow,
    ) -> None:
        self.desk = desk
        self.service = service
        self.settings = settings
        self.client = client
        self.clock = clock
        self._timers: dict[int, asyncio.Task[None]] = {}
        self._resume_task: asyncio.Task[None] | None = None
        #: Set once the sessions saved before a restart have been resumed (or ended).
        self.resumed = asyncio.Event()
        super().__init__()

    @classmethod
    def from_bot(cls, bot: FactdeckBot) -> StudyCog:
        """The cog factory used by :data:`bot.discord.app.COGS`."""
        srs = Srs()
        desk = StudyDesk(bot.service, bot.storage.study, StudyRecorder(bot.storage.study, srs), srs)
        return cls(desk, bot.service, bot.settings, bot)

    # ------------------------------------------------------------------------------------------ lifecycle
    async def cog_load(self) -> None:
        """Route the study buttons, start the answer writer, and resume saved sessions once ready."""
        self.client_bot.add_dynamic_items(AnswerButton, ReviewButton, ForgetButton)
        self.desk.recorder.start()
        self._resume_task = asyncio.create_task(self.resume(), name="factdeck-study-resume")

    async def cog_unload(self) -> None:
        """Stop the timers and write every answer and session state (sessions resume at the next start)."""
        for task in [*self._timers.values(), *([self._resume_task] if self._resume_task else [])]:
            task.cancel()
        for task in [*self._timers.values(), *([self._resume_task] if self._resume_task else [])]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._timers.clear()
        self.client_bot.remove_dynamic_items(AnswerButton, ReviewButton, ForgetButton)
        await self.desk.recorder.close()

    @property
    def client_bot(self) -> commands.Bot:
        """The client as a bot (dynamic items are registered on it)."""
        assert isinstance(self.client, commands.Bot)
        return self.client

    async def resume(self) -> None:
        """After a restart: reopen each saved session's question (with its full time again), or end it cleanly
        when its channel is gone."""
        await self.client.wait_until_ready()
        try:
            sessions = await self.desk.resume()
        except StorageUnavailable:  # the start already said which database is down and why, in one line
            log.warning("study sessions saved before the restart stay saved until a start with the database")
            self.resumed.set()
            return
        except Exception:
            log.exception("could not load the study sessions saved before the restart")
            self.resumed.set()
            return
        for session in sessions:
            async with self.desk.lock(session.channel_id):
                channel = self.client.get_channel(session.channel_id)
                if not isinstance(channel, discord.abc.Messageable):
                    log.info("study session in channel %s ended: the channel is gone", session.channel_id)
                    self.desk.end(session)
                    continue
                try:
                    await channel.send("The bot restarted: this study session goes on.", allowed_mentions=NO_MENTIONS)
                    if session.phase == "revealed":
                        await self._next(channel, session)
                    else:
                        session.reopen(self.clock())
                        self.desk.save(session)
                        self._arm(session)
                except discord.HTTPException as exc:
                    log.info("study session in channel %s ended after the restart: %s", session.channel_id, exc)
                    self.desk.end(session)
        await self.desk.recorder.flush()
        self.resumed.set()

    # ------------------------------------------------------------------------------------------- timers
    def _arm(self, session: Session) -> None:
        old = self._timers.pop(session.channel_id, None)
        if old is not None and old is not asyncio.current_task():
            old.cancel()
        deadline = session.deadline()
        if deadline is None or session.phase != "asking":
            return
        delay = max((deadline - self.clock()).total_seconds(), 0.0)
        self._timers[session.channel_id] = asyncio.create_task(
            self._time_up(session.channel_id, session.token, session.index, delay),
            name=f"factdeck-study-{session.channel_id}",
        )

    async def _time_up(self, channel_id: int, token: str, index: int, delay: float) -> None:
        await asyncio.sleep(delay)
        async with self.desk.lock(channel_id):
            session = self.desk.sessions.get(channel_id)
            if session is None or session.token != token or session.index != index or session.phase != "asking":
                return
            self._timers.pop(channel_id, None)
            try:
                await self._reveal(session)
            except Exception:
                log.exception("study session in channel %s: the timed reveal failed; ended", channel_id)
                self.desk.end(session)

    # ----------------------------------------------------------------------------------------- posting
    def _channel(self, session: Session) -> discord.abc.Messageable | None:
        channel = self.client.get_channel(session.channel_id)
        return channel if isinstance(channel, discord.abc.Messageable) else None

    def _question_view(self, session: Session, question: Question) -> discord.ui.View:
        if question.kind == "choice":
            buttons = [
                AnswerButton(session.token, session.index, str(i), f"{i + 1}. {c}")
                for i, c in enumerate(question.choices[:4])
            ]
            return _view(*buttons)
        return _view(AnswerButton(session.token, session.index, "a"))

    async def _ask(self, channel: discord.abc.Messageable, session: Session) -> bool:
        """Post the current question (skipping removed cards); False when none is left."""
        found = self.desk.current(session)
        if found is None:
            return False
        _detail, question = found
        session.ask(self.clock())
        message = await channel.send(
            embed=question_embed(session, question, deadline=session.deadline()),
            view=self._question_view(session, question),
            allowed_mentions=NO_MENTIONS,
        )
        session.message_id = message.id
        self.desk.save(session)
        self._arm(session)
        return True

    async def _close_buttons(self, channel: discord.abc.Messageable, session: Session) -> None:
        if session.message_id is None or not isinstance(channel, discord.TextChannel | discord.Thread):
            return
        with contextlib.suppress(discord.HTTPException):
            await channel.get_partial_message(session.message_id).edit(view=None)

    async def _reveal(self, session: Session, *, stopped_by: int | None = None) -> None:
        """Reveal the current question (answer, card, source, how many got it right), then ask the next or end
        (at once when the session is being stopped, ``stopped_by``). The caller holds the channel's lock."""
        channel = self._channel(session)
        if channel is None:
            log.info("study session in channel %s ended: the channel is gone", session.channel_id)
            self.desk.end(session)
            return
        timer = self._timers.pop(session.channel_id, None)
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()
        found = self.desk.question(session.card_id, session.mode)
        result = session.reveal()
        self.desk.save(session)
        try:
            await self._close_buttons(channel, session)
            if found is not None:
                detail, question = found
                source = self.service.source(detail.card.id)
                await channel.send(
                    embeds=reveal_embeds(session, question, detail, source, result),
                    view=card_view(detail.card.id, truncated=False),  # "Report a problem"
                    allowed_mentions=NO_MENTIONS,
                )
            else:
                await channel.send(
                    f"Question {session.number}'s card was removed from the library meanwhile, so it is not counted.",
                    allowed_mentions=NO_MENTIONS,
                )
            if stopped_by is None:
                await self._next(channel, session)
            else:
                await self._finish(channel, session, stopped_by=stopped_by)
        except (discord.NotFound, discord.Forbidden) as exc:
            log.info("study session in channel %s ended: %s", session.channel_id, exc)
            self.desk.end(session)

    async def _next(self, channel: discord.abc.Messageable, session: Session) -> None:
        if session.advance() and await self._ask(channel, session):
            return
        await self._finish(channel, session)

    async def _finish(
        self, channel: discord.abc.Messageable | None, session: Session, *, stopped_by: int | None = None
    ) -> None:
        summary = session.summary()
        self.desk.end(session)
        timer = self._timers.pop(session.channel_id, None)
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()
        if channel is not None:
            await self._close_buttons(channel, session)
            with contextlib.suppress(discord.NotFound, discord.Forbidden):
                hardest = self.desk.question(summary.hardest.card_id, session.mode) if summary.hardest else None
                embed = summary_embed(summary, hardest=hardest[1] if hardest else None, stopped_by=stopped_by)
                await channel.send(embed=embed, allowed_mentions=NO_MENTIONS)

    # ------------------------------------------------------------------------------------ permissions
    async def _may_lead(self, interaction: discord.Interaction[Any], session: Session) -> str | None:
        """None when the user may reveal or stop ``session`` (see :meth:`Session.may_lead`); otherwise why not."""
        user = interaction.user
        moderator = is_moderator(user, self.settings)
        starter_left = False
        if user.id != session.starter_id and not moderator and interaction.guild is not None:
            try:
                await interaction.guild.fetch_member(session.starter_id)
            except discord.NotFound:
                starter_left = True
            except discord.HTTPException:
                pass  # unknown: the starter is taken to be there
        lead = session.may_lead(user.id, moderator=moderator, starter_left=starter_left)
        return None if lead == "ok" else LEAD_REPLIES[lead]

    async def _led_session(self, interaction: discord.Interaction[Any]) -> Session | None:
        """The channel's session when the user may reveal or stop it; otherwise None, and the user is told why.
        The caller holds the channel's lock."""
        session = self.desk.sessions.get(interaction.channel_id or 0)
        if session is None:
            await reply(interaction, NO_SESSION)
            return None
        refusal = await self._may_lead(interaction, session)
        if refusal is not None:
            await reply(interaction, refusal)
            return None
        return session

    # -------------------------------------------------------------------------------------- commands
    @study.command(name="start", description="Start a quiz in this channel: one question at a time")
    @app_commands.describe(
        topic="Only cards with this topic",
        collection="Only cards of this collection",
        questions="How many questions (1-20)",
        mode="Type the missing term (cloze) or pick one of four (choice)",
        seconds="Seconds per question before the reveal (10-300)",
    )
    async def start(
        self,
        interaction: discord.Interaction[Any],
        topic: str | None = None,
        collection: str | None = None,
        questions: app_commands.Range[int, 1, 20] = 5,
        mode: Literal["cloze", "choice"] = "choice",
        seconds: app_commands.Range[int, 10, 300] = 30,
    ) -> None:
        """Start a session in this channel."""
        channel = interaction.channel
        if interaction.guild_id is None or channel is None or not isinstance(channel, discord.abc.Messageable):
            raise app_commands.NoPrivateMessage()
        async with self.desk.lock(channel.id):
            try:
                session = self.desk.start(
                    guild_id=interaction.guild_id,
                    channel_id=channel.id,
                    starter_id=interaction.user.id,
                    topic=topic or None,
                    collection=collection or None,
                    count=questions,
                    mode=mode,
                    seconds=seconds,
                )
            except StudyError as exc:
                await reply(interaction, str(exc))
                return
            await interaction.response.send_message(
                f"Study session started by {interaction.user.mention}: {len(session.card_ids)} {mode} question"
                f"{'s' if len(session.card_ids) != 1 else ''}, {seconds} seconds each. Answers are private, one each; "
                "the reveal shows the card and its source. The starter or a moderator can `/study reveal` early "
                "or `/study stop`.",
                allowed_mentions=NO_MENTIONS,
            )
            try:
                if not await self._ask(channel, session):
                    await self._finish(channel, session)
            except (discord.NotFound, discord.Forbidden) as exc:
                self.desk.end(session)
                await reply(interaction, f"I cannot post the questions in this channel ({exc.text or exc.status}).")

    @study.command(name="reveal", description="Reveal the current question now (starter or moderator)")
    async def reveal(self, interaction: discord.Interaction[Any]) -> None:
        """Reveal now."""
        async with self.desk.lock(interaction.channel_id or 0):
            session = await self._led_session(interaction)
            if session is None:
                return
            if session.phase != "asking":
                await reply(interaction, "This question has already been revealed.")
                return
            await interaction.response.send_message("Revealing.", ephemeral=True)
            await self._reveal(session)

    @study.command(name="stop", description="End the study session in this channel (starter or moderator)")
    async def stop(self, interaction: discord.Interaction[Any]) -> None:
        """Stop and post the summary."""
        async with self.desk.lock(interaction.channel_id or 0):
            session = await self._led_session(interaction)
            if session is None:
                return
            await interaction.response.send_message("Session stopped.", ephemeral=True)
            if session.phase == "asking" and session.answers:  # those who answered get to see the answer
                await self._reveal(session, stopped_by=interaction.user.id)
            else:
                await self._finish(self._channel(session), session, stopped_by=interaction.user.id)

    @study.command(name="review", description="Review your due cards privately")
    @app_commands.describe(topic="Only this topic (new cards of it come after your due ones)")
    async def review(self, interaction: discord.Interaction[Any], topic: str | None = None) -> None:
        """A private review: question, reveal, then Again/Hard/Good/Easy."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        items = await self.desk.review(interaction.user.id, topic or None, self.clock(), interaction.guild_id)
        if not items:
            hint = "" if topic else " Add a topic to start on new cards: `/study review topic:…`."
            await interaction.followup.send(f"Nothing to review right now.{hint}", ephemeral=True)
            return
        first = items[0]
        await interaction.followup.send(
            embed=review_question_embed(first.question, due=len(items)),
            view=_view(ReviewButton("s", first.detail.card.id)),
            ephemeral=True,
        )

    @study.command(name="progress", description="Your study progress, with a chart")
    async def progress(self, interaction: discord.Interaction[Any]) -> None:
        """Cards learned, due, retention, and the chart."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        progress = await self.desk.progress(interaction.user.id, self.clock(), interaction.guild_id)
        embed = progress_embed(progress)
        try:
            png = await render_progress(progress.reviews_by_day, progress.coming)
        except Exception:
            log.exception("the progress chart could not be drawn")
            embed.set_image(url=None)
            await interaction.followup.send("The chart could not be drawn this time.", embed=embed, ephemeral=True)
            return
        await interaction.followup.send(
            embed=embed, file=discord.File(io.BytesIO(png), filename="progress.png"), ephemeral=True
        )

    @study.command(name="streak", description="Count a daily study streak in your time zone (opt-in)")
    @app_commands.describe(state="on or off", timezone="Your time zone, e.g. Europe/Berlin")
    async def streak(
        self, interaction: discord.Interaction[Any], state: Literal["on", "off"], timezone: str = "UTC"
    ) -> None:
        """Opt in or out of streaks."""
        try:
            await self.desk.set_streak(interaction.user.id, state == "on", timezone)
        except StudyError as exc:
            await reply(interaction, str(exc))
            return
        text = (
            f"Streaks on: a day counts when you answer at least once. Your days, and what `/study progress` "
            f"calls due today, follow {safe(timezone)}."
            if state == "on"
            else "Streaks off."
        )
        await reply(interaction, text)

    @streak.autocomplete("timezone")
    async def _zones(self, interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
        return choices.zones(zone_choices(current, limit=choices.CHOICES_MAX))

    @study.command(name="leaderboard", description="Correct recalls in this server over the last 30 days")
    async def leaderboard(self, interaction: discord.Interaction[Any]) -> None:
        """The server's leaderboard."""
        rows = await self.desk.leaderboard(interaction.guild_id or 0, self.clock())
        await interaction.response.send_message(embed=leaderboard_embed(rows), allowed_mentions=NO_MENTIONS)

    @study.command(name="exam", description="Plan your reviews of a topic before an exam date")
    @app_commands.describe(
        topic="The exam's topic",
        date="The exam date, YYYY-MM-DD",
        server="For every member who studies in this server (moderators)",
    )
    async def exam(self, interaction: discord.Interaction[Any], topic: str, date: str, server: bool = False) -> None:
        """Bring a topic's reviews forward before the date."""
        try:
            day = dt.date.fromisoformat(date.strip())
        except ValueError:
            await reply(interaction, f"“{safe(date, 40)}” is not a date: write it as YYYY-MM-DD, e.g. 2026-06-15.")
            return
        if server:
            if not is_moderator(interaction.user, self.settings):
                await reply(interaction, NOT_MODERATOR)
                return
            try:
                members = await self.desk.set_server_exam(interaction.guild_id or 0, topic, day, self.clock())
            except StudyError as exc:
                await reply(interaction, str(exc))
                return
            await interaction.response.send_message(
                f"Exam on {day.isoformat()} for this server: the reviews of “{safe(topic, 64)}” of "
                f"{members} member{'s' if members != 1 else ''} who study here come before it, each card recalled "
                "at least twice; members who start later get the plan as they review here.",
                allowed_mentions=NO_MENTIONS,
            )
            return
        try:
            plan = await self.desk.set_exam(interaction.user.id, topic, day, self.clock())
        except StudyError as exc:
            await reply(interaction, str(exc))
            return
        await reply(
            interaction,
            f"Exam on {day.isoformat()}: {len(plan.due)} card{'s' if len(plan.due) != 1 else ''} of "
            f"“{safe(topic, 64)}” will come up before it (each recalled at least twice). "
            f"Readiness today: {plan.readiness:.0%}. Review with `/study review topic:{safe(topic, 64)}`.",
        )

    @start.autocomplete("topic")
    @review.autocomplete("topic")
    @exam.autocomplete("topic")
    async def _topics(self, interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
        return choices.topics(self.service, current, interaction.guild_id)

    @start.autocomplete("collection")
    async def _collections(self, interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
        return choices.collections(self.service, current, interaction.guild_id)

    @study.command(name="forget", description="Delete all of your study data")
    async def forget(self, interaction: discord.Interaction[Any]) -> None:
        """Ask to confirm, then delete."""
        await interaction.response.send_message(
            "This deletes your review schedule, your answers, your streak and your exams, everywhere. Sure?",
            view=_view(ForgetButton(interaction.user.id)),
            ephemeral=True,
        )

    # ------------------------------------------------------------------------------ buttons and modals
    async def on_answer_button(
        self, interaction: discord.Interaction[Any], token: str, index: int, choice: str
    ) -> None:
        """A choice clicked, or the cloze "Answer" button (opens the modal)."""
        channel_id = interaction.channel_id or 0
        session = self.desk.sessions.get(channel_id)
        if session is None or session.token != token:
            await reply(interaction, "This study session is over.")
            return
        if choice == "a":
            refusal = self.desk.may_type(session, interaction.user.id, index)
            if refusal is not None:
                await reply(interaction, ANSWER_REPLIES[refusal])
                return
            found = self.desk.question(session.card_id, session.mode)
            what = missing(found[1]) if found is not None else "the missing term"
            await interaction.response.send_modal(AnswerModal(token, index, timeout=session.seconds + 60, what=what))
            return
        await self._answer(interaction, session, index, choice=int(choice))

    @commands.Cog.listener("on_" + component_event("study"))
    async def on_study_interaction(self, interaction: discord.Interaction[Any]) -> None:
        """Every cloze answer (study modal submit), whether or not discord.py still knows the modal; and a study
        button that is not on its message (forged, or from before an edit), which discord.py would drop unanswered.
        (Called for ``factdeck:study:`` clicks and submits only: see :func:`bot.discord.ui.component_event`.)"""
        raw: object = interaction.data
        data: dict[str, object] = raw if isinstance(raw, dict) else {}
        custom_id = str(data.get("custom_id", ""))
        if interaction.type == discord.InteractionType.component:
            if custom_id.startswith(PREFIX) and not _on_message(interaction.message, custom_id):
                await reply(interaction, ANSWER_REPLIES["stale"])
            return
        if interaction.type != discord.InteractionType.modal_submit:
            return
        match = re.fullmatch(r"factdeck:study:m:(?P<token>[0-9a-f]{8}):(?P<index>\d{1,4})", custom_id)
        if not custom_id.startswith(MODAL_PREFIX):
            return
        if match is None:
            await reply(interaction, ANSWER_REPLIES["stale"])
            return
        session = self.desk.sessions.get(interaction.channel_id or 0)
        if session is None or session.token != match["token"]:
            await reply(interaction, "This study session is over.")
            return
        await self._answer(interaction, session, int(match["index"]), text=_modal_text(data))

    async def _answer(
        self, interaction: discord.Interaction[Any], session: Session, index: int, *, choice: int = -1, text: str = ""
    ) -> None:
        """Record a pick (``choice``, from a button) or a typed answer (``text``, from the cloze form)."""
        # Recording an answer never awaits, so it needs no lock: a reveal closes the question before its first
        # await. The acknowledgement goes out at once, whatever the channel's lock is doing (a reveal posting).
        if self.desk.sessions.get(session.channel_id) is not session:
            await reply(interaction, "This study session is over.")
            return
        user, now = interaction.user.id, self.clock()
        if choice >= 0:
            outcome, _correct = self.desk.choose(session, user, index, choice, now)
        else:
            outcome, _correct = self.desk.answer(session, user, index, text, now)
        if outcome != "recorded":
            await reply(interaction, ANSWER_REPLIES[outcome])
            return
        given = session.answers[user].text
        await reply(interaction, f"Your answer “{safe(given, 300)}” is in. The answer comes at the reveal.")
        if session.everyone_answered():
            async with self.desk.lock(session.channel_id):
                same = self.desk.sessions.get(session.channel_id) is session and session.index == index
                if same and session.phase == "asking":
                    await self._reveal(session)

    async def on_review_button(self, interaction: discord.Interaction[Any], action: str, card_id: str) -> None:
        """Show a review card's answer, or record the member's rating and show the next due card."""
        if action == "s":
            # A card of another server is, here, one that does not exist (a forged custom id names one).
            seen = self.service.detail(card_id, viewer=interaction.guild_id, exact=True) is not None
            found = self.desk.question(card_id, "cloze") if seen else None
            if found is None:
                await reply(interaction, "That card is no longer in the library.")
                return
            detail, question = found
            buttons = [ReviewButton(a, card_id) for a in ("1", "2", "3", "4")]
            await interaction.response.edit_message(
                embeds=review_answer_embeds(question, detail, self.service.source(card_id)), view=_view(*buttons)
            )
            return
        try:
            await self.desk.rate(interaction.user.id, interaction.guild_id, card_id, RATINGS[action], self.clock())
        except StudyError as exc:
            await reply(interaction, str(exc))
            return
        items = await self.desk.next_review(interaction.user.id, self.clock(), interaction.guild_id)
        if not items:
            await interaction.response.edit_message(
                content="All done for now: your next reviews come back on their own schedule.", embeds=[], view=None
            )
            return
        await interaction.response.edit_message(
            content=None,
            embeds=[review_question_embed(items[0].question, due=len(items))],
            view=_view(ReviewButton("s", items[0].detail.card.id)),
        )

    async def on_forget_button(self, interaction: discord.Interaction[Any], user_id: int) -> None:
        """Delete the member's study data (only the member named on the button)."""
        if interaction.user.id != user_id:
            await reply(interaction, "That button is someone else's: run `/study forget` yourself.")
            return
        answers = await self.desk.forget(user_id)
        await interaction.response.edit_message(
            content=f"Done: your study data is deleted ({answers} answer{'s' if answers != 1 else ''}).", view=None
        )

    # ------------------------------------------------------------------------------------- channels
    @commands.Cog.listener()
    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        """A channel deleted mid-session: end its session (there is nowhere to post the summary)."""
        async with self.desk.lock(channel.id):
            session = self.desk.sessions.get(channel.id)
            if session is not None:
                log.info("study session in channel %s ended: the channel was deleted", channel.id)
                timer = self._timers.pop(channel.id, None)
                if timer is not None:
                    timer.cancel()
                self.desk.end(session)
