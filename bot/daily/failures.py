"""What the engine does when a post could not be sent: the surface classifies, the engine decides.

The surface that sends posts knows its own exceptions; it passes the engine a :data:`Classifier` that turns one
into a :class:`Failure`: transient or permanent, a one-line message in its own words (for status and logs), whether
the send may have gone out anyway, and whether the exception was one it expected (an unexpected one is logged with
its traceback). The Discord classifier is :func:`bot.discord.daily_failures.classify`.

* **Permanent** (no permission, unknown channel, a bad request, a bug): the day is ``failed``, ``last_error`` is
  set and ``failures`` incremented; after ``pause_after`` (3) consecutive permanent failures the schedule is
  paused (``paused_reason``).
* **Transient** (server errors, rate limits, timeouts, network errors): the claim is released to state ``retry``
  (same card) with exponential backoff (30 s, 1 min, 2 min, ... capped at 30 min) while within the catch-up window;
  then the day is ``failed`` ("gave up"). A successful post resets ``failures``.
* **Maybe posted.** Each day's post is sent with the same nonce (:func:`post_nonce`) on every attempt, so a resend
  the receiving end already got returns the message that went out. Nonces are remembered for a few minutes
  only (:data:`NONCE_WINDOW`): a send that may have gone out is not resent after that, the day is ``failed``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Callable

__all__ = ["NONCE_WINDOW", "Classifier", "Failure", "FailureKind", "post_nonce"]

#: How long a resend may rely on the post's nonce to be recognised (Discord keeps nonces a few minutes).
NONCE_WINDOW = dt.timedelta(minutes=4)


def post_nonce(post_id: int) -> str:
    """The nonce a day's post is sent with, the same on every attempt (at most 25 characters)."""
    return f"fd{post_id}"


class FailureKind(enum.Enum):
    """How a failed send is handled."""

    TRANSIENT = "transient"  # retry with backoff
    PERMANENT = "permanent"  # record, count towards pausing


@dataclasses.dataclass(frozen=True, slots=True)
class Failure:
    """A failed send, as the surface that made it understands it."""

    kind: FailureKind
    #: One line for status and logs, in the surface's words (e.g. which permission is missing).
    message: str
    #: Whether the send may have created the message anyway (no answer came back), so a resend could repeat it.
    may_have_posted: bool = True
    #: False for an exception the surface did not foresee (a bug): it is logged with its traceback.
    expected: bool = True


#: ``classify(exception, channel_id) -> Failure``: the surface's reading of an exception its poster raised.
Classifier = Callable[[Exception, int], Failure]
