"""Who is reading: page views of cards counted as views (source ``web``), crawlers and link unfurlers not.

Nothing about the reader is kept: a web view is stored as the card id, the source ``web`` and the time (no
guild, channel or user, no address, no cookie). The user agent is read once to tell a person's browser from a
bot that fetches the page to unfurl a link (Discordbot, Twitterbot, facebookexternalhit, Slackbot, ...) or to
index it; it is never stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from bot.storage import ViewEvent

__all__ = ["WEB_SOURCE", "ViewStore", "ViewTotals", "is_crawler"]

log = logging.getLogger(__name__)

#: The ``command`` a web view is recorded with (``factdeck stats`` shows it apart from the Discord commands).
WEB_SOURCE = "web"

#: User agents that are not a person reading: unfurlers, crawlers, HTTP libraries and headless browsers.
_CRAWLER = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|facebookexternalhit|facebookcatalog|embedly|preview|slack-imgproxy|"
    r"whatsapp/|vkshare|pinterest|bitly|curl/|wget/|python|aiohttp|httpx|java/|go-http|okhttp|node-fetch|"
    r"axios|headless|lighthouse|monitor|archive",
    re.IGNORECASE,
)


def is_crawler(user_agent: str | None) -> bool:
    """Whether a request with this User-Agent header comes from a bot (no header at all counts as a bot)."""
    if not user_agent or not user_agent.strip():
        return True
    return _CRAWLER.search(user_agent) is not None


class ViewStore(Protocol):
    """What the web pages need of the view log (:class:`bot.storage.ViewLog` satisfies it)."""

    def record(self, view: ViewEvent, /) -> None: ...

    async def views_by_card(self, guild_id: int | None = None) -> dict[str, int]: ...


class ViewTotals:
    """Views per card, everywhere, as the pages show them: read from the view log at most every ``ttl`` seconds.

    A page never waits on the database once the first figures are in: a stale total is refreshed in the
    background while the old one is shown. A view recorded here is added at once, so a reader who opens a card
    sees it counted.
    """

    def __init__(self, views: ViewStore | None, *, ttl: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self._views = views
        self._ttl = ttl
        self._clock = clock
        self._by_card: dict[str, int] = {}
        self._read_at: float | None = None
        self._refresh: asyncio.Task[None] | None = None
        #: Views per collection, for the ``by_card`` and the card -> collection map they were added up from.
        self._per_collection: tuple[Mapping[str, int], Mapping[str, str], dict[str, int]] | None = None

    def record(self, card_id: str) -> None:
        """Count a person's view of a card's page."""
        if self._views is None:
            return
        self._views.record(ViewEvent(card_id, None, None, None, WEB_SOURCE))
        self._by_card[card_id] = self._by_card.get(card_id, 0) + 1
        if self._per_collection is not None:
            collection = self._per_collection[1].get(card_id)
            if collection is not None:
                totals = self._per_collection[2]
                totals[collection] = totals.get(collection, 0) + 1

    async def by_collection(self, owner: Mapping[str, str]) -> Mapping[str, int]:
        """Views per collection id, given each card's collection (``library.card_collection``). Added up once
        per read of the view log and per library, not per page: a library of 100,000 viewed cards costs one pass
        every ``ttl`` seconds."""
        by_card = await self.by_card()
        cached = self._per_collection
        if cached is None or cached[0] is not by_card or cached[1] is not owner:
            totals: dict[str, int] = {}
            for card_id, n in by_card.items():
                collection = owner.get(card_id)
                if collection is not None:
                    totals[collection] = totals.get(collection, 0) + n
            cached = self._per_collection = (by_card, owner, totals)
        return cached[2]

    async def by_card(self) -> Mapping[str, int]:
        """``{card id: views}`` (every surface, every server), at most ``ttl`` seconds old after the first read."""
        if self._views is None:
            return self._by_card
        if self._read_at is None:
            await self._read()
        elif self._clock() - self._read_at > self._ttl and (self._refresh is None or self._refresh.done()):
            self._refresh = asyncio.create_task(self._read(), name="factdeck-web-views")
        return self._by_card

    async def _read(self) -> None:
        assert self._views is not None
        self._read_at = self._clock()
        try:
            self._by_card = await self._views.views_by_card(None)
        except Exception:  # the figures are decoration: a page is served with the last ones
            log.exception("could not read the view totals; the pages show the last ones")

    async def close(self) -> None:
        """Stop a refresh that is under way."""
        if self._refresh is not None:
            self._refresh.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresh
