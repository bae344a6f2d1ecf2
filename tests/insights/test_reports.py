"""bot.insights.reports: what a report may say, the per-member rate limit, and the queue (grouped, ranked,
possibly stale, cards no longer in the deck kept)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.curation import CardInput, Curator, Moderator
from bot.insights import (
    EVERYWHERE,
    KINDS,
    MAX_TEXT,
    RateLimiter,
    ReportDesk,
    ReportRefused,
    ReportScope,
    card_digest,
)
from bot.service import CardService
from bot.storage import Storage

A, B = "therapeutic-alliance-001", "therapeutic-alliance-002"
MOD = Moderator("maria", id=9, guild_id=7)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _report(desk: ReportDesk, card: str, member: int, kind: str = "typo", text: str = "") -> None:
    await desk.submit(card, guild_id=7, reporter_id=member, reporter_name=f"m{member}", kind=kind, text=text)


def test_the_rate_limit_is_a_sliding_window_per_member() -> None:
    clock = Clock()
    limiter = RateLimiter(limit=2, window=60, clock=clock)
    assert limiter.retry_after(1) is None
    clock.now += 10
    assert limiter.retry_after(1) is None
    assert limiter.retry_after(1) == pytest.approx(50)  # the first of the two leaves the window in 50 s
    assert limiter.retry_after(2) is None  # another member is not held up
    clock.now += 50
    assert limiter.retry_after(1) is None


def test_the_rate_limit_forgets_members_beyond_its_cap() -> None:
    limiter = RateLimiter(limit=1, window=60, clock=Clock(), cap=2)
    for member in (1, 2, 3):
        assert limiter.retry_after(member) is None
    assert limiter.retry_after(1) is None  # forgotten: the memory stays bounded
    assert limiter.retry_after(3) is not None


async def test_a_report_is_refused_with_a_reason_and_a_flood_is_limited(
    service: CardService, storage: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    desk = ReportDesk(service, storage.reports, limiter=RateLimiter(limit=2, window=600, clock=Clock()))
    with pytest.raises(ReportRefused, match="no longer in the deck"):
        await _report(desk, "no-such-card", 1)
    with pytest.raises(ReportRefused, match="Pick what is wrong"):
        await _report(desk, A, 1, kind="rude")
    with pytest.raises(ReportRefused, match=f"at most {MAX_TEXT}"):
        await _report(desk, A, 1, text="x" * (MAX_TEXT + 1))
    await _report(desk, A, 1)
    await _report(desk, B, 1)
    with pytest.raises(ReportRefused, match="try again in about 10 minutes"):
        await _report(desk, A, 1, kind="other")
    assert "report flood: member 1" in caplog.text
    assert len(await storage.reports.find()) == 2


async def test_the_queue_puts_the_most_reported_card_first_and_marks_edited_and_removed_cards(
    service: CardService, storage: Storage, cards_copy: Path
) -> None:
    desk = ReportDesk(service, storage.reports)
    await _report(desk, A, 1, "typo")
    for member, kind in ((1, "wrong-fact"), (2, "wrong-fact"), (3, "source")):
        await _report(desk, B, member, kind)
    queue = await desk.queue(scope=EVERYWHERE)
    assert [(g.card_id, len(g.reports)) for g in queue] == [(B, 3), (A, 1)]
    assert queue[0].kinds == {"wrong-fact": 2, "source": 1}
    assert not any(g.stale(r) for g in queue for r in g.reports)
    assert set(KINDS) >= {r.kind for g in queue for r in g.reports}
    curator = Curator(service, cards_copy, audit=storage.audit)
    await curator.start()
    card = service.detail(B)
    assert card is not None
    edited = CardInput.of(card.card)
    await curator.edit_card(B, CardInput.from_form(edited.text + " Edited.", "", "", "", ""), MOD)
    await curator.remove_card(A, MOD)
    by_card = {g.card_id: g for g in await desk.queue(scope=EVERYWHERE)}
    assert all(by_card[B].stale(r) for r in by_card[B].reports)  # the card changed since they reported it
    assert by_card[B].digest == card_digest(service.detail(B).card)  # type: ignore[union-attr]
    assert not by_card[A].exists  # removed: its report is kept and shown as such
    assert [g.card_id for g in await desk.queue(scope=EVERYWHERE, collection="therapeutic-alliance")] == [B, A]
    assert await desk.queue(scope=EVERYWHERE, collection="another") == []


async def test_fix_dismiss_and_reopen(service: CardService, storage: Storage) -> None:
    desk = ReportDesk(service, storage.reports)
    await _report(desk, A, 1)
    await _report(desk, A, 2)
    ids = await desk.open_ids(A, scope=EVERYWHERE)
    fixed = await desk.fix(A, ids[:1], moderator_id=9, moderator_name="maria", audit_id=77)
    assert [(r.status, r.audit_id) for r in fixed] == [("fixed", 77)]
    dismissed = await desk.dismiss(A, scope=EVERYWHERE, moderator_id=9, moderator_name="maria", reason="right as it is")
    assert [r.reporter_id for r in dismissed] == [2]
    assert await desk.open_ids(A, scope=EVERYWHERE) == []
    assert len(await desk.reopen(A, scope=EVERYWHERE)) == 2
    assert len(await desk.open_ids(A, scope=EVERYWHERE)) == 2


async def test_a_scope_sees_its_servers_reports_on_the_cards_it_sees_and_curators_every_servers_on_shared(
    service: CardService, storage: Storage
) -> None:
    for card, guild in ((A, 7), (A, 8), ("course-001@7", 7), ("course-001@8", 8)):
        await storage.reports.submit(
            card_id=card,
            collection_id=None,
            guild_id=guild,
            reporter_id=1,
            reporter_name="m",
            kind="typo",
            text="",
            card_digest="x",
        )
    desk = ReportDesk(service, storage.reports)

    async def seen(scope: ReportScope) -> set[tuple[str, int]]:
        return {(r.card_id, r.guild_id) for g in await desk.queue(scope=scope) for r in g.reports}

    assert await seen(ReportScope(7)) == {(A, 7), ("course-001@7", 7)}
    assert await seen(ReportScope(7, shared=True)) == {(A, 7), (A, 8), ("course-001@7", 7)}
    assert await seen(EVERYWHERE) == {(A, 7), (A, 8)}
    assert ReportScope(7).acts_on("course-001@7")
    assert not ReportScope(7).acts_on(A)  # a shared card: only the shared library's curators
    assert ReportScope(7, shared=True).acts_on(A)
    assert not ReportScope(7, shared=True).acts_on("course-001@8")
    assert await desk.open_ids("course-001@8", scope=ReportScope(7, shared=True)) == []
    assert await desk.reopen("course-001@8", scope=ReportScope(7, shared=True)) == []
