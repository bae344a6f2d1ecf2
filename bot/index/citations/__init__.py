"""Academic references cited in a fact card's text, and an index from references to cards.

Pure module: no Discord, no I/O.  Every public function accepts any string (hostile,
huge, empty, emoji, RTL, regex metacharacters) and returns empty results rather than
raising.

Forms recognised in card text
-----------------------------
Author-year, inside parentheses or brackets (several separated by ``;``, with optional
lead-ins such as ``e.g.,``, ``see``, ``cf.``):

* ``(Clarkson, 1990)``, ``(Horvath & Symonds, 1991)``, ``(Horvath and Symonds, 1991)``
* ``(Salvio, Beutler, Wood, & Engle, 1992)``, ``(Martin, Garske & Davis 2000: 438)``
* ``(Bordin, 1979, 1994)`` and ``(Simpson 2004, 2001)`` -> one reference per year
* ``(Barber et al. 2001)``, ``(Joe et. al. 2001)``, ``(Bartle-Haring et al., 2007)``
* ``(Drug Strategies 2003)`` (an organisation: several capitalised words are one name)

Narrative author-year: ``Rogers (1951)``, ``Horvath and Symonds (1991)``,
``Smith et al. (2000)``, ``Bordin's (1979, 1994)``.

Numbered: ``(7, 8)``, ``[7]``, ``(12-15)``, ``Bordin (5)``, and superscript numbers
flattened after punctuation: ``alliance.10,11``, ``partnership.12-15``, ``youth.13``.
Ranges expand (``12-15`` -> 12, 13, 14, 15; ranges longer than 50 keep their two ends).
Numbers are 1 to 3 digits; four-digit years and page locators (``2000: 438``) are never
numbered references.

``Reference.written``
---------------------
* author-year: the single reference as written, without the enclosing parentheses or a
  lead-in (``Horvath & Symonds, 1991``; ``Martin, Garske & Davis 2000: 438``;
  narrative ``Rogers (1951)``).  In a multi-year group each year gets the authors as
  written plus that year: ``Bordin, 1979, 1994`` -> ``Bordin, 1979`` and ``Bordin, 1994``;
  ``Bordin (1979, 1994)`` -> ``Bordin (1979)`` and ``Bordin (1994)``.  A page locator is
  kept on the last year of the group.
* numbered: the whole citation group as written, shared by every number in it:
  ``(7, 8)`` for both 7 and 8, ``Bordin (5)``, ``10,11`` (the glued superscript list
  without the punctuation before it), ``12-15`` for each of 12..15.
* opaque (an explicit citation string that does not parse): the string itself.
"""

from __future__ import annotations

import hashlib
import heapq
import re
from bisect import bisect_left, insort
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import Literal

from rapidfuzz import fuzz, process

from bot.util import text as _text_module
from bot.util.text import fold

#: Changes whenever the extraction code changes (this module or the folding it uses), so references cached by an
#: older version are never reused: a fixed pattern takes effect without the card files changing.
EXTRACTION_VERSION = hashlib.blake2b(
    Path(__file__).read_bytes() + Path(_text_module.__file__).read_bytes(), digest_size=6
).hexdigest()

__all__ = [
    "CitationHit",
    "CitationIndex",
    "Reference",
    "ReferenceQuery",
    "extract",
    "fold",
    "parse_reference",
]

_MAX_QUERY_LEN = 400
_MAX_RANGE = 50
_ET_AL_KEY = " et al."

_NAME_JUNK = re.compile(r"[.'\"]+")
_NAME_SPACE = re.compile(r"[\s\-]+")


@lru_cache(maxsize=65536)
def _name_key(name: str) -> str:
    """Folded surname for identity: apostrophes/dots dropped, hyphens and spaces -> one space."""
    return _NAME_SPACE.sub(" ", _NAME_JUNK.sub("", fold(name))).strip()


def _text_key(s: str) -> str:
    return " ".join(fold(s).split())


# --------------------------------------------------------------------------- data


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


def _join_authors(authors: Sequence[str], et_al: bool) -> str:
    if et_al:
        return f"{', '.join(authors)} et al."
    if len(authors) <= 1:
        return "".join(authors)
    if len(authors) == 2:
        return f"{authors[0]} & {authors[1]}"
    return f"{', '.join(authors[:-1])}, & {authors[-1]}"


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


# --------------------------------------------------------------------------- regexes

_UPPER = "".join(re.escape(chr(c)) for c in range(0x10000) if chr(c).isupper() and chr(c).isalpha())
_LOWER = "".join(re.escape(chr(c)) for c in range(0x10000) if chr(c).islower() and chr(c).isalpha())
_UP = f"[{_UPPER}]"
_LET = r"[^\W\d_]"
_TAIL = rf"(?:{_LET}|['’](?!s\b)(?={_LET})|[-‐](?={_LET}))*"
_CAPWORD = rf"{_UP}{_TAIL}"
# A capitalised word not glued to a preceding word character (the check sits after the
# first character so that the regex engine can still scan fast for that character).
_CAPWORD_START = rf"{_UP}(?<![\w'’-].){_TAIL}"
_PARTICLE = r"(?:(?:van|von|de|der|den|del|della|di|da|du|dos|das|la|le|ten|ter|zu)\s+)"
_TRAILING_PARTICLES_RE = re.compile(rf"(?<![\w'’-]){_PARTICLE}+$")
_SURNAME = rf"{_PARTICLE}{{0,3}}{_CAPWORD}"
# Organisations: up to six capitalised words, optionally joined by of/for/on/the.
_ORG_TAIL = rf"(?:\s+(?:(?:of|for|on|the)\s+){{0,2}}{_CAPWORD}){{0,5}}"
_NAME = rf"{_SURNAME}{_ORG_TAIL}"
_AND = r"(?:&|and(?=\s))"
_SEP = rf"(?:\s*,\s*(?:{_AND}\s*)?|\s+and\s+|\s*&\s*)"
_ETAL = r"(?:\s*,?\s+et\.?\s*al(?:\.|ii\b|\b))"
_YEAR = r"(?:(?:1[5-9]\d\d|20\d\d)[a-rt-z]?(?!\w)|n\.\s?d\.|in\s+press\b|forthcoming\b)"
_YEARS = rf"{_YEAR}(?:\s*,\s*{_YEAR})*"
_PAGES = r"(?:\s*:\s*\d+(?:\s*[-–]\s*\d+)?(?!\w)|\s*,\s*(?:pp?\.|pages?)\s*\d+(?:\s*[-–]\s*\d+)?(?!\w))"
_NUM = r"\d{1,3}(?!\d)(?:\s*[-–]\s*\d{1,3}(?!\d))?"
_NUMLIST = rf"{_NUM}(?:\s*[,;]\s*{_NUM})*"
# Lead-ins before an item inside parentheses: lowercase words ("e.g.,", "see the review
# by") and a few capitalised ones ("See", "For example,", "Cf.").
_LEAD = (
    rf"(?P<lead>(?:(?:[{_LOWER}][\w.'’-]*|(?i:see|cf|compare|for|also|but|as|and|or|in|reviewed))"
    rf"[.,:]*\s+){{0,6}})"
)

_YEAR_RE = re.compile(_YEAR, re.IGNORECASE)
_NUM_RE = re.compile(r"(\d{1,3})(?:\s*[-–]\s*(\d{1,3}))?")
_SPLIT_SEP_RE = re.compile(_SEP)

# One author-year item inside brackets: opened by "(", "[" or ";" (the previous item's
# separator), closed by ";", ")" or "]" (looked ahead, so the next item can start there).
_ITEM_RE = re.compile(
    rf"[(\[;]\s*{_LEAD}(?P<authors>{_CAPWORD_START}{_ORG_TAIL}(?:{_SEP}{_NAME}){{0,19}})"
    rf"(?:{_ETAL})?(?:\s*,\s*|\s+)(?:{_YEARS})(?:{_PAGES})?(?=\s*[;)\]])"
)
_ITEM_BODY_RE = re.compile(
    rf"(?P<authors>{_NAME}(?:{_SEP}{_NAME}){{0,19}})(?P<etal>{_ETAL})?"
    rf"(?P<gap>\s*,\s*|\s+)(?P<years>{_YEARS})(?P<pages>{_PAGES})?"
)
# A bracketed group holding only years (narrative "Rogers (1951)") or only numbers.
_DIGIT_GROUP_RE = re.compile(rf"[(\[]\s*(?:(?P<years>{_YEARS})(?:{_PAGES})?|(?P<nums>{_NUMLIST}))\s*[)\]]")
# Narrative authors right before such a group: "A", "A and B", "A, B, & C", "A et al.", "A's".
_NARR_AUTHORS = (
    rf"(?P<authors>{_CAPWORD_START}(?:(?:\s*,\s*{_SURNAME})*\s*,?\s*{_AND}\s*{_SURNAME})?)"
    rf"(?P<etal>{_ETAL})?(?:['’]s?)?"
)
_NARR_RE = re.compile(rf"{_NARR_AUTHORS}\s*$")
_NARR_FULL_RE = re.compile(
    rf"{_NARR_AUTHORS.replace('(?P<authors>', '(?P<authors>(?:' + _PARTICLE + ')*', 1)}"
    rf"\s*[(\[]\s*(?:(?P<years>{_YEARS})(?P<pages>{_PAGES})?|(?P<nums>{_NUMLIST}))\s*[)\]]"
)
# Superscript numbers flattened after punctuation ("alliance.10,11"); the letters before
# the punctuation are checked in Python.
_SUPER_RE = re.compile(
    r"[.,;\"”’'](?:[.,;](?=\d))?(?P<nums>\d{1,3}(?:[-–]\d{1,3})?(?:,\d{1,3}(?:[-–]\d{1,3})?)*)(?!\w|[.,]\d)"
)
_WORD_BEFORE_RE = re.compile(rf"({_LET}+)\W*$")
_ABBREVIATIONS = frozenset({
    "pp", "vol", "vols", "no", "nos", "nr", "fig", "figs", "tab", "ch", "chap", "sec", "eq", "eqs", "ed",
    "eds", "art", "para", "pt", "app", "ver", "op", "ca", "approx", "st", "ibid", "cit", "ff", "vs",
})  # fmt: skip
_LEADIN_RE = re.compile(
    r"\s*(?:(?:e\.\s?g\.|i\.\s?e\.|see\s+also|see|cf\.?|compare|for\s+example|for\s+an?\s+"
    r"(?:review|overview|discussion)|for\s+reviews?|but\s+see|also|as\s+cited\s+in|"
    r"(?:as\s+)?reviewed\s+in|reviewed\s+by|quoted\s+in|and|or|in)\s*[,:]?\s+)+",
    re.IGNORECASE,
)


# --------------------------------------------------------------------------- parsing helpers


def _squash(s: str) -> str:
    """Collapse runs of whitespace (cheap when there are none)."""
    if "  " in s or "\n" in s or "\t" in s or "\r" in s or "\xa0" in s:
        return " ".join(s.split())
    return s.strip()


def _split_names(authors: str) -> tuple[str, ...]:
    return tuple(_squash(p) for p in _SPLIT_SEP_RE.split(authors) if p and not p.isspace())


def _numbers(body: str) -> list[int]:
    out: list[int] = []
    for m in _NUM_RE.finditer(body):
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) else lo
        if lo < hi <= lo + _MAX_RANGE:
            out.extend(range(lo, hi + 1))
        else:
            out.extend((lo, hi) if hi != lo else (lo,))
    return [n for n in out if n > 0]


def _years(years: str) -> list[str]:
    return [" ".join(y.lower().split()) for y in _YEAR_RE.findall(years)]


# --------------------------------------------------------------------------- extraction
# Each citation string is parsed once (lru_cache): cards citing the same work the same way
# share the parse and the (immutable) Reference objects.


@lru_cache(maxsize=131072)
def _parse_item(item: str) -> tuple[Reference, ...]:
    """``Horvath & Symonds, 1991`` / ``Bordin, 1979, 1994`` -> one reference per year."""
    m = _ITEM_BODY_RE.fullmatch(item)
    if m is None:
        return ()
    names = _split_names(m.group("authors"))
    if not names:
        return ()
    et_al = m.group("etal") is not None
    years = _years(m.group("years"))
    if len(years) == 1:
        return (Reference("author-year", names, et_al, years[0], None, _squash(item)),)
    head = _squash(item[: m.start("gap")])
    sep = ", " if "," in m.group("gap") else " "
    pages = _squash(m.group("pages") or "")
    last = len(years) - 1
    return tuple(
        Reference("author-year", names, et_al, y, None, f"{head}{sep}{y}{pages if i == last else ''}")
        for i, y in enumerate(years)
    )


@lru_cache(maxsize=131072)
def _parse_narrative(item: str) -> tuple[Reference, ...]:
    """``Rogers (1951)``, ``Bordin (1979, 1994)``, ``Bordin (5)``."""
    m = _NARR_FULL_RE.fullmatch(item)
    if m is None:
        return ()
    names = _split_names(m.group("authors"))
    if not names:
        return ()
    written = _squash(item)
    if m.group("nums") is not None:
        return tuple(Reference("numbered", names, False, None, n, written) for n in _numbers(m.group("nums")))
    et_al = m.group("etal") is not None
    years = _years(m.group("years"))
    if len(years) == 1:
        return (Reference("author-year", names, et_al, years[0], None, written),)
    head = _squash(item[: item.index("(") if "(" in item else item.index("[")])
    pages = (m.group("pages") or "").rstrip()
    last = len(years) - 1
    return tuple(
        Reference("author-year", names, et_al, y, None, f"{head} ({y}{pages if i == last else ''})")
        for i, y in enumerate(years)
    )


@lru_cache(maxsize=16384)
def _parse_numbers(written: str) -> tuple[Reference, ...]:
    """``(7, 8)``, ``[7]``, ``10,11``, ``12-15``: one numbered reference per number."""
    written = _squash(written)
    return tuple(Reference("numbered", (), False, None, n, written) for n in _numbers(written))


def _narrative_start(text: str, start: int) -> int:
    """Where the narrative authors before ``text[start]`` (a bracket) begin, or -1."""
    window = max(0, start - 160)
    m = _NARR_RE.search(text, window, start)
    if m is None:
        return -1
    p = _TRAILING_PARTICLES_RE.search(text, max(0, m.start() - 40), m.start())
    return p.start() if p is not None else m.start()


def _superscripts(text: str, found: list[tuple[int, Reference]]) -> None:
    for m in _SUPER_RE.finditer(text):
        start = m.start()
        nums_start = m.start("nums")
        if text[start] in ".,;":
            # "alliance.10": two letters before the punctuation, nothing between it and the digits.
            if nums_start != start + 1 or start < 2 or not text[start - 2 : start].isalpha():
                continue
        elif start < 1 or not text[start - 1].isalpha():  # '"a quote"12'
            continue
        wb = _WORD_BEFORE_RE.search(text, max(0, start - 24), start + 1)
        if wb is not None and wb.group(1).lower() in _ABBREVIATIONS:
            continue
        found.extend((nums_start, ref) for ref in _parse_numbers(m.group("nums")))


def _extract_positioned(text: str) -> list[tuple[int, Reference]]:
    found: list[tuple[int, Reference]] = []
    if "(" in text or "[" in text:
        for m in _ITEM_RE.finditer(text):
            start = m.start("authors")
            lead = m.group("lead")
            if lead:
                p = _TRAILING_PARTICLES_RE.search(lead)
                if p is not None:
                    start -= len(lead) - p.start()
            found.extend((start, ref) for ref in _parse_item(text[start : m.end()]))
        for m in _DIGIT_GROUP_RE.finditer(text):
            start = _narrative_start(text, m.start())
            if start >= 0:
                found.extend((start, ref) for ref in _parse_narrative(text[start : m.end()]))
            elif m.group("nums") is not None:
                found.extend((m.start(), ref) for ref in _parse_numbers(m.group()))
    _superscripts(text, found)
    if len(found) > 1:
        found.sort(key=_first)
    return found


def _first(pair: tuple[int, Reference]) -> int:
    return pair[0]


def extract(text: str) -> list[Reference]:
    """Every reference cited in a card's text, in order of appearance, de-duplicated by key.

    Never raises: anything that is not a string, or has no citation, gives ``[]``.
    """
    if not isinstance(text, str) or not text:
        return []
    seen: set[str] = set()
    refs: list[Reference] = []
    for _pos, ref in _extract_positioned(text):
        key = ref._key
        if key not in seen:
            seen.add(key)
            refs.append(ref)
    return refs


# --------------------------------------------------------------------------- queries

_Q_WORD = rf"(?!(?:and|et)\b){_LET}{_TAIL}"
_Q_NAME = rf"{_Q_WORD}(?:\s+{_Q_WORD}){{0,5}}"
_QUERY_RE = re.compile(
    rf"\s*[(\[]?\s*(?P<authors>{_Q_NAME}(?:{_SEP}{_Q_NAME}){{0,19}})(?P<etal>{_ETAL})?(?:['’]s?)?"
    rf"(?:(?:\s*,\s*|\s+)?\(?\s*(?P<years>{_YEARS})(?P<pages>{_PAGES})?\s*\)?)?\s*[)\]]?\s*[.;,]?\s*",
    re.IGNORECASE,
)
_QUERY_NUM_RE = re.compile(rf"\s*(?:#\s*)?[(\[]?\s*(?:#\s*)?{_NUMLIST}\s*[)\]]?\s*[.;,]?\s*")


def _parse_query(query: str) -> ReferenceQuery | None:
    if _QUERY_NUM_RE.fullmatch(query):
        nums = tuple(dict.fromkeys(_numbers(query)))
        return ReferenceQuery(numbers=nums) if nums else None
    m = _QUERY_RE.fullmatch(query)
    if m is None:
        return None
    names = _split_names(m.group("authors"))
    if not names:
        return None
    years = tuple(dict.fromkeys(_years(m.group("years") or "")))
    return ReferenceQuery(authors=names, et_al=bool(m.group("etal")), years=years)


def parse_reference(query: str) -> ReferenceQuery | None:
    """Parse what a user typed into a :class:`ReferenceQuery`, or ``None`` if it is no reference.

    Accepts every form :func:`extract` finds, with or without parentheses and in any
    case: ``Horvath & Symonds, 1991``, ``horvath and symonds 1991``, ``Rogers (1951)``,
    ``Bordin, 1979, 1994``, ``Orlinsky et al. 2004``, an author alone (``Simpson``,
    ``Horvath & Symonds``), a display form (``Barber et al. (2001)``), a number or list of
    numbers (``7``, ``[7]``, ``(7, 8)``, ``12-15``).  Lead-ins such as ``e.g.,`` or ``see``
    are ignored.
    """
    if not isinstance(query, str) or len(query) > _MAX_QUERY_LEN:
        return None
    query = query.strip()
    if not query:
        return None
    lead = _LEADIN_RE.match(query)
    if lead is not None and lead.end() < len(query):
        parsed = _parse_query(query[lead.end() :])
        if parsed is not None:
            return parsed
    return _parse_query(query)


def _year_matches(ref_year: str | None, years: tuple[str, ...]) -> bool:
    if not years:
        return True
    if ref_year is None:
        return False
    for y in years:
        if ref_year == y:
            return True
        # A year without suffix matches every suffix: "1991" finds "1991a" and "1991b".
        if len(y) == 4 and y.isdigit() and ref_year[:4] == y and ref_year[4:].isalpha():
            return True
    return False


def _authors_match(ref_folded: tuple[str, ...], ref_et_al: bool, q_folded: tuple[str, ...], q_et_al: bool) -> bool:
    if q_et_al:
        # "A et al." / "A, B, et al.": the reference list starts with the query's names and
        # has more authors than given (an et-al reference, or at least three authors).
        n = len(q_folded)
        if ref_folded[:n] != q_folded and not (ref_et_al and q_folded[: len(ref_folded)] == ref_folded):
            return False
        return ref_et_al or len(ref_folded) >= max(3, n + 1)
    if len(q_folded) == 1:
        return q_folded[0] in ref_folded
    if ref_folded == q_folded and not ref_et_al:
        return True
    # A full list of three or more matches an "et al." reference with the same lead author(s).
    return ref_et_al and len(q_folded) >= 3 and q_folded[: len(ref_folded)] == ref_folded


# --------------------------------------------------------------------------- index

# An index entry is a small list (cheaper to build than an object): the canonical
# reference (first seen with that key), its folded author names, its hits as
# (card order, position in card, card id, reference as written there), the number of
# distinct citing cards, and the id of the last citing card seen.
_REF, _FOLDED, _HITS, _CARDS, _LAST = range(5)

#: Card orders are spaced this far apart, so that :meth:`CitationIndex.updated` can place new
#: cards between existing ones (about 32 times at the same spot before it renumbers).
_ORDER_GAP = 1 << 32
#: Bump when the pickled layout of :class:`CitationIndex` changes: older pickles are refused.
_PICKLE_FORMAT = 2


def _folded_authors(key: str) -> tuple[str, ...]:
    names = key[: key.rfind("|")]
    names = names.removesuffix(_ET_AL_KEY)
    return tuple(names.split("&")) if names else ()


class CitationIndex:
    """Maps references to the cards that cite them.

    Matching rules for :meth:`lookup`:

    * a number or list of numbers matches numbered references with those numbers
      (numbers are local to each card's article, so ``7`` finds every card citing a ``[7]``);
    * an author alone (``Simpson``) matches every author-year reference with that
      surname among its authors, in any position;
    * several authors (``Horvath & Symonds``) must equal the reference's full author list;
      a full list of three or more also matches an ``Orlinsky et al.`` reference with the
      same first author;
    * ``X et al.`` matches references whose first author is X and that are themselves
      "et al." or have three or more authors;
    * with a year, the year must match too; ``1991`` matches ``1991``, ``1991a``,
      ``1991b``, while ``1991a`` matches only ``1991a``; several years match any of them;
    * surnames are compared accent- and case-folded, ignoring apostrophes and dots and
      treating hyphens as spaces (``Ronnestad`` == ``Rønnestad``, ``OLeary`` == ``O'Leary``);
      ``horvath symonds 1991`` (no separator) is retried as two authors;
    * explicit citations that do not parse are matched by their folded text.

    Hits come in card order (the order cards were given to :meth:`build`), one per
    (card, matching reference): ``Bordin`` gives two hits for a card citing
    ``Bordin, 1979, 1994``.
    """

    __slots__ = (
        "_all_ranked",
        "_by_card",
        "_by_first",
        "_by_surname",
        "_display",
        "_entries",
        "_fuzzy_cache",
        "_numbered",
        "_opaque",
        "_opaque_sorted",
        "_order",
        "_prefix_cache",
        "_rank_of",
        "_surnames",
    )

    def __init__(self) -> None:
        self._entries: dict[str, list] = {}
        self._by_card: dict[str, list[Reference]] = {}
        self._by_surname: dict[str, list[str]] = {}
        self._by_first: dict[str, list[str]] = {}
        self._opaque: dict[str, str] = {}
        self._opaque_sorted: list[str] = []
        self._surnames: list[str] = []
        self._numbered: list[str] = []
        self._display: dict[str, str] = {}
        self._prefix_cache: dict[tuple[str, int], list[tuple[str, int]]] = {}
        self._fuzzy_cache: dict[int, list[str]] = {}
        self._all_ranked: list[str] | None = None
        self._rank_of: dict[str, tuple[int, str]] = {}
        self._order: dict[str, int] = {}

    def __getstate__(self) -> tuple[int, dict[str, object]]:
        """Pickled state: a format number and the slots, without the lazily filled caches."""
        state = {name: getattr(self, name) for name in self.__slots__}
        state["_prefix_cache"] = {}
        state["_fuzzy_cache"] = {}
        return _PICKLE_FORMAT, state

    def __setstate__(self, state: tuple[int, dict[str, object]]) -> None:
        """Restore :meth:`__getstate__`; a pickle of another format raises ValueError (rebuild it)."""
        if not isinstance(state, tuple) or len(state) != 2 or state[0] != _PICKLE_FORMAT:
            raise ValueError("a citation index pickled by another version")
        for name in self.__slots__:
            setattr(self, name, state[1][name])

    @classmethod
    def build(cls, cards: Iterable[tuple[str, str, Sequence[str]]]) -> CitationIndex:
        """Index ``(card_id, text, explicit_citations)`` triples (see :func:`card_references`)."""
        return cls.from_references((card_id, card_references(text, explicit)) for card_id, text, explicit in cards)

    @classmethod
    def from_references(cls, cards: Iterable[tuple[str, Sequence[Reference]]]) -> CitationIndex:
        """Index references already extracted per card, e.g. read back from a cache.

        A card id given twice has its references merged.
        """
        index = cls()
        entries = index._entries
        by_card = index._by_card
        by_first = index._by_first
        by_surname = index._by_surname
        orders = index._order
        for n, (card_id, found) in enumerate(cards, 1):
            order = n * _ORDER_GAP
            refs = by_card.get(card_id)
            if refs is None:
                refs = by_card[card_id] = []
                orders[card_id] = order
                if not found:
                    continue
                seen = set()
            else:
                seen = {r._key for r in refs}
            for ref in found:
                key = ref._key
                if key in seen:
                    continue
                seen.add(key)
                entry = entries.get(key)
                if entry is None:
                    folded = _folded_authors(key) if ref.kind == "author-year" else ()
                    entry = entries[key] = [ref, folded, [], 0, None]
                    if folded:
                        by_first.setdefault(folded[0], []).append(key)
                        for name in set(folded):
                            by_surname.setdefault(name, []).append(key)
                    elif ref.kind == "opaque":
                        index._opaque[key[1:]] = key
                entry[_HITS].append((order, len(refs), card_id, ref))
                if entry[_LAST] != card_id:
                    entry[_LAST] = card_id
                    entry[_CARDS] += 1
                refs.append(ref)
        index._surnames = sorted(by_surname)
        # Rank for autocomplete: most cited first, then by key (numbers in numeric order).
        rank_of = index._rank_of
        for key, entry in entries.items():
            rank_of[key] = _rank(key, entry[_CARDS])
        for keys in by_surname.values():
            if len(keys) > 1:
                keys.sort(key=rank_of.__getitem__)
        index._opaque_sorted = sorted(index._opaque)
        index._numbered = sorted((k for k in entries if k.startswith("#")), key=lambda k: int(k[1:]))
        return index

    def __len__(self) -> int:
        """Number of distinct references."""
        return len(self._entries)

    # ------------------------------------------------------------------ incremental updates

    def updated(
        self, changes: Mapping[str, Sequence[Reference] | None], order: Iterable[str] | None = None
    ) -> CitationIndex:
        """A new index with some cards' references replaced; this index is not changed and stays usable.

        ``changes`` maps a card id to its references now (as :func:`card_references` gives them; a new card or
        a changed one) or to None (a removed card). ``order`` is every card id of the new library, in library
        order: it places new cards among the others so that hits keep coming in card order. Without it, new
        cards come after all others. Lookups and completions of the result are the same as those of an index
        built from scratch over the new library.

        Only the entries and lists that change are copied; the top-level dicts are shallow-copied. When the
        kept cards are not in the same relative order as before, or there is no room to place a new card
        between its neighbours, the index is rebuilt from the references it holds (no re-extraction).
        """
        if not changes:
            return self
        if order is not None and not isinstance(order, Sequence):
            order = list(order)
        placed = self._place(changes, order)
        if placed is None:
            return self._rebuilt(changes, order)
        return self._apply(changes, placed)

    def _place(
        self, changes: Mapping[str, Sequence[Reference] | None], order: Iterable[str] | None
    ) -> dict[str, int] | None:
        """The card order of every changed card still present; None when they cannot be placed."""
        old = self._order
        placed: dict[str, int] = {}
        if order is None:
            last = max(old.values(), default=0)
            for card_id, refs in changes.items():
                if refs is None:
                    continue
                if card_id in old:
                    placed[card_id] = old[card_id]
                else:
                    last += _ORDER_GAP
                    placed[card_id] = last
            return placed
        prev = 0
        pending: list[str] = []
        kept = 0
        for card_id in order:
            if card_id in changes:
                if changes[card_id] is None:
                    raise ValueError(f"card {card_id!r} is removed but listed in the new order")
                pending.append(card_id)
                continue
            at = old.get(card_id)
            if at is None:
                raise ValueError(f"card {card_id!r} is neither indexed nor among the changes")
            if at <= prev:
                return None
            if pending:
                step = (at - prev) // (len(pending) + 1)
                if step < 1:
                    return None
                for i, pending_id in enumerate(pending, 1):
                    placed[pending_id] = prev + i * step
                pending.clear()
            prev = at
            kept += 1
        for i, pending_id in enumerate(pending, 1):
            placed[pending_id] = prev + i * _ORDER_GAP
        if kept != len(old) - sum(1 for card_id in changes if card_id in old):
            raise ValueError("the new order leaves out indexed cards that are not among the changes")
        missing = [card_id for card_id, refs in changes.items() if refs is not None and card_id not in placed]
        if missing:
            raise ValueError(f"changed cards missing from the new order: {missing[:5]}")
        return placed

    def _rebuilt(self, changes: Mapping[str, Sequence[Reference] | None], order: Iterable[str] | None) -> CitationIndex:
        """The new index built from scratch, reusing the references this one holds for unchanged cards."""
        if order is None:
            order = [*(c for c in self._order if c not in changes), *(c for c in changes if c not in self._order)]
        by_card = self._by_card
        return CitationIndex.from_references(
            (card_id, by_card[card_id] if card_id not in changes else changes[card_id] or ())
            for card_id in order
            if card_id in changes or card_id in by_card
        )

    def _apply(self, changes: Mapping[str, Sequence[Reference] | None], placed: dict[str, int]) -> CitationIndex:
        """Copy-on-write update: copies of the top-level dicts, new lists only where something changed."""
        new = CitationIndex.__new__(CitationIndex)
        entries = new._entries = dict(self._entries)
        by_card = new._by_card = dict(self._by_card)
        orders = new._order = dict(self._order)
        rank_of = new._rank_of = dict(self._rank_of)
        by_surname = new._by_surname = dict(self._by_surname)
        by_first = new._by_first = dict(self._by_first)
        opaque = new._opaque = dict(self._opaque)
        touched = set(changes)
        # Per key: cards that stop citing it, and rows that start.
        losing: dict[str, int] = {}
        rows: dict[str, list[tuple[int, int, str, Reference]]] = {}
        for card_id, found in changes.items():
            for ref in self._by_card.get(card_id, ()):
                losing[ref._key] = losing.get(ref._key, 0) + 1
            if found is None:
                by_card.pop(card_id, None)
                orders.pop(card_id, None)
                continue
            at = placed[card_id]
            refs: list[Reference] = []
            seen: set[str] = set()
            for ref in found:
                if ref._key not in seen:
                    seen.add(ref._key)
                    rows.setdefault(ref._key, []).append((at, len(refs), card_id, ref))
                    refs.append(ref)
            by_card[card_id] = refs
            orders[card_id] = at
        created: list[str] = []
        dropped: list[str] = []
        for key in losing.keys() | rows.keys():
            entry = self._entries.get(key)
            hits = [row for row in entry[_HITS] if row[2] not in touched] if entry is not None else []
            added = rows.get(key, ())
            if added:
                hits.extend(added)
                hits.sort()
            if not hits:
                del entries[key]
                del rank_of[key]
                dropped.append(key)
                continue
            cards = (entry[_CARDS] if entry is not None else 0) - losing.get(key, 0) + len(added)
            first = hits[0][3]
            folded = (
                entry[_FOLDED] if entry is not None else (_folded_authors(key) if first.kind == "author-year" else ())
            )
            entries[key] = [first, folded, hits, cards, hits[-1][2]]
            rank_of[key] = _rank(key, cards)
            if entry is None:
                created.append(key)
        # Secondary structures: only the lists that hold a changed key are rebuilt.
        changed_keys = losing.keys() | rows.keys()
        names: dict[str, list[str]] = {}  # name -> keys created with it
        firsts: dict[str, list[str]] = {}  # first author -> keys created with it
        for key in changed_keys:
            entry = entries.get(key) or self._entries[key]
            folded = entry[_FOLDED]
            if folded:
                is_new = key in entries and key not in self._entries
                new_first = firsts.setdefault(folded[0], [])
                if is_new:
                    new_first.append(key)
                for name in dict.fromkeys(folded):
                    new_names = names.setdefault(name, [])
                    if is_new:
                        new_names.append(key)
        gone = set(dropped)
        surnames = self._surnames
        for name, fresh in names.items():
            keys = [k for k in by_surname.get(name, ()) if k not in gone]
            keys.extend(fresh)
            if keys:
                keys.sort(key=rank_of.__getitem__)
                if name not in by_surname:
                    surnames = surnames if surnames is not self._surnames else list(surnames)
                    insort(surnames, name)
                by_surname[name] = keys
            elif name in by_surname:
                del by_surname[name]
                surnames = surnames if surnames is not self._surnames else list(surnames)
                del surnames[bisect_left(surnames, name)]
        for name, fresh in firsts.items():
            keys = [k for k in by_first.get(name, ()) if k not in gone]
            keys.extend(fresh)
            if keys:
                # In order of first citation, as a build adds them.
                keys.sort(key=lambda k: entries[k][_HITS][0][:2])
                by_first[name] = keys
            else:
                by_first.pop(name, None)
        new._surnames = surnames
        opaque_sorted = self._opaque_sorted
        numbered = self._numbered
        for key in dropped:
            if key[0] == "=":
                del opaque[key[1:]]
                opaque_sorted = opaque_sorted if opaque_sorted is not self._opaque_sorted else list(opaque_sorted)
                del opaque_sorted[bisect_left(opaque_sorted, key[1:])]
            elif key[0] == "#":
                numbered = numbered if numbered is not self._numbered else list(numbered)
                del numbered[bisect_left(numbered, int(key[1:]), key=_number_of)]
        for key in created:
            if key[0] == "=":
                opaque[key[1:]] = key
                opaque_sorted = opaque_sorted if opaque_sorted is not self._opaque_sorted else list(opaque_sorted)
                insort(opaque_sorted, key[1:])
            elif key[0] == "#":
                numbered = numbered if numbered is not self._numbered else list(numbered)
                insort(numbered, key, key=_number_of)
        new._opaque_sorted = opaque_sorted
        new._numbered = numbered
        # Caches: displays of keys whose canonical reference may have changed go; prefix results all go.
        display = new._display = dict(self._display)
        for key in changed_keys:
            display.pop(key, None)
        new._prefix_cache = {}
        new._fuzzy_cache = self._fuzzy_cache if surnames is self._surnames else {}
        new._all_ranked = None
        if self._all_ranked is not None:
            ranked = list(self._all_ranked)
            old_rank = self._rank_of.__getitem__
            for key in changed_keys:
                if key in self._rank_of:
                    del ranked[bisect_left(ranked, old_rank(key), key=old_rank)]
            for key in changed_keys:
                if key in rank_of:
                    insort(ranked, key, key=rank_of.__getitem__)
            new._all_ranked = ranked
        return new

    def references_of(self, card_id: str) -> list[Reference]:
        """References of one card, text first then explicit, de-duplicated; ``[]`` if unknown."""
        if not isinstance(card_id, str):
            return []
        return list(self._by_card.get(card_id, ()))

    # ------------------------------------------------------------------ lookup

    def _matching_keys(self, q: ReferenceQuery) -> list[str]:
        if q.numbers:
            return [k for k in (f"#{n}" for n in q.numbers) if k in self._entries]
        folded = tuple(_name_key(a) for a in q.authors)
        if not folded or not all(folded):
            return []
        if len(folded) == 1 and not q.et_al:
            candidates = self._by_surname.get(folded[0], ())
            if not q.years:  # an author alone: every work with that surname among its authors, as indexed
                return list(candidates)
        else:
            candidates = self._by_first.get(folded[0], ())
        if q.years:  # a cheap first pass on the year the key ends with ("names|1991a") before the full checks
            wanted = {y[:4] for y in q.years}
            candidates = [k for k in candidates if k[k.rfind("|") + 1 : k.rfind("|") + 5] in wanted]
        keys = []
        for key in candidates:
            entry = self._entries[key]
            ref = entry[_REF]
            if _year_matches(ref.year, q.years) and _authors_match(entry[_FOLDED], ref.et_al, folded, q.et_al):
                keys.append(key)
        return keys

    def _query_keys(self, query: str) -> list[str]:
        if not isinstance(query, str) or len(query) > _MAX_QUERY_LEN:
            return []
        keys: list[str] = []
        q = parse_reference(query)
        if q is not None:
            keys = self._matching_keys(q)
            if not keys and len(q.authors) == 1 and " " in q.authors[0]:
                # "horvath symonds 1991": retry the words as separate authors.
                keys = self._matching_keys(ReferenceQuery(tuple(q.authors[0].split()), q.et_al, q.years))
        opaque = self._opaque.get(_text_key(query))
        if opaque is not None and opaque not in keys:
            keys.append(opaque)
        return keys

    def _rows(self, keys: list[str]) -> list[tuple[int, int, str, Reference]]:
        """The citing rows of ``keys`` in library order (each key's rows are already in that order)."""
        entries = self._entries
        if len(keys) == 1:
            return entries[keys[0]][_HITS]
        rows = [row for key in keys for row in entries[key][_HITS]]
        rows.sort()
        return rows

    def lookup(self, query: str) -> list[CitationHit]:
        """Every card citing a work matching ``query``, each with the reference as written there.

        See the class docstring for the matching rules.  ``[]`` when nothing matches or
        the query is no reference.
        """
        keys = self._query_keys(query)
        return [CitationHit(row[2], row[3]) for row in self._rows(keys)] if keys else []

    def cards_citing(self, query: str) -> list[tuple[str, list[Reference]]]:
        """What :meth:`lookup` finds, one entry per card: ``(card_id, the matching references it cites)``.

        In library order, built straight from the index rows, so an author cited by tens of thousands of
        cards costs one pass and no per-hit objects.
        """
        keys = self._query_keys(query)
        if not keys:
            return []
        out: list[tuple[str, list[Reference]]] = []
        last = None
        for _, _, card_id, ref in self._rows(keys):
            if card_id == last:
                out[-1][1].append(ref)
            else:
                out.append((card_id, [ref]))
                last = card_id
        return out

    # ------------------------------------------------------------------ autocomplete

    def _display_of(self, key: str) -> str:
        """Display form of a key, computed once."""
        display = self._display.get(key)
        if display is None:
            display = self._display[key] = self._entries[key][_REF].display()
        return display

    def _prefix_keys(self, p: str, limit: int) -> set[str]:
        """The ``limit`` best ranked keys having a surname that starts with ``p``.

        Each surname's key list is kept in rank order, so a k-way merge of the lists in the
        prefix range stops after ``limit`` distinct keys, however broad the prefix.
        """
        names = self._surnames
        lo = bisect_left(names, p)
        hi = bisect_left(names, p + "\U0010ffff", lo)
        found: set[str] = set()
        by_surname = self._by_surname
        lists = [by_surname[names[i]] for i in range(lo, hi)]
        for key in heapq.merge(*lists, key=self._rank_of.__getitem__):
            found.add(key)
            if len(found) >= limit:
                break
        return found

    def _fuzzy_names(self, p: str, limit: int) -> list[str]:
        n = len(p)
        truncated = self._fuzzy_cache.get(n)
        if truncated is None:
            truncated = self._fuzzy_cache[n] = [s[:n] for s in self._surnames]
        matches = process.extract(p, truncated, scorer=fuzz.ratio, score_cutoff=75, limit=limit * 2)
        return [self._surnames[idx] for _choice, _score, idx in matches]

    def complete(self, prefix: str, limit: int = 25) -> list[tuple[str, int]]:
        """Autocomplete: ``(display, number of citing cards)``, most cited first.

        ``prefix`` matches the start of any author surname (folded) or of the display form
        (``Horvath & S``, ``[1``, or digits for numbered references); an empty prefix gives
        the most cited references.  When fewer than ``limit`` match and the prefix has four
        letters or more, surnames within a small edit distance are added (``Horvaht`` ->
        Horvath), ranked after the exact prefix matches.  Ties rank alphabetically.
        """
        if not isinstance(prefix, str) or not isinstance(limit, int) or limit <= 0 or len(prefix) > 200:
            return []
        p = _text_key(prefix)
        cache_key = (p, limit)
        cached = self._prefix_cache.get(cache_key)
        if cached is not None:
            return list(cached)
        entries = self._entries
        rank = self._rank_of.__getitem__
        name_p = _name_key(prefix)
        display_like = any(c in p for c in "&,([") or " et al" in p
        if not p:
            ranked = self._ranked()[:limit]
        else:
            keys = self._prefix_keys(name_p, limit) if name_p else set()
            digits = p.strip("[(# ")
            if digits.isdigit():
                keys.update(k for k in self._numbered if k[1:].startswith(digits))
            if display_like and name_p:
                # Display prefixes ("horvath & sy"): filter the first author's references.
                first = _name_key(re.split(r"[&,(]| et al", prefix, maxsplit=1)[0])
                keys.update(k for k in self._by_first.get(first, ()) if _text_key(self._display_of(k)).startswith(p))
            opaque = self._opaque_sorted
            i = bisect_left(opaque, p)
            while i < len(opaque) and opaque[i].startswith(p):
                keys.add(self._opaque[opaque[i]])
                i += 1
            ranked = heapq.nsmallest(limit, keys, key=rank)
            if len(ranked) < limit and len(name_p) >= 4 and not display_like:
                extra: set[str] = set()
                for name in self._fuzzy_names(name_p, limit):
                    # Each surname's keys are in rank order: its first ``limit`` are enough.
                    extra.update(k for k in islice(self._by_surname.get(name, ()), limit) if k not in keys)
                ranked.extend(heapq.nsmallest(limit - len(ranked), extra, key=rank))
        result = [(self._display_of(k), entries[k][_CARDS]) for k in ranked]
        if len(p) <= 2:
            self._prefix_cache[cache_key] = result
        return list(result)

    def _ranked(self) -> list[str]:
        """Every key in rank order, computed once (for the empty prefix)."""
        if self._all_ranked is None:
            self._all_ranked = sorted(self._entries, key=self._rank_of.__getitem__)
        return self._all_ranked


def _rank(key: str, cards: int) -> tuple[int, str]:
    """Autocomplete rank of a key: most cited first, then by key (numbers in numeric order)."""
    return (-cards, f"#{int(key[1:]):05d}" if key[0] == "#" else key)


def _number_of(key: str) -> int:
    return int(key[1:])


def card_references(text: str, explicit: Sequence[str] = ()) -> list[Reference]:
    """Every reference a card cites: those in its text (:func:`extract`) and its explicit citation strings.

    Explicit strings are parsed with the same parser (one string may hold several references, e.g.
    ``Bordin, 1979, 1994``); those that do not parse are kept as opaque references matched by folded text.
    """
    found = extract(text)
    if explicit and not isinstance(explicit, str):
        for item in explicit:
            found.extend(_explicit_refs(item))
    return found


def _explicit_refs(s: object) -> list[Reference]:
    """References from one explicit citation string; an unparseable one becomes opaque."""
    if not isinstance(s, str) or not s.strip() or len(s) > _MAX_QUERY_LEN:
        return []
    q = parse_reference(s)
    written = " ".join(s.split()).strip("()[] ")
    if q is not None and q.numbers:
        return [Reference("numbered", (), False, None, n, written) for n in q.numbers]
    if q is not None and q.years:
        if len(q.years) == 1:
            return [Reference("author-year", q.authors, q.et_al, q.years[0], None, written)]
        head = _join_authors(q.authors, q.et_al)
        return [Reference("author-year", q.authors, q.et_al, y, None, f"{head}, {y}") for y in q.years]
    return [Reference("opaque", (), False, None, None, " ".join(s.split()))]
