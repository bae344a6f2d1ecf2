"""The reference grammar: the regular expressions that recognise citations, and the small helpers that normalise
what they capture (names, years, numbers). No references are built here: see :mod:`.extraction` and :mod:`.query`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from bot.util.text import fold

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


def _join_authors(authors: Sequence[str], et_al: bool) -> str:
    if et_al:
        return f"{', '.join(authors)} et al."
    if len(authors) <= 1:
        return "".join(authors)
    if len(authors) == 2:
        return f"{authors[0]} & {authors[1]}"
    return f"{', '.join(authors[:-1])}, & {authors[-1]}"


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
