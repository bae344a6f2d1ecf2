"""The on-disk store of a search index: one folder per lineage, a meta file saying which library it reflects,
and a finished build moved into place in one rename.

The small JSON file next to tantivy's records the library digest the committed index reflects; it is rewritten
atomically after each commit, and marked as reflecting nothing just before, so a crash in between leaves an
index that :meth:`SearchIndex.open` refuses (and the service rebuilds), never one that claims the wrong cards.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from pathlib import Path

import tantivy
from tantivy.tantivy import __version__ as TANTIVY_VERSION

from bot.util.files import atomic_write_bytes

#: Bump when the schema, the analyzers or the layout of documents in segments change: :meth:`SearchIndex.open`
#: then refuses old indexes. 2: shared cards and servers' own cards in segments apart (see ``index._write``).
INDEX_FORMAT = 2
META_FILE = "factdeck-search.json"

Meta = dict[str, object]


def meta(docs: int, deleted: int, digest: str | None, lineage: str) -> Meta:
    """What the meta file records: the documents and deletions committed, the library digest, the lineage."""
    return {
        "format": INDEX_FORMAT,
        "docs": docs,
        "deleted": deleted,
        "digest": digest,
        "lineage": lineage,
        "tantivy": TANTIVY_VERSION,
    }


def write_meta(directory: Path, record: Meta) -> None:
    """Replace the index's meta file atomically; durably, since it says which library the index reflects."""
    atomic_write_bytes(directory / META_FILE, json.dumps(record).encode("utf-8"))


def read_meta(directory: Path) -> Meta | None:
    """The meta file of the index in ``directory``; None when it is missing or unreadable."""
    try:
        record = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def meta_digest(record: Meta) -> str | None:
    """The library digest a meta file records (None while an update is in progress)."""
    digest = record.get("digest")
    return digest if isinstance(digest, str) else None


def meta_deleted(record: Meta) -> int:
    """The deleted documents a meta file records (0 when it records no sensible number)."""
    deleted = record.get("deleted", 0)
    return deleted if isinstance(deleted, int) and deleted >= 0 else 0


def holds_other_files(target: Path) -> bool:
    """Whether ``target`` is a non-empty folder that does not hold a search index (which a build leaves alone)."""
    return target.exists() and any(target.iterdir()) and not (target / META_FILE).exists()


def staging_for(target: Path) -> Path:
    """A new empty folder beside ``target`` to build its index in; OSError when the folder cannot be written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))


def is_index(path: Path) -> bool:
    """Whether ``path`` holds a tantivy index this version of tantivy can read."""
    return tantivy.Index.exists(str(path)) and tantivy.Index.is_compatible(str(path))


def swap(staging: Path, target: Path) -> None:
    """Move the finished index ``staging`` to ``target``, replacing what was there."""
    old: Path | None = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
        old.rmdir()
        target.rename(old)
    try:
        staging.rename(target)
    except BaseException:
        if old is not None:
            with contextlib.suppress(OSError):
                old.rename(target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
