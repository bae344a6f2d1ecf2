"""A server's own cards with the longest ids allowed, in a server with a 19-digit id, end to end through the real
discord.py and the fake Discord (which refuses, as Discord does, any custom id or menu option value over 100
characters, and with it the whole message): every button and menu that carries such a card still fits, and acts
on that server's card, never another server's (issue 15).

The surfaces: the report queue (its pages, a card's Fix, Dismiss and Reopen), a private study review (Show answer,
then a rating), the result list's menus, and the Reveal button under a daily question."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.conftest import start_bot
from tests.e2e.test_server_decks import Decks, decks, mods  # noqa: F401 - the two servers' fixtures
from tests.fakediscord import FakeMember, FakeMessage
from tests.storage.engines import query

pytestmark = pytest.mark.e2e

#: The longest collection and card ids a card file may use (80 characters).
COLLECTION = "long-names-" + "c" * 69
IDS = [f"{'a' * 77}-{n:02d}" for n in range(11)]
TOPIC = "long names"
WORD = "axolotl"
REASON = "Why (the reporters are told)"


def _write(d: Decks) -> None:
    cards = "".join(
        f"  - id: {cid}\n    text: The {WORD} regrows its limbs, says long card {n}.\n"
        f"    topics: [{TOPIC}]\n    study: {{cloze: [{WORD}]}}\n"
        for n, cid in enumerate(IDS)
    )
    deck = f"collection:\n  id: {COLLECTION}\n  title: Long names\n  curator: C\ncards:\n{cards}"
    (d.tmp / "cards" / "servers" / str(d.home.id) / "long.yml").write_text(deck, encoding="utf-8")


def _key(d: Decks, card: str) -> str:
    return f"{card}@{d.home.id}"


def _statuses(database: str) -> list[tuple[str, str]]:
    return [(str(c), str(s)) for c, s in query(database, "SELECT card_id, status FROM reports ORDER BY card_id")]


def _ids(message: FakeMessage) -> list[str]:
    """Every custom id and menu option value the message carries."""
    carried = [b["custom_id"] for b in message.buttons]
    for menu in message.selects:
        carried += [menu["custom_id"], *(o["value"] for o in menu.get("options", []))]
    return carried


async def test_the_report_queue_pages_and_handles_a_server_card_with_the_longest_id(
    mods: tuple[Decks, FakeMember, FakeMember],  # noqa: F811
) -> None:
    d, home_mod, other_mod = mods
    assert len(str(d.home.id)) == 19
    await asyncio.to_thread(_write, d)
    async with start_bot(d.fake, d.tmp / "config.yml", curator_guilds=[]) as (settings, bot, _task):
        reports = bot.get_cog("ReportsCog")
        for n, card in enumerate(IDS):  # eleven cards reported: the queue has two pages
            reader = d.home.add_member(f"reader{n}").user
            await reports.desk.submit(
                card, guild_id=d.home.id, reporter_id=reader.id, reporter_name=reader.username, kind="typo", text="-"
            )
        # the collection as its autocomplete offers it: 100 characters
        it = await d.fake.slash(d.home, d.home_chan, home_mod, "cards reports", collection=f"{COLLECTION}@{d.home.id}")
        first = await it.wait_message()
        assert [b["label"] for b in first.buttons] == ["Previous", "Next"]
        second = await (await d.fake.click(first, "Next", user=home_mod)).wait_message()
        assert len(second.embed["description"].splitlines()) == 1
        assert all(len(c) <= 100 for c in _ids(first) + _ids(second))

        # the card the second page offers (reports made in the same millisecond are ordered by card id, so which
        # card is last depends on the clock)
        menu = "Open a card's reports…"
        [card] = [o["value"] for m in second.selects if m.get("placeholder") == menu for o in m["options"]]
        assert card in {_key(d, c) for c in IDS}
        opened = await d.fake.select(second, menu, [card], user=home_mod)
        shown = await opened.wait_message()
        assert shown.button_labels == ["Fix", "Dismiss", "Reopen"]
        form = await d.fake.click(shown, "Dismiss", user=home_mod)
        dismissed = await (await d.fake.submit_modal(form, {REASON: "It reads right"})).wait_message()
        assert "Dismissed 1 report" in dismissed.text
        assert (card, "dismissed") in _statuses(settings.database_target)

        # the card message's Reopen, replayed in the other server, names no card there: nothing changes here
        reopen = next(b["custom_id"] for b in dismissed.buttons if b["label"] == "Reopen")
        crafted = {"custom_id": reopen, "component_type": 2}
        elsewhere = await d.fake.forge_component(dismissed, crafted, user=other_mod, channel=d.other_chan)
        assert "There are no reports" in (await elsewhere.wait_message()).text
        assert (card, "dismissed") in _statuses(settings.database_target)

        reopened = await (await d.fake.click(dismissed, "Reopen", user=home_mod)).wait_message()
        assert "Reopened 1 report" in reopened.text
        modal = await (await d.fake.click(reopened, "Fix", user=home_mod)).wait_modal()
        values = {t["_label"]: t.get("value") or "" for t in modal.text_inputs()}
        saved = await d.fake.submit_modal(modal, {**values, "Text": f"The {WORD} regrows its limbs and heart."})
        assert "Closed 1 report" in (await saved.wait_followup(2)).text
        assert (card, "fixed") in _statuses(settings.database_target)
        detail = bot.service.detail(card, d.home.id, exact=True)
        assert detail is not None
        assert "heart" in detail.card.text
    d.fake.assert_no_errors()


async def test_a_review_and_the_result_menus_and_a_daily_question_carry_the_longest_id(
    mods: tuple[Decks, FakeMember, FakeMember],  # noqa: F811
) -> None:
    d, home_mod, _other_mod = mods
    await asyncio.to_thread(_write, d)
    async with start_bot(d.fake, d.tmp / "config.yml", curator_guilds=[]) as (settings, _bot, _task):
        # a private review: Show answer, then Good, then the next card
        it = await d.fake.slash(d.home, d.home_chan, d.home_member, "study review", topic=TOPIC)
        first = await it.wait_followup()
        asked = first.buttons[0]["custom_id"]
        shown = await (await d.fake.click(first, "Show answer", user=d.home_member)).wait_message()
        assert [b["label"] for b in shown.buttons] == ["Again", "Hard", "Good", "Easy"]
        assert WORD in str(shown.embeds)
        rated = await (await d.fake.click(shown, "Good", user=d.home_member)).wait_response()
        [button] = rated.data["components"][0]["components"]
        assert button["label"] == "Show answer"
        assert button["custom_id"] != asked
        rows = query(settings.database_target, "SELECT card_id FROM study_states")
        assert rows == [(_key(d, asked.removeprefix("factdeck:study:r:s:").removesuffix("@")),)]

        # a result list: open a card from its menu, and report one from the other
        found = await (await d.fact("home", "search", query=WORD)).wait_message()
        assert all(len(c) <= 100 for c in _ids(found))
        card = _key(d, IDS[3])
        picked = await (await d.fake.select(found, "Open a card…", [card], user=d.home_member)).wait_message()
        assert "long card 3." in str(picked.embeds)
        form = await (await d.fake.select(found, "Report a problem…", [card], user=d.home_member)).wait_modal()
        assert form.title.startswith("Report a problem with aaa")

        # the day's question on the server's own card: Reveal answers with it
        options = {"channel": d.home_chan, "time": "10:30", "timezone": "UTC", "collection": COLLECTION}
        done = await d.fake.slash(d.home, d.home_chan, home_mod, "daily set", mode="question", **options)
        await done.wait_message()
        preview = await (await d.fake.slash(d.home, d.home_chan, home_mod, "daily preview")).wait_message()
        assert all(len(c) <= 100 for c in _ids(preview))
        revealed = await (await d.fake.click(preview, "Reveal the answer", user=home_mod)).wait_message()
        assert f"The answer: **{WORD}**" in revealed.text
    d.fake.assert_no_errors()
