"""The daily-post engine: whether and what to post, exactly once per server and local day.

:class:`DailyEngine` drives posting from injected dependencies only: a :class:`~bot.storage.daily.DailyStore`
(all SQL), a :class:`CardSource`, a :data:`Poster` coroutine, a :class:`ViewRecorder`, a clock and the surface's
failure :data:`~bot.daily.failures.Classifier`. The surface sends the message and runs the loop; everything that
decides *whether* and *what* to post lives here, so it is testable with a fake clock and a real SQLite file.

Policies
--------
* **Exactly once per (guild, local date).** Before sending, the engine *claims* the slot: one
  transaction picks the card, inserts ``daily_posts`` with state ``claimed`` (``INSERT ... ON CONFLICT
  DO NOTHING`` on ``UNIQUE (guild_id, channel_id, local_date)``) and records the card in the rotation.
  Only the caller whose insert landed sends. After the send the row becomes ``sent`` with the message id.
  Restarts, a reconnect and concurrent loops therefore never post twice.
* **Crash between claim and send: at most once.** If a claim is still ``claimed`` after ``claim_lease``
  (default 10 minutes, far longer than a send takes), its sender died (crash, kill, cancellation) and we
  cannot know whether the message went out: the row becomes ``unknown`` and is **not** resent.
  A missed fact is cheap; a duplicate in a server's channel is the bug this feature exists to prevent.
  If the original sender does finish after all, its ``sent`` update still lands (it matches on the claim
  token), so status is corrected.
* **Downtime.** A post that is late (the bot was down at post time) goes out once when the bot comes
  back, if it is at most ``catch_up_hours`` late *and* still the same local day; otherwise the day is
  recorded as ``skipped`` with the reason, and status shows it (:mod:`bot.daily.schedule`).
* **Rotation.** See :mod:`bot.daily.rotation`: :meth:`DailyEngine.preview` and :meth:`DailyEngine.today` compute
  exactly what a post will show.
* **Modes.** A schedule posts in ``fact`` mode (the card) or ``question`` mode (the surface turns the card into a
  question). In question mode, the optional :data:`Forgotten` callable tells the engine how often the server's
  members forgot each card (study mode's reviews, which this layer does not know); the rotation then takes the
  most forgotten card left in the cycle (:func:`bot.daily.rotation.rank_forgotten`). The counts must depend only on
  the guild and the day, so the preview shows what the post will.
* **Failures.** See :mod:`bot.daily.failures`. Every failure is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import uuid
import zoneinfo
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Literal, Protocol

from bot.storage.daily import DAILY_MODES, Chooser, DailyMode, DailyPost, DailySchedule, DailyStore
from bot.storage.views import ViewEvent

from .errors import DailyError, NoEligibleCards
from .failures import NONCE_WINDOW, Classifier, Failure, FailureKind, post_nonce
from .rotation import chooser, rank_forgotten
from .schedule import UTC, Slot, due_slots, next_post_time, parse_hhmm, slot_for, to_utc
from .zones import resolve_zone

__all__ = [
    "CARD_STATES",
    "DEFAULT_CATCH_UP_HOURS",
    "DEFAULT_PAUSE_AFTER",
    "FINAL_STATES",
    "VIEW_COMMAND",
    "CardSource",
    "Clock",
    "DailyEngine",
    "DailyStatus",
    "Forgotten",
    "Outcome",
    "PostResult",
    "Poster",
    "ViewRecorder",
]

log = logging.getLogger(__name__)

DEFAULT_CATCH_UP_HOURS = 6.0
DEFAULT_PAUSE_AFTER = 3
#: Servers whose daily posts are sent at the same time when many are due at once (see :meth:`DailyEngine.run_due`):
#: enough in flight to keep up the poster's pace (:mod:`bot.daily.pacing`) while Discord takes up to a second to
#: answer each.
DEFAULT_CONCURRENCY = 50
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


class CardSource(Protocol):
    """What the engine needs to know about cards."""

    def eligible(self, topic: str | None, collection: str | None, guild_id: int | None = None) -> Sequence[str]:
        """Ids of the cards that match the filters (``None`` means no filter) among those server ``guild_id``
        sees (the shared library and its own collections)."""
        ...

    def exists(self, card_id: str) -> bool:
        """Whether a card id still exists."""
        ...


class ViewRecorder(Protocol):
    """Where a posted card is counted as shown (:class:`bot.storage.ViewLog`); ``record`` does not wait for disk."""

    def record(self, view: ViewEvent, /) -> None:
        """Record one shown card."""
        ...


#: ``await poster(channel_id, card_id, nonce, mode) -> message_id``; raises on failure (the engine's classifier reads
#: the exception). The poster sends ``nonce`` with the message, so a resend of the same day's post within the nonce
#: window returns the message that already went out instead of posting a second one. ``mode`` is the schedule's:
#: post the card (``fact``) or a question on it (``question``).
Poster = Callable[[int, str, str, DailyMode], Awaitable[int]]
#: ``await forgotten(guild_id, local_date) -> {card_id: (again, reviews)}``: how often the server's members forgot
#: each card (``again`` failed recalls of ``reviews``) in a window fixed by the day, for a question schedule's pick.
#: An empty mapping means the server does not study: the fair rotation picks.
Forgotten = Callable[[int, dt.date], Awaitable[Mapping[str, tuple[int, int]]]]
Clock = Callable[[], dt.datetime]

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
    """Everything ``/daily status`` shows for a guild: its schedule (settings, pause, last error, failures in a
    row) and what the ledger says about the posts."""

    schedule: DailySchedule
    #: The next post instant (UTC); ``None`` when off or paused. May be in the past: due now / retrying.
    next_post_at: dt.datetime | None
    #: Today's (local) row, if any: state, card, retry time.
    today: DailyPost | None
    #: The last successful post.
    last_post: DailyPost | None
    #: Recent days that did not post: skipped (downtime), failed, unknown (crash mid-send); newest first.
    problems: tuple[DailyPost, ...]

    @property
    def active(self) -> bool:
        """Whether posts go out (enabled and not paused)."""
        return self.schedule.active


def _gave_up(attempts: int, reason: str | None) -> str:
    return f"Gave up after {attempts} attempt(s) (catch-up window closed): {reason}"


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
        classify: Classifier,
        catch_up_hours: float = DEFAULT_CATCH_UP_HOURS,
        pause_after: int = DEFAULT_PAUSE_AFTER,
        backoff_base: float = 30.0,
        backoff_cap: float = 30 * 60.0,
        claim_lease: float = 10 * 60.0,
        max_sleep: float = 60.0,
        forgotten: Forgotten | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        """``classify`` reads the exceptions ``poster`` raises (see :mod:`bot.daily.failures`); ``forgotten``
        (optional) ranks a question schedule's cards by how often the server forgets them."""
        self._store = store
        #: How many servers' posts go out at once (their sends still queue in discord.py's global rate limiter).
        self.concurrency = max(1, concurrency)
        self._cards = cards
        self._poster = poster
        self._views = views
        self._clock = clock
        self._classify = classify
        self.catch_up = dt.timedelta(hours=catch_up_hours)
        self.pause_after = pause_after
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.claim_lease = dt.timedelta(seconds=claim_lease)
        self.max_sleep = max_sleep
        self._forgotten = forgotten
        self._instance = uuid.uuid4().hex[:12]
        self._wake_at: dt.datetime | None = None
        #: (guild, local date) whose ledger row is final: not read again (a cache; the DB decides).
        self._decided: set[tuple[int, dt.date]] = set()
        self._changed: asyncio.Event | None = None

    # ---------------------------------------------------------------- helpers

    def now(self) -> dt.datetime:
        """The engine's clock, in UTC."""
        return to_utc(self._clock())

    def _since_first_try(self, attempts: int) -> dt.timedelta:
        """How long after the first attempt the next retry would go out, ``attempts`` attempts in."""
        return sum((self.backoff(n) for n in range(1, attempts + 1)), dt.timedelta())

    def backoff(self, attempts: int) -> dt.timedelta:
        """Delay before retry number ``attempts`` (1-based): base * 2**(attempts-1), capped."""
        seconds = min(self.backoff_base * 2 ** max(attempts - 1, 0), self.backoff_cap)
        return dt.timedelta(seconds=seconds)

    def _eligible(self, schedule: DailySchedule | None, guild_id: int) -> list[str]:
        """The cards the schedule's filters allow among those the server sees (all of them without a schedule)."""
        if schedule is None:
            return list(self._cards.eligible(None, None, guild_id))
        return list(self._cards.eligible(schedule.topic, schedule.collection, guild_id))

    async def _chooser(self, schedule: DailySchedule | None, guild_id: int, local_date: dt.date) -> Chooser:
        """The day's pick: the rotation over the schedule's cards, the most forgotten first in question mode."""
        eligible = self._eligible(schedule, guild_id)
        prefer: list[str] = []
        if schedule is not None and schedule.mode == "question" and self._forgotten is not None:
            try:
                prefer = rank_forgotten(await self._forgotten(guild_id, local_date), eligible)
            except Exception:
                # Study data is a refinement: without it the fair rotation still posts the day's card.
                log.exception("Could not rank guild %s's cards by forgetting; the rotation picks", guild_id)
        return chooser(eligible, guild_id, local_date, prefer)

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
        now = self.now()
        await self._expire(now)
        schedules = await self._store.active_schedules()
        gate = asyncio.Semaphore(self.concurrency)
        stopped: list[BaseException] = []

        async def one(schedule: DailySchedule) -> list[PostResult]:
            async with gate:  # many servers due at one minute: their sends overlap, a bounded number at a time
                try:
                    return await self._run_schedule(schedule, now)
                except Exception:
                    log.exception("Daily posting failed for guild %s", schedule.guild_id)
                except (SystemExit, KeyboardInterrupt) as exc:  # a task must not raise these: the caller does
                    stopped.append(exc)
                return []

        results = [result for found in await asyncio.gather(*map(one, schedules)) for result in found]
        if stopped:
            raise stopped[0]
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
                await self._fail_uncounted(post, _gave_up(post.attempts, post.reason), now)
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
            result = await self._run_slot(
                schedule, slot, [row for row in rows if row.local_date == slot.local_date], now
            )
            if result is not None:
                results.append(result)
        return results

    async def _run_slot(
        self, schedule: DailySchedule, slot: Slot, day_rows: Sequence[DailyPost], now: dt.datetime
    ) -> PostResult | None:
        """Act on one due slot given its ledger rows: retry it, leave it (decided), skip it, or claim and post."""
        retry = next((row for row in day_rows if row.state == RETRY), None)
        if retry is not None:
            return await self._retry(schedule, retry, now)
        if day_rows:
            if all(row.state in FINAL_STATES for row in day_rows):
                self._decided.add((schedule.guild_id, slot.local_date))  # no need to read it again
            return None  # claimed (being posted), sent, skipped, failed or unknown: the day is decided
        if slot.skip_reason is not None:
            return await self._skip(schedule, slot, now)
        return await self._claim_and_post(schedule, slot, now)

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
        try:
            post = await self._store.claim(
                schedule.guild_id,
                schedule.channel_id,
                slot.local_date,
                slot.due_at,
                slot.deadline,
                self._token(),
                now,
                await self._chooser(schedule, schedule.guild_id, slot.local_date),
            )
        except NoEligibleCards as exc:
            return await self._no_cards(schedule, slot, str(exc), now)
        if post is None:
            return None  # another loop or process claimed this day first
        return await self._send(post, schedule.mode)

    async def _retry(self, schedule: DailySchedule, row: DailyPost, now: dt.datetime) -> PostResult | None:
        if row.retry_at is not None and row.retry_at > now:
            return None
        if now > row.deadline:
            return await self._fail_uncounted(row, _gave_up(row.attempts, row.reason), now)
        try:
            post = await self._store.reclaim(
                row.id,
                self._token(),
                now,
                exists=self._cards.exists,
                choose=await self._chooser(schedule, row.guild_id, row.local_date),
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
        return await self._send(post, schedule.mode)

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

    async def _send(self, post: DailyPost, mode: DailyMode) -> PostResult:
        assert post.card_id is not None
        assert post.claim_token is not None
        try:
            message_id = await self._poster(post.channel_id, post.card_id, post_nonce(post.id), mode)
        # Any poster error is classified and recorded (never silent). BaseExceptions (cancellation,
        # SystemExit) propagate and leave the claim: it becomes 'unknown' after the lease, never resent.
        except Exception as exc:  # noqa: BLE001
            return await self._failed(post, exc)
        sent_at = self.now()
        # The message is out: count the view first (record() never touches the database), so a ledger write
        # that fails below cannot lose it.
        try:
            self._views.record(
                ViewEvent(
                    card_id=post.card_id,
                    guild_id=post.guild_id,
                    channel_id=post.channel_id,
                    user_id=None,  # the bot posted it
                    command=VIEW_COMMAND,
                    at=sent_at,
                )
            )
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
        failure = self._classify(exc, post.channel_id)
        if failure.kind is FailureKind.TRANSIENT:
            return await self._transient(post, failure)
        return await self._permanent(post, failure, exc)

    async def _transient(self, post: DailyPost, failure: Failure) -> PostResult:
        """Retry later with the same card, unless a resend could post twice or the window closes first."""
        assert post.claim_token is not None
        now = self.now()
        attempts = post.attempts + 1
        retry_at = now + self.backoff(attempts)
        error = failure.message
        if failure.may_have_posted and self._since_first_try(attempts) > NONCE_WINDOW:
            error = (
                f"Not retried after {attempts} attempt(s): the send was not confirmed, so the post may have gone"
                f" out, and a resend this late could post it twice: {error}"
            )
            return await self._fail_uncounted(post, error, now)
        if retry_at > post.deadline:
            return await self._fail_uncounted(post, _gave_up(attempts, error), now)
        base = (post.guild_id, post.channel_id, post.local_date)
        if not await self._store.mark_retry(post.id, post.claim_token, attempts, retry_at, error, now):
            # The claim expired meanwhile (it is 'unknown' now): nothing will retry it.
            log.warning("Daily post %s failed after its claim expired; not retried: %s", post.id, error)
            return PostResult(*base, "failed", post.card_id, error=error)
        log.warning(
            "Daily post for guild %s on %s failed (attempt %d, transient), retrying at %s: %s",
            post.guild_id,
            post.local_date,
            attempts,
            retry_at.isoformat(),
            error,
        )
        return PostResult(*base, "retry", post.card_id, error=error, retry_at=retry_at)

    async def _permanent(self, post: DailyPost, failure: Failure, exc: Exception) -> PostResult:
        """Record the failure, counted towards pausing the schedule."""
        log.error(
            "Daily post for guild %s on %s failed (permanent): %s",
            post.guild_id,
            post.local_date,
            failure.message,
            exc_info=None if failure.expected else exc,
        )
        paused = await self._store.mark_failed(
            post.id, post.claim_token, failure.message, self.now(), count=True, pause_after=self.pause_after
        )
        if paused:
            log.error("Daily posts for guild %s paused: %s", post.guild_id, paused)
        return PostResult(
            post.guild_id,
            post.channel_id,
            post.local_date,
            "failed",
            post.card_id,
            error=failure.message,
            paused_reason=paused,
        )

    async def _fail_uncounted(self, post: DailyPost, error: str, now: dt.datetime) -> PostResult:
        """The day failed for want of time, not for a fault of the schedule: not counted towards a pause."""
        await self._store.mark_failed(post.id, post.claim_token, error, now, count=False, pause_after=None)
        log.error("Daily post for guild %s on %s: %s", post.guild_id, post.local_date, error)
        return PostResult(post.guild_id, post.channel_id, post.local_date, "failed", post.card_id, error=error)

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
        remaining = (self._wake_at - self.now()).total_seconds()
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

    def _next_slot(
        self, schedule: DailySchedule, today_rows: Sequence[DailyPost], now: dt.datetime
    ) -> tuple[Slot, DailyPost | None]:
        """The slot the next post belongs to, and its pending row (claimed/retry) if there is one.

        ``today_rows`` are the ledger rows of the schedule's local date at ``now``."""
        today = now.astimezone(zoneinfo.ZoneInfo(schedule.zone)).date()
        slot = slot_for(schedule, today, self.catch_up)
        pending = next((row for row in today_rows if row.state in {CLAIMED, RETRY}), None)
        if pending is not None:
            return slot, pending
        if not today_rows and slot.due_at >= schedule.active_from and now <= slot.deadline:
            return slot, None
        return slot_for(schedule, today + dt.timedelta(days=1), self.catch_up), None

    async def _today_rows(self, guild_id: int, schedule: DailySchedule | None, now: dt.datetime) -> list[DailyPost]:
        """The guild's ledger rows of its local date at ``now`` (UTC date without a schedule)."""
        zone: dt.tzinfo = zoneinfo.ZoneInfo(schedule.zone) if schedule else UTC
        return await self._store.posts_on(guild_id, [now.astimezone(zone).date()])

    async def preview(self, guild_id: int) -> str | None:
        """The card id the next daily post of this guild will show (``None``: no schedule or no cards)."""
        schedule = await self._store.get_schedule(guild_id)
        if schedule is None:
            return None
        now = self.now()
        slot, pending = self._next_slot(schedule, await self._today_rows(guild_id, schedule, now), now)
        if pending is not None and pending.card_id is not None:
            return pending.card_id
        return await self._pick(guild_id, slot.local_date, schedule)

    async def _pick(self, guild_id: int, local_date: dt.date, schedule: DailySchedule | None) -> str | None:
        choose = await self._chooser(schedule, guild_id, local_date)
        state = await self._store.rotation_state(guild_id)
        try:
            card_id, _ = choose(state)
        except NoEligibleCards:
            return None
        return card_id

    async def today(self, guild_id: int) -> str | None:
        """Today's card of the guild, stable all day: the posted (or being posted) card if there is one,
        else the deterministic pick for today. Without a schedule: all cards, UTC date."""
        schedule = await self._store.get_schedule(guild_id)
        now = self.now()
        rows = await self._today_rows(guild_id, schedule, now)
        for row in rows:
            if row.state in CARD_STATES and row.card_id is not None:
                return row.card_id
        zone: dt.tzinfo = zoneinfo.ZoneInfo(schedule.zone) if schedule else UTC
        return await self._pick(guild_id, now.astimezone(zone).date(), schedule)

    async def today_mode(self, guild_id: int) -> DailyMode:
        """How the guild's daily card is shown today: as the fact, or as a question (whose answer ``/fact today``
        must not give away)."""
        schedule = await self._store.get_schedule(guild_id)
        return schedule.mode if schedule is not None else "fact"

    async def status(self, guild_id: int) -> DailyStatus | None:
        """The guild's schedule, next post, last post, errors and recent problem days (None: never set)."""
        schedule = await self._store.get_schedule(guild_id)
        if schedule is None:
            return None
        now = self.now()
        today_rows = await self._today_rows(guild_id, schedule, now)
        next_post_at: dt.datetime | None = None
        if schedule.active:
            slot, pending = self._next_slot(schedule, today_rows, now)
            if pending is not None and pending.state == RETRY and pending.retry_at is not None:
                next_post_at = pending.retry_at
            else:
                next_post_at = slot.due_at
        return DailyStatus(
            schedule=schedule,
            next_post_at=next_post_at,
            today=today_rows[0] if today_rows else None,
            last_post=await self._store.last_sent(guild_id),
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
        mode: DailyMode = "fact",
    ) -> DailyStatus:
        """Create or replace the guild's schedule, enable it and clear a pause and the failure count; posts go out
        in ``mode`` (``fact`` unless told otherwise, also when an existing schedule is set again).

        Raises :class:`DailyError` for a bad time, zone or mode, or filters that match no card. A post already
        made today (in any channel) is not repeated; a new time later today still posts today.
        """
        if mode not in DAILY_MODES:
            raise DailyError(f"The mode must be one of {', '.join(DAILY_MODES)}.")
        when = parse_hhmm(post_time) if isinstance(post_time, str) else post_time.replace(second=0, microsecond=0)
        tz = resolve_zone(zone)
        topic = (topic or "").strip() or None
        collection = (collection or "").strip() or None
        if not self._cards.eligible(topic, collection, guild_id):
            filters = ", ".join(f"{k} {v!r}" for k, v in (("topic", topic), ("collection", collection)) if v)
            raise NoEligibleCards(f"No cards match {filters or 'the filters'}.")
        await self._store.upsert_schedule(guild_id, channel_id, when, tz.key, topic, collection, self.now(), mode=mode)
        self._poke()
        status = await self.status(guild_id)
        assert status is not None
        return status

    async def off(self, guild_id: int) -> bool:
        """Turn the guild's daily posts off; False if there was no schedule. History is kept."""
        changed = await self._store.disable(guild_id, self.now())
        self._poke()
        return changed
