"""What a moderator sees from ``/daily``: the status embed and the confirmation of ``/daily set``.

Built from the daily engine's :class:`~bot.daily.DailyStatus` alone (no interaction), so each is tested without
Discord. Times show in the server's zone and, through Discord timestamps, in each reader's own.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import discord

from bot.daily import DailyStatus
from bot.discord.embeds.common import CARD_COLOR, FIELD_VALUE_MAX, clip, safe
from bot.storage.daily import DailyPost, DailySchedule

__all__ = ["FILTER_MAX", "filters_text", "mode_text", "set_text", "status_embed", "when_text"]

#: The most characters of a topic or collection a /daily reply repeats.
FILTER_MAX = 100


def when_text(moment: dt.datetime, zone: str) -> str:
    """``moment`` in the server's zone, then in the reader's own time (Discord timestamps)."""
    local = moment.astimezone(zoneinfo.ZoneInfo(zone))
    unix = int(moment.timestamp())
    return f"{local:%A %d %B %Y, %H:%M} {local.tzname()} ({zone}); your time: <t:{unix}:F> (<t:{unix}:R>)"


def filters_text(schedule: DailySchedule) -> str:
    """The schedule's topic and collection filters, escaped and cut; "none (every card)" without any."""
    parts = []
    if schedule.topic:
        parts.append(f"topic “{safe(schedule.topic, FILTER_MAX)}”")
    if schedule.collection:
        parts.append(f"collection `{safe(schedule.collection, FILTER_MAX)}`")
    return ", ".join(parts) or "none (every card)"


def mode_text(schedule: DailySchedule) -> str:
    """What the schedule posts: the card, or a question on it (the answer behind a button)."""
    if schedule.mode == "question":
        return (
            "Question: the day's card as a question, the answer behind a “Reveal the answer” button "
            "(the card the members who study here forget most, when they do)"
        )
    return "Fact: the day's card"


def set_text(status: DailyStatus, channel_mention: str) -> str:
    """What ``/daily set`` answers once the schedule is saved: where, when, which cards, and the next post."""
    schedule = status.schedule
    lines = [
        f"Daily facts go to {channel_mention} every day at {schedule.post_time:%H:%M} ({schedule.zone}).",
        f"Filters: {filters_text(schedule)}.",
        f"Mode: {mode_text(schedule)}.",
    ]
    if status.next_post_at is not None:
        lines.append(f"Next post: {when_text(status.next_post_at, schedule.zone)}.")
    return "\n".join(lines)


def _post_link(post: DailyPost) -> str:
    if post.message_id is None:
        return ""
    return f" · [message](https://discord.com/channels/{post.guild_id}/{post.channel_id}/{post.message_id})"


def _field(embed: discord.Embed, name: str, text: str, *, inline: bool = False) -> None:
    embed.add_field(name=name, value=clip(text, FIELD_VALUE_MAX)[0], inline=inline)


def _state_text(schedule: DailySchedule) -> str:
    if not schedule.enabled:
        return "Off. Turn it on again with /daily set."
    if schedule.paused_reason:
        return f"Paused: {safe(schedule.paused_reason)}\nRun /daily set again to resume."
    return "On"


def _today_text(today: DailyPost) -> str:
    """Today's post that has not gone out (yet): its state, card, next try and reason."""
    text = f"{today.local_date:%Y-%m-%d}: {today.state}"
    if today.card_id:
        text += f", card `{today.card_id}`"
    if today.retry_at is not None:
        text += f", next try <t:{int(today.retry_at.timestamp())}:R>"
    if today.reason:
        text += f"\n{safe(today.reason)}"
    return text


def _last_post_text(last: DailyPost | None) -> str:
    if last is None:
        return "None yet"
    sent = f"<t:{int(last.sent_at.timestamp())}:f>" if last.sent_at else f"{last.local_date:%Y-%m-%d}"
    return f"{sent}, card `{last.card_id}`{_post_link(last)}"


def _last_error_text(schedule: DailySchedule) -> str:
    when = f" (<t:{int(schedule.last_error_at.timestamp())}:f>)" if schedule.last_error_at else ""
    text = f"{safe(schedule.last_error or '')}{when}"
    if schedule.failures:
        text += f"\n{schedule.failures} failure{'s' if schedule.failures != 1 else ''} in a row"
    return text


def status_embed(status: DailyStatus) -> discord.Embed:
    """Everything ``/daily status`` shows: settings, next and last post, the last error, problem days."""
    schedule = status.schedule
    embed = discord.Embed(title="Daily fact", color=CARD_COLOR)
    _field(embed, "State", _state_text(schedule))
    embed.add_field(name="Channel", value=f"<#{schedule.channel_id}>", inline=True)
    embed.add_field(name="Time", value=f"{schedule.post_time:%H:%M} {schedule.zone}", inline=True)
    embed.add_field(name="Filters", value=filters_text(schedule), inline=True)
    _field(embed, "Mode", mode_text(schedule))
    if status.next_post_at is not None:
        _field(embed, "Next post", when_text(status.next_post_at, schedule.zone))
    if status.today is not None and status.today.state != "sent":
        _field(embed, "Today", _today_text(status.today))
    _field(embed, "Last post", _last_post_text(status.last_post))
    if schedule.last_error:
        _field(embed, "Last error", _last_error_text(schedule))
    if status.problems:
        lines = [f"{p.local_date:%Y-%m-%d} {p.state}: {safe(p.reason or '')}".rstrip(": ") for p in status.problems]
        _field(embed, "Days without a post", "\n".join(lines))
    return embed
