"""What each page shows, built from the card service: the same answers as the bot, as plain data.

Every function here is synchronous and reads one snapshot of the library (``service.library`` once), so a page
is consistent while cards reload or a moderator writes. The handlers in :mod:`bot.web.app` turn the results into
HTML (templates) or JSON (:mod:`bot.service.shapes`, the shapes of ``factdeck ... --json``).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from bot.cards.library import Library
from bot.cards.model import Card, Collection, Source
from bot.cards.sources import Style, render_source
from bot.index.citations import Reference
from bot.index.search import card_label
from bot.service import STYLES, CardDetail, CardService, CiteHit, CollectionSummary, SearchResult

__all__ = [
    "CITE_PAGE",
    "COLLECTION_PAGE",
    "MAX_QUERY",
    "SEARCH_PAGE",
    "CardPage",
    "CitedWith",
    "CollectionPage",
    "Paging",
    "Published",
    "SharedOnly",
    "TopicPage",
    "card_page",
    "cite_page",
    "collection_page",
    "search_page",
    "shared_only",
    "topic_page",
]

#: Cards per page of a collection, of a topic, and of citing cards; results per page of a search.
COLLECTION_PAGE = 20
CITE_PAGE = 20
SEARCH_PAGE = 10
#: A query longer than this is cut before it is searched (the bot's own inputs are far shorter).
MAX_QUERY = 500
#: At most this many other cards are shown per work a card cites.
CITED_WITH_SHOWN = 5
#: Only the first works a card cites are followed for "other cards citing the same works" (each is one lookup).
CITED_WITH_WORKS = 8

#: Whether a collection may be shown on the web, given the library it is in.
Published = Callable[[Library, str], bool]


class SharedOnly:
    """The default :data:`Published`: the shared library only.

    Server collections (kept under ``<cards>/servers/<guild id>/``) are private to their server and are not
    served, nor found by search, citations or suggestions. When server collections can be published, pass a
    :data:`Published` that asks the service instead. The private collections are worked out once per library
    (a reload or a moderator's write makes a new one), so a page pays one set lookup per card.
    """

    def __init__(self) -> None:
        self._private: tuple[Library, frozenset[str]] | None = None

    def __call__(self, library: Library, collection_id: str) -> bool:
        cached = self._private
        if cached is None or cached[0] is not library:
            cached = self._private = (library, _private_collections(library))
        return collection_id in library.collections and collection_id not in cached[1]


def _private_collections(library: Library) -> frozenset[str]:
    root = library.root.resolve()
    private = set()
    for collection_id, path in library.collection_file.items():
        try:
            relative = path.resolve().relative_to(root)
        except ValueError:
            continue  # a file named on its own (not under the folder) is the operator's
        if relative.parts[:1] == ("servers",):
            private.add(collection_id)
    return frozenset(private)


def shared_only() -> Published:
    """A fresh :class:`SharedOnly` (each application keeps its own cache)."""
    return SharedOnly()


@dataclass(frozen=True, slots=True)
class Paging:
    """Where a page is in a list: 1-based ``number`` of ``pages``, ``size`` items each, ``total`` in all."""

    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @classmethod
    def of(cls, requested: str | None, size: int, total: int) -> Paging:
        """The page a ``?page=`` value asks for; anything that is not a page number in range is the nearest page."""
        number = (
            int(requested) if requested and requested.isascii() and requested.isdigit() and len(requested) < 9 else 1
        )
        pages = max(1, -(-total // size))
        return cls(min(max(number, 1), pages), size, total)

    def json(self) -> dict[str, int]:
        return {"page": self.number, "pages": self.pages, "per_page": self.size, "total": self.total}


@dataclass(frozen=True, slots=True)
class CollectionPage:
    summary: CollectionSummary
    paging: Paging
    cards: tuple[CardDetail, ...]


@dataclass(frozen=True, slots=True)
class CitedWith:
    """Another card that cites some of the works a card cites, and which ones."""

    detail: CardDetail
    shared: tuple[Reference, ...]


@dataclass(frozen=True, slots=True)
class CardPage:
    detail: CardDetail
    sources: Mapping[Style, str]
    cited_with: tuple[CitedWith, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class TopicPage:
    topic: str
    paging: Paging
    cards: tuple[CardDetail, ...]


def collection_summaries(service: CardService, published: Published) -> list[CollectionSummary]:
    """The collections the web shows, in library order."""
    library = service.library
    return [s for s in service.collections() if published(library, s.collection.id)]


def collection_page(
    service: CardService, published: Published, collection_id: str, page: str | None
) -> CollectionPage | None:
    """A page of a collection's cards, or None when there is no such (published) collection."""
    library = service.library
    if collection_id not in library.collections or not published(library, collection_id):
        return None
    summary = next((s for s in service.collections() if s.collection.id == collection_id), None)
    if summary is None:  # removed by a reload between the two reads
        return None
    cards = library.cards_of(collection_id)
    paging = Paging.of(page, COLLECTION_PAGE, len(cards))
    shown = cards[paging.offset : paging.offset + paging.size]
    return CollectionPage(summary, paging, tuple(_details(service, shown)))


def _details(service: CardService, cards: Sequence[Card]) -> list[CardDetail]:
    found = (service.detail(card.id) for card in cards)
    return [d for d in found if d is not None]


@functools.lru_cache(maxsize=4096)
def _formatted(source: Source, style: Style, key: str) -> str:
    return render_source(source, style, key=key)


def card_page(service: CardService, published: Published, card_id: str) -> CardPage | None:
    """A card with its sources in every style and the other cards citing the works it cites."""
    detail = service.detail(card_id)
    if detail is None or not published(service.library, detail.collection.id):
        return None
    sources = {style: _formatted(detail.card.source, style, detail.card.id) for style in STYLES}
    return CardPage(detail, sources, tuple(_cited_with(service, published, detail)))


def _cited_with(service: CardService, published: Published, detail: CardDetail) -> list[CitedWith]:
    """The other cards citing the works ``detail`` cites, those sharing the most works first (at most
    :data:`CITED_WITH_SHOWN` per work; every card citing a work is one click away on its ``/cite`` page)."""
    library = service.library
    found: dict[str, tuple[CardDetail, list[Reference]]] = {}
    for reference in list(dict.fromkeys(detail.references))[:CITED_WITH_WORKS]:
        if reference.kind == "numbered":  # [7] is a note number in one text, not the same work in another
            continue
        shown = 0
        for card_id in service.citing_work(reference):
            other = service.detail(card_id) if card_id != detail.card.id else None
            if other is None or not published(library, other.collection.id):
                continue
            found.setdefault(other.card.id, (other, []))[1].append(reference)
            shown += 1
            if shown == CITED_WITH_SHOWN:
                break
    ranked = sorted(found.values(), key=lambda entry: -len(entry[1]))  # stable: first cited first among equals
    return [CitedWith(other, tuple(shared)) for other, shared in ranked]


def search_page(
    service: CardService, published: Published, query: str, page: str | None
) -> tuple[SearchResult, Paging]:
    """A page of search results, ranked as ``/fact search`` ranks them (cards of unpublished collections left out)."""
    number = Paging.of(page, SEARCH_PAGE, 10**9).number
    result = service.search(query[:MAX_QUERY], limit=SEARCH_PAGE, offset=(number - 1) * SEARCH_PAGE)
    paging = Paging.of(page, SEARCH_PAGE, result.page.total)
    library = service.library
    if not all(published(library, d.collection.id) for d in result.details):
        kept = [
            (h, d)
            for h, d in zip(result.page.hits, result.details, strict=False)
            if published(library, d.collection.id)
        ]
        page_of = dataclasses.replace(result.page, hits=tuple(h for h, _ in kept))
        result = SearchResult(page_of, tuple(d for _, d in kept))
    return result, paging


def cite_page(
    service: CardService, published: Published, ref: str, page: str | None
) -> tuple[str | None, Paging, Sequence[CiteHit]]:
    """The cards citing a work, as ``/fact cite`` finds them: a message when there is none, a page of hits."""
    result = service.cite(ref[:MAX_QUERY])
    library = service.library
    hits: Sequence[CiteHit] = result.hits
    if not all(published(library, c) for c in library.collections):  # leave private cards out of the count too
        hits = [h for h in hits if published(library, h.detail.collection.id)]
    paging = Paging.of(page, CITE_PAGE, len(hits))
    message = result.message if hits or result.message else f"No card cites “{ref.strip()[:200]}”."
    return message, paging, hits[paging.offset : paging.offset + paging.size]


def topic_page(service: CardService, published: Published, topic: str, page: str | None) -> TopicPage | None:
    """A page of the cards with a topic (as ``/fact random topic:`` draws from), or None for an unknown topic."""
    library = service.library
    owner = library.card_collection  # the pool may come from a newer library: its new cards are left out
    ids = [i for i in service.pool(topic=topic[:MAX_QUERY]) if published(library, owner.get(i, ""))]
    if not ids:
        return None
    paging = Paging.of(page, COLLECTION_PAGE, len(ids))
    shown = (service.detail(i) for i in ids[paging.offset : paging.offset + paging.size])
    return TopicPage(topic, paging, tuple(d for d in shown if d is not None))


def close_cards(service: CardService, published: Published, text: str, limit: int = 5) -> list[tuple[str, str]]:
    """Cards whose id is close to ``text`` (a mistyped link), else whose text is: (id, label), for a 404 page."""
    library = service.library
    asked = text[:MAX_QUERY]
    ids = [
        i
        for i, _, _ in process.extract(asked, library.cards.keys(), scorer=fuzz.ratio, limit=limit * 2, score_cutoff=80)
    ]
    found = [(i, card_label(library.cards[i].text)) for i in ids]
    found += service.card_choices(asked, limit=limit * 2)
    visible = (pair for pair in dict(found).items() if pair[0] in library.cards)
    return [pair for pair in visible if published(library, library.card_collection[pair[0]])][:limit]


def close_collections(service: CardService, published: Published, text: str, limit: int = 5) -> list[Collection]:
    """Collections whose id or title is close to ``text``, for a 404 page."""
    library = service.library
    ids = [i for i, _ in service.collection_choices(text[:MAX_QUERY], limit=limit * 2)]
    return [library.collections[i] for i in ids if i in library.collections and published(library, i)][:limit]
