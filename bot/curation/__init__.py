"""Moderators' writes to the card files: add, edit, remove, import, export and reload.

The YAML files in ``cards/`` stay the source of truth that curators also edit by hand, so every change here is a
write to one of them, and the library being served is then rebuilt from what was written:

* every new or changed file goes through the same validator as shipped files (``validate_card`` for the card, then
  ``validate_text`` and the cross-file checks for the whole file) before anything is written;
* writes are atomic (temporary file, fsync, rename) and serialised by one ``asyncio.Lock``; the YAML dump, the
  validation and the file I/O run in a worker thread so the event loop keeps serving readers;
* a file that changed on disk since it was loaded is never overwritten: the moderator is told to reload first;
* no id or collection name can steer a write outside the cards folder;
* each change is recorded in the audit log (when one is given) with the card before and after.

Nothing here knows about Discord: the cog parses an interaction, calls a :class:`Curator` method and renders the
result; errors a moderator should read are raised as :class:`CurationError` (or a subclass) with that message.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import itertools
import logging
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import msgspec

from bot.cards.importers import guess_format, import_text, slugify
from bot.cards.library import Library, LoadedFile, file_digest, replace_file
from bot.cards.model import ID_PATTERN, Card, CardFile
from bot.cards.validate import Problem, cross_file, decode_text, validate_card, validate_text
from bot.cards.yamlio import dump
from bot.util.files import atomic_write_text

if TYPE_CHECKING:
    from bot.service import CardService, ReloadReport
    from bot.storage import AuditLog

log = logging.getLogger(__name__)

__all__ = [
    "MAX_IMPORT_BYTES",
    "CardChange",
    "CardInput",
    "CurationError",
    "Curator",
    "Export",
    "ImportApplied",
    "ImportPlan",
    "Moderator",
    "NotFoundError",
    "StaleFileError",
    "ValidationFailed",
    "describe_problems",
    "parse_list",
]

#: The largest file ``import_file`` accepts.
MAX_IMPORT_BYTES = 8 << 20
#: Per-card audit entries written for one import or reload; beyond this only the summary entry is written.
AUDIT_CARDS_LIMIT = 2000
_ID = re.compile(ID_PATTERN)

ImportFormat = Literal["yaml", "csv", "seed"]


# ---------------------------------------------------------------------------------------------- errors
class CurationError(Exception):
    """A change that was refused; ``message`` is written for the moderator who asked for it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(CurationError):
    """An unknown card or collection."""


class StaleFileError(CurationError):
    """The file changed on disk since it was loaded, so writing it now would lose someone's edit."""


class ValidationFailed(CurationError):
    """The change would make an invalid card or file; ``problems`` lists every error with line and column."""

    def __init__(self, message: str, problems: Sequence[Problem]) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


# ---------------------------------------------------------------------------------------------- inputs
@dataclass(frozen=True, slots=True)
class Moderator:
    """Who asks for a change, and where: recorded on new cards and in the audit log."""

    name: str
    id: int | None = None
    guild_id: int | None = None


@dataclass(frozen=True, slots=True)
class CardInput:
    """What a moderator types for a card: the fields of the add/edit form."""

    text: str
    topics: tuple[str, ...] = ()
    article: str | None = None
    source_type: str | None = None
    citations: tuple[str, ...] = ()

    @classmethod
    def from_form(
        cls, text: str, topics: str = "", article: str = "", source_type: str = "", references: str = ""
    ) -> CardInput:
        """Parse the form: topics separated by commas, references by semicolons; blank fields are left out."""
        return cls(
            text=text.strip(),
            topics=parse_list(topics, ","),
            article=article.strip() or None,
            source_type=source_type.strip() or None,
            citations=parse_list(references, ";"),
        )

    @classmethod
    def of(cls, card: Card) -> CardInput:
        """The form's fields for an existing card (to pre-fill an edit)."""
        return cls(card.text, card.topics, card.source.article, card.source.type, card.citations)


def parse_list(text: str, separator: str) -> tuple[str, ...]:
    """Split a form field into trimmed, non-empty items, dropping repeats (case-insensitively), keeping order."""
    seen: set[str] = set()
    out: list[str] = []
    for item in (" ".join(part.split()) for part in (text or "").split(separator)):
        if item and item.casefold() not in seen:
            seen.add(item.casefold())
            out.append(item)
    return tuple(out)


# --------------------------------------------------------------------------------------------- results
@dataclass(frozen=True, slots=True)
class CardChange:
    """One card added, edited or removed: the card before and after, the file written and the new library."""

    action: Literal["add", "edit", "remove"]
    card_id: str
    collection_id: str
    path: Path
    display_path: str
    before: Card | None
    after: Card | None
    library: Library
    warnings: tuple[Problem, ...] = ()

    @property
    def changed(self) -> bool:
        """False for an edit that changed nothing (nothing was written)."""
        return self.before != self.after


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """A validated import, not yet written: what it would add, change and remove, or every error found."""

    filename: str
    fmt: ImportFormat
    collection_id: str | None
    path: Path | None
    display_path: str
    card_file: CardFile | None
    text: str | None
    problems: tuple[Problem, ...]
    base_digest: str | None
    before: tuple[Card, ...] = ()
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: int = 0
    new_collection: bool = False

    @property
    def errors(self) -> tuple[Problem, ...]:
        """The problems that stop the import."""
        return tuple(p for p in self.problems if p.is_error)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        """Problems worth fixing that do not stop the import."""
        return tuple(p for p in self.problems if not p.is_error)

    @property
    def ok(self) -> bool:
        """True when the import can be applied."""
        return self.card_file is not None and self.text is not None and not self.errors

    @property
    def has_changes(self) -> bool:
        """True when applying would change anything."""
        return bool(self.added or self.changed or self.removed or self.new_collection)


@dataclass(frozen=True, slots=True)
class ImportApplied:
    """An import that was written."""

    plan: ImportPlan
    library: Library


@dataclass(frozen=True, slots=True)
class Export:
    """A collection as a card file, ready to attach."""

    collection_id: str
    filename: str
    text: str
    cards: int


# ------------------------------------------------------------------------------------------------ helpers
def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def card_builtins(card: Card | None) -> dict[str, Any] | None:
    """A card as plain data for the audit log (dates as ISO text)."""
    if card is None:
        return None
    data = msgspec.to_builtins(card)
    if card.added_at is not None:
        data["added_at"] = card.added_at.isoformat()
    return data


def _card_data(card_id: str, form: CardInput, *, base: Card | None, moderator: Moderator) -> dict[str, Any]:
    """The plain data of a new or edited card, in the shape the validator checks."""
    data: dict[str, Any] = {"id": card_id, "text": form.text}
    if form.topics:
        data["topics"] = list(form.topics)
    old_source = msgspec.to_builtins(base.source) if base is not None else {}
    source = {**old_source, "article": form.article, "type": form.source_type}
    source = {k: v for k, v in source.items() if v not in (None, "", [], ())}
    if source:
        data["source"] = source
    if form.citations:
        data["citations"] = list(form.citations)
    if base is None:
        data["added_by"] = moderator.name[:1000] or "unknown"
        data["added_at"] = _utcnow().isoformat()
    else:
        if base.added_by is not None:
            data["added_by"] = base.added_by
        if base.added_at is not None:
            data["added_at"] = base.added_at.isoformat()
    return data


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


R = TypeVar("R")


async def _finish_in_thread(func: Callable[..., R], *args: Any) -> R:
    """Run a write in a worker thread and wait for it even if the caller is cancelled.

    A thread cannot be stopped, so leaving early would release the write lock while the write goes on: the next
    write would start from a library about to be replaced, and one of the two changes would be lost.
    """
    task = asyncio.ensure_future(asyncio.to_thread(func, *args))
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
        self.cards_dir = Path(cards_dir).resolve()
        self.audit = audit
        self._lock = asyncio.Lock()

    # --------------------------------------------------------------------------------------- paths
    def display(self, path: Path) -> str:
        """A file's path as moderators see it: ``cards/x.yml``."""
        try:
            return f"{self.cards_dir.name}/{path.resolve().relative_to(self.cards_dir).as_posix()}"
        except ValueError:
            return path.name

    def _inside(self, path: Path) -> Path:
        resolved = path.resolve()
        if not resolved.is_relative_to(self.cards_dir) or resolved == self.cards_dir:
            raise CurationError(f"refusing to write {path.name}: it is outside the cards folder")
        return resolved

    def path_for(self, collection_id: str) -> Path:
        """The file a new collection is written to: ``<cards>/<collection_id>.yml``, checked to stay inside."""
        if not isinstance(collection_id, str) or not _ID.fullmatch(collection_id):
            raise CurationError(
                f"{collection_id!r} is not a valid collection id: use lowercase letters, digits and hyphens"
            )
        return self._inside(self.cards_dir / f"{collection_id}.yml")

    def _file_of(self, library: Library, collection_id: str) -> LoadedFile:
        loaded = library.file_of(collection_id) if _ID.fullmatch(collection_id or "") else None
        if loaded is None:
            known = ", ".join(sorted(library.collections)[:10]) or "none"
            raise NotFoundError(f"there is no collection '{collection_id}' (collections: {known})")
        self._inside(loaded.path)
        return loaded

    def _card(self, library: Library, card_id: str) -> tuple[Card, LoadedFile]:
        card = library.cards.get(card_id) if _ID.fullmatch(card_id or "") else None
        if card is None:
            raise NotFoundError(f"there is no card '{card_id}'")
        return card, self._file_of(library, library.card_collection[card_id])

    def _check_fresh(self, loaded: LoadedFile) -> None:
        """Refuse when the file on disk is not the version being served (runs in a worker thread)."""
        shown = self.display(loaded.path)
        try:
            current = file_digest(loaded.path.read_bytes())
        except FileNotFoundError:
            raise StaleFileError(
                f"{shown} was removed on disk since it was loaded; run /cards reload and try again"
            ) from None
        if current != loaded.digest:
            raise StaleFileError(f"{shown} changed on disk since it was loaded; run /cards reload and try again")

    def next_card_id(self, collection_id: str, library: Library | None = None, taken: Iterable[str] = ()) -> str:
        """The next free ``<collection>-NNN`` id: one above the highest number in use, unique across the library."""
        return next(self.new_card_ids(collection_id, library, taken))

    def new_card_ids(
        self, collection_id: str, library: Library | None = None, taken: Iterable[str] = ()
    ) -> Iterator[str]:
        """Free ``<collection>-NNN`` ids counting up from the highest in use (one scan, however many are drawn)."""
        library = library or self.service.library
        used = set(library.cards) | set(taken)
        prefix = collection_id[:75].rstrip("-") or "card"
        pattern = re.compile(rf"^{re.escape(prefix)}-(\d+)$")
        number = max((int(m.group(1)) for cid in used if (m := pattern.match(cid))), default=0)
        while True:
            number += 1
            if f"{prefix}-{number:03d}" not in used:  # taken only if numbers were padded oddly
                yield f"{prefix}-{number:03d}"

    # -------------------------------------------------------------------------------------- writing
    def _validate_file(
        self, library: Library, path: Path, card_file: CardFile, text: str
    ) -> tuple[list[Problem], list[Problem]]:
        """Every problem of a file about to be written: its own, then those against the library's other files."""
        shown = self.display(path)
        result = validate_text(text, shown)
        clashes: list[Problem] = []
        if result.ok:
            others = [(self.display(f.path), f.card_file, _text_of(f.path)) for f in library.files if f.path != path]
            clashes = cross_file([*others, (shown, card_file, lambda: text)]).get(shown, [])
        return list(result.problems), clashes

    def _write(
        self, library: Library, path: Path, card_file: CardFile, text: str | None = None, *, base: LoadedFile | None
    ) -> Library:
        """Validate, write atomically, and build the new library (in a worker thread). Does not swap it in.

        ``base`` is the loaded version being changed (None for a new file). Right before the rename, the file on
        disk must still be that version (or still absent), so a hand edit saved meanwhile is never overwritten.
        """
        text = dump(card_file) if text is None else text
        own, clashes = self._validate_file(library, path, card_file, text)
        errors = [p for p in (*own, *clashes) if p.is_error]
        if errors:
            raise ValidationFailed(f"{self.display(path)} would not be valid, so nothing was written", errors)
        if base is not None:
            self._check_fresh(base)
        elif path.exists():
            raise StaleFileError(f"{self.display(path)} appeared on disk meanwhile; run /cards reload and try again")
        try:
            atomic_write_text(path, text)
        except OSError as exc:
            raise CurationError(f"could not write {self.display(path)}: {exc.strerror or exc}") from exc
        # The file's own warnings, as a load records them: validated just above, so not parsed again.
        return replace_file(library, path, card_file, text.encode("utf-8"), [p for p in own if not p.is_error])

    def _serve(self, library: Library) -> None:
        self.service.swap(library)

    # --------------------------------------------------------------------------------------- add/edit/remove
    async def add_card(self, collection_id: str | None, form: CardInput, moderator: Moderator) -> CardChange:
        """Add a card to a collection (the only one when ``collection_id`` is None) with the next free id."""
        async with self._lock:
            change = await _finish_in_thread(self._add, collection_id, form, moderator)
            await self._record_change(change, moderator)
            return change

    def _add(self, collection_id: str | None, form: CardInput, moderator: Moderator) -> CardChange:
        library = self.service.library
        if collection_id is None:
            if len(library.collections) != 1:
                raise CurationError("choose the collection to add the card to")
            collection_id = next(iter(library.collections))
        loaded = self._file_of(library, collection_id)
        card_id = self.next_card_id(collection_id, library)
        card = self._checked_card(_card_data(card_id, form, base=None, moderator=moderator))
        card_file = msgspec.structs.replace(loaded.card_file, cards=(*loaded.card_file.cards, card))
        new = self._write(library, loaded.path, card_file, base=loaded)
        self._serve(new)
        return self._change("add", card_id, collection_id, loaded.path, None, card, new)

    async def edit_card(self, card_id: str, form: CardInput, moderator: Moderator) -> CardChange:
        """Change a card's text, topics, source and references; its id, author and date stay."""
        async with self._lock:
            change = await _finish_in_thread(self._edit, card_id, form, moderator)
            if change.changed:
                await self._record_change(change, moderator)
            return change

    def _edit(self, card_id: str, form: CardInput, moderator: Moderator) -> CardChange:
        library = self.service.library
        before, loaded = self._card(library, card_id)
        after = self._checked_card(_card_data(card_id, form, base=before, moderator=moderator))
        collection_id = library.card_collection[card_id]
        if after == before:
            return self._change("edit", card_id, collection_id, loaded.path, before, after, library)
        cards = tuple(after if c.id == card_id else c for c in loaded.card_file.cards)
        new = self._write(library, loaded.path, msgspec.structs.replace(loaded.card_file, cards=cards), base=loaded)
        self._serve(new)
        return self._change("edit", card_id, collection_id, loaded.path, before, after, new)

    async def remove_card(self, card_id: str, moderator: Moderator) -> CardChange:
        """Remove a card from its file (its view history stays in the database)."""
        async with self._lock:
            change = await _finish_in_thread(self._remove, card_id)
            await self._record_change(change, moderator)
            return change

    def _remove(self, card_id: str) -> CardChange:
        library = self.service.library
        before, loaded = self._card(library, card_id)
        cards = tuple(c for c in loaded.card_file.cards if c.id != card_id)
        new = self._write(library, loaded.path, msgspec.structs.replace(loaded.card_file, cards=cards), base=loaded)
        self._serve(new)
        return self._change("remove", card_id, library.card_collection[card_id], loaded.path, before, None, new)

    def _checked_card(self, data: dict[str, Any]) -> Card:
        card, problems = validate_card(data, "the card")
        if card is None:
            raise ValidationFailed("the card is not valid, so nothing was written", problems)
        return card

    def _change(
        self,
        action: Literal["add", "edit", "remove"],
        card_id: str,
        collection_id: str,
        path: Path,
        before: Card | None,
        after: Card | None,
        library: Library,
    ) -> CardChange:
        shown = self.display(path)
        warnings: list[Problem] = []
        if after is not None:
            if not after.topics:
                warnings.append(
                    Problem(shown, 1, 1, f"card '{card_id}' has no topics, so topic search cannot find it", "warning")
                )
            # The validator's rule (exact text): the same check as `factdeck check`, without re-reading files.
            twin = next((c.id for c in library.cards.values() if c.text == after.text and c.id != card_id), None)
            if twin is not None:
                warnings.append(Problem(shown, 1, 1, f"the same text is also card '{twin}'", "warning"))
        return CardChange(action, card_id, collection_id, path, shown, before, after, library, tuple(warnings))

    # ------------------------------------------------------------------------------------------ import
    async def import_file(
        self, filename: str, raw: bytes, *, collection_id: str | None = None, fmt: ImportFormat | None = None
    ) -> ImportPlan:
        """Validate an uploaded YAML, CSV or seed-format page in full and say what it would change.

        Nothing is written: pass the plan to :meth:`apply_import` once the moderator confirms.
        """
        return await asyncio.to_thread(self._plan, filename, raw, collection_id, fmt)

    def _plan(self, filename: str, raw: bytes, collection_id: str | None, fmt: ImportFormat | None) -> ImportPlan:
        name = Path(filename.replace("\\", "/")).name or "upload"

        def refused(message: str, line: int = 1, column: int = 1) -> ImportPlan:
            problem = Problem(name, line, column, message)
            return ImportPlan(name, fmt or "yaml", collection_id, None, name, None, None, (problem,), None)

        if len(raw) > MAX_IMPORT_BYTES:
            return refused(f"the file is {len(raw):,} bytes; at most {MAX_IMPORT_BYTES:,} can be imported")
        if collection_id is not None and not _ID.fullmatch(collection_id):
            return refused(f"{collection_id!r} is not a valid collection id: use lowercase letters, digits, hyphens")
        decoded, problems = decode_text(raw, name)
        if decoded is None:
            return ImportPlan(name, fmt or "yaml", collection_id, None, name, None, None, tuple(problems), None)
        text = decoded.replace("\r\n", "\n").replace("\r", "\n")
        fmt = fmt or guess_format(name, text)
        library = self.service.library
        if fmt == "yaml":
            result = validate_text(text, name)
            if not result.ok or result.card_file is None:
                return ImportPlan(name, fmt, collection_id, None, name, None, None, tuple(result.problems), None)
            card_file = result.card_file
            if collection_id is not None and card_file.collection.id != collection_id:
                return refused(
                    f"this file is the collection '{card_file.collection.id}', not '{collection_id}'; "
                    "leave the collection option empty or change the file's collection id"
                )
            file_text = text if text.endswith("\n") else text + "\n"
        else:
            target = collection_id or self._collection_from_name(name, fmt, text)
            imported = import_text(text, name, fmt, collection_id=target)
            errors = [p for p in imported.problems if p.is_error]
            if imported.card_file is None or errors:
                return ImportPlan(name, fmt, target, None, name, None, None, tuple(imported.problems), None)
            card_file = self._merge_into_existing(library, imported.card_file)
            file_text = dump(card_file)
        return self._preview(library, name, fmt, card_file, file_text)

    @staticmethod
    def _collection_from_name(name: str, fmt: ImportFormat, text: str) -> str | None:
        if fmt == "csv":
            return slugify(name.rsplit(".", 1)[0])
        return None  # a seed page names itself by its title

    def _merge_into_existing(self, library: Library, imported: CardFile) -> CardFile:
        """Keep an existing collection's details, and the ids of cards whose text is unchanged.

        CSV and seed pages carry no ids: matching on the text keeps a card's id (and so its views and history)
        across re-imports of the same page; new texts get the next free ids.
        """
        loaded = library.file_of(imported.collection.id)
        if loaded is None:
            return imported
        existing = {_fold(c.text): c for c in loaded.card_file.cards}
        taken: set[str] = set()
        cards: list[Card] = []
        pending: list[Card] = []
        for card in imported.cards:
            old = existing.pop(_fold(card.text), None)
            if old is not None:
                cards.append(msgspec.structs.replace(card, id=old.id, added_by=old.added_by, added_at=old.added_at))
                taken.add(old.id)
            else:
                cards.append(card)
                pending.append(card)
        fresh = self.new_card_ids(imported.collection.id, library, taken | {c.id for c in cards})
        renamed = {id(card): next(fresh) for card in pending}
        cards = [msgspec.structs.replace(c, id=renamed[id(c)]) if id(c) in renamed else c for c in cards]
        return CardFile(collection=loaded.card_file.collection, cards=tuple(cards))

    def _preview(self, library: Library, name: str, fmt: ImportFormat, card_file: CardFile, text: str) -> ImportPlan:
        collection_id = card_file.collection.id
        loaded = library.file_of(collection_id)
        if loaded is not None:
            path = self._inside(loaded.path)
            before = loaded.card_file.cards
        else:
            path = self.path_for(collection_id)
            before = ()
            if path.exists():
                problem = Problem(
                    name,
                    1,
                    1,
                    f"{self.display(path)} exists but is not loaded (it has errors or another collection); "
                    "fix or remove it first",
                )
                return ImportPlan(name, fmt, collection_id, path, self.display(path), None, None, (problem,), None)
        shown = self.display(path)
        problems = [
            dataclasses.replace(p, path=name) if p.path == shown else p
            for p in itertools.chain(*self._validate_file(library, path, card_file, text))
        ]
        old = {c.id: c for c in before}
        new = {c.id: c for c in card_file.cards}
        added = tuple(cid for cid in new if cid not in old)
        changed = tuple(cid for cid in new if cid in old and new[cid] != old[cid])
        removed = tuple(cid for cid in old if cid not in new)
        unchanged = len(new) - len(added) - len(changed)
        ok = not any(p.is_error for p in problems)
        return ImportPlan(
            filename=name,
            fmt=fmt,
            collection_id=collection_id,
            path=path,
            display_path=shown,
            card_file=card_file if ok else None,
            text=text if ok else None,
            problems=tuple(problems),
            base_digest=loaded.digest if loaded is not None else None,
            before=before,
            added=added,
            changed=changed,
            removed=removed,
            unchanged=unchanged,
            new_collection=loaded is None,
        )

    async def apply_import(self, plan: ImportPlan, moderator: Moderator) -> ImportApplied:
        """Write a confirmed import: the collection's file is replaced (or created) and served at once."""
        if not plan.ok or plan.path is None or plan.card_file is None or plan.text is None:
            raise ValidationFailed("this import has errors, so nothing was written", plan.errors)
        async with self._lock:
            applied = await _finish_in_thread(self._apply, plan)
            await self._record_import(applied, moderator)
            return applied

    def _apply(self, plan: ImportPlan) -> ImportApplied:
        if plan.path is None or plan.card_file is None or plan.text is None:
            raise ValidationFailed("this import has errors, so nothing was written", plan.errors)
        library = self.service.library
        path = self._inside(plan.path)
        loaded = library.file_of(plan.card_file.collection.id)
        current = loaded.digest if loaded is not None else None
        if current != plan.base_digest or (loaded is not None and loaded.path != path):
            raise StaleFileError(f"{plan.display_path} changed since this import was checked; run /cards import again")
        new = self._write(library, path, plan.card_file, plan.text, base=loaded)
        self._serve(new)
        return ImportApplied(plan, new)

    # ------------------------------------------------------------------------------------------ export
    async def export_collection(self, collection_id: str) -> Export:
        """The collection as served, as a card file that ``factdeck check`` accepts and re-imports unchanged."""
        library = self.service.library
        loaded = self._file_of(library, collection_id)
        text = await asyncio.to_thread(dump, loaded.card_file)
        return Export(collection_id, f"{collection_id}.yml", text, len(loaded.card_file.cards))

    # ------------------------------------------------------------------------------------------ reload
    async def reload(self, moderator: Moderator | None = None) -> ReloadReport:
        """Re-read the cards folder; a broken file keeps its last good version live."""
        async with self._lock:
            before = self.service.library
            report = await _finish_in_thread(self.service.reload)
            if moderator is not None:
                await self._record_reload(before, self.service.library, report, moderator)
            return report

    # -------------------------------------------------------------------------------------- the audit log
    async def _audit(self, action: Literal["add", "edit", "remove", "import", "reload"], **fields: Any) -> None:
        if self.audit is None:
            return
        try:
            await self.audit.record(action, **fields)
        except (sqlite3.Error, OSError, ValueError, TypeError):
            # The file is written and served; losing the audit row must not make the moderator think otherwise.
            log.exception("could not record %s of %s in the audit log", action, fields.get("card_id"))

    @staticmethod
    def _who(moderator: Moderator) -> dict[str, Any]:
        return {"guild_id": moderator.guild_id, "moderator_id": moderator.id, "moderator_name": moderator.name}

    async def _record_change(self, change: CardChange, moderator: Moderator) -> None:
        await self._audit(
            change.action,
            card_id=change.card_id,
            collection_id=change.collection_id,
            before=card_builtins(change.before),
            after=card_builtins(change.after),
            detail=change.display_path,
            **self._who(moderator),
        )

    async def _record_cards(
        self,
        action: Literal["import", "reload"],
        pairs: Iterable[tuple[str, Card | None, Card | None]],
        collection_of: Callable[[str], str | None],
        detail: str,
        moderator: Moderator,
    ) -> None:
        if self.audit is None:
            return
        entries = [
            {
                "action": action,
                "card_id": card_id,
                "collection_id": collection_of(card_id),
                "before": card_builtins(before),
                "after": card_builtins(after),
                "detail": detail,
                **self._who(moderator),
            }
            for card_id, before, after in itertools.islice(pairs, AUDIT_CARDS_LIMIT)
        ]
        try:
            await self.audit.record_many(entries)  # one transaction, not one per card
        except (sqlite3.Error, OSError, ValueError, TypeError):
            log.exception("could not record the cards of this %s in the audit log", action)

    async def _record_import(self, applied: ImportApplied, moderator: Moderator) -> None:
        plan = applied.plan
        if plan.card_file is None:
            return
        old = {c.id: c for c in plan.before}
        new = {c.id: c for c in plan.card_file.cards}
        summary = (
            f"{plan.filename} into {plan.display_path}: {len(plan.added)} added, {len(plan.changed)} changed,"
            f" {len(plan.removed)} removed"
        )
        await self._audit(
            "import",
            collection_id=plan.collection_id,
            before=None if plan.new_collection else {"cards": len(plan.before)},
            after={"cards": len(plan.card_file.cards)},
            detail=summary,
            **self._who(moderator),
        )
        pairs = [(cid, old.get(cid), new.get(cid)) for cid in (*plan.added, *plan.changed, *plan.removed)]
        await self._record_cards("import", pairs, lambda _cid: plan.collection_id, summary, moderator)

    async def _record_reload(self, before: Library, after: Library, report: ReloadReport, moderator: Moderator) -> None:
        summary = (
            f"{len(report.added)} added, {len(report.changed)} changed, {len(report.removed)} removed,"
            f" {len(report.broken)} broken file(s)"
        )
        await self._audit("reload", detail=summary, **self._who(moderator))
        pairs = [
            (cid, before.cards.get(cid), after.cards.get(cid))
            for cid in (*report.added, *report.changed, *report.removed)
        ]

        def collection_of(cid: str) -> str | None:
            return after.card_collection.get(cid) or before.card_collection.get(cid)

        await self._record_cards("reload", pairs, collection_of, f"reload: {summary}", moderator)


def _text_of(path: Path) -> Callable[[], str]:
    return lambda: path.read_text(encoding="utf-8", errors="replace")


def describe_problems(problems: Iterable[Problem], limit: int = 20) -> list[str]:
    """Problems as ``file:line:col: message`` lines, at most ``limit`` and a line saying how many more."""
    items = list(problems)
    lines = [str(p) for p in items[:limit]]
    if len(items) > limit:
        lines.append(f"… and {len(items) - limit} more")
    return lines
