"""bot.discord.embeds.insights: the queue, one card's reports and insights as a curator sees them; a report's
text and its reporter's name are always shown escaped."""

from __future__ import annotations

import datetime as dt

from bot.discord.embeds.insights import STALE, card_reports_embed, insights_embed, queue_embed
from bot.insights import CardReports, Insights, card_digest
from bot.service import CardService
from bot.storage import MissedQuery, Report
from tests.conftest import SHIPPED_CARDS

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
CARD = "therapeutic-alliance-001"


def _report(n: int, *, digest: str, text: str = "teh", name: str = "bob", status: str = "open") -> Report:
    return Report(n, CARD, "therapeutic-alliance", 7, 40 + n, name, "typo", text, digest, status, NOW, NOW)


def _group(*reports: Report, gone: bool = False) -> CardReports:
    detail = None if gone else CardService.load(SHIPPED_CARDS).detail(CARD)
    return CardReports(CARD, detail, reports, card_digest(detail.card) if detail else None)


def test_a_report_is_shown_escaped_and_pings_nobody() -> None:
    digest = _group().digest or ""
    group = _group(_report(1, digest=digest, text="@everyone **bold** <@123>", name="*evil*_name"))
    (field,) = card_reports_embed(group, now=NOW + dt.timedelta(hours=1)).fields
    assert "@\u200beveryone" in (field.value or "")
    assert "\\*\\*bold\\*\\*" in (field.value or "")
    assert "\\*evil\\*\\_name" in (field.name or "")
    assert STALE not in (field.value or "")


def test_a_report_on_an_edited_card_is_marked_possibly_stale_and_on_a_removed_card_kept() -> None:
    stale = card_reports_embed(_group(_report(1, digest="before the edit")), now=NOW)
    assert STALE in (stale.fields[0].value or "")
    gone = card_reports_embed(_group(_report(1, digest="x"), gone=True), now=NOW)
    assert "no longer in the deck" in (gone.description or "")


def test_the_queue_lists_cards_most_reported_first_with_their_kinds() -> None:
    digest = _group().digest or ""
    busy = _group(_report(1, digest=digest), _report(2, digest=digest), _report(3, digest="old"))
    embed = queue_embed([busy], status="open", offset=0, total=1, collection=None)
    assert (embed.description or "").startswith(f"1. `{CARD}`: 3 reports (typo ×3) · possibly stale")
    empty = queue_embed([], status="open", offset=0, total=0, collection="some*thing")
    assert "Nothing here" in (empty.description or "")
    assert "some\\*thing" in (empty.title or "")


def test_insights_say_what_readers_did_not_find() -> None:
    found = Insights(
        None,
        30,
        [MissedQuery("@here hippo", "search", 4, 2, NOW.date()), MissedQuery("nobody 1899", "cite", 1, 1, NOW.date())],
        [(CARD, 9)],
        [("therapeutic-alliance-002", 0)],
        [],
        [("therapeutic-alliance-003", 3, 4)],
    )
    fields = {f.name: f.value for f in insights_embed(found).fields}
    assert (
        fields["Searched for, found nothing"] == "“@\u200bhere hippo”: 4× on 2 days\n“nobody 1899” (cite): 1× on 1 day"
    )
    assert fields["Most reported (open)"] == "No open reports."
    assert fields["Forgotten most in study"] == "`therapeutic-alliance-003`: Again 3× of 4 reviews"
