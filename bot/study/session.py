"""The group study session of one channel, as a state machine with no I/O (the Discord cog drives it).

One question at a time: ``asking`` (members answer, once each; the first answer joins them), then ``revealed``
(answers refused), then the next question or ``ended``. The reveal comes when the time is up
(:meth:`Session.expired`), when everyone who had joined before the question has answered
(:meth:`Session.everyone_answered`), or on request by the starter or a moderator (the cog checks who asks). The
whole state is one JSON document (:meth:`Session.to_json`), saved at every change, so a restart resumes it.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Literal

import msgspec

__all__ = ["MAX_ANSWER", "Lead", "Outcome", "Result", "Session", "Summary", "new_session"]

Phase = Literal["asking", "revealed", "ended"]
Outcome = Literal["recorded", "twice", "closed", "stale", "too_long", "empty", "buttons"]
#: Who may reveal or stop a session: ``ok``; ``starter_only`` (the starter or a moderator); ``starter_left`` (the
#: starter has left the server, so anyone who answered may, but this member has not).
Lead = Literal["ok", "starter_only", "starter_left"]
#: The longest answer accepted (a modal allows no more; a forged one is refused, not cut).
MAX_ANSWER = 200


class Given(msgspec.Struct, kw_only=True):
    """One member's answer to the current question."""

    text: str
    correct: bool
    seconds: float


class Result(msgspec.Struct, kw_only=True):
    """How one asked question went."""

    card_id: str
    right: int
    total: int


class Session(msgspec.Struct, kw_only=True):
    """A running session. Mutable; the cog holds it under its channel's lock."""

    token: str
    guild_id: int
    channel_id: int
    starter_id: int
    card_ids: list[str]
    mode: Literal["cloze", "choice"]
    seconds: int
    index: int = 0
    phase: Phase = "asking"
    asked_at: dt.datetime | None = None
    message_id: int | None = None
    joined: list[int] = msgspec.field(default_factory=list)
    expected: list[int] = msgspec.field(default_factory=list)
    answers: dict[int, Given] = msgspec.field(default_factory=dict)
    scores: dict[int, int] = msgspec.field(default_factory=dict)
    results: list[Result] = msgspec.field(default_factory=list)

    # -- reading ---------------------------------------------------------------------------------------
    @property
    def card_id(self) -> str:
        """The card of the current question."""
        return self.card_ids[self.index]

    @property
    def number(self) -> int:
        """The current question's number, from 1."""
        return self.index + 1

    def deadline(self) -> dt.datetime | None:
        """When the current question's time is up."""
        return None if self.asked_at is None else self.asked_at + dt.timedelta(seconds=self.seconds)

    def expired(self, now: dt.datetime) -> bool:
        """True when the current question is still open and its time is up."""
        deadline = self.deadline()
        return self.phase == "asking" and deadline is not None and now >= deadline

    def everyone_answered(self) -> bool:
        """True when every member who had joined before this question has answered it (and there were some)."""
        return bool(self.expected) and all(user in self.answers for user in self.expected)

    # -- changes ---------------------------------------------------------------------------------------
    def ask(self, now: dt.datetime, message_id: int | None = None) -> None:
        """Open the current question at ``now``."""
        self.phase = "asking"
        self.asked_at = now
        self.message_id = message_id
        self.answers = {}
        self.expected = list(self.joined)

    def reopen(self, now: dt.datetime) -> None:
        """After a restart: give the current question its full time again from ``now``, keeping its answers."""
        self.phase = "asking"
        self.asked_at = now

    def refusal(self, user_id: int, index: int) -> Outcome | None:
        """Why ``user_id`` may not answer question ``index`` now (None: they may)."""
        if index != self.index or self.phase == "ended":
            return "stale"
        if self.phase != "asking":
            return "closed"
        if user_id in self.answers:
            return "twice"
        return None

    def may_lead(self, user_id: int, *, moderator: bool, starter_left: bool) -> Lead:
        """Whether ``user_id`` may reveal or stop the session: its starter or a moderator may; once the starter
        has left the server (``starter_left``), so may anyone who answered."""
        if user_id == self.starter_id or moderator:
            return "ok"
        if starter_left:
            return "ok" if user_id in self.joined else "starter_left"
        return "starter_only"

    def answer(self, user_id: int, index: int, text: str, correct: bool, now: dt.datetime) -> Outcome:
        """Record ``user_id``'s answer to question ``index``; say why when it is refused."""
        refused = self.refusal(user_id, index)
        if refused is not None:
            return refused
        if len(text) > MAX_ANSWER:
            return "too_long"
        if not text.strip():
            return "empty"
        seconds = 0.0 if self.asked_at is None else max((now - self.asked_at).total_seconds(), 0.0)
        self.answers[user_id] = Given(text=text, correct=correct, seconds=seconds)
        if user_id not in self.joined:
            self.joined.append(user_id)
        return "recorded"

    def reveal(self) -> Result:
        """Close the current question; count it in the scores and results."""
        right = sum(1 for given in self.answers.values() if given.correct)
        result = Result(card_id=self.card_id, right=right, total=len(self.answers))
        if self.phase == "asking":
            self.phase = "revealed"
            for user_id, given in self.answers.items():
                self.scores[user_id] = self.scores.get(user_id, 0) + int(given.correct)
            self.results.append(result)
        return result

    def advance(self) -> bool:
        """Move to the next question (``ask`` opens it); False when there is none left (the session ends)."""
        if self.index + 1 >= len(self.card_ids):
            self.phase = "ended"
            return False
        self.index += 1
        self.phase = "asking"
        self.asked_at = None
        self.answers = {}
        return True

    def drop_current(self) -> bool:
        """Skip the current card (it was removed from the library); like :meth:`advance`."""
        self.phase = "revealed"
        return self.advance()

    def summary(self) -> Summary:
        """Score per member (best first) and the hardest card: the lowest share right among the questions someone
        got wrong (none when everybody got everything right)."""
        ranking = sorted(
            ((user, self.scores.get(user, 0)) for user in self.joined), key=lambda item: (-item[1], item[0])
        )
        answered = [r for r in self.results if r.right < r.total]
        hardest = min(answered, key=lambda r: r.right / r.total) if answered else None
        return Summary(ranking, hardest, len(self.results))

    # -- storage -----------------------------------------------------------------------------------------
    def to_json(self) -> str:
        """The whole state as JSON."""
        return msgspec.json.encode(self).decode()

    @classmethod
    def from_json(cls, raw: str) -> Session:
        """A state saved by :meth:`to_json`."""
        return msgspec.json.decode(raw, type=cls)


@dataclass(frozen=True, slots=True)
class Summary:
    """The end of a session: ``[(user_id, score)]`` best first, the hardest card, how many questions were asked."""

    ranking: list[tuple[int, int]]
    hardest: Result | None
    asked: int


def new_session(
    *,
    guild_id: int,
    channel_id: int,
    starter_id: int,
    card_ids: list[str],
    mode: Literal["cloze", "choice"],
    seconds: int,
) -> Session:
    """A session over ``card_ids`` with a fresh token (the token is in its buttons, so old buttons are told apart)."""
    return Session(
        token=secrets.token_hex(4),
        guild_id=guild_id,
        channel_id=channel_id,
        starter_id=starter_id,
        card_ids=card_ids,
        mode=mode,
        seconds=seconds,
    )
