"""The study desk: what the Discord cog asks of study mode, with no Discord in it.

It holds the running group sessions (one per channel, also saved through the recorder so a restart resumes them),
picks a session's cards, derives each question from the current library, checks answers, turns answers and
personal reviews into FSRS reviews (batched by :class:`bot.study.recorder.StudyRecorder`), and reads a member's
progress, streak, exam readiness and the server leaderboard.

A card's schedule is kept under an *answer key* (the folded answer of its first question): an edited card whose
answer is unchanged keeps its schedule; a changed answer starts it afresh. Cards no longer in the library are
left out of reviews and progress (their rows stay until ``/study forget``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import random
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bot.cards.library import Library, audience_of_key, visible
from bot.cards.model import Card
from bot.service import CardDetail, CardService
from bot.storage.study import Answer, DueCard, StudyStore
from bot.util.text import fold, topic_key

from .exam import ExamPlan, exam_start, plan_exam, readiness
from .questions import Question, answer_matches, questions_for
from .recorder import StudyRecorder
from .session import Outcome, Session, new_session
from .srs import Rating, Srs, rating_for

__all__ = ["Progress", "ReviewItem", "StudyDesk", "StudyError"]

Mode = Literal["cloze", "choice"]
#: Days of reviews and of cards coming due that /study progress draws.
PAST_DAYS, AHEAD_DAYS = 14, 14


class StudyError(Exception):
    """A request study mode refuses; the message is for the member."""


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """A card to review and its question."""

    detail: CardDetail
    question: Question


@dataclass(frozen=True, slots=True)
class Progress:
    """What /study progress shows."""

    studied: int
    learned: int
    due_today: int
    due_week: int
    retention: float | None
    reviews_by_day: list[tuple[dt.date, int]]
    coming: list[tuple[dt.date, int]]
    exams: list[tuple[str, dt.date, float]]
    streak: int | None


def answer_key(card: Card, questions: Sequence[Question]) -> str:
    """What a member's schedule for ``card`` was learned for: its first question's answer (folded), or the text."""
    basis = fold(questions[0].answer) if questions else card.text
    return hashlib.sha256(basis.encode()).hexdigest()[:16]


class StudyDesk:
    """Sessions, questions, answers and progress over the card service, the study store and FSRS."""

    def __init__(
        self,
        service: CardService,
        store: StudyStore,
        recorder: StudyRecorder,
        srs: Srs,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.service = service
        self.store = store
        self.recorder = recorder
        self.srs = srs
        self.rng = rng or random.Random()
        self.sessions: dict[int, Session] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._derived: dict[str, tuple[Question, ...]] = {}
        self._derived_for: Library | None = None
        #: The topic of each member's running personal review (None: only due cards).
        self._review_topics: dict[int, str | None] = {}

    def lock(self, channel_id: int) -> asyncio.Lock:
        """The lock that orders everything done to one channel's session."""
        return self._locks.setdefault(channel_id, asyncio.Lock())

    # -- questions -----------------------------------------------------------------------------------
    def questions(self, card_id: str) -> tuple[CardDetail, tuple[Question, ...]] | None:
        """A card (as now in the library) and its questions; None when it is gone. Whose card it is was checked
        where its id came from (a server's pool, a session, the member's own reviews in that server)."""
        detail = self.service.detail(card_id, viewer=audience_of_key(card_id))
        if detail is None:
            return None
        return detail, self._questions_of(detail.card)

    def _key(self, card: Card) -> str:
        """The card's answer key, from all its questions (the same however it was asked)."""
        return answer_key(card, self._questions_of(card))

    def _questions_of(self, card: Card) -> tuple[Question, ...]:
        """``questions_for(card)``, derived once per card and library (a click must not re-derive it)."""
        library = self.service.library
        if library is not self._derived_for:
            self._derived.clear()
            self._derived_for = library
        found = self._derived.get(card.id)
        if found is None:
            found = self._derived[card.id] = questions_for(card, library)
        return found

    def question(self, card_id: str, mode: Mode) -> tuple[CardDetail, Question] | None:
        """The card's question of ``mode`` (or its cloze when it has no choice question); None when it has none."""
        found = self.questions(card_id)
        if found is None or not found[1]:
            return None
        detail, questions = found
        wanted = [q for q in questions if q.kind == mode] or [q for q in questions if q.kind == "cloze"]
        return (detail, wanted[0]) if wanted else None

    # -- group sessions ------------------------------------------------------------------------------
    def start(
        self,
        *,
        guild_id: int,
        channel_id: int,
        starter_id: int,
        topic: str | None,
        collection: str | None,
        count: int,
        mode: Mode,
        seconds: int,
    ) -> Session:
        """A new session in ``channel_id`` (raises :class:`StudyError` when one runs or no card fits)."""
        if channel_id in self.sessions:
            raise StudyError("A study session is already running in this channel: `/study stop` ends it.")
        pool = list(self.service.pool(topic=topic, collection=collection, viewer=guild_id))
        if not pool:
            pick = self.service.random(topic=topic, collection=collection, viewer=guild_id)
            raise StudyError(pick.message or "No card fits those filters.")
        self.rng.shuffle(pool)
        chosen: list[str] = []
        for card_id in pool:
            found = self.question(card_id, mode)
            if found is not None and found[1].kind == mode:
                chosen.append(card_id)
                if len(chosen) >= count:
                    break
        if not chosen:
            raise StudyError(f"None of those cards makes a {mode} question; try the other mode or another topic.")
        session = new_session(
            guild_id=guild_id, channel_id=channel_id, starter_id=starter_id, card_ids=chosen, mode=mode, seconds=seconds
        )
        self.sessions[channel_id] = session
        return session

    def current(self, session: Session) -> tuple[CardDetail, Question] | None:
        """The current question, skipping cards removed meanwhile; None when none is left (the session ended)."""
        while True:
            found = self.question(session.card_id, session.mode)
            if found is not None:
                return found
            if not session.drop_current():
                return None

    def save(self, session: Session) -> None:
        """Queue the session's state (deleted when it has ended)."""
        ended = session.phase == "ended"
        self.recorder.save_session(session.channel_id, session.guild_id, None if ended else session.to_json)
        if ended:
            self.sessions.pop(session.channel_id, None)

    def end(self, session: Session) -> None:
        """End ``session`` now and forget it."""
        session.phase = "ended"
        self.save(session)

    def may_type(self, session: Session, user_id: int, index: int) -> Outcome | None:
        """Why ``user_id`` may not type an answer to question ``index`` (None: they may; the cloze form opens)."""
        refused = session.refusal(user_id, index)
        if refused is not None:
            return refused
        found = self.question(session.card_id, session.mode)
        return "buttons" if found is not None and found[1].kind == "choice" else None

    def choose(self, session: Session, user_id: int, index: int, choice: int, now: dt.datetime) -> tuple[Outcome, bool]:
        """Record ``user_id``'s pick of choice number ``choice`` (from 0) for question ``index``; like
        :meth:`answer`. A choice the question does not have (a forged button) is stale."""
        found = self.question(session.card_id, session.mode) if index == session.index else None
        if found is None or found[1].kind != "choice" or not 0 <= choice < len(found[1].choices):
            return session.refusal(user_id, index) or "stale", False
        return self._answer(session, user_id, index, found[1].choices[choice], now)

    def answer(self, session: Session, user_id: int, index: int, given: str, now: dt.datetime) -> tuple[Outcome, bool]:
        """Record ``user_id``'s typed answer to question ``index``: the outcome and whether it was right. A
        choice question takes no typed answer (only one of its four choices)."""
        refused = self.may_type(session, user_id, index)
        if refused is not None:
            return refused, False
        return self._answer(session, user_id, index, given, now)

    def _answer(self, session: Session, user_id: int, index: int, given: str, now: dt.datetime) -> tuple[Outcome, bool]:
        found = self.question(session.card_id, session.mode) if index == session.index else None
        if found is None:
            return session.answer(user_id, -1, given, False, now), False
        detail, question = found
        correct = answer_matches(given, question)
        outcome = session.answer(user_id, index, given, correct, now)
        if outcome == "recorded":
            limit = float(session.seconds)
            rating = rating_for(correct, seconds=session.answers[user_id].seconds, limit=limit)
            self._record(user_id, session.guild_id, detail.card, rating, correct, "session", now)
            self.save(session)
        return outcome, correct and outcome == "recorded"

    def _record(
        self,
        user_id: int,
        guild_id: int | None,
        card: Card,
        rating: Rating,
        correct: bool,
        source: str,
        now: dt.datetime,
    ) -> None:
        key = self._key(card)
        self.recorder.record(Answer(user_id, guild_id, card.id, int(rating), correct, source, key, now))

    async def resume(self) -> list[Session]:
        """Load the sessions saved before a restart."""
        loaded = []
        for channel_id, _guild_id, state in await self.store.sessions():
            try:
                session = Session.from_json(state)
            except ValueError:
                self.recorder.save_session(channel_id, _guild_id, None)
                continue
            self.sessions[channel_id] = session
            loaded.append(session)
        return loaded

    # -- personal reviews ----------------------------------------------------------------------------
    async def review(
        self, user_id: int, topic: str | None, now: dt.datetime, viewer: int | None = None
    ) -> list[ReviewItem]:
        """Start a personal review (``/study review [topic]``): the cards :meth:`due`; the topic is kept for
        :meth:`next_review`, so the review goes on through the topic's new cards after each rating."""
        self._review_topics[user_id] = topic
        return await self.due(user_id, topic, now, viewer=viewer)

    async def next_review(self, user_id: int, now: dt.datetime, viewer: int | None = None) -> list[ReviewItem]:
        """What is left of the member's review after a rating (after a restart, without its topic: the due cards)."""
        return await self.due(user_id, self._review_topics.get(user_id), now, viewer=viewer)

    async def due(
        self, user_id: int, topic: str | None, now: dt.datetime, limit: int = 20, viewer: int | None = None
    ) -> list[ReviewItem]:
        """The member's due cards that ``viewer`` (the server reviewed in; None: a direct message) sees, still in
        the library with the same answer; then, with a topic, new ones."""
        await self.recorder.flush()
        wanted = set(self.service.pool(topic=topic, viewer=viewer)) if topic else None
        items: list[ReviewItem] = []
        for row in await self.store.due(user_id, now, limit=500):
            if not visible(row.card_id, viewer):
                continue
            item = self._item(row.card_id, wanted)
            if item is not None and self._key(item.detail.card) == row.answer_key:
                items.append(item)
            if len(items) >= limit:
                return items
        if wanted is not None and len(items) < limit:
            studied = {row.card_id for row in await self.store.states(user_id)}
            for card_id in self.service.pool(topic=topic, viewer=viewer):
                if card_id not in studied:
                    item = self._item(card_id, wanted)
                    if item is not None:
                        items.append(item)
                if len(items) >= limit:
                    break
        return items

    def _item(self, card_id: str, wanted: set[str] | None) -> ReviewItem | None:
        if wanted is not None and card_id not in wanted:
            return None
        found = self.question(card_id, "cloze")
        return None if found is None else ReviewItem(*found)

    async def rate(self, user_id: int, guild_id: int | None, card_id: str, rating: Rating, now: dt.datetime) -> None:
        """Record a personal review of ``card_id`` (the served key of the card reviewed, one the member sees where
        they rate it), then re-plan any exam it belongs to."""
        detail = self.service.detail(card_id, viewer=guild_id, exact=True)
        if detail is None:
            raise StudyError("That card is no longer in the library.")
        self._record(user_id, guild_id, detail.card, rating, rating != Rating.Again, "review", now)
        await self.recorder.flush()
        topics = {topic_key(t) for t in detail.card.topics}
        for topic, day, since in await self._exams(user_id, guild_id):
            if topic in topics and exam_start(day) > now:
                await self.plan(user_id, topic, day, now, since=since)

    async def _exams(self, user_id: int, guild_id: int | None) -> list[tuple[str, dt.date, dt.datetime | None]]:
        """The member's own exams, then those of the server they study in: ``(topic key, date, set at)``."""
        own: list[tuple[str, dt.date, dt.datetime | None]] = [(t, d, None) for t, d in await self.store.exams(user_id)]
        server = await self.store.guild_exams(guild_id) if guild_id is not None else []
        return own + [(t, d, at) for t, d, at in server]

    # -- progress, streaks, leaderboard, exams -------------------------------------------------------
    async def _states(self, user_id: int) -> list[DueCard]:
        await self.recorder.flush()
        return [row for row in await self.store.states(user_id) if row.card_id in self.service.library.cards]

    async def progress(self, user_id: int, now: dt.datetime, guild_id: int | None = None) -> Progress:
        """Cards studied and learned, due today and this week, retention, and the two series of the chart. Days
        are the member's own (in their streak's time zone, when they set one; else UTC)."""
        states = await self._states(user_id)
        stats = await self.store.stats(user_id, now, days=PAST_DAYS)
        zone = await self._zone(user_id)
        today = now.astimezone(zone).date()
        end_of_day = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), zone)
        coming = {today + dt.timedelta(days=i): 0 for i in range(AHEAD_DAYS)}
        for row in states:
            day = max(row.due.astimezone(zone).date(), today)
            if day in coming:
                coming[day] += 1
        exams = []
        by_id = {row.card_id: row.state for row in states}
        for topic, day, server in await self._exams(user_id, guild_id):
            cards = self.service.pool(topic=topic)
            label = f"{topic} (server)" if server is not None else topic
            exams.append((label, day, self._readiness([by_id.get(c) for c in cards], day)))
        return Progress(
            studied=len(states),
            learned=sum(1 for row in states if self.srs.learned(row.state)),
            due_today=sum(1 for row in states if row.due < end_of_day),
            due_week=sum(1 for row in states if row.due < end_of_day + dt.timedelta(days=6)),
            retention=stats.correct / stats.answered if stats.answered else None,
            reviews_by_day=stats.reviews_by_day,
            coming=sorted(coming.items()),
            exams=exams,
            streak=await self.streak(user_id, now),
        )

    def _readiness(self, states: Sequence[str | None], day: dt.date) -> float:
        return readiness(self.srs, states, day)

    async def _zone(self, user_id: int) -> dt.tzinfo:
        """The member's time zone (set with their streak), else UTC."""
        name = await self.store.streak_zone(user_id)
        try:
            return zoneinfo.ZoneInfo(name) if name else dt.UTC
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return dt.UTC

    async def streak(self, user_id: int, now: dt.datetime) -> int | None:
        """Days in a row (ending today or yesterday, in the member's zone) with a review; None when off."""
        zone_name = await self.store.streak_zone(user_id)
        if zone_name is None:
            return None
        zone = zoneinfo.ZoneInfo(zone_name)
        days = {at.astimezone(zone).date() for at in await self.store.review_days(user_id, now - dt.timedelta(400))}
        day = now.astimezone(zone).date()
        if day not in days:
            day -= dt.timedelta(days=1)
        count = 0
        while day in days:
            count += 1
            day -= dt.timedelta(days=1)
        return count

    async def set_streak(self, user_id: int, on: bool, zone: str) -> None:
        """Turn streaks on (in ``zone``, an IANA name) or off."""
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise StudyError(f"“{zone}” is not a time zone I know (try Europe/Berlin or America/New_York).") from exc
        await self.store.set_streak(user_id, on, zone)

    async def leaderboard(self, guild_id: int, now: dt.datetime) -> list[tuple[int, int, int]]:
        """The last 30 days in ``guild_id``: ``[(user_id, correct, answered)]`` by correct recalls."""
        await self.recorder.flush()
        return await self.store.leaderboard(guild_id, now - dt.timedelta(days=30))

    def _check_exam(self, topic: str, day: dt.date, now: dt.datetime) -> None:
        if not self.service.pool(topic=topic):
            raise StudyError(f"No card has the topic “{topic}”.")
        if exam_start(day) <= now:
            raise StudyError("The exam date must be in the future.")

    async def set_exam(self, user_id: int, topic: str, day: dt.date, now: dt.datetime) -> ExamPlan:
        """Record an exam on ``topic`` on ``day`` and bring the topic's reviews forward."""
        self._check_exam(topic, day, now)
        await self.store.set_exam(user_id, topic_key(topic), day)
        return await self.plan(user_id, topic_key(topic), day, now)

    async def set_server_exam(self, guild_id: int, topic: str, day: dt.date, now: dt.datetime) -> int:
        """Record a server's exam (a moderator's) and plan it for every member who studies there; how many."""
        self._check_exam(topic, day, now)
        await self.recorder.flush()
        await self.store.set_guild_exam(guild_id, topic_key(topic), day)
        members = await self.store.guild_members(guild_id)
        for user_id in members:
            await self.plan(user_id, topic_key(topic), day, now, since=now)
        return len(members)

    async def plan(
        self, user_id: int, topic: str, day: dt.date, now: dt.datetime, *, since: dt.datetime | None = None
    ) -> ExamPlan:
        """Apply the exam plan of ``topic`` for the member (see :mod:`bot.study.exam`); reviews are counted from
        ``since`` (default: when the member set their exam)."""
        cards = self.service.pool(topic=topic)
        states = {row.card_id: (row.state, row.due) for row in await self._states(user_id)}
        since = since or await self.store.exam_set_at(user_id, topic) or now
        counts = await self.store.review_counts(user_id, cards, since)
        plan = plan_exam(self.srs, cards, states, counts, day, now)
        await self.store.reschedule(user_id, {c: when for c, when in plan.due.items() if c in states})
        return plan

    async def forget(self, user_id: int) -> int:
        """Delete all of the member's study data (answers waiting to be written first); how many answers."""
        await self.recorder.flush()
        self._review_topics.pop(user_id, None)
        return await self.store.forget(user_id)
