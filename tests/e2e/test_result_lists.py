"""Result lists kept as small state, not views: restarts, the store's cap, the sweeper, custom ids."""

from __future__ import annotations

from typing import Any

import pytest

from bot.discord.cogs import facts
from bot.discord.cogs.facts import FactsCog
from bot.discord.ui import KINDS, LIST_CAP, ListState, OpenCardMenu, PageButton, ResultLists
from tests.e2e.conftest import Running
from tests.e2e.library import LAB_CARDS, PAGED_REFERENCE, PAGED_WORD
from tests.fakediscord import FakeMessage, ResponseType

pytestmark = pytest.mark.e2e

EXPIRED = "This list has expired; run /fact search again."


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _cog(r: Running) -> FactsCog:
    cog = r.bot.get_cog("FactsCog")
    assert isinstance(cog, FactsCog)
    return cog


def _all_disabled(msg: FakeMessage) -> bool:
    return bool(msg.buttons + msg.selects) and all(c.get("disabled") for c in msg.buttons + msg.selects)


async def _expired_click(r: Running, msg: FakeMessage, button: str = "Next", user: Any = None) -> None:
    """Click ``button``; the list's components get disabled and the clicker alone is told it expired."""
    click = await r.fake.click(msg, button, user=user)
    assert (await click.wait_response()).type == ResponseType.UPDATE_MESSAGE
    note = await click.wait_followup()
    assert note.ephemeral
    assert note.text == EXPIRED
    assert _all_disabled(r.fake.get_message(msg.id))


# ---------------------------------------------------------------------------------------------- the store
def test_the_store_caps_the_lists_and_evicts_the_oldest() -> None:
    clock = Clock()
    lists = ResultLists(ttl=300, cap=3, clock=clock)
    keys = [
        lists.add("s", owner_id=1, guild_id=2, token=f"t{i}", paged=True, menu=True, query=f"q{i}") for i in range(5)
    ]
    assert len(set(keys)) == 5
    assert len(lists) == 3
    assert lists.get(keys[0]) is None
    assert lists.get(keys[1]) is None
    assert [lists.get(k).query for k in keys[2:]] == ["q2", "q3", "q4"]  # type: ignore[union-attr]
    # the evicted lists are handed to the sweeper once, oldest first, with their keys
    assert [(key, state.token) for key, state in lists.due()] == [(keys[0], "t0"), (keys[1], "t1")]
    assert lists.due() == []
    assert len(lists) == 3


def test_the_store_expires_lists_and_a_page_turn_restarts_the_time() -> None:
    clock = Clock()
    lists = ResultLists(ttl=300, clock=clock)
    first = lists.add("s", owner_id=1, guild_id=None, token="a", paged=True, menu=True, query="x")
    second = lists.add("c", owner_id=1, guild_id=None, token="b", paged=True, menu=True, query="y")
    clock.now += 200
    state = lists.get(first)
    assert isinstance(state, ListState)
    lists.turned(first, state, page=1, menu=True, token="a2")  # first now expires after second
    clock.now += 100
    assert lists.get(second) is None  # expired, though still kept until the sweep
    assert [(k, s.token) for k, s in lists.due()] == [(second, "b")]
    assert lists.get(first) == state._replace(page=1, token="a2", expires=1000.0 + 200 + 300)
    clock.now += 200
    assert [k for k, _ in lists.due()] == [first]
    assert len(lists) == 0


def test_keys_differ_between_runs_and_custom_ids_stay_short() -> None:
    one, two = ResultLists(ttl=300), ResultLists(ttl=300)
    a = one.add("s", owner_id=1, guild_id=None, token="t", paged=True, menu=False)
    b = two.add("s", owner_id=1, guild_id=None, token="t", paged=True, menu=False)
    assert a != b  # a restarted bot never mistakes an old list's key for one of its own
    for _ in range(LIST_CAP * 3):
        key = one.add("s", owner_id=1, guild_id=None, token="t", paged=True, menu=False)
    for kind in KINDS:
        for step in ("prev", "next"):
            button = PageButton(kind, key, step)
            assert len(button.custom_id) <= 100
            assert button.template.fullmatch(button.custom_id)
    # ids sent before lists were kept this way still route (and answer "expired")
    assert PageButton.__discord_ui_compiled_template__.fullmatch("factdeck:results:next")
    assert OpenCardMenu.__discord_ui_compiled_template__.fullmatch("factdeck:results:open")


# ------------------------------------------------------------------------------------------------ e2e
async def test_result_lists_keep_no_view_objects(running: Running) -> None:
    r = running
    for _ in range(10):
        msg = await (await r.slash("search", query=PAGED_WORD)).wait_message()
    await (await r.fake.click(msg, "Next")).wait_message()
    await (await r.slash("cite", reference=PAGED_REFERENCE)).wait_message()
    assert len(_cog(r).lists) == 11
    assert not r.bot.persistent_views
    assert not r.bot._connection._view_store._views  # nothing per message: the dynamic items route every click
    r.fake.assert_no_errors()


async def test_a_click_after_a_restart_says_the_list_expired_and_disables_it(launch: Any) -> None:
    async with launch() as first:
        msg = await (await first.slash("search", query=PAGED_WORD)).wait_message()
        await (await first.fake.click(msg, "Next")).wait_message()
        assert "Showing 6–10" in first.fake.get_message(msg.id).embed["footer"]["text"]
        old_key = first.fake.get_message(msg.id).buttons[1]["custom_id"]
    async with launch() as again:  # a new process: the list's state is gone
        assert len(_cog(again).lists) == 0
        msg = again.fake.get_message(msg.id)
        option = msg.selects[0]["options"][0]["value"]
        # the "Open a card…" menu needs no state: it still works for anyone
        opened = await (await again.fake.select(msg, "Open a card…", [option], user=again.bob)).wait_message()
        assert opened.ephemeral
        assert f"card {option}" in opened.embed["footer"]["text"]
        assert await again.bot.storage.views.count(option, again.guild.id) == 1
        # paging does not: whoever clicks is told, and the list's components are disabled
        await _expired_click(again, msg, "Previous", user=again.bob)
        footer = again.fake.get_message(msg.id).embed["footer"]["text"]
        assert "Showing 6–10" in footer  # the page itself is left as it was
        assert again.fake.get_message(msg.id).buttons[1]["custom_id"] == old_key
        assert not again.errors.records
        again.fake.assert_no_errors()


async def test_the_cap_evicts_the_oldest_list_and_the_sweeper_disables_it(running: Running) -> None:
    r = running
    cog = _cog(r)
    cog.lists = ResultLists(ttl=300, cap=2)
    first, second, third = [
        await (await r.slash("search", query=PAGED_WORD, user=user)).wait_message()
        for user in (r.alice, r.bob, r.alice)
    ]
    assert len(cog.lists) == 2
    assert await cog.sweep() == 1  # the evicted list
    assert _all_disabled(r.fake.get_message(first.id))
    for kept, owner in ((second, r.bob), (third, r.alice)):
        assert not r.fake.get_message(kept.id).buttons[1]["disabled"]
        await (await r.fake.click(kept, "Next", user=owner)).wait_message()
        assert "Showing 6–10" in r.fake.get_message(kept.id).embed["footer"]["text"]
    r.fake.assert_no_errors()


async def test_the_sweeper_disables_expired_lists_with_the_freshest_token(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = running
    monkeypatch.setattr(facts, "COLLECTIONS_PER_PAGE", 1)  # the test library has two collections
    cog = _cog(r)
    clock = Clock()
    cog.lists = ResultLists(ttl=300, clock=clock)
    search = await r.slash("search", query=PAGED_WORD)
    searched = await search.wait_message()
    cited = await (await r.slash("cite", reference=PAGED_REFERENCE)).wait_message()
    collections = await (await r.slash("collections")).wait_message()
    clock.now += 200
    turn = await r.fake.click(searched, "Next")
    await turn.wait_message()  # paging restarts the search list's time
    clock.now += 101
    assert await cog.sweep() == 2  # the cite and collections lists
    assert _all_disabled(r.fake.get_message(cited.id))
    assert r.fake.get_message(cited.id).selects[0]["placeholder"] == "Open a card…"
    collection_buttons = r.fake.get_message(collections.id).buttons
    assert [b["label"] for b in collection_buttons] == ["Previous", "Next"]
    assert all(b["disabled"] for b in collection_buttons)
    assert not r.fake.get_message(collections.id).selects
    assert not _all_disabled(r.fake.get_message(searched.id))
    clock.now += 200
    assert await cog.sweep() == 1
    assert _all_disabled(r.fake.get_message(searched.id))
    assert turn.original_edits == 2  # the page turn (type 7), then the sweep through its token
    assert search.original_edits == 0
    assert "Showing 6–10" in r.fake.get_message(searched.id).embed["footer"]["text"]
    assert await cog.sweep() == 0
    assert len(cog.lists) == 0
    r.fake.assert_no_errors()


async def test_an_expired_list_that_was_not_swept_yet_answers_expired(running: Running) -> None:
    r = running
    cog = _cog(r)
    clock = Clock()
    cog.lists = ResultLists(ttl=300, clock=clock)
    msg = await (await r.slash("search", query=PAGED_WORD)).wait_message()
    clock.now += 301
    await _expired_click(r, msg, user=r.bob)  # expired comes before "not yours"
    assert len(cog.lists) == 0
    assert await cog.sweep() == 0  # the click already disabled it
    r.fake.assert_no_errors()


async def test_collections_page_and_cite_lists_say_their_own_command(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = running
    monkeypatch.setattr(facts, "COLLECTIONS_PER_PAGE", 1)
    msg = await (await r.slash("collections")).wait_message()
    assert [b["label"] for b in msg.buttons] == ["Previous", "Next"]
    await (await r.fake.click(msg, "Next")).wait_message()
    assert not r.fake.get_message(msg.id).buttons[0]["disabled"]
    refused = await (await r.fake.click(msg, "Previous", user=r.bob)).wait_message()
    assert refused.ephemeral
    assert "Only the person who searched can page" in refused.text
    await (await r.fake.click(msg, "Previous")).wait_message()
    assert r.fake.get_message(msg.id).buttons[0]["disabled"]
    cited = await (await r.slash("cite", reference=PAGED_REFERENCE)).wait_message()
    _cog(r).lists = ResultLists(ttl=300)  # as after a restart
    click = await r.fake.click(cited, "Next")
    note = await click.wait_followup()
    assert note.text == "This list has expired; run /fact cite again."
    r.fake.assert_no_errors()


async def test_one_page_lists_keep_only_the_menu(running: Running) -> None:
    r = running
    msg = await (await r.slash("search", query=PAGED_WORD, topic="room 4")).wait_message()
    assert not msg.buttons
    assert [s["placeholder"] for s in msg.selects] == ["Open a card…", "Report a problem…"]
    assert len(_cog(r).lists) == 1  # kept so its menu is disabled when the list times out
    assert LAB_CARDS > 5
    r.fake.assert_no_errors()
