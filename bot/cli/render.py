"""Rendering cards for the terminal and as JSON; the Discord embeds live in ``bot.discord.embeds``.

Both show the same content as a Discord card embed: the fact, its collection and curator, the article and
source type, the references it cites, and the card id.
"""

from __future__ import annotations

import re
import shutil
import textwrap
from typing import TYPE_CHECKING

from bot.service.shapes import card_json

__all__ = ["card_json", "card_text", "cite_text", "collections_text", "search_text"]

if TYPE_CHECKING:
    from bot.index.search import Hit
    from bot.service import CardDetail, CiteResult, CollectionSummary, SearchResult


BOLD, DIM, RESET = "\033[1m", "\033[2m", "\033[0m"


def _width() -> int:
    return max(40, min(100, shutil.get_terminal_size((88, 24)).columns) - 2)


def _wrap(text: str, indent: str = "  ") -> str:
    return "\n".join(
        textwrap.fill(para, _width(), initial_indent=indent, subsequent_indent=indent) for para in text.split("\n")
    )


def card_text(detail: CardDetail, *, color: bool = False, views: int | None = None) -> str:
    """A card laid out for a terminal, with the same parts as the Discord embed."""
    bold, dim, reset = (BOLD, DIM, RESET) if color else ("", "", "")
    card, coll = detail.card, detail.collection
    lines = [f"{bold}{coll.title}{reset} {dim}· curated by {coll.curator}{reset}", "", _wrap(card.text), ""]
    if card.source.article or card.source.type:
        lines.append(f"  {bold}Article:{reset} {card.source.article or '—'}")
        lines.append(f"  {bold}Source:{reset}  {card.source.type or '—'}")
    if detail.references:
        refs = "; ".join(r.display() for r in detail.references)
        lines.append(_wrap(f"Cites: {refs}"))
    if card.topics:
        lines.append(f"  {bold}Topics:{reset} {', '.join(card.topics)}")
    footer = f"card {card.id}" + (f" · {views} views" if views is not None else "")
    lines.append(f"  {dim}{footer}{reset}")
    return "\n".join(lines)


def _emphasise(wrapped: str, hit: Hit, start: str, end: str) -> str:
    """Mark a hit's matched words in text that was wrapped first (escape codes would upset the wrapping)."""
    words = sorted({hit.snippet[lo:hi] for lo, hi in hit.highlights if hi > lo}, key=len, reverse=True)
    if not words:
        return wrapped
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, words)) + r")\b")
    return pattern.sub(lambda m: f"{start}{m.group(1)}{end}", wrapped)


def search_text(result: SearchResult, *, color: bool = False) -> str:
    """A page of search results for a terminal, under the note of a relaxed search (cards matching some words)."""
    page = result.page
    if result.message and not page.hits:
        return result.message
    bold, reset = (BOLD, RESET) if color else ("", "")
    shown = f"{page.offset + 1}–{page.offset + len(page.hits)}"
    lines = [result.message, ""] if result.message else []
    verb = "closest in meaning to" if result.by_meaning else "match"
    lines += [f"{page.total} card{'s' if page.total != 1 else ''} {verb} “{page.query}” (showing {shown})", ""]
    for number, (hit, view) in enumerate(zip(page.hits, result.details, strict=False), page.offset + 1):
        lines.append(f"{number}. [{view.card.id}] {view.collection.title}")
        lines.append(_emphasise(_wrap(hit.snippet, "   "), hit, bold, reset) if color else _wrap(hit.snippet, "   "))
        lines.append("")
    return "\n".join(lines).rstrip()


def cite_text(result: CiteResult) -> str:
    """The cards citing a reference, for a terminal."""
    if result.message:
        return result.message
    lines = [f"{len(result.hits)} card{'s' if len(result.hits) != 1 else ''} cite “{result.query.strip()}”:", ""]
    for hit in result.hits:
        lines.append(f"- [{hit.detail.card.id}] cites it as “{hit.written}”")
        lines.append(_wrap(hit.detail.card.text[:240] + ("…" if len(hit.detail.card.text) > 240 else ""), "    "))
    return "\n".join(lines)


def collections_text(summaries: list[CollectionSummary]) -> str:
    """Each collection with its curator and number of cards."""
    lines = []
    for s in summaries:
        lines.append(f"{s.collection.id}  {s.collection.title}: {s.cards} cards, curated by {s.collection.curator}")
    return "\n".join(lines) or "No collections are loaded."
