"""Daily facts: one card posted per server per local day, exactly once, at a DST-correct local time.

This module holds the pure scheduling logic (time parsing, zone lookup, slot computation, card rotation)
and :class:`DailyEngine`, which drives posting from injected dependencies only: a :class:`DailyStore`
(all SQL), a card source, a poster coroutine, a view log and a clock. The Discord cog sends the message
and runs the loop; everything that decides *whether* and *what* to post lives here, so it is testable
with a fake clock and a real SQLite file.

Policies
--------
* **Exactly once per (guild, local date).** Before sending, the engine *claims* the slot: one
  transaction picks the card, inserts ``daily_posts`` with state ``claimed`` (``INSERT ... ON CONFLICT
  DO NOTHING`` on ``UNIQUE (guild_id, channel_id, local_date)``) and records the card in the rotation.
  Only the caller whose insert landed sends. After the send the row becomes ``sent`` with the message id.
  Restarts, a second ``on_ready`` and concurrent loops therefore never post twice.
* **Crash between claim and send: at most once.** If a claim is still ``claimed`` after ``claim_lease``
  (default 10 minutes, far longer than a send takes), its sender died (crash, kill, cancellation) and we
  cannot know whether Discord received the message: the row becomes ``unknown`` and is **not** resent.
  A missed fact is cheap; a duplicate in a server's channel is the bug this feature exists to prevent.
  (Checking the channel history for our message would need the Read Message History permission and
  a search by embed content; not worth it for a daily fact.) If the original sender does finish after
  all, its ``sent`` update still lands (it matches on the claim token), so status is corrected.
* **Downtime.** A post that is late (the bot was down at post time) goes out once when the bot comes
  back, if it is at most ``catch_up_hours`` late *and* still the same local day; otherwise the day is
  recorded as ``skipped`` with the reason, and status shows it.
* **DST.** The post instant for a local date is ``HH:MM`` in the zone. On a spring-forward day where
  ``HH:MM`` does not exist, the post goes out at the first valid local time after the gap (the instant
  of the transition, e.g. 03:00 CEST for 02:30 in Europe/Berlin on 2026-03-29). On a fall-back day
  where ``HH:MM`` happens twice, it goes out once, at the first occurrence (``fold=0``).
* **Rotation.** No card repeats in a guild until every eligible card (after topic/collection filters)
  was posted in the current cycle; the cycle and its posted cards live in ``daily_rotation``. The pick
  is a seeded RNG over the sorted remaining ids, seeded from (guild, local date, cycle), so
  :meth:`DailyEngine.preview` and :meth:`DailyEngine.today` compute exactly what a post will show.
* **Failures.** ``discord.Forbidden``/``NotFound`` (and other 4xx, and unexpected exceptions) are
  permanent: the day is ``failed``, ``last_error`` is set and ``failures`` incremented; after
  ``pause_after`` (3) consecutive permanent failures the schedule is paused (``paused_reason``). 5xx,
  429, timeouts and network errors are transient: the claim is released to state ``retry`` (same card)
  with exponential backoff (30 s, 1 min, 2 min, ... capped at 30 min) while within the catch-up window;
  then the day is ``failed`` ("gave up"). A successful post resets ``failures``. Every failure is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import difflib
import enum
import functools
import hashlib
import logging
import random
import re
import uuid
import zoneinfo
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Literal, Protocol

import aiohttp
import discord

from bot.storage.views import ViewEvent

if TYPE_CHECKING:
    from bot.storage.daily import DailyPost, DailySchedule, DailyStore, RotationState

log = logging.getLogger(__name__)

UTC = dt.UTC
HHMM_HELP = "Use HH:MM, 24-hour, e.g. 09:30"
DEFAULT_CATCH_UP_HOURS = 6.0
DEFAULT_PAUSE_AFTER = 3
#: The command name views from daily posts are recorded under.
VIEW_COMMAND = "daily"

# States of a ``daily_posts`` row.
CLAIMED = "claimed"  # a sender holds the slot and is posting now
RETRY = "retry"  # a transient failure released the claim; retried at ``retry_at`` with the same card
SENT = "sent"
SKIPPED = "skipped"  # never attempted: the bot was down too long
FAILED = "failed"  # permanent failure, or transient failures until the window closed
UNKNOWN = "unknown"  # claimed, then the sender vanished: maybe posted, never resent (at most once)
#: States after which nothing more happens to the day.
FINAL_STATES = frozenset({SENT, SKIPPED, FAILED, UNKNOWN})
#: States in which the row's card is (or will be) the day's card.
CARD_STATES = frozenset({CLAIMED, RETRY, SENT, UNKNOWN})


class DailyError(ValueError):
    """A user-facing error: the message is meant to be shown to the person who ran the command."""


class NoEligibleCards(DailyError):
    """No card matches the schedule's topic and collection filters."""


# --------------------------------------------------------------------------------------------------
# Input parsing


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


_CANONICAL_AREAS = frozenset(
    {"Africa", "America", "Antarctica", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific"}
)
_COMMON_ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
)


@functools.cache
def _zones() -> tuple[str, ...]:
    """All IANA zone names the system (or the tzdata package) knows, sorted; computed once."""
    return tuple(sorted(z for z in zoneinfo.available_timezones() if z not in {"Factory", "localtime"}))


@functools.cache
def _zones_by_lower() -> dict[str, str]:
    return {z.lower(): z for z in _zones()}


def _zone_rank(zone: str) -> int:
    """Prefer ``Area/City`` names over legacy aliases such as ``US/Pacific`` or ``Etc/GMT+5``."""
    return 0 if zone == "UTC" or zone.split("/", 1)[0] in _CANONICAL_AREAS else 1


def resolve_zone(name: str) -> zoneinfo.ZoneInfo:
    """The :class:`~zoneinfo.ZoneInfo` for an IANA name (case-insensitive, e.g. ``europe/berlin``).

    Raises :class:`DailyError` naming close matches when the zone is unknown.
    """
    cleaned = (name or "").strip().replace(" ", "_")
    key = _zones_by_lower().get(cleaned.lower())
    if key is not None:
        return zoneinfo.ZoneInfo(key)
    suggestions = zone_suggestions(cleaned)
    hint = f" Did you mean {', '.join(suggestions)}?" if suggestions else ""
    raise DailyError(f"Unknown time zone {name!r}.{hint} Use an IANA name such as Europe/Berlin or America/New_York.")


def zone_suggestions(name: str, limit: int = 3) -> list[str]:
    """Zone names close to a mistyped ``name``: substring matches first, then fuzzy (difflib) ones."""
    found = list(zone_choices(name, limit=limit)) if name else []
    if len(found) < limit:
        lower = _zones_by_lower()
        fuzzy = difflib.get_close_matches(name.lower(), list(lower), n=limit, cutoff=0.6)
        # Also compare against the city part, so "Berln" finds Europe/Berlin.
        cities: dict[str, list[str]] = {}
        for zone in _zones():
            cities.setdefault(zone.rsplit("/", 1)[-1].lower(), []).append(zone)
        fuzzy_cities = difflib.get_close_matches(name.lower(), list(cities), n=limit, cutoff=0.7)
        candidates = [lower[z] for z in fuzzy] + [z for c in fuzzy_cities for z in cities[c]]
        for zone in sorted(candidates, key=_zone_rank):
            if zone not in found:
                found.append(zone)
    return found[:limit]


def zone_choices(prefix: str, limit: int = 25) -> list[str]:
    """Zone names for autocomplete: case-insensitive substring match, best first.

    Ranked: the full name starts with the query, then a path part starts with it (``berlin`` ->
    ``Europe/Berlin``), then it occurs anywhere; ``Area/City`` names before legacy aliases; then
    alphabetically. Spaces match underscores (``new york``). An empty query gives common zones.
    """
    query = (prefix or "").strip().lower().replace(" ", "_")
    if not query:
        return list(_COMMON_ZONES[:limit])
    ranked: list[tuple[int, int, str]] = []
    for zone in _zones():
        lower = zone.lower()
        if query not in lower:
            continue
        if lower.startswith(query):
            tier = 0
        elif any(part.startswith(query) for part in lower.split("/")):
            tier = 1
        else:
            tier = 2
        ranked.append((tier, _zone_rank(zone), zone))
    ranked.sort()
    return [zone for _, _, zone in ranked[:limit]]


# --------------------------------------------------------------------------------------------------
# Time arithmetic


def _utc(moment: dt.datetime) -> dt.datetime:
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
    # transition lies between the two readings. Find its instant to the second.
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    lo, hi = min(first, second), max(first, second)
    after = hi.astimezone(zone).utcoffset()
    lo_s, hi_s = 0, int((hi - lo).total_seconds())
    while lo_s < hi_s:  # smallest offset (in seconds from lo) whose UTC offset is the post-gap one
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
    after_utc = _utc(after)
    today = after_utc.astimezone(zone).date()
    for delta in range(-1, 3):
        instant = local_post_instant(today + dt.timedelta(days=delta), schedule_time, zone)
        if instant > after_utc:
            return instant
    raise AssertionError("unreachable: a daily time recurs within two days")  # pragma: no cover


def local_day_end(local_date: dt.date, zone: dt.tzinfo) -> dt.datetime:
    """The UTC instant the local day after ``local_date`` begins (DST-safe)."""
    return local_post_instant(local_date + dt.timedelta(days=1), dt.time(0, 0), zone)


class _ScheduleLike(Protocol):
    post_time: dt.time
    zone: str
    active_from: dt.datetime


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


def slot_for(schedule: _ScheduleLike, local_date: dt.date, catch_up: dt.timedelta = dt.timedelta(hours=6)) -> Slot:
    """The slot of ``local_date``: due instant and deadline (catch-up window, within the same local day)."""
    zone = zoneinfo.ZoneInfo(schedule.zone)
    due_at = local_post_instant(local_date, schedule.post_time, zone)
    day_end = local_day_end(local_date, zone) - dt.timedelta(microseconds=1)
    return Slot(local_date, due_at, min(due_at + catch_up, day_end))


def due_slots(schedule: _ScheduleLike, now: dt.datetime, catch_up: dt.timedelta = dt.timedelta(hours=6)) -> list[Slot]:
    """Yesterday's and today's (local) slots that have come due since the schedule became active.

    Each is either due now (within the catch-up window) or carries the reason it is skipped. Slots before
    ``schedule.active_from`` (set after that day's time) and slots still in the future are left out.
    """
    now = _utc(now)
    zone = zoneinfo.ZoneInfo(schedule.zone)
    today = now.astimezone(zone).date()
    slots: list[Slot] = []
    for local_date in (today - dt.timedelta(days=1), today):
        slot = slot_for(schedule, local_date, catch_up)
        if slot.due_at < _utc(schedule.active_from) or now < slot.due_at:
            continue
        if now > slot.deadline:
            late = now - slot.due_at
            why = (
                "the local day had ended"
                if now.astimezone(zone).date() != local_date
                else f"more than the catch-up window of {_fmt_delta(catch_up)}"
            )
            reason = (
                f"The bot was offline at {schedule.post_time:%H:%M} {schedule.zone} and came back "
                f"{_fmt_delta(late)} late ({why}); the day's fact was skipped."
            )
            slot = dataclasses.replace(slot, skip_reason=reason)
        slots.append(slot)
    return slots


def due_slot(schedule: _ScheduleLike, now: dt.datetime, catch_up: dt.timedelta = dt.timedelta(hours=6)) -> Slot | None:
    """Today's (local) slot once its time has come: due now (catch-up included) or skipped with a reason.

    ``None`` before today's post time (or when the schedule was set after it). Whether the slot was already
    posted is for the store to say. (:func:`due_slots` also reports yesterday's slot, for the day boundary.)
    """
    today = _utc(now).astimezone(zoneinfo.ZoneInfo(schedule.zone)).date()
    return next((slot for slot in due_slots(schedule, now, catch_up) if slot.local_date == today), None)


def _fmt_delta(delta: dt.timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours} h {minutes} min"
    return f"{hours} h" if hours else f"{minutes} min"


# --------------------------------------------------------------------------------------------------
# Rotation


def pick_card(
    eligible_ids: Sequence[str],
    posted_this_cycle: set[str] | frozenset[str],
    guild_id: int,
    local_date: dt.date,
    cycle: int,
    *,
    avoid: str | None = None,
) -> tuple[str, int]:
    """Choose the day's card deterministically; returns ``(card_id, cycle)``.

    Candidates are the sorted eligible ids not yet posted in ``cycle``; when none are left a new cycle
    (``cycle + 1``) starts over all eligible ids. ``avoid`` (the previous post) is left out when there is
    another choice, so a new cycle does not start with yesterday's card. The RNG is seeded from
    (guild, date, cycle), so the same inputs always give the same card. Raises :class:`NoEligibleCards`.
    """
    pool = sorted(set(eligible_ids))
    if not pool:
        raise NoEligibleCards("No cards match this server's daily topic/collection filters.")
    remaining = [card for card in pool if card not in posted_this_cycle]
    if not remaining:
        cycle += 1
        remaining = pool
    if avoid is not None and avoid in remaining and len(remaining) > 1:
        remaining.remove(avoid)
    seed = hashlib.sha256(f"factdeck-daily|{guild_id}|{local_date.isoformat()}|{cycle}".encode()).digest()
    rng = random.Random(int.from_bytes(seed[:8], "big"))
    return rng.choice(remaining), cycle


# --------------------------------------------------------------------------------------------------
# Failure classification


class FailureKind(enum.Enum):
    """How a poster exception is handled."""

    TRANSIENT = "transient"  # retry with backoff
    PERMANENT = "permanent"  # record, count towards pausing


def classify_error(exc: BaseException) -> FailureKind:
    """Classify a poster exception: Forbidden/NotFound/other 4xx/unexpected -> permanent; 5xx, 429,
    timeouts and network errors -> transient."""
    if isinstance(exc, discord.Forbidden | discord.NotFound):
        return FailureKind.PERMANENT
    if isinstance(exc, discord.DiscordServerError):
        return FailureKind.TRANSIENT
    if isinstance(exc, discord.HTTPException):
        status = getattr(exc, "status", 0) or 0
        return FailureKind.TRANSIENT if status >= 500 or status == 429 else FailureKind.PERMANENT
    if isinstance(exc, TimeoutError | OSError | aiohttp.ClientConnectionError):
        return FailureKind.TRANSIENT
    return FailureKind.PERMANENT


#: How long a resend may rely on the post's nonce to be recognised (Discord keeps nonces a few minutes).
NONCE_WINDOW = dt.timedelta(minutes=4)


def post_nonce(post_id: int) -> str:
    """The nonce a day's post is sent with, the same on every attempt (Discord allows up to 25 characters)."""
    return f"fd{post_id}"


def may_have_posted(exc: BaseException) -> bool:
    """Whether a failed send may still have created the message: every transient error but a refused
    connection or a rate limit, which Discord answers before doing anything."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return False
    return not (isinstance(exc, discord.HTTPException) and getattr(exc, "status", 0) == 429)


def describe_error(exc: BaseException, channel_id: int | None = None) -> str:
    """A one-line explanation of a poster exception, for status and logs."""
    where = f"<#{channel_id}>" if channel_id is not None else "the channel"
    if isinstance(exc, discord.Forbidden):
        return f"Missing permissions to post in {where} (need View Channel, Send Messages, Embed Links): {exc}"
    if isinstance(exc, discord.NotFound):
        return f"The channel {where} was not found (deleted?): {exc}"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


# --------------------------------------------------------------------------------------------------
# The engine


class CardSource(Protocol):
    """What the engine needs to know about cards."""

    def eligible(self, topic: str | None, collection: str | None) -> Sequence[str]:
        """Ids of the cards that match the filters (``None`` means no filter)."""
        ...

    def exists(self, card_id: str) -> bool:
        """Whether a card id still exists."""
        ...


class ViewRecorder(Protocol):
    """ViewLog-like: ``record(view)`` (not async)."""

    def record(self, view: object, /) -> object:
        """Record one view."""
        ...


#: ``await poster(channel_id, card_id, nonce) -> message_id``; raises discord exceptions on failure. The poster
#: sends ``nonce`` with the message, so a resend of the same day's post within Discord's nonce window returns the
#: message that already went out instead of posting a second one.
Poster = Callable[[int, str, str], Awaitable[int]]
Clock = Callable[[], dt.datetime]
ViewFactory = Callable[[str, int, int, dt.datetime], object]

Outcome = Literal["sent", "retry", "failed", "skipped"]


@dataclasses.dataclass(frozen=True, slots=True)
class PostResult:
    """What :meth:`DailyEngine.run_due` did for one slot."""

    guild_id: int
    channel_id: int
    local_date: dt.date
    outcome: Outcome
    card_id: str | None = None
    message_id: int | None = None
    error: str | None = None
    retry_at: dt.datetime | None = None
    #: Set when this failure paused the schedule.
    paused_reason: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class DailyStatus:
    """Everything ``/daily status`` shows for a guild."""

    guild_id: int
    channel_id: int
    post_time: dt.time
    zone: str
    topic: str | None
    collection: str | None
    enabled: bool
    paused_reason: str | None
    #: The next post instant (UTC); ``None`` when off or paused. May be in the past: due now / retrying.
    next_post_at: dt.datetime | None
    #: Today's (local) row, if any: state, card, retry time.
    today: DailyPost | None
    #: The last successful post.
    last_post: DailyPost | None
    last_error: str | None
    last_error_at: dt.datetime | None
    failures: int
    #: Recent days that did not post: skipped (downtime), failed, unknown (crash mid-send); newest first.
    problems: tuple[DailyPost, ...]

    @property
    def active(self) -> bool:
        """Whether posts go out (enabled and not paused)."""
        return self.enabled and self.paused_reason is None


def _default_view_factory(card_id: str, guild_id: int, channel_id: int, at: dt.datetime) -> object:
    """A :class:`bot.storage.ViewEvent` of a daily post (no user: the bot posted it)."""
    return ViewEvent(
        card_id=card_id, guild_id=guild_id, channel_id=channel_id, user_id=None, command=VIEW_COMMAND, at=at
    )


class DailyEngine:
    """Decides and performs daily posts. All state is in the store; the engine can be recreated freely.

    ``run_due`` is safe to call from several loops or processes at once: the database claim decides who
    posts. Drive it with ``while True: await engine.run_due(); await engine.wait_next()``.
    """

    def __init__(
        self,
        store: DailyStore,
        cards: CardSource,
        poster: Poster,
        views: ViewRecorder,
        clock: Clock,
        *,
        catch_up_hours: float = DEFAULT_CATCH_UP_HOURS,
        pause_after: int = DEFAULT_PAUSE_AFTER,
        backoff_base: float = 30.0,
        backoff_cap: float = 30 * 60.0,
        claim_lease: float = 10 * 60.0,
        max_sleep: float = 60.0,
        view_factory: ViewFactory | None = None,
    ) -> None:
        self._store = store
        self._cards = cards
        self._poster = poster
        self._views = views
        self._clock = clock
        self.catch_up = dt.timedelta(hours=catch_up_hours)
        self.pause_after = pause_after
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.claim_lease = dt.timedelta(seconds=claim_lease)
        self.max_sleep = max_sleep
        self._view_factory = view_factory or _default_view_factory
        self._instance = uuid.uuid4().hex[:12]
        self._wake_at: dt.datetime | None = None
        #: (guild, local date) whose ledger row is final: not read again (a cache; the DB decides).
        self._decided: set[tuple[int, dt.date]] = set()
        self._changed: asyncio.Event | None = None

    # ---------------------------------------------------------------- helpers

    def _now(self) -> dt.datetime:
        return _utc(self._clock())

    def _since_first_try(self, attempts: int) -> dt.timedelta:
        """How long after the first attempt the next retry would go out, ``attempts`` attempts in."""
        return sum((self.backoff(n) for n in range(1, attempts + 1)), dt.timedelta())

    def backoff(self, attempts: int) -> dt.timedelta:
        """Delay before retry number ``attempts`` (1-based): base * 2**(attempts-1), capped."""
        seconds = min(self.backoff_base * 2 ** max(attempts - 1, 0), self.backoff_cap)
        return dt.timedelta(seconds=seconds)

    def _eligible(self, schedule: DailySchedule) -> list[str]:
        return list(self._cards.eligible(schedule.topic, schedule.collection))

    def _chooser(
        self, guild_id: int, local_date: dt.date, eligible: Sequence[str]
    ) -> Callable[[RotationState], tuple[str, int]]:
        def choose(state: RotationState) -> tuple[str, int]:
            return pick_card(eligible, state.posted, guild_id, local_date, state.cycle, avoid=state.last_card)

        return choose

    def _token(self) -> str:
        return f"{self._instance}:{uuid.uuid4().hex}"

    def _poke(self) -> None:
        self._wake_at = None
        if self._changed is not None:
            self._changed.set()

    # ---------------------------------------------------------------- the loop

    async def run_due(self) -> list[PostResult]:
        """Post every due slot of every active schedule; record skipped days; retry transient failures.

        Returns what happened, one :class:`PostResult` per slot acted on (slots another loop is handling
        are left out). Errors in one guild are logged and do not stop the others.
        """
        now = self._now()
        await self._expire(now)
        results: list[PostResult] = []
        schedules = await self._store.active_schedules()
        for schedule in schedules:
            try:
                results.extend(await self._run_schedule(schedule, now))
            except Exception:
                log.exception("Daily posting failed for guild %s", schedule.guild_id)
        await self._update_wake(schedules, now)
        return results

    async def _expire(self, now: dt.datetime) -> None:
        """Turn stale claims into ``unknown`` and give up retries whose window closed (reads first, so an
        idle loop does not take the write lock)."""
        pending = await self._store.pending()
        stale_before = now - self.claim_lease
        if any(p.state == CLAIMED and p.claimed_at is not None and p.claimed_at < stale_before for p in pending):
            for post in await self._store.expire_claims(stale_before, now):
                log.warning(
                    "Daily post for guild %s on %s (card %s) was claimed at %s and never confirmed; "
                    "marked unknown and not resent (at most once)",
                    post.guild_id,
                    post.local_date,
                    post.card_id,
                    post.claimed_at,
                )
        for post in pending:
            # Retries of schedules turned off or paused meanwhile, or of days no loop looked at in time.
            if post.state == RETRY and now > post.deadline:
                error = f"Gave up after {post.attempts} attempt(s) (catch-up window closed): {post.reason}"
                await self._store.mark_failed(post.id, post.claim_token, error, now, count=False, pause_after=None)
                log.error("Daily post for guild %s on %s: %s", post.guild_id, post.local_date, error)
        self._forget_old(now)

    def _forget_old(self, now: dt.datetime) -> None:
        horizon = now.date() - dt.timedelta(days=3)
        self._decided = {key for key in self._decided if key[1] >= horizon}

    async def _run_schedule(self, schedule: DailySchedule, now: dt.datetime) -> list[PostResult]:
        guild_id = schedule.guild_id
        slots = [s for s in due_slots(schedule, now, self.catch_up) if (guild_id, s.local_date) not in self._decided]
        if not slots:
            return []
        rows = await self._store.posts_on(guild_id, [slot.local_date for slot in slots])
        results: list[PostResult] = []
        for slot in slots:
            day_rows = [row for row in rows if row.local_date == slot.local_date]
            retry = next((row for row in day_rows if row.state == RETRY), None)
            if retry is not None:
                result = await self._retry(schedule, retry, now)
            elif day_rows:
                if all(row.state in FINAL_STATES for row in day_rows):
                    self._decided.add((guild_id, slot.local_date))  # no need to read it again
                continue  # claimed (being posted), sent, skipped, failed or unknown: the day is decided
            elif slot.skip_reason is not None:
                result = await self._skip(schedule, slot, now)
            else:
                result = await self._claim_and_post(schedule, slot, now)
            if result is not None:
                results.append(result)
        return results

    async def _skip(self, schedule: DailySchedule, slot: Slot, now: dt.datetime) -> PostResult | None:
        recorded = await self._store.record_missed(
            schedule.guild_id,
            schedule.channel_id,
            slot.local_date,
            slot.due_at,
            slot.deadline,
            SKIPPED,
            slot.skip_reason or "skipped",
            now,
        )
        if not recorded:
            return None
        log.warning("Daily post for guild %s on %s skipped: %s", schedule.guild_id, slot.local_date, slot.skip_reason)
        return PostResult(schedule.guild_id, schedule.channel_id, slot.local_date, "skipped", error=slot.skip_reason)

    async def _claim_and_post(self, schedule: DailySchedule, slot: Slot, now: dt.datetime) -> PostResult | None:
        eligible = self._eligible(schedule)
        try:
            post = await self._store.claim(
                schedule.guild_id,
                schedule.channel_id,
                slot.local_date,
                slot.due_at,
                slot.deadline,
                self._token(),
                now,
                self._chooser(schedule.guild_id, slot.local_date, eligible),
            )
        except NoEligibleCards as exc:
            return await self._no_cards(schedule, slot, str(exc), now)
        if post is None:
            return None  # another loop or process claimed this day first
        return await self._send(schedule, post)

    async def _retry(self, schedule: DailySchedule, row: DailyPost, now: dt.datetime) -> PostResult | None:
        if row.retry_at is not None and row.retry_at > now:
            return None
        if now > row.deadline:
            error = f"Gave up after {row.attempts} attempt(s) (catch-up window closed): {row.reason}"
            await self._store.mark_failed(row.id, row.claim_token, error, now, count=False, pause_after=None)
            log.error("Daily post for guild %s on %s: %s", row.guild_id, row.local_date, error)
            return PostResult(row.guild_id, row.channel_id, row.local_date, "failed", row.card_id, error=error)
        eligible = self._eligible(schedule)
        try:
            post = await self._store.reclaim(
                row.id,
                self._token(),
                now,
                exists=self._cards.exists,
                choose=self._chooser(row.guild_id, row.local_date, eligible),
            )
        except NoEligibleCards as exc:
            paused = await self._store.mark_failed(
                row.id, row.claim_token, str(exc), now, count=True, pause_after=self.pause_after
            )
            log.error("Daily post for guild %s on %s failed: %s", row.guild_id, row.local_date, exc)
            return PostResult(
                row.guild_id, row.channel_id, row.local_date, "failed", error=str(exc), paused_reason=paused
            )
        if post is None:
            return None
        return await self._send(schedule, post)

    async def _no_cards(self, schedule: DailySchedule, slot: Slot, error: str, now: dt.datetime) -> PostResult | None:
        recorded = await self._store.record_missed(
            schedule.guild_id, schedule.channel_id, slot.local_date, slot.due_at, slot.deadline, FAILED, error, now
        )
        if not recorded:
            return None
        log.error("Daily post for guild %s on %s failed: %s", schedule.guild_id, slot.local_date, error)
        paused = await self._store.note_failure(schedule.guild_id, error, now, pause_after=self.pause_after)
        return PostResult(
            schedule.guild_id, schedule.channel_id, slot.local_date, "failed", error=error, paused_reason=paused
        )

    async def _send(self, schedule: DailySchedule, post: DailyPost) -> PostResult:
        assert post.card_id is not None
        assert post.claim_token is not None
        try:
            message_id = await self._poster(post.channel_id, post.card_id, post_nonce(post.id))
        # Any poster error is classified and recorded (never silent). BaseExceptions (cancellation,
        # SystemExit) propagate and leave the claim: it becomes 'unknown' after the lease, never resent.
        except Exception as exc:  # noqa: BLE001
            return await self._failed(post, exc)
        sent_at = self._now()
        # The message is out: count the view first (record() never touches the database), so a ledger write
        # that fails below cannot lose it.
        try:
            self._views.record(self._view_factory(post.card_id, post.guild_id, post.channel_id, sent_at))
        except Exception:
            log.exception("Could not record the view of daily post %s", post.id)
        if not await self._store.mark_sent(post.id, post.claim_token, int(message_id), sent_at):
            log.warning("Daily post %s was sent but its claim had been taken over; ledger not updated", post.id)
        log.info(
            "Daily fact %s posted in guild %s channel %s (message %s)",
            post.card_id,
            post.guild_id,
            post.channel_id,
            message_id,
        )
        return PostResult(post.guild_id, post.channel_id, post.local_date, "sent", post.card_id, int(message_id))

    async def _failed(self, post: DailyPost, exc: Exception) -> PostResult:
        assert post.claim_token is not None
        now = self._now()
        kind = classify_error(exc)
        error = describe_error(exc, post.channel_id)
        base = (post.guild_id, post.channel_id, post.local_date)
        if kind is FailureKind.TRANSIENT:
            attempts = post.attempts + 1
            retry_at = now + self.backoff(attempts)
            if may_have_posted(exc) and self._since_first_try(attempts) > NONCE_WINDOW:
                error = (
                    f"Not retried after {attempts} attempt(s): Discord did not confirm the post, so it may have gone"
                    f" out, and a resend this late could post it twice: {error}"
                )
                await self._store.mark_failed(post.id, post.claim_token, error, now, count=False, pause_after=None)
                log.error("Daily post for guild %s on %s: %s", *base[::2], error)
                return PostResult(*base, "failed", post.card_id, error=error)
            if retry_at <= post.deadline:
                if not await self._store.mark_retry(post.id, post.claim_token, attempts, retry_at, error, now):
                    # The claim expired meanwhile (it is 'unknown' now): nothing will retry it.
                    log.warning("Daily post %s failed after its claim expired; not retried: %s", post.id, error)
                    return PostResult(*base, "failed", post.card_id, error=error)
                log.warning(
                    "Daily post for guild %s on %s failed (attempt %d, transient), retrying at %s: %s",
                    *base[::2],
                    attempts,
                    retry_at.isoformat(),
                    error,
                )
                return PostResult(*base, "retry", post.card_id, error=error, retry_at=retry_at)
            error = f"Gave up after {attempts} attempt(s) (catch-up window closed): {error}"
            await self._store.mark_failed(post.id, post.claim_token, error, now, count=False, pause_after=None)
            log.error("Daily post for guild %s on %s: %s", *base[::2], error)
            return PostResult(*base, "failed", post.card_id, error=error)
        known = isinstance(exc, discord.HTTPException)
        log.error(
            "Daily post for guild %s on %s failed (permanent): %s",
            *base[::2],
            error,
            exc_info=None if known else exc,
        )
        paused = await self._store.mark_failed(
            post.id, post.claim_token, error, now, count=True, pause_after=self.pause_after
        )
        if paused:
            log.error("Daily posts for guild %s paused: %s", post.guild_id, paused)
        return PostResult(*base, "failed", post.card_id, error=error, paused_reason=paused)

    # ---------------------------------------------------------------- sleeping

    async def _update_wake(self, schedules: Iterable[DailySchedule], now: dt.datetime) -> None:
        candidates = [now + dt.timedelta(seconds=self.max_sleep)]
        for schedule in schedules:
            zone = zoneinfo.ZoneInfo(schedule.zone)
            candidates.append(next_post_time(schedule.post_time, zone, now))
        for post in await self._store.pending():
            if post.state == RETRY and post.retry_at is not None:
                candidates.append(post.retry_at)
            elif post.state == CLAIMED and post.claimed_at is not None:
                candidates.append(post.claimed_at + self.claim_lease)
        # Past instants (a retry of a paused guild, a claim in flight elsewhere) must not make the loop spin.
        self._wake_at = min(c for c in candidates if c > now)

    def seconds_until_next(self) -> float:
        """Seconds the loop may sleep before calling :meth:`run_due` again: until the next due post,
        retry or claim expiry, at most ``max_sleep`` (so edits and reconnects are picked up), 0 when
        ``run_due`` has not run yet or a schedule changed since."""
        if self._wake_at is None:
            return 0.0
        remaining = (self._wake_at - self._now()).total_seconds()
        return max(0.0, min(remaining, self.max_sleep))

    async def wait_next(self) -> None:
        """Sleep for :meth:`seconds_until_next`, waking early when :meth:`set` or :meth:`off` is called."""
        if self._changed is None:
            self._changed = asyncio.Event()
        self._changed.clear()
        delay = self.seconds_until_next()
        if delay <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout=delay)

    # ---------------------------------------------------------------- queries

    async def _next_slot(self, schedule: DailySchedule, now: dt.datetime) -> tuple[Slot, DailyPost | None]:
        """The slot the next post belongs to, and its pending row (claimed/retry) if there is one."""
        zone = zoneinfo.ZoneInfo(schedule.zone)
        today = now.astimezone(zone).date()
        slot = slot_for(schedule, today, self.catch_up)
        rows = await self._store.posts_on(schedule.guild_id, [today])
        pending = next((row for row in rows if row.state in {CLAIMED, RETRY}), None)
        if pending is not None:
            return slot, pending
        if not rows and slot.due_at >= schedule.active_from and now <= slot.deadline:
            return slot, None
        return slot_for(schedule, today + dt.timedelta(days=1), self.catch_up), None

    async def preview(self, guild_id: int) -> str | None:
        """The card id the next daily post of this guild will show (``None``: no schedule or no cards)."""
        schedule = await self._store.get_schedule(guild_id)
        if schedule is None:
            return None
        slot, pending = await self._next_slot(schedule, self._now())
        if pending is not None and pending.card_id is not None:
            return pending.card_id
        return await self._pick(guild_id, slot.local_date, self._eligible(schedule))

    async def _pick(self, guild_id: int, local_date: dt.date, eligible: Sequence[str]) -> str | None:
        state = await self._store.rotation_state(guild_id)
        try:
            card_id, _ = pick_card(eligible, state.posted, guild_id, local_date, state.cycle, avoid=state.last_card)
        except NoEligibleCards:
            return None
        return card_id

    async def today(self, guild_id: int) -> str | None:
        """Today's card of the guild, stable all day: the posted (or being posted) card if there is one,
        else the deterministic pick for today. Without a schedule: all cards, UTC date."""
        schedule = await self._store.get_schedule(guild_id)
        zone: dt.tzinfo = zoneinfo.ZoneInfo(schedule.zone) if schedule else UTC
        local_date = self._now().astimezone(zone).date()
        for row in await self._store.posts_on(guild_id, [local_date]):
            if row.state in CARD_STATES and row.card_id is not None:
                return row.card_id
        eligible = self._eligible(schedule) if schedule else list(self._cards.eligible(None, None))
        return await self._pick(guild_id, local_date, eligible)

    async def status(self, guild_id: int) -> DailyStatus | None:
        """The guild's schedule, next post, last post, errors and recent problem days (None: never set)."""
        schedule = await self._store.get_schedule(guild_id)
        if schedule is None:
            return None
        now = self._now()
        zone = zoneinfo.ZoneInfo(schedule.zone)
        today_rows = await self._store.posts_on(guild_id, [now.astimezone(zone).date()])
        next_post_at: dt.datetime | None = None
        if schedule.enabled and schedule.paused_reason is None:
            slot, pending = await self._next_slot(schedule, now)
            if pending is not None and pending.state == RETRY and pending.retry_at is not None:
                next_post_at = pending.retry_at
            else:
                next_post_at = slot.due_at
        return DailyStatus(
            guild_id=guild_id,
            channel_id=schedule.channel_id,
            post_time=schedule.post_time,
            zone=schedule.zone,
            topic=schedule.topic,
            collection=schedule.collection,
            enabled=schedule.enabled,
            paused_reason=schedule.paused_reason,
            next_post_at=next_post_at,
            today=today_rows[0] if today_rows else None,
            last_post=await self._store.last_sent(guild_id),
            last_error=schedule.last_error,
            last_error_at=schedule.last_error_at,
            failures=schedule.failures,
            problems=tuple(await self._store.problems(guild_id, limit=10)),
        )

    # ---------------------------------------------------------------- commands

    async def set(
        self,
        guild_id: int,
        channel_id: int,
        post_time: str | dt.time,
        zone: str,
        *,
        topic: str | None = None,
        collection: str | None = None,
    ) -> DailyStatus:
        """Create or replace the guild's schedule, enable it and clear a pause and the failure count.

        Raises :class:`DailyError` for a bad time or zone, or filters that match no card. A post already
        made today (in any channel) is not repeated; a new time later today still posts today.
        """
        when = parse_hhmm(post_time) if isinstance(post_time, str) else post_time.replace(second=0, microsecond=0)
        tz = resolve_zone(zone)
        topic = (topic or "").strip() or None
        collection = (collection or "").strip() or None
        if not self._cards.eligible(topic, collection):
            filters = ", ".join(f"{k} {v!r}" for k, v in (("topic", topic), ("collection", collection)) if v)
            raise NoEligibleCards(f"No cards match {filters or 'the filters'}.")
        await self._store.upsert_schedule(guild_id, channel_id, when, tz.key, topic, collection, self._now())
        self._poke()
        status = await self.status(guild_id)
        assert status is not None
        return status

    async def off(self, guild_id: int) -> bool:
        """Turn the guild's daily posts off; False if there was no schedule. History is kept."""
        changed = await self._store.disable(guild_id, self._now())
        self._poke()
        return changed
