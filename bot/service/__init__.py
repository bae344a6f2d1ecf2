"""The card service: what every surface (Discord, the console, the command line) asks of the library."""

from bot.service.cards import (
    NO_HITS,
    STYLES,
    CardDetail,
    CardService,
    CiteHit,
    CiteHits,
    CiteResult,
    CollectionSummary,
    Pick,
    ReloadReport,
    SearchResult,
)

__all__ = [
    "NO_HITS",
    "STYLES",
    "CardDetail",
    "CardService",
    "CiteHit",
    "CiteHits",
    "CiteResult",
    "CollectionSummary",
    "Pick",
    "ReloadReport",
    "SearchResult",
]
