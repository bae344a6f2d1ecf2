"""``/daily`` (moderators: set, off, status, preview), ``/fact today``, and the loop that posts the daily fact.

The decisions (when, which card, exactly once, failures) are :class:`bot.daily.DailyEngine`'s; this module only
turns interactions into engine calls, renders the answers, sends the post, and runs the loop::

    while True: await engine.run_due(); await engine.wait_next()

The loop is one asyncio task started in :meth:`DailyCog.cog_load` (it waits until the bot is ready) and
cancelled in :meth:`DailyCog.cog_unload`; a reconnect (another ``on_ready``) starts nothing, and even a second
process on the same database cannot post twice, because the engine claims each day in the database first.

``/fact today`` belongs to the ``/fact`` group of :class:`bot.discord.cogs.facts.FactsCog`: this cog adds a
``today`` subcommand to that group in ``cog_load`` (the group is found in the command tree, so the facts cog
must be added first, as :data:`bot.discord.app.COGS` orders them) and removes it again in ``cog_unload``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import zoneinfo
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.daily import DailyEngine, DailyError, DailyStatus, PostResult, zone_choices
from bot.discord import choices, embeds
from bot.discord.checks import in_guild, moderator_only
from bot.discord.errors import NO_MENTIONS, reply
from bot.discord.ui import card_message
from bot.service import CardService

if TYPE_CHECKING:
    from bot.discord.app import FactdeckBot
    from bot.storage.daily import DailyPost

log = logging.getLogger(__name__)

__all__ = ["POST_HEADER", "DailyCog", "ServiceCards", "missing_post_permissions", "status_embed"]

Clock = Callable[[], dt.datetime]

#: The line above the card in a daily post.
POST_HEADER = "**Fact of the day**"
#: The permissions the bot needs in the daily channel.
NEEDED = ("view_channel", "send_messages", "embed_links")
#: Seconds the loop pauses after an iteration that raised (so a broken database does not make it spin).
ERROR_PAUSE = 30.0
#: The command name views from ``/fact today`` are recorded under.
TODAY_COMMAND = "today"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---------------------------------------------------------------------------------------------- the cards
class ServiceCards:
    """The engine's :class:`bot.daily.CardSource` over the card service's current library.

    The filters are those of ``/fact random`` (the same pools, kept with each library snapshot).
    """

    def __init__(self, service: CardService) -> None:
        self._service = service

    def eligible(self, topic: str | None, collection: str | None) -> Sequence[str]:
        """Ids of the cards with ``topic`` (``None``: any) in ``collection`` (``None``: any)."""
        return self._service.pool(topic=topic, collection=collection)

    def exists(self, card_id: str) -> bool:
        """Whether the card is still in the library."""
        return card_id in self._service.library.cards


# --------------------------------------------------------------------------------------------- rendering
def missing_post_permissions(permissions: discord.Permissions) -> list[str]:
    """The permissions a daily post needs that ``permissions`` lacks, as Discord names them."""
    return [name.replace("_", " ").title() for name in NEEDED if not getattr(permissions, name)]


def when_text(moment: dt.datetime, zone: str) -> str:
    """``moment`` in the server's zone, then in the reader's own time (Discord timestamps)."""
    local = moment.astimezone(zoneinfo.ZoneInfo(zone))
    unix = int(moment.timestamp())
    return f"{local:%A %d %B %Y, %H:%M} {local.tzname()} ({zone}); your time: <t:{unix}:F> (<t:{unix}:R>)"


def _filters(status: DailyStatus) -> str:
    parts = []
    if status.topic:
        parts.append(f"topic “{embeds.safe(status.topic, 100)}”")
    if status.collection:
        parts.append(f"collection `{embeds.safe(status.collection, 100)}`")
    return ", ".join(parts) or "none (every card)"


def _post_link(post: DailyPost) -> str:
    if post.message_id is None:
        return ""
    return f" · [message](https://discord.com/channels/{post.guild_id}/{post.channel_id}/{post.message_id})"


def status_embed(status: DailyStatus) -> discord.Embed:
    """Everything ``/daily status`` shows: settings, next and last post, the last error, problem days."""
    if not status.enabled:
        state = "Off. Turn it on again with /daily set."
    elif status.paused_reason:
        state = f"Paused: {embeds.safe(status.paused_reason)}\nRun /daily set again to resume."
    else:
        state = "On"
    embed = discord.Embed(title="Daily fact", color=embeds.CARD_COLOR)
    embed.add_field(name="State", value=embeds.clip(state, embeds.FIELD_VALUE_MAX)[0], inline=False)
    embed.add_field(name="Channel", value=f"<#{status.channel_id}>", inline=True)
    embed.add_field(name="Time", value=f"{status.post_time:%H:%M} {status.zone}", inline=True)
    embed.add_field(name="Filters", value=_filters(status), inline=True)
    if status.next_post_at is not None:
        embed.add_field(name="Next post", value=when_text(status.next_post_at, status.zone), inline=False)
    today = status.today
    if today is not None and today.state != "sent":
        text = f"{today.local_date:%Y-%m-%d}: {today.state}"
        if today.card_id:
            text += f", card `{today.card_id}`"
        if today.retry_at is not None:
            text += f", next try <t:{int(today.retry_at.timestamp())}:R>"
        if today.reason:
            text += f"\n{embeds.safe(today.reason)}"
        embed.add_field(name="Today", value=embeds.clip(text, embeds.FIELD_VALUE_MAX)[0], inline=False)
    last = status.last_post
    if last is not None:
        sent = f"<t:{int(last.sent_at.timestamp())}:f>" if last.sent_at else f"{last.local_date:%Y-%m-%d}"
        embed.add_field(name="Last post", value=f"{sent}, card `{last.card_id}`{_post_link(last)}", inline=False)
    else:
        embed.add_field(name="Last post", value="None yet", inline=False)
    if status.last_error:
        when = f" (<t:{int(status.last_error_at.timestamp())}:f>)" if status.last_error_at else ""
        text = f"{embeds.safe(status.last_error)}{when}"
        if status.failures:
            text += f"\n{status.failures} failure{'s' if status.failures != 1 else ''} in a row"
        embed.add_field(name="Last error", value=embeds.clip(text, embeds.FIELD_VALUE_MAX)[0], inline=False)
    if status.problems:
        lines = [
            f"{p.local_date:%Y-%m-%d} {p.state}: {embeds.safe(p.reason or '')}".rstrip(": ") for p in status.problems
        ]
        embed.add_field(
            name="Days without a post", value=embeds.clip("\n".join(lines), embeds.FIELD_VALUE_MAX)[0], inline=False
        )
    return embed


# --------------------------------------------------------------------------------------------------- cog
class DailyCog(commands.Cog):
    """Daily fact posts: the ``/daily`` commands, ``/fact today`` and the posting loop.

    ``clock`` (default: now in UTC) drives the engine, so tests can move time; ``error_pause`` is how long
    the loop rests after an iteration that raised.
    """

    daily = app_commands.Group(
        name="daily",
        description="Post one fact card every day in a channel (moderators)",
        guild_only=True,
        default_permissions=discord.Permissions(manage_messages=True),
    )

    def __init__(self, bot: FactdeckBot, *, clock: Clock | None = None, error_pause: float = ERROR_PAUSE) -> None:
        self.bot = bot
        self.service: CardService = bot.service
        self.storage = bot.storage
        self.error_pause = error_pause
        self.clock: Clock = clock or _utcnow
        self.engine = DailyEngine(
            bot.storage.daily,
            ServiceCards(bot.service),
            self.post,
            bot.storage.views,
            self.clock,
            catch_up_hours=bot.settings.daily.catch_up_hours,
        )
        #: Completed loop iterations (each one ``run_due``), for tests and health checks.
        self.iterations = 0
        #: What the last iteration did.
        self.last_results: list[PostResult] = []
        #: The clock's time when the last completed ``run_due`` started (None before the first one).
        self.last_run: dt.datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        #: Set while ``run_due`` is not running, so :meth:`stop` can let a post in flight finish and be recorded.
        self._idle = asyncio.Event()
        self._idle.set()
        self._today_group: app_commands.Group | None = None
        self._today_command = self._make_today_command()

    # -------------------------------------------------------------------------------------- lifecycle
    async def cog_load(self) -> None:
        """Add ``/fact today`` to the ``/fact`` group and start the loop (once)."""
        self._attach_today()
        self.start()

    async def cog_unload(self) -> None:
        """Stop the loop and take ``/fact today`` out of the ``/fact`` group."""
        await self.stop()
        if self._today_group is not None:
            self._today_group.remove_command(self._today_command.name)
            self._today_group = None

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
        await self.bot.wait_until_ready()
        log.info("daily posting loop started")
        while True:
            self._wake.clear()
            started = self.clock()
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
        if sleeper.done() and not sleeper.cancelled() and sleeper.exception() is not None:
            raise sleeper.exception()  # type: ignore[misc]

    # ------------------------------------------------------------------------------------------ posting
    async def post(self, channel_id: int, card_id: str, nonce: str) -> int:
        """The engine's poster: send the card to the channel, pinging nobody; return the message id.

        ``nonce`` goes with the message (discord.py asks Discord to enforce it), so a retry of the same day's post
        that Discord already received returns that message instead of posting again.

        Raises the discord exception (the engine records it), or :class:`DailyError` when the channel cannot
        take messages or the card is gone.
        """
        channel = self.bot.get_channel(channel_id) or await self.bot.fetch_channel(channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            raise DailyError(f"<#{channel_id}> is not a channel messages can be posted in")
        detail = self.service.detail(card_id)
        if detail is None:
            raise DailyError(f"The card {card_id} is no longer in the deck")
        guild_id = getattr(getattr(channel, "guild", None), "id", None)
        count = await self.storage.views.count(card_id, guild_id) if guild_id is not None else None
        message = await channel.send(
            POST_HEADER, nonce=nonce, allowed_mentions=NO_MENTIONS, **card_message(detail, views=count)
        )
        return message.id

    # ----------------------------------------------------------------------------------------- commands
    @daily.command(name="set", description="Post a fact card every day at a time, in a channel")
    @app_commands.rename(at="time", zone="timezone")
    @app_commands.describe(
        channel="Where the daily fact goes",
        at="Local time of day, 24-hour HH:MM, e.g. 09:30",
        zone="The server's time zone (IANA name, e.g. Europe/Berlin; start typing)",
        topic="Only cards with this topic",
        collection="Only cards from this collection",
    )
    @moderator_only()
    async def daily_set(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel,
        at: app_commands.Range[str, 1, 10],
        zone: app_commands.Range[str, 1, 64],
        topic: app_commands.Range[str, 1, 100] | None = None,
        collection: app_commands.Range[str, 1, 100] | None = None,
    ) -> None:
        """/daily set."""
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
            status = await self.engine.set(guild.id, channel.id, at, zone, topic=topic, collection=collection)
        except DailyError as exc:
            await reply(interaction, f"{embeds.safe(str(exc))} Nothing was changed.")
            return
        lines = [
            f"Daily facts go to {channel.mention} every day at {status.post_time:%H:%M} ({status.zone}).",
            f"Filters: {_filters(status)}.",
        ]
        if status.next_post_at is not None:
            lines.append(f"Next post: {when_text(status.next_post_at, status.zone)}.")
        await reply(interaction, "\n".join(lines))

    @daily.command(name="off", description="Stop the daily fact in this server")
    @moderator_only()
    async def daily_off(self, interaction: discord.Interaction) -> None:
        """/daily off."""
        assert interaction.guild_id is not None
        status = await self.engine.status(interaction.guild_id)
        if status is None or not status.enabled:
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
        detail = self.service.detail(card_id) if card_id is not None else None
        if detail is None:
            await reply(interaction, "No card matches this server's daily filters. Change them with /daily set.")
            return
        if status.next_post_at is not None:
            note = f"The next daily post ({when_text(status.next_post_at, status.zone)}) will show:"
        else:
            note = "Daily posts are off or paused; when they resume, the next one will show:"
        count = await self.storage.views.count(detail.card.id, interaction.guild_id)
        await interaction.response.send_message(
            note, ephemeral=True, allowed_mentions=NO_MENTIONS, **card_message(detail, views=count)
        )

    # ------------------------------------------------------------------------------------- /fact today
    def _make_today_command(self) -> app_commands.Command[app_commands.Group, ..., None]:
        @in_guild()
        async def today(interaction: discord.Interaction) -> None:
            await self.fact_today(interaction)

        return app_commands.Command(name="today", description="Today's daily fact card in this server", callback=today)

    def _attach_today(self) -> None:
        group = self.bot.tree.get_command("fact")
        if not isinstance(group, app_commands.Group):
            log.warning("there is no /fact group (is the facts cog added before the daily cog?); no /fact today")
            return
        if group.get_command(self._today_command.name) is not None:
            log.warning("/fact already has a today subcommand; the daily cog does not add its own")
            return
        group.add_command(self._today_command)
        self._today_group = group

    async def fact_today(self, interaction: discord.Interaction) -> None:
        """/fact today: the server's daily card (the one the post shows, all day); counted as a view."""
        assert interaction.guild_id is not None  # in_guild() refused direct messages
        card_id = await self.engine.today(interaction.guild_id)
        detail = self.service.detail(card_id) if card_id is not None else None
        if detail is None:
            await reply(interaction, "There is no card for today: no card matches this server's daily filters.")
            return
        facts = self.bot.get_cog("FactsCog")  # shown like any card: counted as a view, "Read more" when cut
        await facts.show_card(interaction, detail, TODAY_COMMAND)  # type: ignore[union-attr]

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
        return choices.topics(self.service, current)

    @daily_set.autocomplete("collection")
    async def collection_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Collections as "Title (id)"; the value is the id."""
        return choices.collections(self.service, current)
