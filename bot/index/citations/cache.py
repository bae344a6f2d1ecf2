"""The citation index's caches on disk: each card file's references, keyed by the digest of the file's bytes.

Extraction is regular-expression work over every card's text, so it is done once per file content: in the
worker process that parsed the file (see :func:`cache_file_references`, passed to the loader), or when the index
is built and a file's references are not cached yet. Every name here carries :data:`EXTRACTION_VERSION`, so
references cached by older extraction code are never read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import msgspec

from bot.cards.library import _gc_paused
from bot.cards.model import CardFile
from bot.index.citations import _grammar, extraction, query, records
from bot.index.citations.extraction import card_references
from bot.index.citations.records import Reference
from bot.util import text as _text_module
from bot.util.files import drop_cache, write_cache

#: Changes whenever the extraction code changes (the grammar, the records, extraction, query parsing or the
#: folding they use), so references cached by an older version are never reused: a fixed pattern takes effect
#: without the card files changing.
EXTRACTION_VERSION = hashlib.blake2b(
    b"".join(
        Path(module.__file__ or "").read_bytes() for module in (_grammar, records, extraction, query, _text_module)
    ),
    digest_size=6,
).hexdigest()

#: The folder (under the index folder) of per-file reference caches, per version of the extraction code.
REFERENCES = f"references-{EXTRACTION_VERSION}"

#: One card file's references: ``(card id, the references it cites)`` per card, in file order.
FileReferences = list[tuple[str, list[Reference]]]


_DECODER = msgspec.msgpack.Decoder(FileReferences)
_ENCODER = msgspec.msgpack.Encoder()


def _path(refs_dir: Path, digest: str) -> Path:
    return refs_dir / f"{digest}.msgpack"


def read_file_references(refs_dir: Path, digest: str) -> FileReferences | None:
    """The cached references of the file with this digest, or None when there are none (or they are unreadable)."""
    try:
        data = _path(refs_dir, digest).read_bytes()
    except OSError:
        return None
    try:
        with _gc_paused():
            return _DECODER.decode(data)
    except msgspec.DecodeError:
        return None


def write_file_references(refs_dir: Path, digest: str, refs: FileReferences) -> None:
    """Cache a file's references; a cache that cannot be written costs one warning (the next start extracts)."""
    write_cache(_path(refs_dir, digest), _ENCODER.encode(refs))


def has_file_references(refs_dir: Path, digest: str) -> bool:
    """Whether the references of the file with this digest are cached."""
    try:
        return _path(refs_dir, digest).exists()
    except OSError:
        return False


def cache_file_references(refs_dir: Path, digest: str, card_file: CardFile) -> None:
    """Extract and cache a just-parsed file's references, unless they are cached already.

    Given to the loader (``load_library(after_parse=functools.partial(cache_file_references, refs_dir))``), it
    runs in the worker process that parsed the file, beside the parse, so a first start does not pay for a
    second pass over every card's text.
    """
    if not has_file_references(refs_dir, digest):
        write_file_references(refs_dir, digest, [(c.id, card_references(c.text, c.citations)) for c in card_file.cards])


def prune_file_references(refs_dir: Path, live: Iterable[str]) -> None:
    """Forget the cached references of files (by digest) that are no longer in the library."""
    keep = {_path(refs_dir, digest).name for digest in live}
    try:
        stale = [path for path in refs_dir.glob("*.msgpack") if path.name not in keep]
    except OSError:
        return  # a folder that cannot be listed holds nothing we wrote (write_cache warned already)
    for path in stale:
        drop_cache(path)
