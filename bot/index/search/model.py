"""What the search index takes in (:class:`SearchDoc`, one per card) and gives back (:class:`SearchPage` of
:class:`Hit`)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.cards.library import audience_of_key
from bot.cards.model import Card, Collection

#: The value of a search document's ``audience`` field for a card of the shared library (a server's card has the
#: server id), and what a search filters on to see only what one server (or a direct message) may see.
SHARED_AUDIENCE = "shared"


def audience_terms(viewer: int | None) -> tuple[str, ...]:
    """The ``audience`` values a reader in server ``viewer`` (None: a direct message) may see."""
    return (SHARED_AUDIENCE,) if viewer is None else (SHARED_AUDIENCE, str(viewer))


@dataclass(frozen=True, slots=True)
class SearchDoc:
    """What gets indexed for one card."""

    card_id: str
    text: str
    topics: tuple[str, ...]
    article: str | None
    collection_id: str
    collection_title: str
    #: Whom the card is for: :data:`SHARED_AUDIENCE`, or the id of the server whose own collection holds it.
    audience: str = SHARED_AUDIENCE

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
            audience=str(audience) if (audience := audience_of_key(card.id)) is not None else SHARED_AUDIENCE,
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
