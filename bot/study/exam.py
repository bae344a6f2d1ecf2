"""An exam date: bring a topic's reviews forward so each card is recalled at least twice before the day.

Only due dates move; the FSRS state is never touched, so after the exam each card goes on from what its reviews
taught FSRS (the long-term schedule is not wrecked). After each review FSRS sets the card's next due date; the
plan is then applied again: a card with fewer than :data:`RECALLS` reviews since the exam was set is due at its
next slot (the time left split evenly), or at its FSRS date when that is sooner; a card with enough keeps its
FSRS date. Readiness is the share of the topic's cards FSRS predicts recalled on the day (never-studied cards
count as not recalled).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .srs import Srs

__all__ = ["RECALLS", "ExamPlan", "exam_start", "plan_exam", "readiness"]

#: Reviews each card gets before the exam.
RECALLS = 2


@dataclass(frozen=True, slots=True)
class ExamPlan:
    """New due dates (``{card_id: when}``) and the readiness predicted for the day."""

    due: dict[str, dt.datetime]
    readiness: float


def exam_start(day: dt.date) -> dt.datetime:
    """The exam is taken to begin at 00:00 UTC of its day."""
    return dt.datetime.combine(day, dt.time(), dt.UTC)


def readiness(srs: Srs, states: Sequence[str | None], day: dt.date) -> float:
    """The share of cards (states; ``None`` never studied) FSRS predicts recalled at the start of ``day``."""
    if not states:
        return 0.0
    when = exam_start(day)
    return sum(srs.retrievability(s, when) for s in states if s) / len(states)


def plan_exam(
    srs: Srs,
    card_ids: Sequence[str],
    states: Mapping[str, tuple[str, dt.datetime]],
    reviews_since: Mapping[str, int],
    day: dt.date,
    now: dt.datetime,
) -> ExamPlan:
    """Due dates for ``card_ids`` (``states``: ``{card_id: (state_json, due)}`` of those studied) so each gets
    :data:`RECALLS` reviews between ``now`` and ``day`` (``reviews_since``: reviews since the exam was set)."""
    start = exam_start(day)
    due: dict[str, dt.datetime] = {}
    span = max(start - now, dt.timedelta(0))
    for card_id in card_ids:
        left = RECALLS - reviews_since.get(card_id, 0)
        stored = states.get(card_id)
        if left <= 0:
            continue
        slot = now + span / (left + 1) if stored is not None else now
        due[card_id] = min(stored[1], slot) if stored is not None else slot
    return ExamPlan(due, readiness(srs, [states[c][0] if c in states else None for c in card_ids], day))
