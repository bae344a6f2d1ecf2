"""bot.insights.gather: what a curator's insights say, from views, failed searches, reports and study reviews."""

from __future__ import annotations

import datetime as dt

from bot.insights import ReportDesk, gather
from bot.service import CardService
from bot.storage import Storage, ViewEvent
from bot.storage.study import Answer

GUILD = 7
A, B, C = "therapeutic-alliance-001", "therapeutic-alliance-002", "therapeutic-alliance-003"
NOW = dt.datetime.now(dt.UTC)


def _update(card_id: str, state: str | None, rating: int, at: dt.datetime) -> tuple[str, dt.datetime]:
    return "{}", at + dt.timedelta(days=1)


async def test_insights_answer_what_readers_look_for_read_report_and_forget(
    service: CardService, storage: Storage
) -> None:
    for card, n in ((A, 3), (B, 1)):
        for _ in range(n):
            storage.views.record(ViewEvent(card, GUILD, 1, 2, "show", at=NOW))
    storage.views.record(ViewEvent(B, GUILD + 1, 1, 2, "show", at=NOW))  # another server
    for _ in range(4):
        storage.searches.record("hippo weight", GUILD)
    storage.searches.record("banknotes", GUILD)
    storage.searches.record("elsewhere", GUILD + 1)
    desk = ReportDesk(service, storage.reports)
    for member in (1, 2):
        await desk.submit(B, guild_id=GUILD, reporter_id=member, reporter_name="m", kind="typo", text="")
    answers = [Answer(5, GUILD, C, 1, False, "review", "k", NOW - dt.timedelta(days=1)) for _ in range(2)]
    answers += [Answer(5, GUILD, A, 3, True, "review", "k", NOW - dt.timedelta(days=1))]
    await storage.study.write_batch(answers, _update)

    found = await gather(service, storage, guild_id=GUILD, days=30)
    assert [(m.query, m.count) for m in found.missed] == [("hippo weight", 4), ("banknotes", 1)]
    assert found.most_viewed == [(A, 3), (B, 1)]
    least = [n for _card, n in found.least_viewed]
    assert least[0] == 0  # cards nobody opened come first
    assert least == sorted(least)
    assert found.most_reported == [(B, 2)]
    assert found.forgotten == [(C, 2, 2)]  # A was recalled: nobody forgot it
    data = found.as_json()
    assert data["missed"][0]["query"] == "hippo weight"  # type: ignore[index]
    assert data["forgotten"] == [{"card": C, "again": 2, "reviews": 2}]

    everywhere = await gather(service, storage, guild_id=None, days=30)
    assert {m.query for m in everywhere.missed} == {"hippo weight", "banknotes", "elsewhere"}
    assert everywhere.most_viewed[:2] == [(A, 3), (B, 2)]
    lab = await gather(service, storage, guild_id=GUILD, collection="no-such-collection", days=30)
    assert (lab.most_viewed, lab.least_viewed, lab.most_reported) == ([], [], [])
