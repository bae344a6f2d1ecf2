"""The typed records of the citation index: a cited work as written in a card, a parsed query, and a hit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import msgspec

from bot.index.citations._grammar import _ET_AL_KEY, _join_authors, _name_key, _text_key


class Reference(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """One cited work as it appears in a card.

    ``kind`` is ``"author-year"``, ``"numbered"`` or ``"opaque"`` (an explicit citation
    string that could not be parsed; matched by its folded text).  For numbered
    references ``authors`` holds the narrative author, if any (``Bordin (5)`` ->
    ``("Bordin",)``), for information only: numbered identity is the number alone. Such a reference comes with
    an ``"author-year"`` one of no year (:attr:`named_number`), so that the author finds the card too.

    A frozen msgspec Struct outside the garbage collector's sight: the citation index of a 100k-card library
    holds about 200,000 of them, and a warm start decodes them all from one MessagePack blob in a single call
    (see :mod:`bot.index.citations.index`), which a dataclass restored by pickle made take most of a second.
    The key is stored beside the fields so that decoding does not recompute it.
    """

    kind: Literal["author-year", "numbered", "opaque"]
    authors: tuple[str, ...]
    et_al: bool
    year: str | None
    number: int | None
    written: str
    _key: str = ""

    def __post_init__(self) -> None:
        if not self._key:
            msgspec.structs.force_setattr(self, "_key", self._compute_key())

    def __repr__(self) -> str:
        return (
            f"Reference(kind={self.kind!r}, authors={self.authors!r}, et_al={self.et_al!r}, year={self.year!r}, "
            f"number={self.number!r}, written={self.written!r})"
        )

    def _compute_key(self) -> str:
        if self.kind == "numbered":
            return f"#{self.number}"
        if self.kind == "opaque":
            return "=" + _text_key(self.written)
        names = "&".join(_name_key(a) for a in self.authors)
        if self.et_al:
            names += _ET_AL_KEY
        return f"{names}|{(self.year or '').lower()}"

    @property
    def key(self) -> str:
        """Normalised identity: ``"horvath&symonds|1991"``, ``"barber et al.|2001"``, ``"#7"``."""
        return self._key

    def display(self) -> str:
        """Canonical human form: ``Horvath & Symonds (1991)``, ``Barber et al. (2001)``, ``[7]``."""
        if self.kind == "numbered":
            return f"[{self.number}]"
        if self.kind == "opaque":
            return " ".join(self.written.split())
        authors = _join_authors(self.authors, self.et_al)
        return authors if self.year is None else f"{authors} ({self.year})"

    @property
    def named_number(self) -> bool:
        """The author of a numbered reference (``Bordin`` of ``Bordin (5)``): found by author, never shown apart
        from its number."""
        return self.kind == "author-year" and self.year is None


@dataclass(frozen=True, slots=True)
class ReferenceQuery:
    """What a user asked for, as parsed by :func:`parse_reference`.

    ``kind`` is ``"numbered"`` (``numbers`` set), ``"author-year"`` (authors and
    ``years``) or ``"author"`` (authors only).
    """

    authors: tuple[str, ...] = ()
    et_al: bool = False
    years: tuple[str, ...] = ()
    numbers: tuple[int, ...] = ()

    @property
    def kind(self) -> Literal["numbered", "author-year", "author"]:
        """Which of the three query shapes this is."""
        if self.numbers:
            return "numbered"
        return "author-year" if self.years else "author"


@dataclass(frozen=True, slots=True)
class CitationHit:
    """A card citing a matching work, with the reference as written in that card."""

    card_id: str
    reference: Reference
