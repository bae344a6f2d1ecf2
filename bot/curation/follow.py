"""Serving what other processes write: reload one card file on notice, and reconcile every file by digest.

In a cluster (PostgreSQL, :class:`bot.storage.CardBus`) a moderator's write through one process is announced with
the file and its digest; :meth:`CardFollower.changed` makes this process serve that file within a second: when
the digest already matches what is served nothing happens, else the file is read, validated by the one
validator and swapped in alone (the other files are not read again). A file that is new, gone or broken, or
whose bytes do not match the notice yet (written again since), is served through a reload of the folder, which
keeps the last good version of a broken file. :meth:`CardFollower.reconcile` runs after every (re)connect: it
compares the digest of every card file on disk with the one served and reloads when any differs, so a process
that was down or lost its connection catches up.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from bot.cards.library import file_digest, replace_file
from bot.cards.validate import validate_text
from bot.service import CardService

from .folder import CardsFolder

__all__ = ["CardFollower", "relative_name"]

log = logging.getLogger(__name__)


def relative_name(root: Path, path: Path) -> str:
    """A card file as the processes name it to each other: its path below the cards folder, with ``/``."""
    return path.resolve().relative_to(root.resolve()).as_posix()


class CardFollower:
    """Keeps ``service`` serving the card files of ``cards_dir`` as other processes change them."""

    def __init__(self, service: CardService, cards_dir: Path) -> None:
        self.service = service
        self.folder = CardsFolder(cards_dir)
        self._lock = asyncio.Lock()
        #: Files reloaded alone, and whole reloads (for the logs and the tests).
        self.files_reloaded = 0
        self.reloads = 0

    async def changed(self, file: str, digest: str) -> None:
        """Another process wrote ``file`` (below the cards folder) with ``digest``: serve it."""
        async with self._lock:
            await asyncio.to_thread(self._changed, file, digest)

    def _changed(self, file: str, digest: str) -> None:
        root = self.folder.root
        path = (root / file).resolve()
        if not path.is_relative_to(root.resolve()) or path.suffix not in (".yml", ".yaml"):
            log.warning("ignoring a card-edit notice for %r: not a card file in %s", file, root)
            return
        library = self.service.library
        served = next((f for f in library.files if f.path == path), None)
        if served is not None and served.digest == digest:
            return
        raw: bytes | None = None
        text: str | None = None
        try:
            raw = path.read_bytes()
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError):
            pass
        if served is None or raw is None or text is None or file_digest(raw) != digest:
            self._reload(f"{file} changed in another process")  # new, gone, unreadable or written again since
            return
        result = validate_text(text, str(path))
        if result.card_file is None or not result.ok:
            self._reload(f"{file} changed in another process and has errors")  # the last good version stays
            return
        warnings = [p for p in result.problems if not p.is_error]
        self.service.swap(replace_file(library, path, result.card_file, raw, warnings))
        self.files_reloaded += 1
        log.info("serving %s as another process wrote it", self.folder.display(path))

    async def reconcile(self) -> None:
        """After a (re)connect: reload when any card file on disk differs from what is served (by digest)."""
        async with self._lock:
            await asyncio.to_thread(self._reconcile)

    def _reconcile(self) -> None:
        library = self.service.library
        served = {f.path: f.digest for f in library.files}
        on_disk: dict[Path, str | None] = {}
        for path in sorted(self.folder.root.rglob("*.y*ml")):
            if path.suffix in (".yml", ".yaml") and not path.name.startswith("."):
                try:
                    on_disk[path.resolve()] = file_digest(path.read_bytes())
                except OSError:
                    on_disk[path.resolve()] = None
        changed = [p for p, d in on_disk.items() if served.get(p) != d and p not in library.broken]
        gone = [p for p in served if p not in on_disk]
        if changed or gone:
            self._reload(f"{len(changed) + len(gone)} card file(s) changed while this process was not following")

    def _reload(self, why: str) -> None:
        report = self.service.reload()
        self.reloads += 1
        log.info("%s; reloaded the card folder (%s)", why, report)
