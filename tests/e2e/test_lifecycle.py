"""Start, reconnect, restart and shutdown: views reach SQLite, commands are synced only when they change."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from bot.storage import ViewEvent
from tests.e2e.conftest import Running
from tests.storage.engines import query

pytestmark = pytest.mark.e2e


def _count(db: Any, sql: str = "SELECT COUNT(*) FROM views", params: tuple[Any, ...] = ()) -> int:
    return int(query(db, sql, params)[0][0])


@pytest.mark.sqlite_only
async def test_views_land_in_sqlite_with_who_where_and_how(running: Running) -> None:
    r = running
    await (await r.slash("show", card="lab-001")).wait_message()
    await (await r.slash("random", user=r.bob)).wait_message()
    msg = await (await r.slash("search", query="mitochondria")).wait_message()
    opened = next(o["value"] for o in msg.selects[0]["options"] if o["value"] != "lab-001")
    await (await r.fake.select(msg, "Open a card…", [opened])).wait_message()
    await (await r.slash("source", card="lab-001")).wait_message()  # not a view
    await r.stop()
    db = r.settings.database
    assert db == r.settings.source.parent / "data" / "factdeck.db"  # resolved against the config's folder
    assert _count(db) == 3
    rows = sqlite3.connect(db).execute("SELECT card_id, guild_id, channel_id, user_id, command FROM views").fetchall()
    by_command = {row[4]: row for row in rows}
    assert set(by_command) == {"show", "random", "open"}
    assert by_command["show"] == ("lab-001", r.guild.id, r.chan.id, r.alice.id, "show")
    assert by_command["random"][3] == r.bob.id
    assert by_command["open"][0] == opened
    r.fake.assert_no_errors()


async def test_a_clean_shutdown_loses_no_views(running: Running) -> None:
    r = running
    for _ in range(20):
        await (await r.slash("random")).wait_message()
    for i in range(5000):  # a burst still in the buffer at shutdown
        r.bot.storage.views.record(ViewEvent(f"lab-{i % 12:03d}", r.guild.id, r.chan.id, 1000 + i, "random"))
    await r.stop()
    assert _count(r.settings.database_target) == 5020
    r.fake.assert_no_errors()


@pytest.mark.sqlite_only  # its second start needs a fresh database: a new file, not the same server
async def test_reconnects_and_restarts_do_not_resync_or_duplicate(launch: Any) -> None:
    async with launch() as r:
        fake = r.fake
        assert fake.sync_count() == 1
        assert r.bot.last_sync[0].synced
        await (await r.slash("show", card="lab-001")).wait_message()
        await fake.reconnect()  # op 7: resume
        await fake.invalidate_session()  # op 9: a fresh IDENTIFY, a second READY
        await fake.wait_for(lambda: r.bot.ready_count >= 2, what="a second on_ready")
        msg = await (await r.slash("show", card="lab-001")).wait_message()
        assert "2 views" in msg.embed["footer"]["text"]
        assert len(fake.command_syncs) == 1  # no PUT after a reconnect
        assert len([i for i in fake.interactions if i.response is not None]) == 2
        assert all(len(list(i.messages())) == 1 for i in fake.interactions)  # one answer each
        db = r.settings.database_target
        fake.assert_no_errors()
    assert _count(db) == 2
    async with launch() as again:  # a restart with the same tree and a fresh database: one sync per database
        assert len(fake.command_syncs) == 2
        again.fake.assert_no_errors()


async def test_a_restart_on_the_same_database_does_not_resync(launch: Any, tmp_path: Any) -> None:
    from tests.e2e.conftest import start_bot

    async with launch() as r:
        config = r.settings.source
        fake = r.fake
    assert len(fake.command_syncs) == 1
    async with start_bot(fake, config) as (_settings, bot, _task):
        assert not bot.last_sync[0].synced
    assert len(fake.command_syncs) == 1
    fake.assert_no_errors()
