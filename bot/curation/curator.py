"""The curator: moderators' add, edit, remove, import, export and reload, one at a time, served at once.

Writes are serialised by one ``asyncio.Lock``; the YAML dump, the validation and the file I/O run in a worker
thread so the event loop keeps serving readers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import msgspec

from bot.cards.library import Library
from bot.cards.model import Card
from bot.cards.yamlio import dump
from bot.service import CardService, ReloadReport
from bot.storage import AuditLog

from .audit import AuditTrail
from .errors import CurationError, StaleCardError, StaleFileError, ValidationFailed
from .folder import CardsFolder
from .forms import CardInput, Moderator, card_data
from .ids import highest_numbers, id_prefix, new_card_ids
from .imports import ImportApplied, ImportFormat, ImportPlan, plan_import
from .writes import CardChange, checked_card, describe_change, write_file

__all__ = ["Curator", "Export"]

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Export:
    """A collection as a card file, ready to attach."""

    collection_id: str
    filename: str
    text: str
    cards: int


async def _finish_in_thread(func: Callable[[], R]) -> R:
    """Run a write in a worker thread and wait for it even if the caller is cancelled.

    A thread cannot be stopped, so leaving early would release the write lock while the write goes on: the next
    write would start from a library about to be replaced, and one of the two changes would be lost.
    """
    task = asyncio.ensure_future(asyncio.to_thread(func))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise


class Curator:
    """Writes moderators' changes to the card files and serves the result at once.

    ``service`` is the :class:`~bot.service.CardService` being served (``.library`` and ``.swap``); ``cards_dir``
    the folder writes may touch; ``audit`` (optional) the audit log every change is recorded in.
    """

    def __init__(self, service: CardService, cards_dir: Path, *, audit: AuditLog | None = None) -> None:
        self.service = service
        self.folder = CardsFolder(cards_dir)
        self.cards_dir = self.folder.root
        self.audit = audit
        self._trail = AuditTrail(audit)
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Before the first write: bring the audit log in line with the files (see the module docstring)."""
        async with self._lock:
            await self._trail.seed_marks(self.service.library)

    # --------------------------------------------------------------------------------------- paths
    def display(self, path: Path) -> str:
        """A file's path as moderators see it: ``cards/x.yml``."""
        return self.folder.display(path)

    def path_for(self, collection_id: str) -> Path:
        """The file a new collection is written to: ``<cards>/<collection_id>.yml``, checked to stay inside."""
        return self.folder.path_for(collection_id)

    def next_card_id(
        self, collection_id: str, library: Library | None = None, taken: Iterable[str] = (), *, given: int = 0
    ) -> str:
        """The next free ``<collection>-NNN`` id: one above the highest number in use or ever ``given``."""
        return next(self.new_card_ids(collection_id, library, taken, given=given))

    def new_card_ids(
        self, collection_id: str, library: Library | None = None, taken: Iterable[str] = (), *, given: int = 0
    ) -> Iterator[str]:
        """Free ``<collection>-NNN`` ids counting up from the highest in use (one scan, however many are drawn)."""
        library = library or self.service.library
        return new_card_ids(collection_id, {*library.cards, *taken}, given=given)

    def _serve(self, library: Library) -> None:
        self.service.swap(library)

    # --------------------------------------------------------------------------------------- add/edit/remove
    async def add_card(self, collection_id: str | None, form: CardInput, moderator: Moderator) -> CardChange:
        """Add a card to a collection (the only one when ``collection_id`` is None) with the next free id."""
        async with self._lock:
            given = await self._trail.marks()
            change = await _finish_in_thread(lambda: self._add(collection_id, form, moderator, given))
            await self._trail.change(change, moderator)
            await self._trail.raise_marks(highest_numbers([change.card_id]))
            return change

    def _add(
        self, collection_id: str | None, form: CardInput, moderator: Moderator, given: Mapping[str, int]
    ) -> CardChange:
        library = self.service.library
        if collection_id is None:
            if len(library.collections) != 1:
                raise CurationError("choose the collection to add the card to")
            collection_id = next(iter(library.collections))
        loaded = self.folder.file_of(library, collection_id)
        card_id = self.next_card_id(collection_id, library, given=given.get(id_prefix(collection_id), 0))
        card = checked_card(card_data(card_id, form, base=None, moderator=moderator))
        card_file = msgspec.structs.replace(loaded.card_file, cards=(*loaded.card_file.cards, card))
        new = write_file(self.folder, library, loaded.path, card_file, base=loaded)
        self._serve(new)
        return describe_change(self.folder, "add", card_id, collection_id, loaded.path, None, card, new)

    async def edit_card(
        self, card_id: str, form: CardInput, moderator: Moderator, *, opened: Card | None = None
    ) -> CardChange:
        """Change a card's text, topics, source and references; its id, author and date stay.

        ``opened`` is the card as the moderator's form showed it: when the card has changed since (another
        moderator saved first, or a reload brought a hand edit), nothing is written and :class:`StaleCardError`
        says what changed, so one moderator's save never silently reverts another's.
        """
        async with self._lock:
            change = await _finish_in_thread(lambda: self._edit(card_id, form, moderator, opened))
            if change.changed:
                await self._trail.change(change, moderator)
            return change

    def _edit(self, card_id: str, form: CardInput, moderator: Moderator, opened: Card | None) -> CardChange:
        library = self.service.library
        before, loaded = self.folder.card(library, card_id)
        if opened is not None and opened != before:
            raise StaleCardError(
                f"card '{card_id}' was changed since you opened the form, so nothing was written", opened, before
            )
        after = checked_card(card_data(card_id, form, base=before, moderator=moderator))
        collection_id = library.card_collection[card_id]
        if after == before:
            return describe_change(self.folder, "edit", card_id, collection_id, loaded.path, before, after, library)
        cards = tuple(after if c.id == card_id else c for c in loaded.card_file.cards)
        card_file = msgspec.structs.replace(loaded.card_file, cards=cards)
        new = write_file(self.folder, library, loaded.path, card_file, base=loaded)
        self._serve(new)
        return describe_change(self.folder, "edit", card_id, collection_id, loaded.path, before, after, new)

    async def remove_card(self, card_id: str, moderator: Moderator) -> CardChange:
        """Remove a card from its file (its view history stays in the database)."""
        async with self._lock:
            change = await _finish_in_thread(lambda: self._remove(card_id))
            await self._trail.change(change, moderator)
            await self._trail.raise_marks(highest_numbers([change.card_id]))
            return change

    def _remove(self, card_id: str) -> CardChange:
        library = self.service.library
        before, loaded = self.folder.card(library, card_id)
        cards = tuple(c for c in loaded.card_file.cards if c.id != card_id)
        card_file = msgspec.structs.replace(loaded.card_file, cards=cards)
        new = write_file(self.folder, library, loaded.path, card_file, base=loaded)
        self._serve(new)
        collection_id = library.card_collection[card_id]
        return describe_change(self.folder, "remove", card_id, collection_id, loaded.path, before, None, new)

    # ------------------------------------------------------------------------------------------ import
    async def import_file(
        self, filename: str, raw: bytes, *, collection_id: str | None = None, fmt: ImportFormat | None = None
    ) -> ImportPlan:
        """Validate an uploaded YAML, CSV or seed-format page in full and say what it would change.

        Nothing is written: pass the plan to :meth:`apply_import` once the moderator confirms.
        """
        library = self.service.library
        given = await self._trail.marks()
        return await asyncio.to_thread(plan_import, self.folder, library, filename, raw, collection_id, fmt, given)

    async def apply_import(self, plan: ImportPlan, moderator: Moderator) -> ImportApplied:
        """Write a confirmed import: the collection's file is replaced (or created) and served at once."""
        if not plan.ok or plan.path is None or plan.card_file is None or plan.text is None:
            raise ValidationFailed("this import has errors, so nothing was written", plan.errors)
        async with self._lock:
            applied = await _finish_in_thread(lambda: self._apply(plan))
            await self._trail.imported(applied, moderator)
            await self._trail.raise_marks(highest_numbers([*plan.added, *plan.removed]))
            return applied

    def _apply(self, plan: ImportPlan) -> ImportApplied:
        if plan.path is None or plan.card_file is None or plan.text is None:
            raise ValidationFailed("this import has errors, so nothing was written", plan.errors)
        library = self.service.library
        path = self.folder.inside(plan.path)
        loaded = library.file_of(plan.card_file.collection.id)
        current = loaded.digest if loaded is not None else None
        if current != plan.base_digest or (loaded is not None and loaded.path != path):
            raise StaleFileError(f"{plan.display_path} changed since this import was checked; run /cards import again")
        new = write_file(self.folder, library, path, plan.card_file, plan.text, base=loaded)
        self._serve(new)
        return ImportApplied(plan, new)

    # ------------------------------------------------------------------------------------------ export
    async def export_collection(self, collection_id: str) -> Export:
        """The collection as served, as a card file that ``factdeck check`` accepts and re-imports unchanged."""
        loaded = self.folder.file_of(self.service.library, collection_id)
        text = await asyncio.to_thread(dump, loaded.card_file)
        return Export(collection_id, f"{collection_id}.yml", text, len(loaded.card_file.cards))

    # ------------------------------------------------------------------------------------------ reload
    async def reload(self, moderator: Moderator | None = None) -> ReloadReport:
        """Re-read the cards folder; a broken file keeps its last good version live."""
        async with self._lock:
            before = self.service.library
            report = await _finish_in_thread(self.service.reload)
            if moderator is not None:
                await self._trail.reloaded(before, self.service.library, report, moderator)
            return report
