"""bot.storage.reports and bot.storage.searches: one report per member and card, resolving, failed-search counts
batched, bounded and dropped after the retention."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from bot.storage import Storage
from bot.storage.searches import OTHER

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
DAY = 86_400.0
AT = T0.timestamp()


def _report(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "card_id": "deck-001",
        "collection_id": "deck",
        "guild_id": 7,
        "reporter_id": 42,
        "reporter_name": "bob",
        "kind": "typo",
        "text": "teh",
        "card_digest": "d1",
        "at": T0,
    }
    return {**fields, **overrides}


async def test_the_same_member_reporting_the_same_card_updates_their_report(tmp_path: Path) -> None:
    async with Storage.open(tmp_path / "s.db") as storage:
        first, new = await storage.reports.submit(**_report())
        assert new
        again, new = await storage.reports.submit(**_report(kind="other", text="actually", card_digest="d2"))
        assert not new
        assert again.id == first.id
        assert (again.kind, again.text, again.card_digest) == ("other", "actually", "d2")
        _other, new = await storage.reports.submit(**_report(reporter_id=43))  # another member: another report
        assert new
        in_dm, new = await storage.reports.submit(**_report(guild_id=None))  # a DM is its own place
        assert new
        assert in_dm.guild_id == 0
        assert len(await storage.reports.find(status="open")) == 3


async def test_resolving_closes_only_open_reports_and_a_new_report_reopens(tmp_path: Path) -> None:
    async with Storage.open(tmp_path / "s.db") as storage:
        report, _ = await storage.reports.submit(**_report())
        closed = await storage.reports.resolve(
            [report.id], status="dismissed", moderator_id=9, moderator_name="maria", resolution="fine as it is"
        )
        assert [(r.status, r.resolution, r.resolver_name) for r in closed] == [("dismissed", "fine as it is", "maria")]
        assert await storage.reports.resolve([report.id], status="fixed", moderator_id=9, moderator_name="m") == []
        again, new = await storage.reports.submit(**_report(text="still wrong"))
        assert not new
        assert (again.status, again.resolution) == ("open", None)
        await storage.reports.resolve([report.id], status="fixed", moderator_id=9, moderator_name="m", audit_id=5)
        reopened = await storage.reports.reopen([report.id])
        assert [(r.status, r.audit_id) for r in reopened] == [("open", None)]
        with pytest.raises(ValueError, match="fixed or dismissed"):
            await storage.reports.resolve([report.id], status="open", moderator_id=9, moderator_name="m")  # type: ignore[arg-type]


async def test_text_is_stored_exactly_as_typed(tmp_path: Path) -> None:
    hostile = "@everyone **bold** <@1> `code` \u202e"
    async with Storage.open(tmp_path / "s.db") as storage:
        await storage.reports.submit(**_report(text=hostile))
        (stored,) = await storage.reports.find()
        assert stored.text == hostile


async def test_failed_searches_are_counted_in_memory_then_written_in_one_batch(tmp_path: Path) -> None:
    async with Storage.open(tmp_path / "s.db") as storage:
        log = storage.searches
        for _ in range(3):
            log.record("hippo weight", 7, at=AT)
        log.record("hippo weight", 8, at=AT)
        log.record("horvath", 7, "cite", at=AT)
        assert log.pending == 3
        assert await storage.db.fetchval("SELECT COUNT(*) FROM failed_searches") == 0
        top = await log.top(today=T0.date())  # counters in memory count already
        assert [(m.query, m.kind, m.count) for m in top] == [("hippo weight", "search", 4), ("horvath", "cite", 1)]
        assert await log.flush() == 3
        log.record("hippo weight", 7, at=AT + DAY)
        await log.flush()
        rows = await storage.db.fetchall("SELECT day, guild_id, query, count FROM failed_searches ORDER BY 1, 2, 3")
        day = int(AT // DAY)  # UTC day number of 2026-03-02
        assert [tuple(r) for r in rows] == [
            (day, 7, "hippo weight", 3),
            (day, 7, "horvath", 1),
            (day, 8, "hippo weight", 1),
            (day + 1, 7, "hippo weight", 1),
        ]
        (here,) = [m for m in await log.top(guild_id=7, today=T0.date() + dt.timedelta(days=1)) if m.kind == "search"]
        assert (here.count, here.days, here.last) == (4, 2, dt.date(2026, 3, 3))


async def test_a_failed_write_keeps_the_counts(tmp_path: Path) -> None:
    async with Storage.open(tmp_path / "s.db") as storage:
        storage.searches.record("kept", 1, at=AT)
        await storage.db.execute("DROP TABLE failed_searches")
        with pytest.raises(Exception, match="failed_searches"):
            await storage.searches.flush()
        assert storage.searches.pending == 1
        await storage.db.execute(
            "CREATE TABLE failed_searches (day INTEGER NOT NULL, guild_id BIGINT NOT NULL, query TEXT NOT NULL,"
            " kind TEXT NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (day, guild_id, query, kind))"
        )
        storage.searches.record("kept", 1, at=AT)
        await storage.searches.flush()
        assert await storage.db.fetchval("SELECT count FROM failed_searches") == 2


async def test_the_log_is_bounded_in_memory_and_on_disk_and_old_days_are_dropped(tmp_path: Path) -> None:
    async with Storage.open(tmp_path / "s.db") as storage:
        log = storage.searches
        log.max_pending, log.max_rows, log.retention_days = 3, 4, 90
        for n in range(5):
            log.record(f"q{n}", 1, at=AT)
        assert log.pending == 4  # three queries, then everything else as one "(other)" counter
        assert log.overflowed == 2
        await log.flush()
        assert await storage.db.fetchval("SELECT count FROM failed_searches WHERE query = ?", (OTHER,)) == 2
        log.record("old", 1, at=AT - 90 * DAY)
        log.record("old", 1, at=AT)
        await log.flush()
        today = int(AT // DAY)
        dropped = await log.prune(today=today)
        assert dropped == 2  # the 91-day-old row, then the least searched beyond max_rows
        assert await storage.db.fetchval("SELECT COUNT(*) FROM failed_searches") == 4
        assert await storage.db.fetchval("SELECT MIN(day) FROM failed_searches") == today
        assert await storage.db.fetchval("SELECT COUNT(*) FROM failed_searches WHERE query = ?", (OTHER,)) == 1


async def test_close_writes_what_is_left(tmp_path: Path) -> None:
    async with Storage.open(tmp_path / "s.db") as storage:
        storage.searches.record("at shutdown", None, at=AT)
    async with Storage.open(tmp_path / "s.db") as storage:
        assert await storage.db.fetchval("SELECT guild_id FROM failed_searches WHERE query = 'at shutdown'") == 0
