"""Spaced repetition per member through py-fsrs (``fsrs``): this module only adapts it, it schedules nothing itself.

A member's state for a card is py-fsrs's :class:`fsrs.Card` as its own JSON (stored as is in the database), and
every review goes through :meth:`fsrs.Scheduler.review_card`. Times are UTC (py-fsrs refuses anything else) and
come from an injected clock, so tests move time by hand; fuzzing is on in production and off in tests.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from fsrs import Card as FsrsCard
from fsrs import Rating, Scheduler, State

__all__ = ["Clock", "Rating", "Review", "Srs", "rating_for", "utcnow"]

Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    """Now, in UTC."""
    return dt.datetime.now(dt.UTC)


def _utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("study times must be aware datetimes (UTC)")
    return moment.astimezone(dt.UTC)


def rating_for(correct: bool, *, seconds: float | None = None, limit: float | None = None) -> Rating:
    """The rating a quiz answer counts as: wrong is Again; right is Good, or Easy when given in the first fifth of
    the time (a fast, sure recall), or Hard in the last fifth."""
    if not correct:
        return Rating.Again
    if seconds is not None and limit:
        if seconds <= limit / 5:
            return Rating.Easy
        if seconds >= limit * 4 / 5:
            return Rating.Hard
    return Rating.Good


@dataclass(frozen=True, slots=True)
class Review:
    """The outcome of one review: the new state (py-fsrs JSON) and when the card is due next."""

    state_json: str
    due: dt.datetime
    rating: Rating
    at: dt.datetime


class Srs:
    """py-fsrs's scheduler with a clock: ``review(state_json, rating)`` gives the next state and due date."""

    def __init__(self, *, clock: Clock = utcnow, fuzzing: bool = True, desired_retention: float = 0.9) -> None:
        self.clock = clock
        self.scheduler = Scheduler(desired_retention=desired_retention, enable_fuzzing=fuzzing)

    def now(self) -> dt.datetime:
        """The clock's time, in UTC."""
        return _utc(self.clock())

    @staticmethod
    def new_card(card_id: str, at: dt.datetime) -> FsrsCard:
        """A card never reviewed (its numeric id is derived from ours; py-fsrs would otherwise sleep to make one)."""
        return FsrsCard(card_id=zlib.crc32(card_id.encode()), due=_utc(at))

    @staticmethod
    def load(state_json: str) -> FsrsCard:
        """A state as stored."""
        return FsrsCard.from_json(state_json)

    def review(self, card_id: str, state_json: str | None, rating: Rating, at: dt.datetime | None = None) -> Review:
        """Review ``card_id`` (state ``state_json``; ``None``: first time) with ``rating`` at ``at`` (default now)."""
        when = _utc(at) if at is not None else self.now()
        card = self.load(state_json) if state_json else self.new_card(card_id, when)
        reviewed, _log = self.scheduler.review_card(card, rating, review_datetime=when)
        return Review(reviewed.to_json(), _utc(reviewed.due), rating, when)

    def retrievability(self, state_json: str, at: dt.datetime | None = None) -> float:
        """The chance FSRS gives that the card is recalled at ``at`` (default now)."""
        return float(self.scheduler.get_card_retrievability(self.load(state_json), at or self.now()))

    def learned(self, state_json: str) -> bool:
        """True once a card has left the learning steps (it is in review)."""
        return self.load(state_json).state == State.Review
