"""Finding the references a card cites: in its text (author-year, narrative and numbered forms) and in its
explicit citation strings. Every function accepts any string and returns empty results rather than raising.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from functools import lru_cache

from bot.index.citations._grammar import (
    _ABBREVIATIONS,
    _DIGIT_GROUP_RE,
    _ITEM_BODY_RE,
    _ITEM_RE,
    _MAX_QUERY_LEN,
    _NARR_FULL_RE,
    _NARR_RE,
    _SUPER_RE,
    _TRAILING_PARTICLES_RE,
    _WORD_BEFORE_RE,
    _join_authors,
    _numbers,
    _split_names,
    _squash,
    _years,
)
from bot.index.citations.query import parse_reference
from bot.index.citations.records import Reference

# --------------------------------------------------------------------------- extraction
# Each citation string is parsed once (lru_cache): cards citing the same work the same way
# share the parse and the (immutable) Reference objects.


def _per_year(
    names: tuple[str, ...], et_al: bool, years: Sequence[str], head: str, tail: str = "", pages: str = ""
) -> tuple[Reference, ...]:
    """One reference per year of a multi-year group (``Bordin, 1979, 1994``), each written as ``head``, its year,
    then ``tail``; a page locator stays on the last year, where it was written."""
    last = len(years) - 1
    return tuple(
        Reference("author-year", names, et_al, y, None, f"{head}{y}{pages if i == last else ''}{tail}")
        for i, y in enumerate(years)
    )


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
    head = _squash(item[: m.start("gap")]) + (", " if "," in m.group("gap") else " ")
    return _per_year(names, et_al, years, head, "", _squash(m.group("pages") or ""))


@lru_cache(maxsize=131072)
def _parse_narrative(item: str) -> tuple[Reference, ...]:
    """``Rogers (1951)``, ``Bordin (1979, 1994)``, ``Bordin (5)`` (the number, and Bordin as an author with no
    year)."""
    m = _NARR_FULL_RE.fullmatch(item)
    if m is None:
        return ()
    names = _split_names(m.group("authors"))
    if not names:
        return ()
    written = _squash(item)
    if m.group("nums") is not None:
        numbered = tuple(Reference("numbered", names, False, None, n, written) for n in _numbers(m.group("nums")))
        # "Bordin (5) identified...": the card cites Bordin too, so `/fact cite Bordin` finds it (a work of no
        # known year: "Bordin 1979" does not match it). The number alone still finds it as before.
        et_al = m.group("etal") is not None
        return (*numbered, Reference("author-year", names, et_al, None, None, written)) if numbered else ()
    et_al = m.group("etal") is not None
    years = _years(m.group("years"))
    if len(years) == 1:
        return (Reference("author-year", names, et_al, years[0], None, written),)
    head = _squash(item[: item.index("(") if "(" in item else item.index("[")]) + " ("
    return _per_year(names, et_al, years, head, ")", (m.group("pages") or "").rstrip())


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


def _matches_at(pattern: re.Pattern[str], text: str, openers: str) -> Iterator[re.Match[str]]:
    """What ``pattern.finditer(text)`` finds, for a pattern whose every match starts with one of ``openers``.

    The regular expression is tried only where an opener stands (found with ``str.find``, which is far cheaper than
    the engine's attempt at every position of a text where most characters open nothing); non-overlapping, left to
    right, as ``finditer``. Lookbehinds still see the text before each position.
    """
    positions = [i for c in openers for i in _positions(text, c)]
    if len(openers) > 1:
        positions.sort()
    end = 0
    for at in positions:
        if at >= end:
            m = pattern.match(text, at)
            if m is not None:
                end = m.end()
                yield m


def _positions(text: str, char: str) -> Iterator[int]:
    at = text.find(char)
    while at >= 0:
        yield at
        at = text.find(char, at + 1)


def _extract_positioned(text: str) -> list[tuple[int, Reference]]:
    found: list[tuple[int, Reference]] = []
    if "(" in text or "[" in text:
        for m in _matches_at(_ITEM_RE, text, "([;"):
            start = m.start("authors")
            lead = m.group("lead")
            if lead:
                p = _TRAILING_PARTICLES_RE.search(lead)
                if p is not None:
                    start -= len(lead) - p.start()
            found.extend((start, ref) for ref in _parse_item(text[start : m.end()]))
        for m in _matches_at(_DIGIT_GROUP_RE, text, "(["):
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
        return list(_per_year(q.authors, q.et_al, q.years, _join_authors(q.authors, q.et_al) + ", "))
    return [Reference("opaque", (), False, None, None, " ".join(s.split()))]
