"""The typed records of the citation index: a cited work as written in a card, a parsed query, and a hit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bot.index.citations._grammar import _ET_AL_KEY, _join_authors, _name_key, _text_key


@dataclass(frozen=True, slots=True)
class Reference:
    """One cited work as it appears in a card.

    ``kind`` is ``"author-year"``, ``"numbered"`` or ``"opaque"`` (an explicit citation
    string that could not be parsed; matched by its folded text).  For numbered
    references ``authors`` holds the narrative author, if any (``Bordin (5)`` ->
    ``("Bordin",)``), for information only: numbered identity is the number alone.
    """

    kind: Literal["author-year", "numbered", "opaque"]
    authors: tuple[str, ...]
    et_al: bool
    year: str | None
    number: int | None
    written: str
    _key: str = field(init=False, repr=False, compare=False, hash=False, default="")

    def __post_init__(self) -> None:
        object.__setattr__(self, "_key", self._compute_key())

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
        return f"{_join_authors(self.authors, self.et_al)} ({self.year})"

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        """Pickle as the field values and the key, restored without ``__init__`` or ``dataclasses.fields()``.

        The dataclass default (``__getstate__``/``__setstate__``) walks ``fields()`` for every object, which
        made reading back a 100k-card citation index take seconds. Pickles written the old way still load.
        """
        return _restore_reference, (
            self.kind,
            self.authors,
            self.et_al,
            self.year,
            self.number,
            self.written,
            self._key,
        )


def _restore_reference(
    kind: str,
    authors: tuple[str, ...],
    et_al: bool,
    year: str | None,
    number: int | None,
    written: str,
    key: str,
) -> Reference:
    """Rebuild a pickled :class:`Reference` by setting its slots directly (it is frozen: no ``setattr``)."""
    ref = object.__new__(Reference)
    s_kind, s_authors, s_et_al, s_year, s_number, s_written, s_key = _REFERENCE_SLOTS
    s_kind(ref, kind)
    s_authors(ref, authors)
    s_et_al(ref, et_al)
    s_year(ref, year)
    s_number(ref, number)
    s_written(ref, written)
    s_key(ref, key)
    return ref


_REFERENCE_SLOTS = tuple(
    getattr(Reference, name).__set__ for name in ("kind", "authors", "et_al", "year", "number", "written", "_key")
)


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
