"""A database that cannot be used at start: one line that says what and where, and the views kept meanwhile.

Tests run as root, so chmod cannot make a file read-only: the read-only file, the full disk and the read-only
folder are simulated by making SQLite's connect raise the error it raises in those cases (the messages are
SQLite's own); a path under a regular file, a folder, a corrupt or truncated file and a held lock are real.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import aiosqlite
import pytest

from bot.storage import Storage, StorageUnavailable, ViewEvent
from bot.storage import db as db_module


def _corrupt(path: Path) -> None:
    path.write_bytes(b"not a database at all " * 300)


def _truncated(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at TEXT)")
    conn.execute("CREATE TABLE filler (x)")
    conn.executemany("INSERT INTO filler VALUES (?)", [("x" * 500,)] * 200)
    conn.commit()
    conn.close()
    path.write_bytes(path.read_bytes()[:6000])


def _folder(path: Path) -> None:
    path.mkdir()


def _raising(message: str) -> Callable[[pytest.MonkeyPatch], None]:
    def inject(monkeypatch: pytest.MonkeyPatch) -> None:
        async def connect(*args: object, **kwargs: object) -> aiosqlite.Connection:
            raise sqlite3.OperationalError(message)

        monkeypatch.setattr(db_module.aiosqlite, "connect", connect)

    return inject


FAULTS: dict[str, tuple[Callable[[Path], None] | None, Callable[[pytest.MonkeyPatch], None] | None, str]] = {
    "corrupt": (_corrupt, None, "damaged"),
    "truncated": (_truncated, None, "damaged"),
    "a folder": (_folder, None, "is a folder"),
    "read-only file": (None, _raising("attempt to write a readonly database"), "read-only"),
    "read-only folder": (None, _raising("unable to open database file: readonly directory"), "read-only"),
    "full disk": (None, _raising("database or disk is full"), "disk is full"),
}


def _arrange(fault: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """The database path with ``fault`` in place, and what the message must say."""
    make, inject, said = FAULTS[fault]
    path = tmp_path / "factdeck.db"
    if make is not None:
        make(path)
    if inject is not None:
        inject(monkeypatch)
    return path, said


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_a_fault_at_start_is_one_line_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    path, said = _arrange(fault, tmp_path, monkeypatch)
    with pytest.raises(StorageUnavailable) as caught:
        await Storage.open(path)
    message = str(caught.value)
    assert str(path) in message
    assert said in message
    assert "\n" not in message


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_with_the_fallback_views_are_kept_in_memory_and_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    path, said = _arrange(fault, tmp_path, monkeypatch)
    async with Storage.open(path, in_memory_fallback=True, flush_interval=0.05) as storage:
        assert storage.unavailable is not None
        assert said in storage.unavailable
        for user in (1, 2, 2):
            storage.views.record(ViewEvent("lab-001", 10, 20, user, "random"))
        await asyncio.sleep(0.15)  # a few failed flush attempts: nothing lost, nothing raised
        assert await storage.views.count("lab-001", 10) == 3
        assert await storage.views.count("lab-001") == 3
        assert await storage.views.seen_by_user(2, 10) == {"lab-001"}
        assert await storage.meta.get("commands.1.global") is None
        assert await storage.daily.active_schedules() == []


async def test_a_path_under_a_regular_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("a file, not a folder")
    path = tmp_path / "data" / "factdeck.db"
    with pytest.raises(StorageUnavailable, match="a part of its folder path is a file"):
        await Storage.open(path)


async def test_a_lock_held_past_the_busy_timeout_then_released_writes_every_view(tmp_path: Path) -> None:
    path = tmp_path / "factdeck.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a new database: the migrations need the write lock
    try:
        with pytest.raises(StorageUnavailable, match="locked by another process"):
            await Storage.open(path, busy_timeout=0.1)
        storage = await Storage.open(path, busy_timeout=0.1, in_memory_fallback=True, flush_interval=0.05)
        assert storage.unavailable is not None
        for _ in range(4):
            storage.views.record(ViewEvent("lab-001", 10, 20, 1, "random"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    for _ in range(100):  # the flusher reopens the database at its next attempt
        if storage.unavailable is None and storage.views.pending == 0:
            break
        await asyncio.sleep(0.05)
    assert storage.unavailable is None
    await storage.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM views").fetchone()[0] == 4


async def test_a_foreign_wal_file_is_refused_not_migrated(tmp_path: Path) -> None:
    path = tmp_path / "factdeck.db"
    async with Storage.open(path) as storage:
        for _ in range(30):
            storage.views.record(ViewEvent("lab-001", 10, 20, 1, "random"))
    foreign = tmp_path / "other.db"
    other = sqlite3.connect(foreign)
    other.execute("PRAGMA journal_mode=WAL")
    other.execute("PRAGMA wal_autocheckpoint=0")
    other.execute("CREATE TABLE notes (x)")
    other.executemany("INSERT INTO notes VALUES (?)", [(str(i),) for i in range(50)])
    other.commit()
    shutil.copy(tmp_path / "other.db-wal", tmp_path / "factdeck.db-wal")  # a stale -wal beside our database
    other.close()
    with pytest.raises(StorageUnavailable, match="not a Factdeck database") as caught:
        await Storage.open(path)
    assert "\n" not in str(caught.value)
    assert (tmp_path / "factdeck.db-wal").exists()  # left for the operator, not checkpointed into the file
    async with Storage.open(path, in_memory_fallback=True) as storage:  # the bot: cards served, views in memory
        assert storage.unavailable is not None
        assert "not migrating it" in storage.unavailable
        storage.views.record(ViewEvent("lab-001", 10, 20, 1, "random"))
        assert await storage.views.count("lab-001", 10) == 1
    (tmp_path / "factdeck.db-wal").unlink()  # the operator removes the stale file: our 30 views are back
    (tmp_path / "factdeck.db-shm").unlink(missing_ok=True)
    async with Storage.open(path) as storage:
        assert await storage.views.count("lab-001") == 31  # and the view kept meanwhile, once


async def test_a_full_disk_at_runtime_is_one_line_not_a_traceback_per_attempt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "factdeck.db"
    storage = await Storage.open(path, flush_interval=0.02)
    real = storage.db.transaction
    attempts: list[int] = []
    retried = asyncio.Event()

    def full(*args: object, **kwargs: object) -> None:
        attempts.append(1)
        if len(attempts) >= 4:  # the flusher retried, with its back-off
            retried.set()
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(storage.db, "transaction", full)
    with caplog.at_level(logging.ERROR, logger="bot.storage.views"):
        for user in range(3):
            storage.views.record(ViewEvent("lab-001", 10, 20, user, "random"))
        await asyncio.wait_for(retried.wait(), timeout=30)
    said = [r for r in caplog.records if r.name == "bot.storage.views"]
    assert len(said) == 1, [r.getMessage() for r in said]
    assert said[0].exc_info is None
    assert f"the database {path} cannot be written: the disk is full" in said[0].getMessage()
    monkeypatch.setattr(storage.db, "transaction", real)
    await storage.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM views").fetchone()[0] == 3


async def test_a_damaged_views_table_at_runtime_answers_from_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async with Storage.open(tmp_path / "factdeck.db", flush_interval=60) as storage:
        for user in range(3):
            storage.views.record(ViewEvent("lab-001", 10, 20, user, "random"))
        await storage.views.flush()
        real = storage.db.fetchall

        async def damaged(*args: object, **kwargs: object) -> None:
            raise sqlite3.DatabaseError("database disk image is malformed")

        monkeypatch.setattr(storage.db, "fetchall", damaged)
        storage.views.record(ViewEvent("lab-001", 10, 20, 9, "random"))
        with caplog.at_level(logging.ERROR, logger="bot.storage.views"):
            assert await storage.views.count("lab-001", 10) == 1  # the card is still shown, counted from memory
            assert await storage.views.seen_by_user(9, 10) == {"lab-001"}
            assert (await storage.views.stats(10)).total_views == 1
        said = [r.getMessage() for r in caplog.records]
        assert len(said) == 1, said
        assert "is damaged" in said[0]
        monkeypatch.setattr(storage.db, "fetchall", real)
        assert await storage.views.count("lab-001", 10) == 4  # the partial answer was not kept as a tally


async def test_a_transaction_cancelled_while_its_begin_runs_leaves_the_database_usable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shutdown cancels flushers: a cancellation delivered after SQLite ran ``BEGIN`` (on aiosqlite's thread) but
    before the transaction's body must not leave the one shared connection inside a transaction, or every later
    write fails with "cannot start a transaction within a transaction" and the last views are lost."""
    from bot.storage.engines import SqliteConnection

    storage = await Storage.open(tmp_path / "factdeck.db")
    real = SqliteConnection._execute
    cancelled: list[str] = []

    async def begin_then_cancelled(self: SqliteConnection, sql: str, params: object) -> object:
        result = await real(self, sql, params)  # type: ignore[arg-type]
        if sql.startswith("BEGIN") and not cancelled:
            cancelled.append(sql)
            raise asyncio.CancelledError
        return result

    monkeypatch.setattr(SqliteConnection, "_execute", begin_then_cancelled)
    try:
        with pytest.raises(asyncio.CancelledError):
            await storage.db.execute("DELETE FROM views")
        assert cancelled
        storage.views.record(ViewEvent("card-1", 1, 2, 3, "random"))
        await storage.views.flush()
        assert await storage.db.fetchval("SELECT COUNT(*) FROM views") == 1
    finally:
        await storage.close()
