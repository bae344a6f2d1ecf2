"""The views side file: views not yet in the database, kept on disk so that a kill or a locked database loses none.

Before each batch of views goes to the database it is appended here (one JSON array per line) and fsynced; the
transaction that inserts the batch also stores how far the file is written (``meta`` key ``views.spill``:
``<file id>:<byte offset>``). So after any stop (SIGKILL, SIGTERM while another process holds the write lock, a
database that was unavailable the whole run) the next start inserts exactly the views the file holds past that
mark, once: the replay and the new mark commit together. The file is locked (``flock``) by the process that owns
it; another process on the same database (``factdeck stats``) neither writes nor replays it.

The file lives next to the database (``factdeck.db-views``), so a backup of ``factdeck.db*`` carries it along.
On PostgreSQL, which several processes share, each process keeps a file of its own in its data folder (see
``Settings.views_side_file``) and its mark is keyed by the file's id (``views.spill:<file id>``), so one process's
mark never says another's views are written; the key of a file that was started afresh is deleted with the next
batch.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import uuid
from collections.abc import Sequence
from pathlib import Path

import msgspec

__all__ = ["MARK_KEY", "ViewSpill", "spill_path"]

log = logging.getLogger(__name__)

#: The ``meta`` key holding ``<file id>:<offset>``: every view before ``offset`` in file ``id`` is in the database.
MARK_KEY = "views.spill"
#: Start a fresh file once everything in it is in the database and it is larger than this.
ROTATE_BYTES = 1 << 20

Row = tuple[str, int | None, int | None, int | None, str, int]

_ENCODER = msgspec.json.Encoder()
_ROW = msgspec.json.Decoder(Row)


def spill_path(database: str | os.PathLike[str]) -> Path:
    """The side file of ``database``."""
    return Path(f"{os.fspath(database)}-views")


class ViewSpill:
    """The side file, opened and locked by :meth:`open` (blocking: call it in a thread)."""

    def __init__(self, path: Path, *, shared: bool = False) -> None:
        """``shared``: the database is shared by several processes (PostgreSQL), each with a side file of its own,
        so the mark is kept under a key of this file's own."""
        self.path = path
        self.shared = shared
        #: The mark key of a file this one replaced, to delete with the next batch (shared databases only).
        self.retired_key: str | None = None
        self._fd: int | None = None
        self._torn = False
        self.file_id = ""
        self.size = 0
        #: Views left by an earlier run: ``(end offset, row)`` in file order, replayed by the first write.
        self.leftovers: list[tuple[int, Row]] = []

    def open(self) -> bool:
        """Open and lock the file, read what an earlier run left; False (and no side file) when it cannot."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as exc:
            log.warning("views are not kept in a side file (%s: %s); a kill may lose the last second", self.path, exc)
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            log.info("%s is held by another process; this one keeps no side file", self.path)
            return False
        self._fd = fd
        with open(fd, "rb", closefd=False) as handle:
            data = handle.read()
        self._parse(data)
        if not self.file_id:
            try:
                self._restart()
            except OSError as exc:
                log.warning("views are not kept in a side file (%s: %s)", self.path, exc)
                self.close()
                return False
        return True

    def _parse(self, data: bytes) -> None:
        offset = 0
        for line in data.splitlines(keepends=True):
            offset += len(line)
            if not line.endswith(b"\n"):
                break  # torn by a crash mid-write: never acknowledged, so never counted
            if not self.file_id:
                try:
                    header = json.loads(line)
                except ValueError:
                    return  # not our file: start a new one
                if not isinstance(header, dict) or not isinstance(header.get("id"), str):
                    return
                self.file_id = header["id"]
                continue
            try:
                self.leftovers.append((offset, _ROW.decode(line)))
            except (msgspec.DecodeError, msgspec.ValidationError):
                continue  # a line a failed append left behind
        self.size = offset

    @property
    def mark_key(self) -> str:
        """The ``meta`` key the mark of this file is kept under."""
        return f"{MARK_KEY}:{self.file_id}" if self.shared else MARK_KEY

    def _restart(self) -> None:
        fd = self._require()
        if self.shared and self.file_id:
            self.retired_key = self.mark_key
        os.ftruncate(fd, 0)
        self.file_id = uuid.uuid4().hex
        header = (json.dumps({"factdeck-views": 1, "id": self.file_id}) + "\n").encode()
        os.write(fd, header)
        os.fsync(fd)
        self.size = len(header)

    def _require(self) -> int:
        if self._fd is None:
            raise OSError("the views side file is not open")
        return self._fd

    def unreplayed(self, mark: str | None) -> list[Row]:
        """The leftovers the database does not hold yet, by its ``mark`` (``id:offset``)."""
        file_id, _, offset = (mark or "").partition(":")
        done = int(offset) if file_id == self.file_id and offset.isdigit() else 0
        return [row for end, row in self.leftovers if end > done]

    def append(self, rows: Sequence[Row]) -> None:
        """Append ``rows`` and fsync (blocking). Raises OSError (a full disk, say)."""
        fd = self._require()
        data = b"".join([_ENCODER.encode(row) + b"\n" for row in rows])
        if self._torn:  # end the line a failed append left half-written, so the next row parses
            data = b"\n" + data
        view = memoryview(data)
        try:
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fdatasync(fd)
        except OSError:
            try:
                os.ftruncate(fd, self.size)  # undo the partial append: none of these rows counts as kept
            except OSError:
                self.size = os.fstat(fd).st_size  # the mark must not fall behind what is in the file
                self._torn = True
            raise
        self._torn = False
        self.size += len(data)

    def mark(self) -> str:
        """The mark to commit with a batch: everything in the file so far is in the database."""
        return f"{self.file_id}:{self.size}"

    def committed(self) -> None:
        """Everything in the file is in the database: forget the leftovers, start afresh if the file is large."""
        self.leftovers = []
        if self.size > ROTATE_BYTES:
            try:
                self._restart()
            except OSError as exc:
                log.warning("could not start a new views side file %s: %s", self.path, exc)

    def close(self) -> None:
        """Unlock and close (idempotent)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
