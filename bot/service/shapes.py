"""The JSON shapes of cards, collections, search and citation results: one definition for every surface.

``factdeck ... --json`` prints them and the web server's ``/api/`` serves them (docs/web.md), so a script written
against one reads the other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from bot.service.cards import CardDetail, CiteHit, CollectionSummary, SearchResult


def card_json(detail: CardDetail) -> dict[str, object]:
    """A card as a JSON object: id, text, collection, topics, source, citations and the rest of its fields."""
    card = detail.card
    data: dict[str, object] = {
        "id": card.id,
        "text": card.text,
        "collection": detail.collection.id,
        "collection_title": detail.collection.title,
        "curator": detail.collection.curator,
        "topics": list(card.topics),
        "source": msgspec.to_builtins(card.source),
        "citations": [r.display() for r in detail.references],
    }
    if card.citations:
        data["explicit_citations"] = list(card.citations)
    if card.added_by:
        data["added_by"] = card.added_by
    if card.added_at:
        data["added_at"] = card.added_at.isoformat()
    return data


def collection_json(summary: CollectionSummary) -> dict[str, object]:
    """A collection as ``factdeck list --json`` shows it: id, title, curator, description, cards, topics."""
    return {
        "id": summary.collection.id,
        "title": summary.collection.title,
        "curator": summary.collection.curator,
        "description": summary.collection.description,
        "cards": summary.cards,
        "topics": list(summary.topics),
    }


def search_json(query: str, result: SearchResult) -> dict[str, object]:
    """A page of search results: the query, the total, the offset, whether its order comes from meaning, a message,
    and each card with its score."""
    return {
        "query": query,
        "total": result.page.total,
        "offset": result.page.offset,
        "by_meaning": result.by_meaning,
        "message": result.message,
        "cards": [
            {**card_json(v), "score": h.score, "snippet": h.snippet}
            for h, v in zip(result.page.hits, result.details, strict=False)
        ],
    }


def cite_hit_json(hit: CiteHit) -> dict[str, object]:
    """A card citing a work, with the reference as that card writes it (``cited_as``)."""
    return {**card_json(hit.detail), "cited_as": hit.written}
