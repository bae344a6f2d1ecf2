"""Card edits seen by every process: a lock per card file across processes, and a notice after each write.

Several bot processes serve one folder of card files (a volume they all mount) and share one PostgreSQL
database. A moderator's write takes :meth:`CardBus.lock` on the file, a PostgreSQL advisory lock (besides the
curator's in-process lock), so two processes never write the same file at once; after the rename it calls
:meth:`CardBus.announce`, a ``NOTIFY`` on :data:`CHANNEL` with the file (relative to the cards folder) and its
digest. Every process :meth:`CardBus.follow`\\ s the channel on a connection of its own: each notice from another
process is handed to ``on_change`` at once, and after every (re)connect ``on_connect`` runs, so a process that was
down or lost its connection reconciles (compares the digests of the files with what it serves).

On SQLite there is one process: the lock is a no-op, nothing is announced and there is nothing to follow.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg

from .db import PASSWORD_ENV, Database, display_target
from .engines import CONNECT_FAULTS, translate_postgres_error

__all__ = ["CHANNEL", "CardBus"]

log = logging.getLogger(__name__)

#: The NOTIFY channel of card-file writes.
CHANNEL = "factdeck_cards"
#: Seconds between attempts to reconnect the listening connection.
RECONNECT_EVERY = 1.0

OnChange = Callable[[str, str], Awaitable[None]]
OnConnect = Callable[[], Awaitable[None]]


def lock_key(file: str) -> int:
    """The advisory lock key of a card file: 64 signed bits of its name's digest (any process gets the same)."""
    return int.from_bytes(
        hashlib.blake2b(f"factdeck-card-file:{file}".encode(), digest_size=8).digest(), "big", signed=True
    )


class CardBus:
    """File locks and change notices between the processes that share ``db`` (PostgreSQL; no-ops on SQLite)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        #: This process, in every notice it sends: its own notices are not handed back to it.
        self.origin = uuid.uuid4().hex
        self._task: asyncio.Task[None] | None = None
        #: Notices received from other processes (for the logs and the tests).
        self.received = 0
        #: Times the listening connection was tried, and (re)made.
        self.attempts = 0
        self.connects = 0

    @property
    def shared(self) -> bool:
        """Whether other processes may share the card files (the database is PostgreSQL)."""
        return self._db.engine == "postgresql"

    @contextlib.asynccontextmanager
    async def lock(self, file: str) -> AsyncIterator[None]:
        """Hold the cross-process lock of ``file`` (waits while another process writes it)."""
        if not self.shared:
            yield
            return
        async with self._db.dedicated() as conn:
            key = lock_key(file)
            with translate_postgres_error():
                await conn.execute("SELECT pg_advisory_lock($1)", key)
            try:
                yield
            finally:
                with contextlib.suppress(*CONNECT_FAULTS):  # a lost session frees it
                    await conn.execute("SELECT pg_advisory_unlock($1)", key)

    async def announce(self, file: str, digest: str) -> None:
        """Tell the other processes that ``file`` (relative to the cards folder) now has ``digest``."""
        if not self.shared:
            return
        payload = json.dumps({"file": file, "digest": digest, "origin": self.origin})
        await self._db.execute("SELECT pg_notify(?, ?)", (CHANNEL, payload))

    def follow(self, on_change: OnChange, on_connect: OnConnect) -> None:
        """Start listening (PostgreSQL only; call it once): ``on_change(file, digest)`` for each notice from another
        process, ``on_connect()`` after each (re)connect. Stopped by :meth:`close`."""
        if self.shared and self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._listen(on_change, on_connect), name="factdeck-card-follower"
            )

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _listen(self, on_change: OnChange, on_connect: OnConnect) -> None:
        notices: asyncio.Queue[str] = asyncio.Queue()
        said: str | None = None  # the last connection fault logged: said once, not every second
        while True:
            self.attempts += 1
            try:
                conn = await asyncpg.connect(self._db.path, password=os.environ.get(PASSWORD_ENV) or None)
            except CONNECT_FAULTS as exc:
                if str(exc) != said:
                    said = str(exc)
                    log.warning("cannot follow card edits on %s yet (%s); retrying", display_target(self._db.path), exc)
                await asyncio.sleep(RECONNECT_EVERY)
                continue
            said = None
            lost = asyncio.Event()
            try:
                await conn.add_listener(CHANNEL, lambda _c, _pid, _ch, payload: notices.put_nowait(payload))
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                self.connects += 1
                await self._guarded(on_connect())
                while not lost.is_set():
                    waiting = asyncio.ensure_future(notices.get())
                    stopped = asyncio.ensure_future(lost.wait())
                    try:
                        done, _ = await asyncio.wait({waiting, stopped}, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        waiting.cancel()
                        stopped.cancel()
                    if waiting in done:
                        await self._handle(waiting.result(), on_change)
            except CONNECT_FAULTS as exc:
                log.warning("lost the card-edit listener (%s); reconnecting", exc)
            finally:
                with contextlib.suppress(Exception):
                    await conn.close()
            log.info("card-edit listener disconnected; reconnecting and reconciling the card files")
            await asyncio.sleep(RECONNECT_EVERY)

    async def _handle(self, payload: str, on_change: OnChange) -> None:
        try:
            notice = json.loads(payload)
            file, digest, origin = str(notice["file"]), str(notice["digest"]), str(notice["origin"])
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed card-edit notice %r", payload[:200])
            return
        if origin == self.origin:
            return
        self.received += 1
        await self._guarded(on_change(file, digest))

    @staticmethod
    async def _guarded(work: Awaitable[None]) -> None:
        try:
            await work
        except Exception:
            log.exception("following a card edit failed; the next notice or reconnect tries again")
