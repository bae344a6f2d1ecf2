"""What a reader sees: a card, a page of results, a card's source, the views, the collections and the help.

A card embed carries the fact (description), the collection title and curator (author line), the article and
source type, the references the card cites, its topics, and a footer with the card id and its views in this
server. What does not fit is cut at a word boundary and :attr:`CardRender.truncated` is set, so the caller can
offer "Read more" (:func:`full_card_messages` lays the whole card out over as many messages as it needs).

Text from users (queries) is escaped with :func:`~bot.discord.embeds.common.safe`; card text is escaped too, so
it shows verbatim.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import discord

from bot.discord.embeds.common import (
    AUTHOR_MAX,
    CARD_COLOR,
    DESCRIPTION_MAX,
    EMBED_TOTAL_MAX,
    FIELD_NAME_MAX,
    FIELD_VALUE_MAX,
    FIELDS_MAX,
    TITLE_MAX,
    clip,
    safe,
    whole_escapes,
)
from bot.index.search import Hit, highlight
from bot.service import CardDetail, CiteHit, CollectionSummary

__all__ = [
    "CARD_TEXT_MAX",
    "HELP",
    "CardRender",
    "card_embed",
    "cite_page_embed",
    "collections_embed",
    "full_card_messages",
    "help_embed",
    "search_page_embed",
    "source_embed",
    "stats_embed",
]

#: A card in a channel shows at most this much of its text; "Read more" shows the rest.
CARD_TEXT_MAX = 1800


def _size(embed: discord.Embed) -> int:
    return len(embed)


@dataclass(frozen=True, slots=True)
class CardRender:
    """A card embed and whether anything in it was cut (then offer the full card)."""

    embed: discord.Embed
    truncated: bool


def _author(detail: CardDetail) -> str:
    return clip(f"{detail.collection.title} · curated by {detail.collection.curator}", AUTHOR_MAX)[0]


def _footer(detail: CardDetail, views: int | None) -> str:
    footer = f"card {detail.card.id}"
    if views is not None:
        footer += f" · {views} view{'s' if views != 1 else ''} in this server"
    return footer


def _references(detail: CardDetail) -> str:
    return "; ".join(safe(r.display()) for r in detail.references)


@dataclass(frozen=True, slots=True)
class _CardParts:
    """What a card's embed shows that depends on the card alone, escaped and cut: its author line, its fields, and
    its text cut to its usual room (``text_cut``: whether it was), with ``truncated`` for the fields."""

    author: str
    fields: tuple[tuple[str, str, bool], ...]
    truncated: bool
    text: str
    text_cut: bool
    room: int


#: The parts of the cards shown last, by the identity of their details (the service keeps a card's details for as
#: long as its library is served, so a card shown again is the same object): ``id(detail) -> (detail, text_max,
#: parts)``; holding the detail keeps its id from being reused.
_KEPT_PARTS: dict[int, tuple[CardDetail, int, _CardParts]] = {}
MAX_KEPT_PARTS = 4096


def _card_parts(detail: CardDetail, text_max: int) -> _CardParts:
    kept = _KEPT_PARTS.get(id(detail))
    if kept is not None and kept[0] is detail and kept[1] == text_max:
        return kept[2]
    card, source = detail.card, detail.card.source
    fields: list[tuple[str, str, bool]] = []
    truncated = False
    if source.article:
        fields.append(("Article", clip(safe(source.article), FIELD_VALUE_MAX)[0], True))
    if source.type:
        fields.append(("Source type", clip(safe(source.type), FIELD_VALUE_MAX)[0], True))
    if detail.references:
        refs, cut = clip(_references(detail), FIELD_VALUE_MAX)
        truncated |= cut
        fields.append(("Cites", refs, False))
    if card.topics:
        topics, cut = clip(", ".join(safe(t) for t in card.topics), FIELD_VALUE_MAX)
        truncated |= cut
        fields.append(("Topics", topics, False))
    room = min(text_max, DESCRIPTION_MAX)
    text, text_cut = clip(safe(card.text), room)
    parts = _CardParts(_author(detail), tuple(fields), truncated, text, text_cut, room)
    _KEPT_PARTS.pop(id(detail), None)
    _KEPT_PARTS[id(detail)] = (detail, text_max, parts)
    if len(_KEPT_PARTS) > MAX_KEPT_PARTS:
        del _KEPT_PARTS[next(iter(_KEPT_PARTS))]
    return parts


def card_embed(
    detail: CardDetail, *, views: int | None = None, text_max: int = CARD_TEXT_MAX, link: str | None = None
) -> CardRender:
    """One card as an embed; long text and long reference lists are cut at a word boundary. ``link``: the card's
    web page (its author line then links there). What depends on the card alone is escaped and cut once for the
    cards shown last (:func:`_card_parts`); the views and the link are filled in for each showing."""
    parts = _card_parts(detail, text_max)
    embed = discord.Embed(color=CARD_COLOR)
    embed.set_author(name=parts.author, url=link)
    for name, value, inline in parts.fields:
        embed.add_field(name=name, value=value, inline=inline)
    embed.set_footer(text=_footer(detail, views))
    budget = min(parts.room, EMBED_TOTAL_MAX - _size(embed) - 16)
    if budget == parts.room:
        text, cut = parts.text, parts.text_cut
    else:  # fields long enough that the footer decides the room left for the text
        text, cut = clip(safe(detail.card.text), budget)
    embed.description = text
    return CardRender(embed, parts.truncated or cut)


def _chunks(text: str, limit: int) -> list[str]:
    """``text`` in non-empty pieces of at most ``limit`` characters, split at word boundaries and never inside a
    markdown escape. Every round takes at least one character, so any text ends (a long run of backslashes too)."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = rest.rfind(" ", 0, limit)
        if cut <= limit // 2:
            cut = limit
        piece = rest[:cut].rstrip()
        piece = whole_escapes(piece) or piece  # a lone backslash with only spaces after it goes as it is
        pieces.append(piece)
        rest = rest[len(piece) :].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def full_card_messages(detail: CardDetail, *, views: int | None = None) -> list[list[discord.Embed]]:
    """The whole card, nothing cut: embeds grouped into messages that each stay within 6,000 characters."""
    card, source = detail.card, detail.card.source
    embeds: list[discord.Embed] = []
    for number, piece in enumerate(_chunks(safe(card.text), DESCRIPTION_MAX)):
        embed = discord.Embed(description=piece, color=CARD_COLOR)
        if number == 0:
            embed.set_author(name=_author(detail))
        embeds.append(embed)
    details = discord.Embed(color=CARD_COLOR, title="About this card")
    if source.article:
        for piece in _chunks(safe(source.article), FIELD_VALUE_MAX):
            details.add_field(name="Article", value=piece, inline=False)
    if source.type:
        details.add_field(name="Source type", value=clip(safe(source.type), FIELD_VALUE_MAX)[0], inline=False)
    for piece in _chunks(_references(detail), FIELD_VALUE_MAX):
        details.add_field(name="Cites", value=piece, inline=False)
    for piece in _chunks(", ".join(safe(t) for t in card.topics), FIELD_VALUE_MAX):
        details.add_field(name="Topics", value=piece, inline=False)
    details.set_footer(text=_footer(detail, views))
    while len(details.fields) > FIELDS_MAX:  # split an enormous detail list over several embeds
        rest = discord.Embed(color=CARD_COLOR)
        for field in details.fields[FIELDS_MAX:]:
            rest.add_field(name=field.name, value=field.value, inline=False)
        for _ in range(len(details.fields) - FIELDS_MAX):
            details.remove_field(FIELDS_MAX)
        embeds.append(details)
        details = rest
    embeds.append(details)
    messages: list[list[discord.Embed]] = [[]]
    used = 0
    for embed in embeds:
        size = _size(embed)
        if messages[-1] and (used + size > EMBED_TOTAL_MAX or len(messages[-1]) == 10):
            messages.append([])
            used = 0
        messages[-1].append(embed)
        used += size
    return messages


# ----------------------------------------------------------------------------------------------- results
@functools.lru_cache(maxsize=4096)
def _hit_text(hit: Hit) -> str:
    """A snippet with its highlights in bold, everything else escaped (kept for the hits shown last: a page of
    results found again holds the same hits)."""
    marker_start, marker_end = "\x00", "\x01"
    marked = highlight(hit, start=marker_start, end=marker_end)
    return safe(marked).replace(marker_start, "**").replace(marker_end, "**")


@functools.lru_cache(maxsize=4096)
def _hit_value(hit: Hit, room: int) -> str:
    """A hit's snippet (:func:`_hit_text`) cut to ``room`` characters (kept with it: only the views change)."""
    return clip(_hit_text(hit), room)[0]


@functools.lru_cache(maxsize=4096)
def _hit_name(number: int, collection_title: str, card_id: str) -> str:
    """A hit's field name: its number on the list, its collection and its card id, escaped and cut."""
    return safe(clip(f"{number}. {collection_title} · {card_id}", FIELD_NAME_MAX)[0], FIELD_NAME_MAX)


def search_page_embed(
    hits: Sequence[Hit],
    details: Sequence[CardDetail],
    *,
    total: int,
    offset: int,
    query: str,
    counts: dict[str, int],
    note: str | None = None,
    link: Callable[[str], str | None] | None = None,
) -> discord.Embed:
    """One page of search results: each hit (with its card's ``details``) as its collection, snippet and views;
    ``link(card id)`` gives a card's web page (then linked beside its views)."""
    shown = f"{offset + 1}–{offset + len(hits)}" if hits else "0"
    title = clip(f"{total} card{'s' if total != 1 else ''} match “{query}”", TITLE_MAX)[0]
    embed = discord.Embed(title=safe(title, TITLE_MAX), color=CARD_COLOR)
    if note:
        embed.description = safe(note, 1000)
    for number, (hit, detail) in enumerate(zip(hits, details, strict=False), offset + 1):
        n = counts.get(detail.card.id, 0)
        url = link(detail.card.id) if link is not None else None
        page = f" · [web page]({url})" if url and len(url) <= 400 else ""
        value = _hit_value(hit, FIELD_VALUE_MAX - 40 - len(page)) + f"\n-# {n} view{'s' if n != 1 else ''}{page}"
        embed.add_field(name=_hit_name(number, detail.collection.title, detail.card.id), value=value, inline=False)
    embed.set_footer(text=f"Showing {shown} of {total} · pick a card below to open it")
    return embed


def cite_page_embed(
    hits: Sequence[CiteHit], *, total: int, offset: int, query: str, counts: dict[str, int]
) -> discord.Embed:
    """One page of the cards citing a reference, with the reference as each card writes it."""
    title = f"{total} card{'s' if total != 1 else ''} cite “{query.strip()}”"
    embed = discord.Embed(title=safe(title, TITLE_MAX), color=CARD_COLOR)
    for number, hit in enumerate(hits, offset + 1):
        card = hit.detail.card
        name = clip(f"{number}. {hit.detail.collection.title} · {card.id}", FIELD_NAME_MAX)[0]
        n = counts.get(card.id, 0)
        written = clip(safe(hit.written), 300)[0]
        value = f"cites it as “{written}”\n" + clip(safe(card.text), 500)[0] + f"\n-# {n} view{'s' if n != 1 else ''}"
        embed.add_field(name=safe(name, FIELD_NAME_MAX), value=clip(value, FIELD_VALUE_MAX)[0], inline=False)
    shown = f"{offset + 1}–{offset + len(hits)}"
    embed.set_footer(text=f"Showing {shown} of {total} · pick a card below to open it")
    return embed


# ------------------------------------------------------------------------------------------------- other
def source_embed(detail: CardDetail, style: str, text: str) -> discord.Embed:
    """Where a card comes from, in a citation style (BibTeX in a code block)."""
    if style == "bibtex":
        body = "```bibtex\n" + text.replace("```", "`\u200b``")[: DESCRIPTION_MAX - 20] + "\n```"
    else:
        body = clip(safe(text), DESCRIPTION_MAX)[0]
    embed = discord.Embed(
        title=clip(f"Source of {detail.card.id} ({style})", TITLE_MAX)[0], description=body, color=CARD_COLOR
    )
    embed.set_author(name=_author(detail))
    return embed


def stats_embed(
    *, guild_name: str, total: int, top: Iterable[tuple[str, int, str]], per_collection: Iterable[tuple[str, int]]
) -> discord.Embed:
    """Views in a server: the total, the most viewed cards ``(id, views, label)``, and views per collection."""
    embed = discord.Embed(title=clip(f"Card views in {guild_name}", TITLE_MAX)[0], color=CARD_COLOR)
    embed.description = f"**{total}** card view{'s' if total != 1 else ''} in this server."
    top_lines = [f"`{cid}` · {n} · {clip(safe(label), 80)[0]}" for cid, n, label in top]
    if top_lines:
        embed.add_field(name="Most viewed cards", value=clip("\n".join(top_lines), FIELD_VALUE_MAX)[0], inline=False)
    coll_lines = [f"{safe(title)}: {n}" for title, n in per_collection]
    if coll_lines:
        embed.add_field(
            name="Views per collection", value=clip("\n".join(coll_lines), FIELD_VALUE_MAX)[0], inline=False
        )
    if not total:
        embed.add_field(name="Nothing yet", value="Try /fact random to see the first card.", inline=False)
    return embed


def collections_embed(
    summaries: Sequence[CollectionSummary], views: dict[str, int], *, offset: int, total: int
) -> discord.Embed:
    """A page of collections, each as its page presents it: title, curator, description, cards, views."""
    embed = discord.Embed(title=f"{total} collection{'s' if total != 1 else ''}", color=CARD_COLOR)
    for summary in summaries:
        c = summary.collection
        head = f"curated by {safe(c.curator)} · {summary.cards} cards · {views.get(c.id, 0)} views in this server"
        parts = [head]
        if c.description:
            parts.append(clip(safe(" ".join(c.description.split())), 600)[0])
        if summary.topics:
            parts.append("Topics: " + clip(", ".join(safe(t) for t in summary.topics), 200)[0])
        if c.url:
            parts.append(clip(c.url, 200)[0])
        parts.append(f"-# id `{c.id}`")
        embed.add_field(
            name=clip(safe(c.title), FIELD_NAME_MAX)[0], value=clip("\n".join(parts), 1000)[0], inline=False
        )
    if total > len(summaries):
        embed.set_footer(text=f"Showing {offset + 1}–{offset + len(summaries)} of {total}")
    return embed


#: (usage, example, what it does) for /fact help.
HELP: tuple[tuple[str, str, str], ...] = (
    ("/fact random [topic] [collection]", "/fact random topic:empathy", "a card you have not seen here yet"),
    ("/fact search query [topic] [collection]", "/fact search query:working alliance", "search the cards"),
    ("/fact cite reference", "/fact cite reference:Horvath & Symonds 1991", "the cards that cite a work"),
    ("/fact show card", "/fact show card:therapeutic-alliance-001", "one card by its id"),
    ("/fact source card [style]", "/fact source card:therapeutic-alliance-001 style:apa", "where a card comes from"),
    ("/fact report card", "/fact report card:therapeutic-alliance-001", "tell the moderators a card is wrong"),
    ("/fact today", "/fact today", "today's daily fact card in this server"),
    ("/fact stats", "/fact stats", "the most viewed cards in this server"),
    ("/fact collections", "/fact collections", "the curated collections"),
    ("/fact help", "/fact help", "this help"),
)


def help_embed(*, cards: int, collections: Sequence[CollectionSummary]) -> discord.Embed:
    """Each command with an example, and where the cards come from."""
    embed = discord.Embed(title="Factdeck: curated fact cards", color=CARD_COLOR)
    embed.description = "\n".join(f"**{usage}**: {what}\n-# e.g. `{example}`" for usage, example, what in HELP)
    curators = sorted({s.collection.curator for s in collections})
    origin = (
        f"{cards} cards in {len(collections)} curated collection{'s' if len(collections) != 1 else ''}"
        f" (curated by {', '.join(safe(c) for c in curators[:10])}{', …' if len(curators) > 10 else ''}). "
        "Each card quotes a published article and names its source type and the works it cites; "
        "/fact collections lists the collections and /fact source formats a card's source."
    )
    embed.add_field(name="Where the cards come from", value=clip(origin, FIELD_VALUE_MAX)[0], inline=False)
    embed.add_field(
        name="For moderators",
        value="`/cards` adds, edits, removes, imports, exports and reloads cards; "
        "`/daily` posts one fact a day in a channel, in the server's time zone.",
        inline=False,
    )
    embed.set_footer(text="Options with suggestions: start typing and pick one.")
    return embed
