"""Snippets: a fragment of a card's text around its matches, the ranges to highlight in it, and card labels.

The matches come from tantivy's snippet generator over the stored text (with the exact stems, corrections and
completions as terms); the fragment is windowed here to about :data:`SNIPPET_CHARS` characters around the
densest group of matches, cut at word boundaries, with "…" where cut.
"""

from __future__ import annotations

from collections.abc import Sequence

import tantivy

from bot.index.search.analysis import SPACE_RE
from bot.index.search.model import Hit

#: Snippet and label lengths, in characters.
SNIPPET_CHARS = 300
LABEL_CHARS = 100

Span = tuple[int, int]
Snippet = tuple[str, tuple[Span, ...]]

_SHOULD = tantivy.Occur.Should


class Highlighter:
    """Finds the matches of some index stems in stored card texts, and the snippet around them."""

    __slots__ = ("_marker",)

    def __init__(self, searcher: tantivy.Searcher, schema: tantivy.Schema, terms: Sequence[str]) -> None:
        """Highlight ``terms`` (stems of the "text" field); no terms means no highlights."""
        Q = tantivy.Query
        self._marker: tantivy.SnippetGenerator | None = None
        if terms:
            query = Q.boolean_query([(_SHOULD, Q.term_query(schema, "text", t)) for t in terms])
            self._marker = tantivy.SnippetGenerator.create(searcher, query, schema, "text")
            self._marker.set_max_num_chars(1 << 16)

    def snippet(self, doc: tantivy.Document, text: str) -> Snippet:
        """The snippet of ``doc``, whose stored text is ``text``, and its highlight ranges."""
        spans = _match_spans(text, self._marker.snippet_from_doc(doc)) if self._marker is not None else []
        return snippet(text, spans)


def _char_offsets(text: str, offsets: list[int]) -> list[int]:
    """Character offsets in ``text`` of UTF-8 byte ``offsets``."""
    if text.isascii():
        return offsets
    data = text.encode("utf-8")
    return [len(data[:o].decode("utf-8", "ignore")) for o in offsets]


def _match_spans(text: str, found: tantivy.Snippet) -> list[Span]:
    """Character ranges in ``text`` that the snippet generator highlighted."""
    ranges = found.highlighted()
    if not ranges:
        return []
    base = found.fragment_range().start
    flat = [base + o for r in ranges for o in (r.start, r.end)]
    chars = _char_offsets(text, flat)
    return list(zip(chars[::2], chars[1::2], strict=True))


def snippet(text: str, spans: list[Span]) -> Snippet:
    """A fragment of ``text`` around the densest group of matches, with highlight ranges in it."""
    if len(text) <= SNIPPET_CHARS:
        return text, tuple(spans)
    budget = SNIPPET_CHARS - 2  # room for the two ellipses
    first = _densest(text, spans, window=budget - 40)
    start, end = _window(text, _context_start(text, first), first, budget)
    return _cut(text, start, end, spans)


def _densest(text: str, spans: list[Span], *, window: int) -> int:
    """Where the best group of matches within ``window`` characters starts: most distinct words matched, then
    most matches, then earliest (0 when there are no matches)."""
    keys = [text[a:b].lower() for a, b in spans]
    counts: dict[str, int] = {}
    best_start, best_score = 0, (-1, -1)
    j = 0
    for i, (a, _b) in enumerate(spans):
        j = max(j, i)
        while j < len(spans) and spans[j][1] - a <= window:
            counts[keys[j]] = counts.get(keys[j], 0) + 1
            j += 1
        score = (len(counts), j - i)
        if score > best_score:
            best_score, best_start = score, a
        if j > i:  # slide past match i
            left = counts[keys[i]] - 1
            if left:
                counts[keys[i]] = left
            else:
                del counts[keys[i]]
    return best_start


def _context_start(text: str, first: int) -> int:
    """Some context before the first match: back to a sentence start when near, else ~50 characters."""
    if first <= 60:
        return 0
    sentence = max(text.rfind(". ", 0, first), text.rfind("? ", 0, first))
    if sentence != -1 and first - sentence <= 120:
        return sentence + 2
    space = text.find(" ", first - 50, first)
    return space + 1 if space != -1 else first


def _window(text: str, start: int, first: int, budget: int) -> tuple[int, int]:
    """The ``start`` and ``end`` of a fragment of at most ``budget`` characters, at word boundaries."""
    n = len(text)
    end = start + budget
    if end >= n:  # the window reaches the end: use the budget to show more before it
        start = max(0, min(start, n - budget))
        if start > 0 and not text[start - 1].isspace():
            space = text.find(" ", start, first + 1)
            start = space + 1 if space != -1 else start
        return start, n
    space = text.rfind(" ", start, end + 1)
    return start, space if space > start else end


def _cut(text: str, start: int, end: int, spans: list[Span]) -> Snippet:
    """``text[start:end]`` without surrounding spaces, with "…" where it was cut, and the spans inside it."""
    fragment = text[start:end]
    lead = start + len(fragment) - len(fragment.lstrip())
    fragment = fragment.strip()
    before = "…" if lead > 0 else ""
    after = "…" if lead + len(fragment) < len(text) else ""
    shift = len(before) - lead
    stop = lead + len(fragment)
    highlights = tuple((a + shift, b + shift) for a, b in spans if a >= lead and b <= stop)
    return before + fragment + after, highlights


def card_label(text: str) -> str:
    """The first words of a card's text, at most :data:`LABEL_CHARS` characters: how a card is named in lists."""
    flat = SPACE_RE.sub(" ", text[: LABEL_CHARS * 2]).strip()
    if len(flat) <= LABEL_CHARS and len(text) <= LABEL_CHARS * 2:
        return flat
    cut = flat[: LABEL_CHARS - 1]
    space = cut.rfind(" ")
    if space > LABEL_CHARS // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-(") + "…"


def highlight(hit: Hit, *, start: str, end: str) -> str:
    """A hit's snippet with its highlighted ranges wrapped in ``start`` and ``end``."""
    out, last = [], 0
    for lo, hi in hit.highlights:
        out += [hit.snippet[last:lo], start, hit.snippet[lo:hi], end]
        last = hi
    out.append(hit.snippet[last:])
    return "".join(out)
