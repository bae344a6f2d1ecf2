"""Writing one card file: validated by the one validator, never over someone else's edit, atomically.

Every new or changed file goes through the same validator as shipped files (``validate_card`` for the card, then
``validate_text`` and the cross-file checks for the whole file) before anything is written; a file that changed on
disk since it was loaded is never overwritten. Everything here runs in a worker thread.
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bot.cards.library import Library, LoadedFile, replace_file, validated_text
from bot.cards.model import Card, CardFile
from bot.cards.validate import Problem, cross_file, decode_text, validate_card, validate_text_aside
from bot.util.files import atomic_write_bytes

from .errors import CurationError, StaleFileError, ValidationFailed
from .folder import CardsFolder
from .layout import render

__all__ = [
    "CardChange",
    "PreparedFile",
    "checked_card",
    "commit_file",
    "describe_change",
    "prepare_file",
    "restore_file",
    "validate_file",
]

ChangeAction = Literal["add", "edit", "remove"]


@dataclass(frozen=True, slots=True)
class CardChange:
    """One card added, edited or removed: the card before and after, the file written and the new library."""

    action: ChangeAction
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


def checked_card(data: dict[str, Any]) -> Card:
    """The card the validator makes of ``data``, or a refusal listing every problem."""
    card, problems = validate_card(data, "the card")
    if card is None:
        raise ValidationFailed("the card is not valid, so nothing was written", problems)
    return card


def validate_file(
    folder: CardsFolder, library: Library, path: Path, card_file: CardFile, text: str
) -> tuple[list[Problem], list[Problem]]:
    """Every problem of a file about to be written: its own, then those against the library's other files."""
    shown = folder.display(path)
    result = validate_text_aside(text, shown)  # a large file is parsed in a worker process: no stall
    clashes: list[Problem] = []
    if result.ok:
        others = [(folder.display(f.path), f.card_file, validated_text(f)) for f in library.files if f.path != path]
        clashes = cross_file([*others, (shown, card_file, lambda: text)]).get(shown, [])
    return list(result.problems), clashes


@dataclass(frozen=True, slots=True)
class PreparedFile:
    """A file's new text, validated and not yet written; ``base_raw`` is what it replaces (None: a new file)."""

    path: Path
    card_file: CardFile
    text: str
    base: LoadedFile | None
    base_raw: bytes | None
    warnings: tuple[Problem, ...]


def prepare_file(
    folder: CardsFolder,
    library: Library,
    path: Path,
    card_file: CardFile,
    text: str | None = None,
    *,
    base: LoadedFile | None,
) -> PreparedFile:
    """The new text of a file (only the changed cards' lines rewritten unless ``text`` is given), validated
    against the file itself and the library's other files. Writes nothing.

    ``base`` is the loaded version being changed (None for a new file); it must still be what is on disk.
    """
    raw = folder.read_fresh(base) if base is not None else None
    if text is None:
        old_text = decode_text(raw, folder.display(path))[0] if raw is not None else None
        text = render(old_text, base.card_file if base is not None else None, card_file)
    own, clashes = validate_file(folder, library, path, card_file, text)
    errors = [p for p in (*own, *clashes) if p.is_error]
    if errors:
        raise ValidationFailed(f"{folder.display(path)} would not be valid, so nothing was written", errors)
    return PreparedFile(path, card_file, text, base, raw, tuple(p for p in own if not p.is_error))


def commit_file(folder: CardsFolder, library: Library, prepared: PreparedFile) -> Library:
    """Write a prepared file atomically and build the new library (in a worker thread). Does not swap it in.

    Right before the rename, the file on disk must still be the version it was prepared from (or still absent),
    so a hand edit saved meanwhile is never overwritten.
    """
    path = prepared.path
    if prepared.base is not None:
        folder.read_fresh(prepared.base)
    elif path.exists():
        raise StaleFileError(f"{folder.display(path)} appeared on disk meanwhile; run /cards reload and try again")
    try:
        _replace_keeping_owner(path, prepared.text.encode("utf-8"))
    except OSError as exc:
        raise CurationError(f"could not write {folder.display(path)}: {exc.strerror or exc}") from exc
    # The file's own warnings, as a load records them: validated when prepared, so not parsed again.
    return replace_file(library, path, prepared.card_file, prepared.text.encode("utf-8"), prepared.warnings)


def restore_file(prepared: PreparedFile) -> None:
    """Put back what a committed file replaced (remove it if it was new)."""
    if prepared.base_raw is None:
        prepared.path.unlink(missing_ok=True)
    else:
        _replace_keeping_owner(prepared.path, prepared.base_raw)


def _replace_keeping_owner(path: Path, data: bytes) -> None:
    """Write atomically, and keep the file's mode and owner: a curator on the host must still be able to read and
    edit a file the bot wrote (a new file gets its folder's read and write bits)."""
    try:
        before = path.stat()
        mode, owner = stat.S_IMODE(before.st_mode), (before.st_uid, before.st_gid)
    except FileNotFoundError:
        mode, owner = stat.S_IMODE(path.parent.stat().st_mode) & 0o666, None
    atomic_write_bytes(path, data)
    os.chmod(path, mode)
    if owner is not None and owner != (os.geteuid(), os.getegid()):
        with contextlib.suppress(PermissionError):  # only root may give a file away; the mode is kept anyway
            os.chown(path, *owner)


def describe_change(
    folder: CardsFolder,
    action: ChangeAction,
    card_id: str,
    collection_id: str,
    path: Path,
    before: Card | None,
    after: Card | None,
    library: Library,
) -> CardChange:
    """The change, with the warnings worth telling the moderator about the card as written."""
    shown = folder.display(path)
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
