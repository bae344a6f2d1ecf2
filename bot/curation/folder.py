"""The cards folder as writes see it: which file holds what, how moderators see its paths, and that no id or
collection name can steer a write outside it."""

from __future__ import annotations

import re
from pathlib import Path

from bot.cards.library import Library, LoadedFile, file_digest
from bot.cards.model import ID_PATTERN, Card

from .errors import CurationError, NotFoundError, StaleFileError

__all__ = ["CardsFolder", "is_id"]

_ID = re.compile(ID_PATTERN)


def is_id(value: object) -> bool:
    """True for a well-formed card or collection id."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


class CardsFolder:
    """The folder moderators' writes may touch (resolved once)."""

    def __init__(self, cards_dir: Path, shown: str | None = None) -> None:
        self.root = Path(cards_dir).resolve()
        #: How the folder is named to moderators (``cards``, or ``cards/servers/<id>`` for a server's own).
        self.shown = shown or self.root.name

    def display(self, path: Path) -> str:
        """A file's path as moderators see it: ``cards/x.yml``."""
        try:
            return f"{self.shown}/{path.resolve().relative_to(self.root).as_posix()}"
        except ValueError:
            return path.name

    def inside(self, path: Path) -> Path:
        """``path`` resolved, refused when it is not a file inside the folder."""
        resolved = path.resolve()
        if not resolved.is_relative_to(self.root) or resolved == self.root:
            raise CurationError(f"refusing to write {path.name}: it is outside the cards folder")
        return resolved

    def path_for(self, collection_id: str) -> Path:
        """The file a new collection is written to: ``<cards>/<collection_id>.yml``, checked to stay inside."""
        if not is_id(collection_id):
            raise CurationError(
                f"{collection_id!r} is not a valid collection id: use lowercase letters, digits and hyphens"
            )
        return self.inside(self.root / f"{collection_id}.yml")

    def file_of(self, library: Library, collection_id: str) -> LoadedFile:
        """The served file of a collection, or a refusal naming the collections there are."""
        loaded = library.file_of(collection_id) if is_id(collection_id) else None
        if loaded is None:
            known = ", ".join(sorted(library.collections)[:10]) or "none"
            raise NotFoundError(f"there is no collection '{collection_id}' (collections: {known})")
        self.check_uncontested(library, collection_id)
        self.inside(loaded.path)
        return loaded

    def check_uncontested(self, library: Library, collection_id: str) -> None:
        """Refuse to write a collection that two files claim: which one a write belongs in is a curator's call."""
        claimants = library.contested.get(collection_id)
        if claimants:
            served, *others = (self.display(path) for path in claimants)
            raise CurationError(
                f"the collection '{collection_id}' is in more than one file: {served} (served) and "
                f"{', '.join(others)}, so nothing was written. Move the other copy out of the cards folder or "
                "give it another collection id, run /cards reload, then try again"
            )

    def card(self, library: Library, card_id: str) -> tuple[Card, LoadedFile]:
        """A served card and the file that holds it."""
        card = library.cards.get(card_id) if is_id(card_id) else None
        if card is None:
            raise NotFoundError(f"there is no card '{card_id}'")
        return card, self.file_of(library, library.card_collection[card_id])

    def read_fresh(self, loaded: LoadedFile) -> bytes:
        """The file's bytes; refused when they are not the version being served (runs in a worker thread)."""
        shown = self.display(loaded.path)
        try:
            raw = loaded.path.read_bytes()
        except FileNotFoundError:
            raise StaleFileError(
                f"{shown} was removed on disk since it was loaded; run /cards reload and try again"
            ) from None
        if file_digest(raw) != loaded.digest:
            raise StaleFileError(f"{shown} changed on disk since it was loaded; run /cards reload and try again")
        return raw
