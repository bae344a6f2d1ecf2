"""Planning an import: an uploaded YAML, CSV or seed-format page, validated in full, with what it would change.

Nothing here writes: the curator applies a plan once the moderator confirms it.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import msgspec

from bot.cards.importers import guess_format, import_text, slugify
from bot.cards.library import Library
from bot.cards.model import Card, CardFile
from bot.cards.validate import Problem, decode_text, validate_text_aside
from bot.cards.yamlio import dump

from .errors import CurationError
from .folder import CardsFolder, is_id
from .ids import id_prefix, new_card_ids
from .writes import validate_file

__all__ = ["MAX_IMPORT_BYTES", "ImportApplied", "ImportFormat", "ImportPlan", "plan_import"]

#: The largest file an import accepts.
MAX_IMPORT_BYTES = 8 << 20

ImportFormat = Literal["yaml", "csv", "seed"]


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


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def plan_import(
    folder: CardsFolder,
    library: Library,
    filename: str,
    raw: bytes,
    collection_id: str | None,
    fmt: ImportFormat | None,
    given: Mapping[str, int] | None = None,
) -> ImportPlan:
    """Validate an upload in full and say what it would change (runs in a worker thread).

    ``given`` is, per id prefix, the highest number ever given out: new cards are numbered above it.
    """
    name = Path(filename.replace("\\", "/")).name or "upload"

    def refused(message: str, line: int = 1, column: int = 1) -> ImportPlan:
        problem = Problem(name, line, column, message)
        return ImportPlan(name, fmt or "yaml", collection_id, None, name, None, None, (problem,), None)

    if len(raw) > MAX_IMPORT_BYTES:
        return refused(f"the file is {len(raw):,} bytes; at most {MAX_IMPORT_BYTES:,} can be imported")
    if collection_id is not None and not is_id(collection_id):
        return refused(f"{collection_id!r} is not a valid collection id: use lowercase letters, digits, hyphens")
    decoded, problems = decode_text(raw, name)
    if decoded is None:
        return ImportPlan(name, fmt or "yaml", collection_id, None, name, None, None, tuple(problems), None)
    text = decoded.replace("\r\n", "\n").replace("\r", "\n")
    fmt = fmt or guess_format(name, text)
    if fmt == "yaml":
        result = validate_text_aside(text, name)  # a large upload is parsed in a worker process: no stall
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
        target = collection_id or (slugify(name.rsplit(".", 1)[0]) if fmt == "csv" else None)
        imported = import_text(text, name, fmt, collection_id=target)  # a seed page names itself by its title
        errors = [p for p in imported.problems if p.is_error]
        if imported.card_file is None or errors:
            return ImportPlan(name, fmt, target, None, name, None, None, tuple(imported.problems), None)
        card_file = _merge_into_existing(library, imported.card_file, given or {})
        file_text = dump(card_file)
    return _preview(folder, library, name, fmt, card_file, file_text)


def _merge_into_existing(library: Library, imported: CardFile, given: Mapping[str, int]) -> CardFile:
    """Keep an existing collection's details, and the ids of cards whose text is unchanged.

    CSV and seed pages carry no ids: matching on the text keeps a card's id (and so its views and history)
    across re-imports of the same page; new texts get the next free ids.
    """
    collection_id = imported.collection.id
    loaded = library.file_of(collection_id)
    if loaded is None:
        if given.get(id_prefix(collection_id), 0) == 0:
            return imported
        numbered = new_card_ids(collection_id, library.cards, given=given[id_prefix(collection_id)])
        return msgspec.structs.replace(
            imported, cards=tuple(msgspec.structs.replace(c, id=next(numbered)) for c in imported.cards)
        )
    existing = {_fold(c.text): c for c in loaded.card_file.cards}
    kept: set[str] = set()
    cards: list[Card] = []
    pending: list[Card] = []
    for card in imported.cards:
        old = existing.pop(_fold(card.text), None)
        if old is not None:
            cards.append(msgspec.structs.replace(card, id=old.id, added_by=old.added_by, added_at=old.added_at))
            kept.add(old.id)
        else:
            cards.append(card)
            pending.append(card)
    fresh = new_card_ids(
        collection_id, {*library.cards, *kept, *(c.id for c in cards)}, given=given.get(id_prefix(collection_id), 0)
    )
    renamed = {id(card): next(fresh) for card in pending}
    cards = [msgspec.structs.replace(c, id=renamed[id(c)]) if id(c) in renamed else c for c in cards]
    return CardFile(collection=loaded.card_file.collection, cards=tuple(cards))


def _preview(
    folder: CardsFolder, library: Library, name: str, fmt: ImportFormat, card_file: CardFile, text: str
) -> ImportPlan:
    collection_id = card_file.collection.id
    loaded = library.file_of(collection_id)
    try:
        folder.check_uncontested(library, collection_id)
    except CurationError as refused:
        return ImportPlan(
            name, fmt, collection_id, None, name, None, None, (Problem(name, 1, 1, refused.message),), None
        )
    if loaded is not None:
        path = folder.inside(loaded.path)
        before = loaded.card_file.cards
    else:
        path = folder.path_for(collection_id)
        before = ()
        if path.exists():
            problem = Problem(
                name,
                1,
                1,
                f"{folder.display(path)} exists but is not loaded (it has errors or another collection); "
                "fix or remove it first",
            )
            return ImportPlan(name, fmt, collection_id, path, folder.display(path), None, None, (problem,), None)
    shown = folder.display(path)
    problems = [
        dataclasses.replace(p, path=name) if p.path == shown else p
        for p in itertools.chain(*validate_file(folder, library, path, card_file, text))
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
