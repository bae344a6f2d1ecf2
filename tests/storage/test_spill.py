"""The views side file: what a kill leaves in it is written at the next start, exactly once.

A kill is simulated in-process by dropping the storage without :meth:`Storage.close` (the connection and the side
file are closed as the kernel would close them); the real-process kills are in ``tests/e2e/test_process.py``.
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest

from bot.storage import Storage, ViewEvent, spill


def _count(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT COUNT(*) FROM views").fetchone()[0]


async def _killed(storage: Storage) -> None:
    """Stop as SIGKILL would: no final flush, no spill of the buffer."""
    task = storage.views._task
    if task is not None:
        task.cancel()
    assert storage.views._spill is not None
    storage.views._spill.close()
    await storage.db.close()


def _view(n: int) -> ViewEvent:
    return ViewEvent(f"lab-{n % 7:03d}", 10, 20, 1000 + n, "random")


async def _spilled_not_written(storage: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    """Flush with a database write that fails: the buffer reaches the side file, not the table."""

    async def no_commit(*args: object) -> int:
        raise sqlite3.OperationalError("database is locked")

    with monkeypatch.context() as patch:
        patch.setattr(storage.views, "_insert", no_commit)
        with pytest.raises(sqlite3.OperationalError):
            await storage.views.flush()


async def test_views_written_and_in_the_side_file_are_not_written_again(tmp_path: Path) -> None:
    path = tmp_path / "factdeck.db"
    storage = await Storage.open(path, flush_interval=60)
    for n in range(9):
        storage.views.record(_view(n))
    await storage.views.flush()  # in the side file and in the database
    await _killed(storage)
    async with Storage.open(path):
        pass
    assert _count(path) == 9


async def test_a_batch_in_the_side_file_but_not_committed_is_written_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "factdeck.db"
    storage = await Storage.open(path, flush_interval=60)
    for n in range(5):
        storage.views.record(_view(n))
    await storage.views.flush()
    for n in range(5, 12):
        storage.views.record(_view(n))
    await _spilled_not_written(storage, monkeypatch)
    await _killed(storage)
    for _ in range(2):  # a second start replays nothing more
        async with Storage.open(path):
            pass
        assert _count(path) == 12


async def test_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "factdeck.db"
    storage = await Storage.open(path, flush_interval=60)
    storage.views.record(_view(1))
    await storage.views.close()  # written; the side file holds it too
    await storage.close()
    with spill.spill_path(path).open("ab") as handle:
        handle.write(b'["lab-002",10,20,3,"random",17')  # a crash mid-write: never acknowledged
    async with Storage.open(path):
        pass
    assert _count(path) == 1


async def test_a_large_side_file_starts_afresh_once_everything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spill, "ROTATE_BYTES", 200)
    path = tmp_path / "factdeck.db"
    storage = await Storage.open(path, flush_interval=60)
    for n in range(20):
        storage.views.record(_view(n))
    await storage.views.flush()
    assert spill.spill_path(path).stat().st_size < 200  # only the new header
    storage.views.record(_view(99))
    await storage.views.flush()
    await _killed(storage)
    async with Storage.open(path):
        pass
    assert _count(path) == 21


async def test_a_second_process_on_the_database_neither_keeps_nor_replays_the_side_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "factdeck.db"
    bot = await Storage.open(path, flush_interval=60)
    bot.views.record(_view(1))
    await _spilled_not_written(bot, monkeypatch)
    async with Storage.open(path) as stats:  # e.g. `factdeck stats` while the bot runs
        assert stats.views._spill is None
        assert await stats.views.count("lab-001") == 0  # the bot's view is not replayed behind its back
    await bot.close()
    assert _count(path) == 1


async def test_an_append_cut_short_by_a_full_disk_loses_no_later_view(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "factdeck.db"
    storage = await Storage.open(path, flush_interval=60)
    for n in range(3):
        storage.views.record(_view(n))
    real_write = spill.os.write

    def half_then_full(fd: int, data: bytes) -> int:
        monkeypatch.setattr(spill.os, "write", real_write)
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(spill.os, "write", half_then_full)
    await _spilled_not_written(storage, monkeypatch)  # half a line in the file, nothing in the table
    for n in range(3, 5):
        storage.views.record(_view(n))
    await _spilled_not_written(storage, monkeypatch)  # the disk has room again: all five appended
    await _killed(storage)
    async with Storage.open(path):
        pass
    assert _count(path) == 5
