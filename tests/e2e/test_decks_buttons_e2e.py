"""The buttons under a shown card act on that card, end to end through the real discord.py and the fake Discord:
when a server's own card has the same id as a shared one, "Read more" and "Report a problem" under either act on
the one that was shown (issue 15: ids are unique per audience), and a server's card with the longest id allowed
still fits Discord's 100-character custom ids. Also: a collection ``factdeck promote`` moved is served as shared by
the running bot after ``/cards reload``."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.conftest import start_bot
from tests.e2e.test_server_decks import MANAGE, Decks, decks  # noqa: F401 - the two servers' fixture
from tests.storage.engines import query

pytestmark = pytest.mark.e2e

KIND, DETAILS = "What is wrong?", "Tell us more (optional)"
SHARED_END = "and so ends the shared card."
OWN_END = "and so ends the server's own card."
TWIN = "twin-001"
LONGEST = "a" * 80  # the longest card id a file may use


def _deck(collection: str, cards: list[tuple[str, str]]) -> str:
    quiz = "    topics: [otters]\n    study: {cloze: [otters]}\n"  # the twins are studied and asked as questions
    body = "".join(f"  - id: {cid}\n    text: {text}\n{quiz if cid == TWIN else ''}" for cid, text in cards)
    return f"collection:\n  id: {collection}\n  title: {collection}\n  curator: C\ncards:\n{body}"


def _long(words: str, end: str) -> str:
    return f"{words} " * 60 + end


def _write(d: Decks) -> None:
    cards = d.tmp / "cards"
    shared = _deck("twins", [(TWIN, _long("The shared library says otters hold hands.", SHARED_END))])
    (cards / "twins.yml").write_text(shared, encoding="utf-8")
    own = [
        (TWIN, _long("Our course says otters sleep afloat.", OWN_END)),
        (LONGEST, _long("The longest id in our course.", OWN_END)),
    ]
    (cards / "servers" / str(d.home.id) / "twins.yml").write_text(_deck("our-twins", own), encoding="utf-8")


def _text(message: object) -> str:
    embeds = getattr(message, "embeds", [])
    return "\n".join([getattr(message, "text", "")] + [str(e.get("description", "")) for e in embeds])


async def _report(d: Decks, shown: object, text: str) -> str:
    form = await d.fake.click(shown, "Report a problem", user=d.home_member)
    return (await (await d.fake.submit_modal(form, {KIND: ["typo"], DETAILS: text})).wait_message()).text


@pytest.mark.parametrize("which", ["shared", "own"])
async def test_read_more_and_report_act_on_the_card_shown_when_ids_are_twins(decks: Decks, which: str) -> None:  # noqa: F811
    d = decks
    await asyncio.to_thread(_write, d)
    async with start_bot(d.fake, d.tmp / "config.yml") as (_settings, bot, _task):
        # the shared card is shown by a random pick from its collection, the server's own by its id
        if which == "shared":
            it = await d.fact("home", "random", collection="twins")
        else:
            it = await d.fact("home", "show", card=TWIN)
        shown = await it.wait_message()
        expected, other = (SHARED_END, OWN_END) if which == "shared" else (OWN_END, SHARED_END)
        assert "otters" in _text(shown)
        full = await (await d.fake.click(shown, "Read more", user=d.home_member)).wait_message()
        assert expected in _text(full)
        assert other not in _text(full)
        assert "Thank you" in await _report(d, shown, "a typo")
        key = TWIN if which == "shared" else f"{TWIN}@{d.home.id}"
        rows = query(bot.settings.database_target, "SELECT card_id, guild_id FROM reports")
        assert rows == [(key, d.home.id)]
    d.fake.assert_no_errors()


async def test_a_server_card_with_the_longest_id_is_shown_with_its_buttons(decks: Decks) -> None:  # noqa: F811
    d = decks
    await asyncio.to_thread(_write, d)
    assert len(str(d.home.id)) >= 17
    async with start_bot(d.fake, d.tmp / "config.yml") as (_settings, bot, _task):
        shown = await (await d.fact("home", "show", card=LONGEST)).wait_message()
        assert shown.button_labels == ["Read more", "Report a problem"]
        assert all(len(b["custom_id"]) <= 100 for b in shown.buttons)
        full = await (await d.fake.click(shown, "Read more", user=d.home_member)).wait_message()
        assert OWN_END in _text(full)
        assert "Thank you" in await _report(d, shown, "too long")
        rows = query(bot.settings.database_target, "SELECT card_id FROM reports")
        assert rows == [(f"{LONGEST}@{d.home.id}",)]
    d.fake.assert_no_errors()


async def test_a_promoted_collection_is_served_as_shared_after_cards_reload(decks: Decks) -> None:  # noqa: F811
    """``factdeck promote`` writes the files; the running bot serves the collection to every server after
    ``/cards reload`` (as docs/cards.md and the command's own output say), and until then as before."""
    from bot.cli.main import main

    d = decks
    curator = d.home.add_member("cora", roles=[d.home.add_role("Curators", permissions=MANAGE)])
    async with start_bot(d.fake, d.tmp / "config.yml", curator_guilds=[d.home]) as (_settings, bot, _task):
        assert "No card matches" in (await (await d.fact("other", "search", query="zebrafish")).wait_message()).text
        args = ["promote", str(d.home.id), "course", "--as", "cell-course", "--config", str(d.tmp / "config.yml")]
        assert await asyncio.to_thread(main, args) == 0
        # not yet reloaded: served as before, the home server's own
        assert bot.service.detail("course-001", d.home.id) is not None
        assert "No card matches" in (await (await d.fact("other", "search", query="zebrafish")).wait_message()).text
        reloaded = await (await d.fake.slash(d.home, d.home_chan, curator, "cards reload")).wait_message()
        assert "Added (2)" in _text(reloaded)
        found = await (await d.fact("other", "search", query="zebrafish")).wait_message()
        assert "Mitochondria" in _text(found)
        shown = bot.service.detail("course-001", d.other.id, exact=True)  # the other server has a course-001 too
        assert shown is not None
        assert shown.collection.id == "cell-course"
    d.fake.assert_no_errors()


async def test_a_card_opened_from_a_result_list_is_the_one_listed_when_ids_are_twins(decks: Decks) -> None:  # noqa: F811
    d = decks
    await asyncio.to_thread(_write, d)
    async with start_bot(d.fake, d.tmp / "config.yml") as (_settings, _bot, _task):
        found = await (await d.fact("home", "search", query="otters")).wait_message()
        menu = next(s for s in found.selects if s["placeholder"] == "Open a card…")
        assert {o["value"] for o in menu["options"]} >= {TWIN, f"{TWIN}@{d.home.id}"}
        for key, says, not_this in (
            (TWIN, "hold hands", "sleep afloat"),
            (f"{TWIN}@{d.home.id}", "sleep afloat", "hold hands"),
        ):
            opened = await (await d.fake.select(found, "Open a card…", [key], user=d.home_member)).wait_message()
            assert says in _text(opened)
            assert not_this not in _text(opened)
    d.fake.assert_no_errors()


async def test_a_review_rates_and_a_daily_question_reveals_the_card_asked_when_ids_are_twins(decks: Decks) -> None:  # noqa: F811
    d = decks
    await asyncio.to_thread(_write, d)
    mod = d.home.add_member("maria", roles=[d.home.add_role("Moderators", permissions=MANAGE)])
    async with start_bot(d.fake, d.tmp / "config.yml", curator_guilds=[]) as (settings, _bot, _task):
        review = await (
            await d.fake.slash(d.home, d.home_chan, d.home_member, "study review", topic="otters")
        ).wait_followup()
        for _twin in range(2):
            shown = await (await d.fake.click(review, "Show answer", user=d.home_member)).wait_message()
            await (await d.fake.click(shown, "Good", user=d.home_member)).wait_response()
        rows = query(settings.database_target, "SELECT card_id FROM study_states ORDER BY card_id")
        assert rows == [(TWIN,), (f"{TWIN}@{d.home.id}",)]

        options = {"channel": d.home_chan, "time": "10:30", "timezone": "UTC", "collection": "twins"}
        await (await d.fake.slash(d.home, d.home_chan, mod, "daily set", mode="question", **options)).wait_message()
        preview = await (await d.fake.slash(d.home, d.home_chan, mod, "daily preview")).wait_message()
        today = await (await d.fact("home", "today")).wait_message()
        assert today.embed["description"] == preview.embed["description"]  # the same question as the post's
        revealed = await (await d.fake.click(preview, "Reveal the answer", user=mod)).wait_message()
        assert "hold hands" in _text(revealed)
        assert "sleep afloat" not in _text(revealed)
    d.fake.assert_no_errors()
