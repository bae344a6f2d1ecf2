"""Insights for curators: what readers searched for and did not find, what they read most and least, and what
they reported, for the whole library or one collection, over the last ``days`` days.

Views are counted over all time in the server (the view log keeps per-card totals); failed searches and reports
over the last ``days`` days. A server's insights are its view of the library (the shared cards and its own
collections, never another server's) and its readers' searches and reports; without a server, the shared library
with every server's readers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from bot.cards.library import visible
from bot.service import CardService
from bot.storage import MissedQuery, Storage

from .charts import ViewsChart, views_chart
from .reports import EVERYWHERE, ReportDesk, ReportScope

__all__ = ["Insights", "gather", "views_chart_of"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class Insights:
    """One answer to "what do my readers look for that we don't have?" (see :func:`gather`)."""

    collection: str | None
    days: int
    missed: list[MissedQuery]
    most_viewed: list[tuple[str, int]]
    least_viewed: list[tuple[str, int]]
    most_reported: list[tuple[str, int]]
    #: ``(card_id, again, reviews)``: the cards the server's studying members forget most (rated Again most).
    forgotten: list[tuple[str, int, int]] = dataclasses.field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        """The same, as plain JSON types (``factdeck insights --json``)."""
        return {
            "collection": self.collection,
            "days": self.days,
            "missed": [
                {"query": m.query, "kind": m.kind, "count": m.count, "days": m.days, "last": m.last.isoformat()}
                for m in self.missed
            ],
            "most_viewed": [{"card": c, "views": n} for c, n in self.most_viewed],
            "least_viewed": [{"card": c, "views": n} for c, n in self.least_viewed],
            "most_reported": [{"card": c, "open_reports": n} for c, n in self.most_reported],
            "forgotten": [{"card": c, "again": a, "reviews": n} for c, a, n in self.forgotten],
        }


async def gather(
    service: CardService,
    storage: Storage,
    *,
    guild_id: int | None,
    collection: str | None = None,
    days: int = 30,
    top: int = 10,
    today: dt.date | None = None,
) -> Insights:
    """Insights for ``guild_id`` (None: the shared library, read in every server) and ``collection`` (None: every
    collection the server sees; else one it sees, by its id there or its served key).

    "Forgotten most" counts the Again ratings (failed recalls) in study mode of the members who study in the server,
    most first (ties: the higher share of Again, then the card id), as the daily question's rotation does."""
    library = service.library
    owner = library.card_collection
    key = service.resolve_collection(collection, guild_id) if collection is not None else None
    if collection is not None and key is None:  # a collection the server does not see has no cards for it
        key = "\0"
    in_scope = [c for c in library.cards if visible(c, guild_id) and (key is None or owner.get(c) == key)]
    views = await storage.views.views_by_card(guild_id)
    counted = sorted(((c, views.get(c, 0)) for c in in_scope), key=lambda item: (-item[1], item[0]))
    most = [(c, n) for c, n in counted if n][:top]
    least = sorted(counted, key=lambda item: (item[1], item[0]))[:top]
    readers = EVERYWHERE if guild_id is None else ReportScope(guild_id)  # a server's: its readers' reports
    groups = await ReportDesk(service, storage.reports).queue(scope=readers, status="open", collection=key)
    reported = [(g.card_id, len(g.reports)) for g in groups[:top]]
    missed = await storage.searches.top(days=days, guild_id=guild_id, limit=top, today=today)
    forgotten: list[tuple[str, int, int]] = []
    if guild_id is not None:  # study reviews belong to members; a server's are those of the members who study there
        until = dt.datetime.combine((today or dt.datetime.now(dt.UTC).date()) + dt.timedelta(days=1), dt.time(), dt.UTC)
        counts = await storage.study.forgotten(guild_id, until - dt.timedelta(days=days), until)
        scope = set(in_scope)
        ranked = [(c, again, n) for c, (again, n) in counts.items() if c in scope and again > 0]
        forgotten = sorted(ranked, key=lambda item: (-item[1], -item[1] / item[2], item[0]))[:top]
    return Insights(collection, days, missed, most, least, reported, forgotten)


async def views_chart_of(
    service: CardService,
    storage: Storage,
    *,
    guild_id: int | None,
    collection: str | None = None,
    days: int = 30,
    today: dt.date | None = None,
) -> ViewsChart:
    """The views chart's data for ``guild_id`` (None: the shared library in every server), the views still in
    memory included."""
    try:
        await storage.views.flush()
    except Exception as exc:  # noqa: BLE001 - the chart is drawn from what is stored; the flusher retries
        log.info("views not yet written are left out of the chart: %s", exc)
    today = today or dt.datetime.now(dt.UTC).date()
    since = today - dt.timedelta(days=days - 1)
    rows = [
        r for r in await storage.activity.views_by_card_day(since=since, guild_id=guild_id) if visible(r[0], guild_id)
    ]
    library = service.library
    titles = {cid: c.title for cid, c in library.collections.items()}
    return views_chart(rows, library.card_collection, titles, days=days, today=today, only=collection)
