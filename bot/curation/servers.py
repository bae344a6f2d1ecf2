"""The operator's view of servers' own collections: what each server holds, archiving the collections of a server
the bot left, and promoting a server's collection into the shared library.

File work only (run it off the event loop); the caller serves the result (:meth:`CardService.swap_part` or a
reload) and records archive times (:class:`bot.storage.ServerDecksStore`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec

from bot.cards.library import SERVERS, Audience, Library, audience_folder, local_id, qualify
from bot.cards.model import CardFile
from bot.cards.validate import cross_file, validate_text
from bot.cards.yamlio import dump
from bot.service import CardService
from bot.storage import ServerDecksStore
from bot.util.files import atomic_write_text

from .errors import CurationError

__all__ = [
    "ARCHIVE",
    "DeckKeeper",
    "ServerSummary",
    "archive_server",
    "promote",
    "server_summaries",
    "without_audience",
]

log = logging.getLogger(__name__)

#: Where archived server folders go, inside the cards folder (hidden: the loader skips it).
ARCHIVE = ".archive"


@dataclass(frozen=True, slots=True)
class ServerSummary:
    """One server's own collections as files: ids and card counts, total bytes, and when they last changed."""

    guild_id: int
    collections: tuple[tuple[str, str, int], ...]  # (id as written, title, cards)
    cards: int
    bytes: int
    last_change: dt.datetime | None


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except OSError:
        return None


def server_summaries(library: Library) -> list[ServerSummary]:
    """Every server with collections of its own in ``library``, by id (reads file sizes and times)."""
    out: list[ServerSummary] = []
    for guild_id in sorted(library.audiences()):
        files = [f for f in library.files if f.audience == guild_id]
        stats = [s for s in (_stat(f.path) for f in files) if s is not None]
        collections = tuple(
            (f.card_file.collection.id, f.card_file.collection.title, len(f.card_file.cards)) for f in files
        )
        latest = max((s.st_mtime for s in stats), default=None)
        out.append(
            ServerSummary(
                guild_id,
                collections,
                sum(c for _, _, c in collections),
                sum(s.st_size for s in stats),
                dt.datetime.fromtimestamp(latest, dt.UTC) if latest is not None else None,
            )
        )
    return out


def without_audience(library: Library, audience: Audience) -> Library:
    """``library`` without any of ``audience``'s collections (after they were archived)."""
    part = library.of_audience(audience)
    return library.with_audience(audience, dataclasses.replace(part, files=(), problems=(), broken=(), contested={}))


def archive_server(cards_dir: Path, guild_id: int, now: dt.datetime) -> Path | None:
    """Move ``guild_id``'s folder out of the library, to ``<cards>/.archive/servers/<id>/<time>``; None when it has
    none. One rename: the files are kept whole, and a server that comes back can be restored by moving it back."""
    source = audience_folder(cards_dir, guild_id)
    if not source.is_dir():
        return None
    target = cards_dir / ARCHIVE / SERVERS / str(guild_id) / now.strftime("%Y%m%dT%H%M%SZ")
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)
    return target


def promote(library: Library, guild_id: int, collection_id: str, new_id: str | None = None) -> tuple[Path, Path]:
    """Move a server's collection into the shared library (``cards/<id>.yml``), under ``new_id`` when given.

    Refused, with nothing moved, when the shared library already has that collection id or one of its card ids,
    or the result would not validate. Returns (the file written, the server file removed).
    """
    key = qualify(collection_id, guild_id)
    loaded = library.file_of(key)
    if loaded is None:
        raise CurationError(f"server {guild_id} has no collection '{collection_id}'")
    target_id = new_id or collection_id
    shared = library.of_audience(None)
    if target_id in shared.collections:
        raise CurationError(f"the shared library already has a collection '{target_id}': promote it --as another id")
    card_file: CardFile = loaded.card_file
    if target_id != collection_id:
        card_file = msgspec.structs.replace(
            card_file, collection=msgspec.structs.replace(card_file.collection, id=target_id)
        )
        text = dump(card_file)
    else:
        text = loaded.path.read_text(encoding="utf-8")
    target = library.root / f"{target_id}.yml"
    if target.exists():
        raise CurationError(f"{target} already exists: promote it --as another id")
    checked = validate_text(text, str(target))
    if not checked.ok or checked.card_file is None:
        raise CurationError(f"the promoted file would not validate: {checked.problems[0]}")
    clashes = cross_file(
        [
            *((str(f.path), f.card_file, lambda: None) for f in shared.files),
            (str(target), checked.card_file, lambda: text),
        ]
    ).get(str(target), [])
    errors = [p for p in clashes if p.is_error]
    if errors:
        ids = ", ".join(local_id(p.message.split("'")[1]) for p in errors[:5] if "'" in p.message)
        raise CurationError(f"ids already in the shared library: {ids or errors[0].message}; rename them first")
    atomic_write_text(target, text)
    loaded.path.unlink()
    return target, loaded.path


class DeckKeeper:
    """Keeps a server's own collections for a grace period after the bot leaves it, then archives them out of the
    library (:func:`archive_server`); a server the bot rejoins in time keeps them."""

    def __init__(
        self,
        service: CardService,
        store: ServerDecksStore,
        grace: dt.timedelta,
        *,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.service = service
        self.store = store
        self.grace = grace
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        #: The servers whose leaving this process has recorded (for logs and status).
        self.left_here: set[int] = set()

    async def left(self, guild_id: int) -> None:
        """The bot was removed from ``guild_id`` (now)."""
        await self.store.left(guild_id, self.clock())
        self.left_here.add(guild_id)

    async def joined(self, guild_id: int) -> None:
        """The bot is in ``guild_id``: its collections are no longer due to be archived."""
        await self.store.joined(guild_id)

    async def archive_due(self) -> list[int]:
        """Archive the collections of every server the bot left more than the grace period ago; their ids."""
        now = self.clock()
        done: list[int] = []
        for guild_id in await self.store.due(now - self.grace):
            await asyncio.to_thread(self._archive, guild_id, now)
            await self.store.archived(guild_id, now)
            log.info("archived the collections of server %s, which the bot left over %s ago", guild_id, self.grace)
            done.append(guild_id)
        return done

    def _archive(self, guild_id: int, now: dt.datetime) -> None:
        service = self.service
        archive_server(service.library.root, guild_id, now)
        service.swap(without_audience(service.library, guild_id))
