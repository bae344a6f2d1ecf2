"""A guard that turns a freeze into a test failure: code that never returns is interrupted by SIGALRM.

A splitter that loops forever holds the event loop, so no ``asyncio`` timeout can fire; a signal still reaches
the main thread between two bytecodes and raises :class:`Frozen` where the code is stuck.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType


class Frozen(Exception):
    """The guarded code did not return in time."""


@contextlib.contextmanager
def no_freeze(seconds: float = 20.0) -> Iterator[None]:
    """Raise :class:`Frozen` in the main thread if the block has not finished after ``seconds``."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise Frozen(f"still running after {seconds} s: the code never returns")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
