"""The curator: moderators' add, edit, remove, import, export and reload, one at a time, served at once.

Writes are serialised by one ``asyncio.Lock``; the YAML dump, the validation and the file I/O run in a worker
thread so the event loop keeps serving readers.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import msgspec

from bot.cards.library import Library, file_digest
from bot.cards.model import Card, CardFile, Collection, to_builtins
from bot.cards.yamlio import dump
from bot.service import CardService, ReloadReport
from bot.storage import AuditLog, CardBus, StorageUnavailable

from .audit import AuditTrail
from .errors import CurationError, StaleCardError, StaleFileError, ValidationFailed
from .folder import CardsFolder
from .follow import relative_name
from .forms import CardInput, Moderator, card_data
from .ids import highest_numbers, id_prefix, new_card_ids
from .imports import ImportApplied, ImportFormat, ImportPlan, plan_import
from .quotas import Quota
from .writes import CardChange, PreparedFile, checked_card, commit_file, describe_change, prepare_file, restore_file

__all__ = ["COPIED_FROM", "Curator", "Export"]

log = logging.getLogger(__name__)

R = TypeVar("R")
#: How a copied card's change names the card it was copied from (its history shows it: the link back).
COPIED_FROM = "copied from "
#: A temporary file of the atomic writer (``.<name>.yml.<random>.tmp``), left behind only by a crash mid-write.
_LEFTOVER = re.compile(r"^\.[^/]+\.ya?ml\.[^.]+\.tmp$")


class _WrittenNotServed(CurationError):
    """The file was written but could not be served nor put back: its audit rows stay pending."""


def _remove_leftovers(root: Path) -> list[Path]:
    removed: list[Path] = []
    for path in root.rglob(".*.tmp"):
        if _LEFTOVER.match(path.name) and path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


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
    return await _finish(asyncio.to_thread(func))


async def _finish(work: Awaitable[R]) -> R:
    """Await ``work`` to its end even if the caller is cancelled (then re-raise the cancellation): a write, once
    begun, reaches its file, the served cards and its audit rows together, or none of them."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise


class Desk(Protocol):
    """What a curator reads and serves through: the card service, or one audience's part of it."""

    @property
    def library(self) -> Library: ...

    def swap(self, library: Library) -> None: ...

    def reload(self) -> ReloadReport: ...


class Curator:
    """Writes moderators' changes to the card files and serves the result at once.

    ``service`` is the :class:`~bot.service.CardService` being served (``.library`` and ``.swap``); ``cards_dir``
    the folder writes may touch; ``audit`` (optional) the audit log every change is recorded in.
    """

    def __init__(
        self,
        service: CardService,
        cards_dir: Path,
        *,
        audit: AuditLog | None = None,
        desk: Desk | None = None,
        shown: str | None = None,
        quota: Quota | None = None,
        bus: CardBus | None = None,
    ) -> None:
        self.service = service
        #: Other processes serving the same files (PostgreSQL): a write holds their file lock and announces itself.
        self.bus = bus
        #: What this curator reads and swaps: the whole library, or one audience's part of it
        #: (:class:`bot.curation.audiences.AudienceDesk`).
        self.desk: Desk = desk if desk is not None else service
        #: The limits a write must stay within (a server's own collections), or None.
        self.quota = quota
        self.folder = CardsFolder(cards_dir, shown)
        self.cards_dir = self.folder.root
        self.audit = audit
        self._trail = AuditTrail(audit)
        self._lock = asyncio.Lock()
        self._settled = False  # the audit log was brought in line with the files (see start)
        self._closed = False

    async def start(self) -> None:
        """Before the first write: bring the audit log in line with the files.

        Temporary files a crash left mid-write are removed; audit rows a crash left pending are settled by what
        the files hold (done if the change is there, not written if not); and every id in the files and the audit
        log counts as given out.
        """
        async with self._lock:
            removed = await asyncio.to_thread(_remove_leftovers, self.folder.root)
            for path in removed:
                log.warning("removed %s, left by a write that did not finish", self.folder.display(path))
            try:
                await self._settle_audit()
            except StorageUnavailable:
                log.info("the audit log is settled before the first change, once the database is back")

    async def _settle_audit(self) -> None:
        """Settle what a crash left pending and count every id seen as given out (once; under the lock)."""
        if self._settled:
            return
        library = self.desk.library
        done, lost = await self._trail.reconcile(library)
        if done or lost:
            log.warning(
                "the audit log had %d change(s) under way when the bot stopped: %d reached the card files, "
                "%d did not and are marked not written",
                done + lost,
                done,
                lost,
            )
        await self._trail.seed_marks(library)
        self._settled = True

    async def close(self) -> None:
        """Wait for the write under way (its file, its serving and its audit rows), then refuse new ones."""
        async with self._lock:
            self._closed = True

    @contextlib.asynccontextmanager
    async def _open(self) -> AsyncIterator[None]:
        async with self._lock:
            if self._closed:
                raise CurationError("the bot is shutting down, so nothing was written; try again once it is back")
            yield

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
        library = library or self.desk.library
        return new_card_ids(collection_id, {*library.cards, *taken}, given=given)

    # --------------------------------------------------------------------------------------- committing
    async def _commit(self, prepared: PreparedFile, entries: Sequence[Mapping[str, Any]]) -> Library:
        """Write a prepared file and serve it, with its audit rows written first (pending) and settled after.

        A crash between the two leaves the rows pending, and the next start settles them by what the file holds;
        a library that cannot be served puts the old file back, so the file, the served cards and the audit log
        always agree.
        """
        try:
            await self._settle_audit()  # a start that found the database down settles it before the first change
        except StorageUnavailable as exc:
            raise CurationError(
                "the audit log cannot be read just now, so nothing was changed; try again once the database is back"
            ) from exc
        ids = await self._trail.begin(entries)
        name = relative_name(self.service.library.root, prepared.path)  # as every process names it
        try:
            async with self.bus.lock(name) if self.bus is not None else contextlib.nullcontext():
                new = await asyncio.to_thread(self._write_and_serve, prepared)
        except _WrittenNotServed:
            raise  # the rows stay pending: the file holds the change, and the next start completes them
        except CurationError:
            await self._trail.settle(ids, "not written")
            raise
        await self._trail.settle(ids, "done")
        if self.bus is not None:
            await self.bus.announce(name, file_digest(prepared.text.encode("utf-8")))
        return new

    def _write_and_serve(self, prepared: PreparedFile) -> Library:
        library = self.desk.library
        if self.quota is not None:  # before anything is written: a refused write leaves nothing behind
            encoded = prepared.text.encode("utf-8")
            self.quota.check(library, self.folder.inside(prepared.path), len(prepared.card_file.cards), len(encoded))
        # A server's folder is made with its first collection (the path was checked to be inside the folder).
        self.folder.inside(prepared.path).parent.mkdir(parents=True, exist_ok=True)
        new = commit_file(self.folder, library, prepared)
        shown = self.folder.display(prepared.path)
        try:
            self.desk.swap(new)
        except Exception as exc:  # whatever stops the indexes, the file must not stay changed
            log.exception("could not serve %s after writing it; putting the old file back", shown)
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
            try:
                restore_file(prepared)
            except OSError:
                log.exception("could not put %s back", shown)
                raise _WrittenNotServed(
                    f"{shown} was written, but the cards being served could not be updated ({reason}); "
                    "run /cards reload once that is fixed"
                ) from exc
            raise CurationError(
                f"the cards being served could not be updated ({reason}), so {shown} was put back as it was "
                "and nothing changed; try again once that is fixed"
            ) from exc
        return new

    async def _change(
        self, change: CardChange, prepared: PreparedFile, moderator: Moderator, note: str = ""
    ) -> CardChange:
        new = await self._commit(prepared, self._trail.change_entries(change, moderator, note))
        await self._trail.raise_marks(highest_numbers([change.card_id]))
        return dataclasses.replace(change, library=new)

    # --------------------------------------------------------------------------------------- add/edit/remove
    async def add_card(self, collection_id: str | None, form: CardInput, moderator: Moderator) -> CardChange:
        """Add a card to a collection (the only one when ``collection_id`` is None) with the next free id."""
        async with self._open():
            return await _finish(self._add_card(collection_id, form, moderator))

    async def _add_card(self, collection_id: str | None, form: CardInput, moderator: Moderator) -> CardChange:
        given = await self._trail.marks()
        change, prepared = await asyncio.to_thread(self._add, collection_id, form, moderator, given)
        return await self._change(change, prepared, moderator)

    def _add(
        self, collection_id: str | None, form: CardInput, moderator: Moderator, given: Mapping[str, int]
    ) -> tuple[CardChange, PreparedFile]:
        return self._append(
            collection_id, given, lambda card_id: checked_card(card_data(card_id, form, base=None, moderator=moderator))
        )

    def _append(
        self, collection_id: str | None, given: Mapping[str, int], make: Callable[[str], Card]
    ) -> tuple[CardChange, PreparedFile]:
        """A new card (``make`` given its id, the next free one) at the end of a collection (the only one when
        ``collection_id`` is None)."""
        library = self.desk.library
        if collection_id is None:
            if len(library.collections) != 1:
                raise CurationError("choose the collection to add the card to")
            collection_id = next(iter(library.collections))
        loaded = self.folder.file_of(library, collection_id)
        card_id = self.next_card_id(collection_id, library, given=given.get(id_prefix(collection_id), 0))
        card = make(card_id)
        card_file = msgspec.structs.replace(loaded.card_file, cards=(*loaded.card_file.cards, card))
        prepared = prepare_file(self.folder, library, loaded.path, card_file, base=loaded)
        change = describe_change(self.folder, "add", card_id, collection_id, loaded.path, None, card, library)
        return change, prepared

    async def copy_card(self, collection_id: str | None, card: Card, moderator: Moderator, origin: str) -> CardChange:
        """Add a copy of ``card`` (from another audience: a shared card a server adapts) to a collection, with the
        next free id there and the same text, topics, source, citations and study block; the change names
        ``origin`` (the card it was copied from), in the reply and in the audit log, as the link back."""
        async with self._open():
            return await _finish(self._copy_card(collection_id, card, moderator, origin))

    async def _copy_card(self, collection_id: str | None, card: Card, moderator: Moderator, origin: str) -> CardChange:
        given = await self._trail.marks()
        change, prepared = await asyncio.to_thread(self._copy, collection_id, card, moderator, given, origin)
        return await self._change(change, prepared, moderator)

    def _copy(
        self, collection_id: str | None, card: Card, moderator: Moderator, given: Mapping[str, int], origin: str
    ) -> tuple[CardChange, PreparedFile]:
        def copied(card_id: str) -> Card:
            stamp = card_data(card_id, CardInput(card.text), base=None, moderator=moderator)
            fields = {"id": card_id, "added_by": stamp["added_by"], "added_at": stamp["added_at"]}
            return checked_card({**to_builtins(card), **fields})

        change, prepared = self._append(collection_id, given, copied)
        return dataclasses.replace(change, display_path=f"{change.display_path}, {COPIED_FROM}{origin}"), prepared

    async def edit_card(
        self, card_id: str, form: CardInput, moderator: Moderator, *, opened: Card | None = None, note: str = ""
    ) -> CardChange:
        """Change a card's text, topics, source and references; its id, author and date stay.

        ``opened`` is the card as the moderator's form showed it: when the card has changed since (another
        moderator saved first, or a reload brought a hand edit), nothing is written and :class:`StaleCardError`
        says what changed, so one moderator's save never silently reverts another's. ``note`` is added to the
        change's audit entry (e.g. the readers' reports the edit resolves).
        """
        async with self._open():
            return await _finish(self._edit_card(card_id, form, moderator, opened, note))

    async def _edit_card(
        self, card_id: str, form: CardInput, moderator: Moderator, opened: Card | None, note: str = ""
    ) -> CardChange:
        change, prepared = await asyncio.to_thread(self._edit, card_id, form, moderator, opened)
        if prepared is None:
            return change
        return await self._change(change, prepared, moderator, note)

    def _edit(
        self, card_id: str, form: CardInput, moderator: Moderator, opened: Card | None
    ) -> tuple[CardChange, PreparedFile | None]:
        library = self.desk.library
        before, loaded = self.folder.card(library, card_id)
        if opened is not None and opened != before:
            raise StaleCardError(
                f"card '{card_id}' was changed since you opened the form, so nothing was written", opened, before
            )
        after = checked_card(card_data(card_id, form, base=before, moderator=moderator))
        collection_id = library.card_collection[card_id]
        change = describe_change(self.folder, "edit", card_id, collection_id, loaded.path, before, after, library)
        if after == before:
            return change, None
        cards = tuple(after if c.id == card_id else c for c in loaded.card_file.cards)
        card_file = msgspec.structs.replace(loaded.card_file, cards=cards)
        return change, prepare_file(self.folder, library, loaded.path, card_file, base=loaded)

    async def remove_card(self, card_id: str, moderator: Moderator) -> CardChange:
        """Remove a card from its file (its view history stays in the database)."""
        async with self._open():
            return await _finish(self._remove_card(card_id, moderator))

    async def _remove_card(self, card_id: str, moderator: Moderator) -> CardChange:
        change, prepared = await asyncio.to_thread(self._remove, card_id)
        return await self._change(change, prepared, moderator)

    def _remove(self, card_id: str) -> tuple[CardChange, PreparedFile]:
        library = self.desk.library
        before, loaded = self.folder.card(library, card_id)
        cards = tuple(c for c in loaded.card_file.cards if c.id != card_id)
        card_file = msgspec.structs.replace(loaded.card_file, cards=cards)
        prepared = prepare_file(self.folder, library, loaded.path, card_file, base=loaded)
        collection_id = library.card_collection[card_id]
        change = describe_change(self.folder, "remove", card_id, collection_id, loaded.path, before, None, library)
        return change, prepared

    # ------------------------------------------------------------------------------------------ import
    async def import_file(
        self, filename: str, raw: bytes, *, collection_id: str | None = None, fmt: ImportFormat | None = None
    ) -> ImportPlan:
        """Validate an uploaded YAML, CSV or seed-format page in full and say what it would change.

        Nothing is written: pass the plan to :meth:`apply_import` once the moderator confirms.
        """
        library = self.desk.library
        given = await self._trail.marks()
        return await asyncio.to_thread(plan_import, self.folder, library, filename, raw, collection_id, fmt, given)

    async def apply_import(self, plan: ImportPlan, moderator: Moderator) -> ImportApplied:
        """Write a confirmed import: the collection's file is replaced (or created) and served at once."""
        if not plan.ok or plan.path is None or plan.card_file is None or plan.text is None:
            raise ValidationFailed("this import has errors, so nothing was written", plan.errors)
        async with self._open():
            return await _finish(self._apply_import(plan, moderator))

    async def _apply_import(self, plan: ImportPlan, moderator: Moderator) -> ImportApplied:
        prepared = await asyncio.to_thread(self._prepare_import, plan)
        digest = file_digest(prepared.text.encode("utf-8"))
        new = await self._commit(prepared, self._trail.import_entries(plan, digest, moderator))
        await self._trail.raise_marks(highest_numbers([*plan.added, *plan.removed]))
        return ImportApplied(plan, new)

    def _prepare_import(self, plan: ImportPlan) -> PreparedFile:
        if plan.path is None or plan.card_file is None or plan.text is None:
            raise ValidationFailed("this import has errors, so nothing was written", plan.errors)
        library = self.desk.library
        path = self.folder.inside(plan.path)
        loaded = library.file_of(plan.card_file.collection.id)
        current = loaded.digest if loaded is not None else None
        if current != plan.base_digest or (loaded is not None and loaded.path != path):
            raise StaleFileError(f"{plan.display_path} changed since this import was checked; run /cards import again")
        self.folder.check_uncontested(library, plan.card_file.collection.id)
        return prepare_file(self.folder, library, path, plan.card_file, plan.text, base=loaded)

    # ------------------------------------------------------------------------------------------ create
    async def new_collection(
        self, collection_id: str, title: str, description: str, curator: str, moderator: Moderator
    ) -> str:
        """Create an empty collection (a card file of its own, checked, written and audited as an import is);
        refused when the id is taken here or not a valid id. Returns its id."""
        if collection_id in self.desk.library.collections:
            raise CurationError(f"there is already a collection '{collection_id}' here; pick another id")
        made = Collection(id=collection_id, title=title, description=description, curator=curator)
        text = await asyncio.to_thread(dump, CardFile(collection=made))
        plan = await self.import_file(f"{collection_id}.yml", text.encode("utf-8"), collection_id=collection_id)
        if not plan.ok:
            raise ValidationFailed("that collection cannot be created", plan.errors)
        await self.apply_import(plan, moderator)
        return collection_id

    # ------------------------------------------------------------------------------------------ export
    async def export_collection(self, collection_id: str) -> Export:
        """The collection as served, as a card file that ``factdeck check`` accepts and re-imports unchanged."""
        loaded = self.folder.file_of(self.desk.library, collection_id)
        text = await asyncio.to_thread(dump, loaded.card_file)
        return Export(collection_id, f"{collection_id}.yml", text, len(loaded.card_file.cards))

    # ------------------------------------------------------------------------------------------ reload
    async def reload(self, moderator: Moderator | None = None) -> ReloadReport:
        """Re-read the cards folder; a broken file keeps its last good version live."""
        async with self._open():
            before = self.desk.library
            report = await _finish_in_thread(self.desk.reload)
            if moderator is not None:
                await self._trail.reloaded(before, self.desk.library, report, moderator)
            return report
