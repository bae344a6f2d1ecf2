"""When a daily post is due: ``HH:MM`` in a time zone, turned into UTC instants, DST-correct. Pure functions.

The post instant for a local date is ``HH:MM`` in the zone. On a spring-forward day where ``HH:MM`` does not exist,
the post goes out at the first valid local time after the gap (the instant of the transition, e.g. 03:00 CEST for
02:30 in Europe/Berlin on 2026-03-29). On a fall-back day where ``HH:MM`` happens twice, it goes out once, at the
first occurrence (``fold=0``).

A :class:`Slot` is one local day's post: when it is due and until when a late (catch-up) post may still go out,
which is at most the catch-up window and never past the end of that local day. :func:`due_slots` says which slots
have come due since a schedule became active, and why a slot that came due too long ago is skipped.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import zoneinfo
from typing import Protocol

from .errors import DailyError

__all__ = [
    "DEFAULT_CATCH_UP",
    "HHMM_HELP",
    "UTC",
    "ScheduleTimes",
    "Slot",
    "due_slot",
    "due_slots",
    "local_day_end",
    "local_post_instant",
    "next_post_time",
    "parse_hhmm",
    "slot_for",
    "to_utc",
]

UTC = dt.UTC
HHMM_HELP = "Use HH:MM, 24-hour, e.g. 09:30"
#: How late a post may go out after its time (when the bot was down), unless the schedule's owner says otherwise.
DEFAULT_CATCH_UP = dt.timedelta(hours=6)

_HHMM = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


def parse_hhmm(text: str) -> dt.time:
    """Parse a 24-hour ``HH:MM`` (``9:30`` is accepted) into a :class:`datetime.time`.

    Raises :class:`DailyError` with a message that says how to write it.
    """
    match = _HHMM.match(text or "")
    if not match:
        raise DailyError(f"{text!r} is not a time. {HHMM_HELP}.")
    hour, minute = int(match[1]), int(match[2])
    if hour > 23 or minute > 59:
        raise DailyError(f"{text.strip()!r} is not a valid time of day. {HHMM_HELP}.")
    return dt.time(hour, minute)


def to_utc(moment: dt.datetime) -> dt.datetime:
    """``moment`` in UTC; a naive datetime is refused (ValueError), since its instant is unknown."""
    if moment.tzinfo is None:
        raise ValueError("expected an aware datetime, got a naive one")
    return moment.astimezone(UTC)


def local_post_instant(local_date: dt.date, schedule_time: dt.time, zone: dt.tzinfo) -> dt.datetime:
    """The UTC instant of the post for ``local_date`` at ``schedule_time`` in ``zone``.

    Ambiguous (fall-back) times resolve to the first occurrence (``fold=0``); non-existent
    (spring-forward) times resolve to the first valid local time after the gap, i.e. the instant of the
    transition (02:30 in a 02:00->03:00 gap posts at 03:00 new time).
    """
    wall = dt.datetime.combine(local_date, schedule_time.replace(tzinfo=None, fold=0))
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first  # exists (if ambiguous, this is the first occurrence)
    # In a gap: fold=0 uses the offset before the transition and fold=1 the one after, so the
    # transition lies between the two readings.
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return _transition(min(first, second), max(first, second), zone)


def _transition(lo: dt.datetime, hi: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """The first instant (to the second) in ``[lo, hi]`` whose UTC offset in ``zone`` is ``hi``'s."""
    after = hi.astimezone(zone).utcoffset()
    lo_s, hi_s = 0, int((hi - lo).total_seconds())
    while lo_s < hi_s:
        mid = (lo_s + hi_s) // 2
        if (lo + dt.timedelta(seconds=mid)).astimezone(zone).utcoffset() == after:
            hi_s = mid
        else:
            lo_s = mid + 1
    return lo + dt.timedelta(seconds=lo_s)


def next_post_time(schedule_time: dt.time, zone: dt.tzinfo, after: dt.datetime) -> dt.datetime:
    """The first post instant (UTC) strictly after ``after`` for a daily ``schedule_time`` in ``zone``.

    DST-correct: see :func:`local_post_instant`. ``after`` must be timezone-aware.
    """
    after_utc = to_utc(after)
    today = after_utc.astimezone(zone).date()
    for delta in range(-1, 3):
        instant = local_post_instant(today + dt.timedelta(days=delta), schedule_time, zone)
        if instant > after_utc:
            return instant
    raise AssertionError("unreachable: a daily time recurs within two days")  # pragma: no cover


def local_day_end(local_date: dt.date, zone: dt.tzinfo) -> dt.datetime:
    """The UTC instant the local day after ``local_date`` begins (DST-safe)."""
    return local_post_instant(local_date + dt.timedelta(days=1), dt.time(0, 0), zone)


class ScheduleTimes(Protocol):
    """The parts of a schedule (:class:`bot.storage.daily.DailySchedule`) the slot maths reads; read-only."""

    @property
    def post_time(self) -> dt.time:
        """Local time of day of the post."""
        ...

    @property
    def zone(self) -> str:
        """IANA zone name."""
        ...

    @property
    def active_from(self) -> dt.datetime:
        """When the schedule was last set: days whose post time is earlier are not owed a post."""
        ...


@dataclasses.dataclass(frozen=True, slots=True)
class Slot:
    """One local day's post of a schedule: when it is due, until when a late post may go out, or why not."""

    local_date: dt.date
    due_at: dt.datetime
    #: The last instant (UTC) at which a late (catch-up) post or a retry may still go out.
    deadline: dt.datetime
    #: Set when the post can no longer go out (too late); the day is then recorded as skipped.
    skip_reason: str | None = None

    @property
    def due(self) -> bool:
        """True when the post should go out now."""
        return self.skip_reason is None


def slot_for(schedule: ScheduleTimes, local_date: dt.date, catch_up: dt.timedelta = DEFAULT_CATCH_UP) -> Slot:
    """The slot of ``local_date``: due instant and deadline (catch-up window, within the same local day)."""
    zone = zoneinfo.ZoneInfo(schedule.zone)
    due_at = local_post_instant(local_date, schedule.post_time, zone)
    day_end = local_day_end(local_date, zone) - dt.timedelta(microseconds=1)
    return Slot(local_date, due_at, min(due_at + catch_up, day_end))


def due_slots(schedule: ScheduleTimes, now: dt.datetime, catch_up: dt.timedelta = DEFAULT_CATCH_UP) -> list[Slot]:
    """Yesterday's and today's (local) slots that have come due since the schedule became active.

    Each is either due now (within the catch-up window) or carries the reason it is skipped. Slots before
    ``schedule.active_from`` (set after that day's time) and slots still in the future are left out.
    """
    now = to_utc(now)
    zone = zoneinfo.ZoneInfo(schedule.zone)
    today = now.astimezone(zone).date()
    slots: list[Slot] = []
    for local_date in (today - dt.timedelta(days=1), today):
        slot = slot_for(schedule, local_date, catch_up)
        if slot.due_at < to_utc(schedule.active_from) or now < slot.due_at:
            continue
        if now > slot.deadline:
            slot = dataclasses.replace(slot, skip_reason=_skip_reason(schedule, slot, now, today, catch_up))
        slots.append(slot)
    return slots


def _skip_reason(schedule: ScheduleTimes, slot: Slot, now: dt.datetime, today: dt.date, catch_up: dt.timedelta) -> str:
    """Why ``slot``, past its deadline at ``now``, is skipped (``today`` is now's local date)."""
    why = (
        "the local day had ended"
        if today != slot.local_date
        else f"more than the catch-up window of {_fmt_delta(catch_up)}"
    )
    return (
        f"The bot was offline at {schedule.post_time:%H:%M} {schedule.zone} and came back "
        f"{_fmt_delta(now - slot.due_at)} late ({why}); the day's fact was skipped."
    )


def due_slot(schedule: ScheduleTimes, now: dt.datetime, catch_up: dt.timedelta = DEFAULT_CATCH_UP) -> Slot | None:
    """Today's (local) slot once its time has come: due now (catch-up included) or skipped with a reason.

    ``None`` before today's post time (or when the schedule was set after it). Whether the slot was already
    posted is for the store to say. (:func:`due_slots` also reports yesterday's slot, for the day boundary.)
    """
    today = to_utc(now).astimezone(zoneinfo.ZoneInfo(schedule.zone)).date()
    return next((slot for slot in due_slots(schedule, now, catch_up) if slot.local_date == today), None)


def _fmt_delta(delta: dt.timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours} h {minutes} min"
    return f"{hours} h" if hours else f"{minutes} min"
