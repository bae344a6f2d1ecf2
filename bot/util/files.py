"""Atomic file writes: a temporary file in the same folder, flushed and fsynced, then renamed over the target.

A crash at any point leaves either the old file or the new one, never half of each.

Cache files go through :func:`write_cache` and :func:`drop_cache`: best effort, since a cache can always be
rebuilt. A read-only, full or missing cache folder costs one warning per folder, never an exception, and the
caller keeps what it computed in memory.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
from pathlib import Path

__all__ = ["atomic_write_bytes", "atomic_write_text", "drop_cache", "write_cache"]

log = logging.getLogger(__name__)

_warned: set[Path] = set()
_warned_lock = threading.Lock()


def atomic_write_bytes(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically; with ``durable``, also on disk once this returns.

    Caches pass ``durable=False``: a crash may then lose the new file, but never leaves a half-written one
    under the final name that the reader would not notice.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if not durable:
        return
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def atomic_write_text(path: Path, text: str) -> None:
    """Replace ``path`` with UTF-8 ``text`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _cache_fault(folder: Path, exc: OSError) -> None:
    with _warned_lock:
        if folder in _warned:
            return
        _warned.add(folder)
    log.warning("cannot write the cache in %s (%s); working from memory", folder, exc.strerror or exc)


def write_cache(path: Path, data: bytes) -> bool:
    """Write a cache file atomically, not durably; on any OS error warn once for its folder and return False."""
    try:
        atomic_write_bytes(path, data, durable=False)
    except OSError as exc:
        _cache_fault(path.parent, exc)
        return False
    return True


def drop_cache(path: Path) -> None:
    """Remove a stale cache file if it can be removed (best effort, like :func:`write_cache`)."""
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        _cache_fault(path.parent, exc)
