"""Answers are acknowledged at once and written in batches, as views are.

:meth:`StudyRecorder.record` appends to a buffer and returns; a background task applies the buffer in one
transaction (:meth:`bot.storage.study.StudyStore.write_batch`, each answer through FSRS) at least every
``flush_interval`` seconds and as soon as ``max_batch`` answers wait. Session states ride in the same batch
(:meth:`StudyRecorder.save_session`): the latest state of each channel is written, or its row deleted, so a
crash loses at most the last ``flush_interval`` of a session (a clean shutdown loses nothing). A failed
write keeps the batch and retries with back-off; :meth:`StudyRecorder.close` writes what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable

from bot.storage.study import Answer, StudyStore

from .srs import Rating, Srs

__all__ = ["StudyRecorder"]

log = logging.getLogger(__name__)


class StudyRecorder:
    """The one writer of study answers and session states in this process."""

    def __init__(
        self, store: StudyStore, srs: Srs, *, flush_interval: float = 0.5, max_batch: int = 500, max_backoff: float = 30
    ) -> None:
        self._store = store
        self._srs = srs
        self.flush_interval = flush_interval
        self.max_batch = max_batch
        self.max_backoff = max_backoff
        self._answers: list[Answer] = []
        #: Per channel: the guild and a function giving the session's JSON (called at the write, so a session
        #: answered 200 times between two writes is serialised once), or None to delete it.
        self._sessions: dict[int, tuple[int, Callable[[], str]] | None] = {}
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        #: Answers written by this recorder (tests and benchmarks read it).
        self.written = 0

    @property
    def pending(self) -> int:
        """Answers and session changes not yet written."""
        return len(self._answers) + len(self._sessions)

    def record(self, answer: Answer) -> None:
        """Queue one answer. Never blocks."""
        self._answers.append(answer)
        if len(self._answers) >= self.max_batch:
            self._wake.set()

    def save_session(self, channel_id: int, guild_id: int, state: Callable[[], str] | None) -> None:
        """Queue the state of a channel's session, as ``state()`` gives it when written (``None``: the session is
        over, delete it)."""
        self._sessions[channel_id] = None if state is None else (guild_id, state)

    def _update(self, card_id: str, state: str | None, rating: int, at: dt.datetime) -> tuple[str, dt.datetime]:
        review = self._srs.review(card_id, state, Rating(rating), at)
        return review.state_json, review.due

    async def flush(self) -> None:
        """Write everything queued now, in one transaction."""
        async with self._lock:
            answers, sessions = self._answers, self._sessions
            if not answers and not sessions:
                return
            self._answers, self._sessions = [], {}
            try:
                states = {c: None if s is None else (s[0], s[1]()) for c, s in sessions.items()}
                await self._store.write_batch(answers, self._update, states)
            except BaseException:
                self._answers[:0] = answers
                for channel_id, state in sessions.items():
                    self._sessions.setdefault(channel_id, state)
                raise
            self.written += len(answers)

    def start(self) -> None:
        """Start the background writer (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="factdeck-study-recorder")

    async def _run(self) -> None:
        delay = self.flush_interval
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            self._wake.clear()
            try:
                await self.flush()
                delay = self.flush_interval
            except Exception:
                delay = min(delay * 2, self.max_backoff)
                log.exception("could not write %d study answers; retrying in %.0f s", len(self._answers), delay)

    async def close(self) -> None:
        """Stop the writer and write what is left (idempotent)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.flush()
