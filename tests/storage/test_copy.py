"""``factdeck migrate``, ``factdeck db copy`` (SQLite to PostgreSQL and back), and a server that cannot be reached."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from bot.cli.main import main
from bot.settings import SettingsError, load_settings
from bot.storage import Database, Storage, StorageUnavailable, ViewEvent, cardbus, load_migrations
from bot.storage.cardbus import CardBus
from bot.storage.daily import DailyStore

SHIPPED = [m.version for m in load_migrations()]
NOW = dt.datetime(2024, 5, 10, 12, 0, tzinfo=dt.UTC)


async def _fill(target: str) -> None:
    """An installation that has run for a while: views, audit rows, a daily schedule, a study answer, meta."""
    async with Storage.open(target, flush_interval=60) as storage:
        for i in range(2500):  # more than one copy batch
            storage.views.record(ViewEvent(f"c{i % 37}", 1 + i % 3, 100, 7 + i % 5, "random", NOW))
        await storage.audit.record("add", card_id="c1", collection_id="lab", moderator_id=5, after={"text": "t"})
        await storage.audit.record("edit", card_id="c1", moderator_name="mod ✨", before={"text": "t"})
        await storage.meta.set("command_tree_hash", "it's 'quoted'")
        await DailyStore(storage.db).upsert_schedule(2**62, 2**62 + 1, dt.time(9, 30), "Europe/Paris", None, None, NOW)


async def _summary(target: str) -> tuple[int, list[tuple[str, str | None]], str | None, int]:
    async with Storage.open(target) as storage:
        views = sum((await storage.views.views_by_card()).values())
        history = [(e.action, e.moderator_name) for e in await storage.audit.history("c1")]
        schedules = len(await DailyStore(storage.db).active_schedules())
        return views, history, await storage.meta.get("command_tree_hash"), schedules


@pytest.mark.postgres
def test_an_installation_moves_to_postgresql_and_back(tmp_path: Path, postgres_url: str, capsys) -> None:
    sqlite_file = str(tmp_path / "factdeck.db")
    asyncio.run(_fill(sqlite_file))
    before = asyncio.run(_summary(sqlite_file))
    assert before == (2500, [("edit", "mod ✨"), ("add", None)], "it's 'quoted'", 1)

    assert main(["db", "copy", sqlite_file, postgres_url]) == 0
    out = capsys.readouterr()
    assert "every table's row count matches" in out.out
    assert "views" in out.err  # the progress bar names each table
    assert asyncio.run(_summary(postgres_url)) == before
    asyncio.run(_new_audit_row_gets_a_fresh_id(postgres_url))

    back = str(tmp_path / "back.db")
    assert main(["db", "copy", postgres_url, back]) == 0
    views, history, meta, schedules = asyncio.run(_summary(back))
    assert (views, history[1:], meta, schedules) == before
    assert history[0] == ("remove", None)


async def _set_meta(target: str, key: str) -> None:
    async with Storage.open(target) as storage:
        await storage.meta.set(key, "data")


async def _meta_rows(target: str, key: str) -> int:
    async with Database(target) as db:
        return int(await db.fetchval("SELECT COUNT(*) FROM meta WHERE key = ?", (key,)))


async def _new_audit_row_gets_a_fresh_id(target: str) -> None:
    """Copied ids were given explicitly: a new row must still get a fresh one (no clash with a copied id)."""
    async with Storage.open(target) as storage:
        new_id = await storage.audit.record("remove", card_id="c1")
        assert new_id > max(e.id for e in await storage.audit.history("c1") if e.id != new_id)


def test_copy_refuses_a_target_with_rows_and_replace_overwrites_it(tmp_path: Path, db_target: str, capsys) -> None:
    source = str(tmp_path / "source.db")
    asyncio.run(_fill(source))
    asyncio.run(_set_meta(db_target, "someone else's"))
    assert main(["db", "copy", source, db_target]) == 1
    assert "already holds rows (in meta)" in capsys.readouterr().err
    assert asyncio.run(_summary(db_target))[2] is None  # nothing was copied

    assert main(["db", "copy", source, db_target, "--replace"]) == 0
    assert asyncio.run(_summary(db_target)) == asyncio.run(_summary(source))
    assert asyncio.run(_meta_rows(db_target, "someone else's")) == 0
    asyncio.run(_new_audit_row_gets_a_fresh_id(db_target))


def test_a_password_in_the_database_url_is_refused_with_what_to_do_instead(tmp_path: Path, capsys) -> None:
    config = tmp_path / "config.yml"
    config.write_text("database: postgresql://factdeck:hunter2@db.example/factdeck\n", encoding="utf-8")
    with pytest.raises(
        SettingsError, match=r"config.yml:1: the database URL holds a password.*FACTDECK_DATABASE_PASSWORD"
    ):
        load_settings(config, env={})
    assert main(["db", "copy", str(tmp_path / "a.db"), "postgresql://u:hunter2@db.example/x"]) == 1
    err = capsys.readouterr().err
    assert "holds a password" in err
    assert "hunter2" not in err
    config.write_text("database: postgresql://factdeck@db.example/factdeck\n", encoding="utf-8")
    settings = load_settings(config, env={})
    assert settings.database_target == "postgresql://factdeck@db.example/factdeck"


def test_migrate_applies_the_schema_once(tmp_path: Path, db_target: str, capsys) -> None:
    config = tmp_path / "config.yml"
    config.write_text(f"database: '{db_target}'\n", encoding="utf-8")
    assert main(["migrate", "--config", str(config)]) == 0
    assert f"applied {', '.join(f'{v:04d}' for v in SHIPPED)}" in capsys.readouterr().out
    assert main(["migrate", "--config", str(config)]) == 0
    assert f"the schema is current ({max(SHIPPED):04d})" in capsys.readouterr().out
    assert asyncio.run(_versions(db_target)) == SHIPPED


async def _versions(target: str) -> list[int]:
    async with Database(target) as db:
        return [v for v, _, _ in await db.migrations()]


async def test_a_postgresql_server_that_cannot_be_reached_is_one_line_and_the_views_wait(tmp_path: Path) -> None:
    url = f"postgresql://factdeck@/factdeck?host={tmp_path / 'no-server'}&port=5432"
    with pytest.raises(StorageUnavailable) as caught:
        await Database(url).open()
    message = str(caught.value)
    assert message.startswith("the database postgresql://factdeck@/factdeck cannot be reached or refused the login")
    assert "\n" not in message
    storage = await Storage.open(url, in_memory_fallback=True)  # the bot starts anyway
    try:
        assert storage.unavailable is not None
        storage.views.record(ViewEvent("c1", 1, 2, 3, "random"))
        assert await storage.views.count("c1") == 1  # kept in memory until the server is back
    finally:
        with pytest.raises(StorageUnavailable):  # still down at the stop: the view cannot be written (logged)
            await storage.close()


async def test_a_follower_that_cannot_reach_the_server_says_so_once_and_keeps_trying(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(cardbus, "RECONNECT_EVERY", 0.01)
    bus = CardBus(Database(f"postgresql://factdeck@/factdeck?host={tmp_path / 'no-server'}&port=5432"))

    async def nothing(*_: object) -> None:
        return None

    bus.follow(nothing, nothing)
    try:
        for _ in range(500):
            if bus.attempts >= 5:
                break
            await asyncio.sleep(0.01)
        assert bus.attempts >= 5
    finally:
        await bus.close()
    said = [r for r in caplog.records if "cannot follow card edits" in r.getMessage()]
    assert len(said) == 1
    assert bus.connects == 0
