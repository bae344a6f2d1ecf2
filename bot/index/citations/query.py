"""What a user typed, parsed into a :class:`ReferenceQuery`, and the rules by which a query matches a reference."""

from __future__ import annotations

import re

from bot.index.citations._grammar import (
    _ETAL,
    _LEADIN_RE,
    _LET,
    _MAX_QUERY_LEN,
    _NUMLIST,
    _PAGES,
    _SEP,
    _TAIL,
    _YEARS,
    _numbers,
    _split_names,
    _years,
)
from bot.index.citations.records import ReferenceQuery

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
