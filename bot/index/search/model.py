"""What the search index takes in (:class:`SearchDoc`, one per card) and gives back (:class:`SearchPage` of
:class:`Hit`)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.cards.model import Card, Collection


@dataclass(frozen=True, slots=True)
class SearchDoc:
    """What gets indexed for one card."""

    card_id: str
    text: str
    topics: tuple[str, ...]
    article: str | None
    collection_id: str
    collection_title: str

    @classmethod
    def of(cls, card: Card, collection: Collection) -> SearchDoc:
        """The searchable parts of ``card``, found in ``collection``."""
        return cls(
            card_id=card.id,
            text=card.text,
            topics=tuple(card.topics),
            article=card.source.article,
            collection_id=collection.id,
            collection_title=collection.title,
        )


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result.

    ``snippet`` is a plain-text fragment of the card text around the matches (at most about 300 characters,
    cut at word boundaries, with "…" where cut); ``highlights`` are ``(start, end)`` character ranges in
    ``snippet`` to emphasise.
    """

    card_id: str
    score: float
    snippet: str
    highlights: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of results: ``total`` counts all matching cards, ``hits`` the ones from ``offset`` on.

    ``query`` is the query as searched (cleaned and capped); ``message`` explains an empty or relaxed
    search, and is None otherwise.
    """

    hits: tuple[Hit, ...]
    total: int
    offset: int
    limit: int
    query: str
    message: str | None = None
