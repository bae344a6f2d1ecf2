"""Readers' problem reports: what they may say, how often, and the moderators' queue built from them.

:class:`ReportDesk` is what the Discord surface and the CLI call: :meth:`ReportDesk.submit` checks the card, the
kind, the text and the member's rate (:class:`RateLimiter`) and stores the report with the card's digest at that
time (:func:`card_digest`); :meth:`ReportDesk.queue` groups reports by card, most reported first, and marks the
ones on a card edited since (``stale``) or no longer served (``detail is None``).

Whose reports a moderator sees is a :class:`ReportScope`: those made in their server on the cards it sees (the
shared library and its own collections), and, for those who may curate the shared library, the reports from every
server on shared cards; never another server's own cards, nor reports on them.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import hashlib
import logging
import time
from collections.abc import Callable, Sequence

import msgspec

from bot.cards.library import Audience, audience_of_key
from bot.cards.model import Card
from bot.service import CardDetail, CardService
from bot.storage import Report, ReportStore

__all__ = [
    "KINDS",
    "MAX_TEXT",
    "CardReports",
    "RateLimiter",
    "ReportDesk",
    "ReportRefused",
    "ReportScope",
    "card_digest",
]

log = logging.getLogger(__name__)

#: What a reader can say is wrong: the stored value and the label they pick.
KINDS: dict[str, str] = {
    "wrong-fact": "Wrong fact",
    "source": "Wrong or missing source",
    "typo": "Typo",
    "duplicate": "Duplicate",
    "other": "Other",
}
#: Longest report text (characters).
MAX_TEXT = 1000


class ReportRefused(ValueError):
    """A report that cannot be taken; ``str()`` is what the reader is told."""


def card_digest(card: Card) -> str:
    """A short digest of what a reader sees of ``card`` (text, topics, source, references): a report made on one
    digest is possibly stale once the card's digest differs."""
    seen = msgspec.json.encode([card.text, card.topics, card.source, card.citations])
    return hashlib.sha256(seen).hexdigest()[:16]


class RateLimiter:
    """At most ``limit`` reports per member in any ``window`` seconds (a sliding window, in memory)."""

    def __init__(
        self, *, limit: int = 5, window: float = 600.0, clock: Callable[[], float] = time.monotonic, cap: int = 10_000
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.cap = cap
        self._times: collections.OrderedDict[int, collections.deque[float]] = collections.OrderedDict()

    def retry_after(self, member_id: int) -> float | None:
        """Take one report from ``member_id``: None when allowed, else the seconds until they may report again."""
        now = self.clock()
        times = self._times.get(member_id)
        if times is None:
            times = self._times[member_id] = collections.deque()
        self._times.move_to_end(member_id)
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.limit:
            return max(times[0] + self.window - now, 0.0)
        times.append(now)
        while len(self._times) > self.cap:  # the least recently active members are forgotten
            self._times.popitem(last=False)
        return None


@dataclasses.dataclass(frozen=True, slots=True)
class ReportScope:
    """Whose reports someone sees: ``viewer`` the server they are in (None: none, a direct message or the command
    line); ``shared`` whether they may curate the shared library, and so see (and act on) the reports from every
    server on shared cards."""

    viewer: Audience
    shared: bool = False

    def sees(self, report: Report) -> bool:
        """Whether ``report`` is theirs to see: on their server's own card, or made in their server on a shared
        card (from any server, for a curator of the shared library)."""
        audience = audience_of_key(report.card_id)
        if audience is not None:
            return audience == self.viewer
        return self.shared or (report.guild_id or None) == self.viewer

    def acts_on(self, card_id: str) -> bool:
        """Whether they may close or reopen the reports on ``card_id`` (a served key): their server's own card, or
        a shared one when they curate the shared library."""
        audience = audience_of_key(card_id)
        return self.shared if audience is None else audience == self.viewer


#: What the command line sees without ``--server``: the shared library's reports, from every server.
EVERYWHERE = ReportScope(None, shared=True)


@dataclasses.dataclass(frozen=True, slots=True)
class CardReports:
    """The reports on one card, with the card as served now (``detail`` None: no longer in the deck)."""

    card_id: str
    detail: CardDetail | None
    reports: tuple[Report, ...]
    digest: str | None

    @property
    def exists(self) -> bool:
        """Whether the card is still served."""
        return self.detail is not None

    def stale(self, report: Report) -> bool:
        """Whether the card was edited (or removed) since ``report`` was made."""
        return self.digest is None or report.card_digest != self.digest

    @property
    def kinds(self) -> dict[str, int]:
        """How many reports of each kind, most first."""
        counts = collections.Counter(r.kind for r in self.reports)
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    @property
    def latest(self) -> dt.datetime:
        """When the most recent of these reports was made or updated."""
        return max(r.updated for r in self.reports)


class ReportDesk:
    """Reports in and out: submit, the queue, fix, dismiss and reopen."""

    def __init__(self, service: CardService, store: ReportStore, *, limiter: RateLimiter | None = None) -> None:
        self.service = service
        self.store = store
        self.limiter = limiter or RateLimiter()

    async def submit(
        self,
        card_id: str,
        *,
        guild_id: int | None,
        reporter_id: int,
        reporter_name: str,
        kind: str,
        text: str,
        exact: bool = False,
    ) -> tuple[Report, bool]:
        """Store a report (or update the member's earlier one on this card); return it and whether it is new.

        Raises :class:`ReportRefused` with what to tell the reader: an unknown card or kind, too long a text, or
        too many reports too fast (logged, so a flood shows in the log).
        """
        # what the reader sees there: a server's own card too (``exact``: the served key of a card shown)
        detail = self.service.detail(card_id, guild_id, exact=exact)
        if detail is None:
            raise ReportRefused("That card is no longer in the deck, so there is nothing to report.")
        if kind not in KINDS:
            raise ReportRefused("Pick what is wrong from the list.")
        if len(text) > MAX_TEXT:
            raise ReportRefused(f"Say what is wrong in at most {MAX_TEXT} characters.")
        wait = self.limiter.retry_after(reporter_id)
        if wait is not None:
            log.warning("report flood: member %s reached %d reports", reporter_id, self.limiter.limit)
            minutes = max(1, round(wait / 60))
            raise ReportRefused(
                f"You have sent {self.limiter.limit} reports in a short time; try again in about "
                f"{minutes} minute{'s' if minutes != 1 else ''}."
            )
        return await self.store.submit(
            card_id=detail.card.id,  # the served key: a server's own card is ``id@server``
            collection_id=detail.collection.id,
            guild_id=guild_id,
            reporter_id=reporter_id,
            reporter_name=reporter_name,
            kind=kind,
            text=text,
            card_digest=card_digest(detail.card),
        )

    def _group(self, card_id: str, reports: Sequence[Report]) -> CardReports:
        # the card under exactly this key (its own audience resolves it to itself, never to a namesake)
        detail = self.service.detail(card_id, audience_of_key(card_id))
        return CardReports(card_id, detail, tuple(reports), card_digest(detail.card) if detail else None)

    async def _find(self, scope: ReportScope, *, status: str | None, card_id: str | None = None) -> list[Report]:
        return [r for r in await self.store.find(status=status, card_id=card_id) if scope.sees(r)]

    async def queue(
        self, *, scope: ReportScope, status: str | None = "open", collection: str | None = None
    ) -> list[CardReports]:
        """The reports ``scope`` sees with ``status`` (None: any) grouped by card, most reported first, then the
        most recent.

        ``collection`` keeps the cards of that collection (its served key; as reported for a removed card).
        """
        by_card: dict[str, list[Report]] = collections.defaultdict(list)
        for report in await self._find(scope, status=status):
            by_card[report.card_id].append(report)
        groups = [self._group(card_id, reports) for card_id, reports in by_card.items()]
        if collection is not None:
            groups = [g for g in groups if _collection_of(g) == collection]
        groups.sort(key=lambda g: (-len(g.reports), -g.latest.timestamp(), g.card_id))
        return groups

    async def card(self, card_id: str, *, scope: ReportScope, status: str | None = None) -> CardReports:
        """The reports ``scope`` sees on ``card_id`` (with ``status``; None: all, open first)."""
        reports = await self._find(scope, status=status, card_id=card_id)
        reports.sort(key=lambda r: (r.status != "open", r.id))
        return self._group(card_id, reports)

    async def open_ids(self, card_id: str, *, scope: ReportScope) -> list[int]:
        """The ids of the open reports ``scope`` sees on ``card_id``."""
        return [r.id for r in await self._find(scope, status="open", card_id=card_id)]

    async def fix(
        self, card_id: str, report_ids: Sequence[int], *, moderator_id: int, moderator_name: str, audit_id: int | None
    ) -> list[Report]:
        """Close ``report_ids`` (those still open) as fixed by the edit ``audit_id``; return the ones closed."""
        closed = await self.store.resolve(
            report_ids,
            status="fixed",
            moderator_id=moderator_id,
            moderator_name=moderator_name,
            resolution=f"card {card_id} edited",
            audit_id=audit_id,
        )
        return [r for r in closed if r.card_id == card_id]

    async def dismiss(
        self, card_id: str, *, scope: ReportScope, moderator_id: int, moderator_name: str, reason: str
    ) -> list[Report]:
        """Close every open report ``scope`` sees on ``card_id`` as dismissed, with ``reason``; return the ones
        closed."""
        return await self.store.resolve(
            await self.open_ids(card_id, scope=scope),
            status="dismissed",
            moderator_id=moderator_id,
            moderator_name=moderator_name,
            resolution=reason,
        )

    async def reopen(self, card_id: str, *, scope: ReportScope) -> list[Report]:
        """Open every closed report ``scope`` sees on ``card_id`` again; return them."""
        closed = [r.id for r in await self._find(scope, status=None, card_id=card_id) if r.status != "open"]
        return await self.store.reopen(closed)


def _collection_of(group: CardReports) -> str | None:
    if group.detail is not None:
        return group.detail.collection.id
    return next((r.collection_id for r in group.reports if r.collection_id), None)
