"""Readers' reports, failed searches, insights and charts end to end: the real discord.py client, the bot as
started in production, and the fake Discord.

``bob`` is a plain member who reports; ``maria`` a moderator (Manage Messages) of a curator server.
"""

from __future__ import annotations

import asyncio
import io
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
import pytest
import pytest_asyncio
from PIL import Image

from bot.discord import charts
from bot.discord.app import FactdeckBot
from bot.discord.checks import NOT_MODERATOR
from bot.insights import CHART_SIZE
from tests.e2e.conftest import start_bot
from tests.fakediscord import FakeChannel, FakeDiscord, FakeGuild, FakeInteraction, FakeMember, FakeMessage
from tests.storage.engines import query

pytestmark = pytest.mark.e2e

CARD = "therapeutic-alliance-002"
CONFIG = """\
cards_dir: cards
database: data/factdeck.db
cache_dir: cache
guild_ready_timeout: 0.05
view_flush_interval: 0.1
"""
KIND, DETAILS = "What is wrong?", "Tell us more (optional)"
HOSTILE = "@everyone the year is **wrong** <@123>"


@dataclass
class Desk:
    fake: FakeDiscord
    guild: FakeGuild
    chan: FakeChannel
    maria: FakeMember
    alice: FakeMember
    bob: FakeMember
    bot: FactdeckBot
    database: str

    async def slash(self, command: str, user: FakeMember, **options: Any) -> FakeInteraction:
        return await self.fake.slash(self.guild, self.chan, user, command, **options)

    async def report(self, user: FakeMember, kind: str = "wrong-fact", text: str = HOSTILE) -> FakeMessage:
        """``user`` shows the card and reports it through the button under it; the reply they get."""
        shown = await (await self.slash("fact show", user, card=CARD)).wait_message()
        form = await self.fake.click(shown, "Report a problem", user=user)
        submitted = await self.fake.submit_modal(form, {KIND: [kind], DETAILS: text})
        return await submitted.wait_message()

    def rows(self) -> list[tuple[Any, ...]]:
        return query(
            self.database, "SELECT reporter_id, kind, text, status, resolution, audit_id FROM reports ORDER BY id"
        )

    def audit_detail(self, audit_id: int) -> str:
        detail: str = query(self.database, "SELECT detail FROM audit_log WHERE id = ?", (audit_id,))[0][0]
        return detail

    async def dm(self, user: FakeMember) -> FakeMessage:
        def found() -> FakeMessage | None:
            chan = self.fake.dm_channel(user)
            return chan.all_messages[-1] if chan is not None and chan.all_messages else None

        return await self.fake.wait_for(found, what=f"a DM to {user.user.username}")


@pytest_asyncio.fixture
async def desk(
    world: tuple[FakeDiscord, FakeGuild, FakeChannel, FakeMember, FakeMember], library: Path, tmp_path: Path
) -> AsyncIterator[Desk]:
    fake, guild, chan, alice, bob = world
    mods = guild.add_role("Moderators", permissions=discord.Permissions(manage_messages=True))
    maria = guild.add_member("maria", roles=[mods])
    await asyncio.to_thread(shutil.copytree, library, tmp_path / "cards")
    (tmp_path / "config.yml").write_text(CONFIG, encoding="utf-8")
    async with start_bot(fake, tmp_path / "config.yml") as (settings, bot, _task):
        yield Desk(fake, guild, chan, maria, alice, bob, bot, settings.database_target)
    assert not fake.unhandled, [str(u) for u in fake.unhandled]


async def _open_card(desk: Desk) -> FakeMessage:
    queue = await (await desk.slash("cards reports", desk.maria)).wait_message()
    picked = await desk.fake.select(queue, "Open a card's reports…", [CARD], user=desk.maria)
    return await picked.wait_message()


async def test_a_report_reaches_the_queue_and_a_fix_closes_it_and_tells_the_reporter(desk: Desk) -> None:
    thanks = await desk.report(desk.bob)
    assert thanks.ephemeral
    assert "Thank you" in thanks.text
    # the moderator sees it the same minute: most reported card first, with its kind
    queue = await (await desk.slash("cards reports", desk.maria)).wait_message()
    assert queue.ephemeral
    assert f"`{CARD}`: 1 report (wrong fact)" in queue.embed["description"]
    opened = await desk.fake.select(queue, "Open a card's reports…", [CARD], user=desk.maria)
    card = await opened.wait_message()
    assert card.button_labels == ["Fix", "Dismiss", "Reopen"]
    assert [b.get("disabled", False) for b in card.buttons] == [False, False, True]
    (field,) = card.embeds[1]["fields"]
    assert "bob" in field["name"]
    # the report text is shown escaped: no ping, no markdown
    assert "@\u200beveryone" in field["value"]
    assert "\\*\\*wrong\\*\\*" in field["value"]
    assert card.allowed_mentions == {"parse": []}
    # Fix opens the /cards edit form, filled in; saving closes the report in the edit's audit entry
    form = await desk.fake.click(card, "Fix", user=desk.maria)
    modal = await form.wait_modal()
    values = {t["_label"]: t.get("value") or "" for t in modal.text_inputs()}
    assert values["Text"] == desk.bot.service.detail(CARD).card.text
    saved = await desk.fake.submit_modal(modal, {**values, "Text": values["Text"] + " (corrected)"})
    assert "Updated card" in (await saved.wait_followup(1)).text
    closed = await saved.wait_followup(2)
    assert "Closed 1 report" in closed.text
    assert "(corrected)" in desk.bot.service.detail(CARD).card.text
    ((reporter, kind, text, status, _resolution, audit_id),) = desk.rows()
    assert (reporter, kind, text, status) == (desk.bob.user.id, "wrong-fact", HOSTILE, "fixed")
    assert "resolves report #1" in desk.audit_detail(audit_id)
    # the reporter is told by DM
    dm = await desk.dm(desk.bob)
    assert CARD in dm.text
    assert "fixed" in dm.text
    # and the queue is empty again
    empty = await (await desk.slash("cards reports", desk.maria)).wait_message()
    assert "Nothing here" in empty.embed["description"]
    desk.fake.assert_no_errors()


async def test_reporting_again_updates_the_report_and_dismiss_and_reopen(desk: Desk) -> None:
    await desk.report(desk.alice, "typo", "first")
    again = await desk.report(desk.alice, "other", "second thoughts")
    assert "updated" in again.text
    assert [(r[1], r[2]) for r in desk.rows()] == [("other", "second thoughts")]
    desk.fake.dms_closed.add(desk.alice.user.id)  # alice does not accept DMs: dismissing must still work
    card = await _open_card(desk)
    form = await desk.fake.click(card, "Dismiss", user=desk.maria)
    done = await (
        await desk.fake.submit_modal(form, {"Why (the reporters are told)": "The card is right"})
    ).wait_message()
    assert "Dismissed 1 report" in done.text
    refused = await desk.fake.wait_for(lambda: next(desk.fake.iter_errors(50007), None), what="the refused DM")
    assert refused.code == 50007  # alice was not told, and nothing else broke
    assert [(r[3], r[4]) for r in desk.rows()] == [("dismissed", "The card is right")]
    reopened = await (await desk.fake.click(done, "Reopen", user=desk.maria)).wait_message()
    assert "Reopened 1 report" in reopened.text
    assert [r[3] for r in desk.rows()] == ["open"]
    assert desk.fake.dm_channel(desk.alice) is None or not desk.fake.dm_channel(desk.alice).all_messages
    desk.fake.assert_no_errors(allow=(50007,))


async def test_a_plain_member_cannot_open_the_queue_nor_press_its_buttons(desk: Desk) -> None:
    await desk.report(desk.bob)
    refused = await (await desk.slash("cards reports", desk.bob)).wait_message()
    assert refused.ephemeral
    assert NOT_MODERATOR in refused.text
    # the queue's buttons check again at every press: a moderator who lost the role is refused on their own
    # (still visible) messages, including a disabled button pressed by a crafted interaction
    queue = await (await desk.slash("cards reports", desk.maria)).wait_message()
    card = await (await desk.fake.select(queue, "Open a card's reports…", [CARD], user=desk.maria)).wait_message()
    desk.maria.roles.clear()
    for label in ("Fix", "Dismiss"):
        answer = await (await desk.fake.click(card, label, user=desk.maria)).wait_message()
        assert NOT_MODERATOR in answer.text
    picked = await desk.fake.select(queue, "Open a card's reports…", [CARD], user=desk.maria)
    assert NOT_MODERATOR in (await picked.wait_message()).text
    reopen = next(b["custom_id"] for b in card.buttons if b["label"] == "Reopen")
    crafted = {"custom_id": reopen, "component_type": 2}
    forged = await desk.fake.forge_component(card, crafted, user=desk.maria)
    assert NOT_MODERATOR in (await forged.wait_message()).text
    assert [r[3] for r in desk.rows()] == ["open"]


async def test_fact_report_opens_the_same_form(desk: Desk) -> None:
    form = await desk.slash("fact report", desk.bob, card=CARD)
    submitted = await desk.fake.submit_modal(form, {KIND: ["source"], DETAILS: ""})
    assert "Thank you" in (await submitted.wait_message()).text
    assert [(r[1], r[2]) for r in desk.rows()] == [("source", "")]
    unknown = await (await desk.slash("fact report", desk.bob, card="no-such-card")).wait_message()
    assert "no card" in unknown.text.lower()


# ------------------------------------------------------------------------------------ searches, insights, charts
def _png_size(data: bytes) -> tuple[int, int]:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    image.load()  # decodes the whole picture, not just its header
    return image.size


async def test_fact_stats_attaches_a_views_chart_beside_the_numbers(desk: Desk) -> None:
    for card in (CARD, CARD, "therapeutic-alliance-001"):
        await (await desk.slash("fact show", desk.bob, card=card)).wait_message()
    stats = await (await desk.slash("fact stats", desk.bob)).wait_message()
    assert "**3** card views" in stats.embed["description"]
    assert stats.embed["image"]["url"] == "attachment://views.png"
    assert _png_size(stats.attachment("views.png").data) == CHART_SIZE
    desk.fake.assert_no_errors()


async def test_a_chart_that_cannot_be_drawn_becomes_text(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*_args: object, **_kwargs: object) -> bytes:
        raise TimeoutError

    monkeypatch.setattr(charts, "render_views", broken)
    await (await desk.slash("fact show", desk.bob, card=CARD)).wait_message()
    stats = await (await desk.slash("fact stats", desk.bob)).wait_message()
    assert not stats.attachments
    fields = {f["name"]: f["value"] for f in stats.embed["fields"]}
    assert "1 views, at most 1 a day" in fields["Views per day, last 30 days"]


async def test_searches_that_found_nothing_are_counted_without_the_user_and_shown_in_insights(desk: Desk) -> None:
    for _ in range(2):
        missed = await (await desk.slash("fact search", desk.bob, query="Zebra  UNICORN!")).wait_message()
        assert "No card matches" in missed.text
    await (await desk.slash("fact cite", desk.bob, reference="Nobody 1899")).wait_message()
    await (await desk.slash("fact search", desk.bob, query="alliance")).wait_message()  # found: not counted
    await desk.bot.storage.searches.flush()
    rows = query(desk.database, "SELECT guild_id, query, kind, count FROM failed_searches ORDER BY query")
    if desk.database.startswith("postgresql"):
        found = query(
            desk.database,
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?",
            ("failed_searches",),
        )
        columns = {row[0] for row in found}
    else:
        columns = {row[1] for row in query(desk.database, "PRAGMA table_info(failed_searches)")}
    assert rows == [(desk.guild.id, "nobody 1899", "cite", 1), (desk.guild.id, "zebra unicorn", "search", 2)]
    assert not any("user" in c for c in columns)
    insights = await (await desk.slash("cards insights", desk.maria)).wait_message()
    assert insights.ephemeral
    fields = {f["name"]: f["value"] for f in insights.embed["fields"]}
    assert fields["Searched for, found nothing"].splitlines() == [
        "“zebra unicorn”: 2× on 1 day",
        "“nobody 1899” (cite): 1× on 1 day",
    ]
    assert _png_size(insights.attachment("insights.png").data) == CHART_SIZE
    refused = await (await desk.slash("cards insights", desk.bob)).wait_message()
    assert NOT_MODERATOR in refused.text


async def test_a_card_in_search_results_is_reported_from_the_list(desk: Desk) -> None:
    results = await (await desk.slash("fact search", desk.bob, query="alliance")).wait_message()
    menu = next(s for s in results.selects if s["placeholder"] == "Report a problem…")
    card = menu["options"][0]["value"]
    form = await desk.fake.select(results, "Report a problem…", [card], user=desk.alice)  # anyone may report
    thanks = await (await desk.fake.submit_modal(form, {KIND: ["duplicate"], DETAILS: "same as 003"})).wait_message()
    assert f"card `{card}`" in thanks.text
    assert [(r[0], r[1]) for r in desk.rows()] == [(desk.alice.user.id, "duplicate")]


async def test_the_queue_pages_ten_cards_at_a_time_most_reported_first(desk: Desk) -> None:
    cards = sorted(desk.bot.service.library.cards)[:12]
    for n, card in enumerate(cards):
        for member in range(1 + (n == 11)):  # the last card has two reports: it comes first
            await desk.bot.storage.reports.submit(
                card_id=card,
                collection_id=None,
                guild_id=desk.guild.id,
                reporter_id=100 + member,
                reporter_name=f"reader{member}",
                kind="typo",
                text="",
                card_digest="",
            )
    first = await (await desk.slash("cards reports", desk.maria)).wait_message()
    assert "12 cards" in first.embed["title"]
    assert first.embed["description"].splitlines()[0].startswith(f"1. `{cards[11]}`: 2 reports")
    assert len(first.embed["description"].splitlines()) == 10
    assert [(b["label"], b.get("disabled", False)) for b in first.buttons] == [("Previous", True), ("Next", False)]
    turned = await desk.fake.click(first, "Next", user=desk.maria)
    second = await turned.wait_message()
    lines = second.embed["description"].splitlines()
    assert [line.split(".")[0] for line in lines] == ["11", "12"]
    assert [(b["label"], b.get("disabled", False)) for b in second.buttons] == [("Previous", False), ("Next", True)]
    fixed = await (await desk.slash("cards reports", desk.maria, status="fixed")).wait_message()
    assert "Nothing here" in fixed.embed["description"]
