"""bot.storage: migrations, the batched view log, the audit log, meta, and shutdown durability."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bot.storage import Database, MigrationError, Storage, ViewEvent, load_migrations
from bot.storage.db import default_migrations_dir, split_sql

ROOT = Path(__file__).resolve().parents[2]
UTC = dt.UTC
#: The migrations shipped in the package (others add theirs: tests must not assume only 0001 and 0002).
SHIPPED = [m.version for m in load_migrations()]
NEXT = max(SHIPPED) + 1
HOSTILE = [
    "it's",
    "x'; DROP TABLE views; --",
    'quote " and back\\slash',
    "emoji 🃏🧠✨ and ünïcödé",
    "nul\x00byte",
    "z" * 5000,
]


def _count(path: Path, sql: str = "SELECT COUNT(*) FROM views", params: tuple = ()) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, params).fetchone()[0]


async def _wait_for_rows(path: Path, n: int, within: float) -> None:
    for _ in range(int(within / 0.02)):
        if _count(path) >= n:
            return
        await asyncio.sleep(0.02)


async def _count_in(target: str, sql: str = "SELECT COUNT(*) FROM views", params: tuple = ()) -> int:
    """A count read through a connection of its own (as another process would), on either engine."""
    async with Database(target) as db:
        return int(await db.fetchval(sql, params))


async def _wait_for_rows_in(target: str, n: int, within: float) -> None:
    for _ in range(int(within / 0.02)):
        if await _count_in(target) >= n:
            return
        await asyncio.sleep(0.02)


def _stored(s: str, target: str) -> str:
    """A string as it reads back: on PostgreSQL, whose text type cannot hold a NUL, a NUL is stored as U+FFFD
    (and looked up the same way); SQLite keeps it."""
    return s.replace("\x00", "\ufffd") if target.startswith("postgresql") else s


def _copy_migrations(dest: Path) -> Path:
    shutil.copytree(str(default_migrations_dir()), dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


# -- migrations ----------------------------------------------------------------------------------------


async def test_migrations_apply_once_and_are_recorded(db_target):
    async with Database(db_target) as db:
        assert db.applied_now == SHIPPED
        rows = await db.migrations()
        assert [v for v, _, _ in rows] == SHIPPED
        assert [(v, n) for v, n, _ in rows][:2] == [(1, "views"), (2, "audit")]
        assert all(dt.datetime.fromisoformat(at).tzinfo is not None for _, _, at in rows)
        assert {"views", "audit_log", "daily_posts", "study_states"} <= set(await db.tables())
    async with Database(db_target) as db:
        assert db.applied_now == []
        assert len(await db.migrations()) == len(SHIPPED)


async def test_sqlite_is_opened_with_wal_and_its_parent_folders_are_created(tmp_path):
    path = tmp_path / "nested" / "dir" / "bot.db"  # parent directories are created
    async with Database(path) as db:
        assert db.applied_now == SHIPPED
        assert await db.fetchval("PRAGMA journal_mode") == "wal"
        assert await db.fetchval("PRAGMA foreign_keys") == 1
        assert await db.fetchval("PRAGMA synchronous") == 1  # NORMAL
        assert await db.fetchval("PRAGMA busy_timeout") > 0
    async with Database(path) as db:
        assert db.applied_now == []
        assert len(await db.migrations()) == len(SHIPPED)


async def test_new_migration_file_is_picked_up(tmp_path):
    migrations = _copy_migrations(tmp_path / "migrations")
    path = tmp_path / "bot.db"
    async with Database(path, migrations_dir=migrations) as db:
        assert db.applied_now == SHIPPED
    (migrations / f"{NEXT:04d}_later.sql").write_text(
        "-- a comment; with a semicolon\n"
        "CREATE TABLE later (guild_id INTEGER PRIMARY KEY, note TEXT DEFAULT 'a;b');\n"
        "CREATE TRIGGER daily_touch AFTER INSERT ON later BEGIN UPDATE later SET note = 'x' "
        "WHERE guild_id = new.guild_id; END;\n",
        encoding="utf-8",
    )
    (migrations / "README.txt").write_text("ignored", encoding="utf-8")
    async with Database(path, migrations_dir=migrations) as db:
        assert db.applied_now == [NEXT]
        assert [v for v, _, _ in await db.migrations()] == [*SHIPPED, NEXT]
        await db.execute("INSERT INTO later (guild_id) VALUES (?)", (1,))
        assert await db.fetchval("SELECT note FROM later") == "x"


async def test_failing_migration_is_rolled_back_whole(tmp_path):
    migrations = _copy_migrations(tmp_path / "migrations")
    (migrations / f"{NEXT:04d}_bad.sql").write_text(
        "CREATE TABLE half (x INTEGER);\nINSERT INTO no_such_table VALUES (1);\n", encoding="utf-8"
    )
    with pytest.raises(MigrationError, match=f"{NEXT:04d}_bad"):
        await Database(tmp_path / "bot.db", migrations_dir=migrations).open()
    assert _count(tmp_path / "bot.db", "SELECT COUNT(*) FROM sqlite_master WHERE name = 'half'") == 0
    assert _count(tmp_path / "bot.db", "SELECT MAX(version) FROM schema_migrations") == max(SHIPPED)


def test_bad_migration_files_fail_loudly(tmp_path):
    migrations = _copy_migrations(tmp_path / "migrations")
    (migrations / "3_daily.sql").write_text("SELECT 1;", encoding="utf-8")
    with pytest.raises(MigrationError, match="NNNN_name"):
        load_migrations(migrations)
    (migrations / "3_daily.sql").unlink()
    (migrations / "9999_tx.sql").write_text("BEGIN; CREATE TABLE t (x); COMMIT;", encoding="utf-8")
    with pytest.raises(MigrationError, match="BEGIN"):
        load_migrations(migrations)
    (migrations / "9999_tx.sql").unlink()
    shutil.copy(migrations / "0002_audit.sql", migrations / "0002_again.sql")
    with pytest.raises(MigrationError, match="0002"):
        load_migrations(migrations)


def test_split_sql():
    assert split_sql("-- only a comment\n") == []
    assert split_sql("SELECT ';'; /* ; */ SELECT 2;\n-- end") == ["SELECT ';';", "/* ; */ SELECT 2;"]
    with pytest.raises(MigrationError):
        split_sql("SELECT 1; SELECT")


async def test_migrations_do_not_depend_on_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    async with Database(":memory:") as db:
        assert db.applied_now == SHIPPED


# -- database ------------------------------------------------------------------------------------------


async def test_close_is_idempotent_and_transactions_roll_back(db_target):
    db = Database(db_target)
    await db.open()

    async def fail_inside() -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO meta (key, value, updated_ms) VALUES ('k', 'v', 0)")
            raise ZeroDivisionError

    async def nested_fails() -> None:
        async with db.transaction():  # nested: a savepoint
            await db.execute("INSERT INTO meta (key, value, updated_ms) VALUES ('b', 'v', 0)")
            await db.execute("INSERT INTO meta (key, value, updated_ms) VALUES ('b', 'v', 0)")

    with pytest.raises(ZeroDivisionError):
        await fail_inside()
    assert await db.fetchval("SELECT COUNT(*) FROM meta") == 0
    async with db.transaction():
        await db.execute("INSERT INTO meta (key, value, updated_ms) VALUES ('a', 'v', 0)")
        with pytest.raises(sqlite3.IntegrityError):
            await nested_fails()
        assert [row["key"] for row in await db.fetchall("SELECT key FROM meta")] == ["a"]
    await db.close()
    await db.close()
    with pytest.raises(RuntimeError):
        await db.fetchall("SELECT 1")


async def test_meta_round_trip_and_hostile_strings(db_target):
    async with Storage.open(db_target) as storage:
        assert await storage.meta.get("command_tree_hash") is None
        await storage.meta.set("command_tree_hash", "abc")
        await storage.meta.set("command_tree_hash", "def")
        for s in HOSTILE:
            await storage.meta.set(s, s)
    async with Storage.open(db_target) as storage:
        assert await storage.meta.get("command_tree_hash") == "def"
        for s in HOSTILE:
            assert await storage.meta.get(s) == _stored(s, db_target)
        assert await storage.meta.delete("command_tree_hash")
        assert await storage.meta.get("command_tree_hash") is None


# -- views ---------------------------------------------------------------------------------------------


def _v(card: str, guild: int | None = 1, user: int | None = 7, command: str = "random", **kw) -> ViewEvent:
    return ViewEvent(card, guild, 100, user, command, **kw)


async def test_views_count_buffer_and_table(db_target):
    async with Storage.open(db_target, flush_interval=60) as storage:
        views = storage.views
        views.record(_v("a"))
        views.record(_v("a", guild=2))
        assert views.pending == 2
        assert await views.count("a") == 2  # straight from the buffer
        assert await views.flush() == 2
        views.record(_v("a"))
        views.record(_v("b", guild=None))
        assert await views.count("a") == 3  # table + buffer
        assert await views.count("a", guild_id=1) == 2
        assert await views.counts(["a", "b", "c", "a"]) == {"a": 3, "b": 1, "c": 0}
        assert await views.counts(["a", "b"], guild_id=2) == {"a": 1, "b": 0}
        assert await views.counts([]) == {}


async def test_views_being_written_still_count_as_pending_until_written(db_target, monkeypatch):
    """A reader of ``pending + written`` (the health line, a test of shards) never sees views vanish mid-write."""
    async with Storage.open(db_target, flush_interval=60) as storage:
        views = storage.views
        views.record(_v("a"))
        views.record(_v("b"))
        started, release = asyncio.Event(), asyncio.Event()
        insert = views._insert

        async def held(*args):
            started.set()
            await release.wait()
            return await insert(*args)

        monkeypatch.setattr(views, "_insert", held)
        flushing = asyncio.create_task(views.flush())
        await started.wait()
        during = (views.pending, views.written)
        release.set()
        assert await flushing == 2
        assert during == (2, 0)
        assert (views.pending, views.written) == (0, 2)


async def test_flush_happens_within_the_interval(db_target):
    async with Storage.open(db_target, flush_interval=0.1) as storage:
        storage.views.record(_v("a"))
        await _wait_for_rows_in(db_target, 1, within=2)
        assert await _count_in(db_target) == 1
        assert storage.views.pending == 0


async def test_full_batch_flushes_early(db_target):
    async with Storage.open(db_target, flush_interval=60, max_batch=10) as storage:
        for i in range(10):
            storage.views.record(_v(f"c{i}"))
        await _wait_for_rows_in(db_target, 10, within=1)
        assert await _count_in(db_target) == 10


async def test_close_flushes_everything_and_is_idempotent(db_target):
    storage = await Storage.open(db_target, flush_interval=60)
    for i in range(1234):
        storage.views.record(_v(f"c{i % 17}"))
    await storage.close()
    await storage.close()
    assert await _count_in(db_target) == 1234
    storage.views.record(_v("late"))  # after close: dropped with a warning, never raises
    assert storage.views.dropped == 1


async def test_failed_flush_keeps_the_batch_and_retries(tmp_path, caplog):
    path = tmp_path / "bot.db"
    async with Storage.open(path, flush_interval=0.05, busy_timeout=0.05) as storage:
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # another writer holds the database
        try:
            with caplog.at_level(logging.ERROR, logger="bot.storage.views"):
                for i in range(5):
                    storage.views.record(_v(f"c{i}"))
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    await storage.views.flush()
                assert storage.views.pending == 5
                await asyncio.sleep(0.3)  # the background flusher fails too, and logs
            assert any("kept for retry" in r.getMessage() for r in caplog.records)
            assert storage.views.pending == 5
            assert await storage.views.count("c0") == 1  # still counted from the buffer
            storage.views.record(_v("c5"))
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        await _wait_for_rows(path, 6, within=3)  # the flusher recovers on its own (after its back-off)
        assert _count(path) == 6
        assert storage.views.dropped == 0
        # Order is kept: the retried batch went back in front of the newer view.
        assert [r[0] for r in await storage.db.fetchall("SELECT card_id FROM views ORDER BY id")] == [
            "c0",
            "c1",
            "c2",
            "c3",
            "c4",
            "c5",
        ]


async def test_data_survives_reopening(db_target):
    path = db_target
    async with Storage.open(path) as storage:
        storage.views.record(_v("a"))
        await storage.audit.record("add", card_id="a", after={"text": "t"})
    async with Storage.open(path) as storage:
        assert await storage.views.count("a") == 1
        assert len(await storage.audit.history("a")) == 1


async def test_hostile_strings_round_trip(db_target):
    path = db_target
    stored = [_stored(s, db_target) for s in HOSTILE]
    async with Storage.open(path) as storage:
        for s in HOSTILE:
            storage.views.record(ViewEvent(s, 1, 2, 3, s))
            await storage.audit.record(
                "edit",
                card_id=s,
                collection_id=s,
                moderator_name=s,
                before={s: s},
                after={"text": s, "n": [1, s]},
                detail=s,
            )
    async with Storage.open(path) as storage:
        assert set(await storage.views.views_by_card()) == set(stored)
        assert set((await storage.views.stats()).by_command) == set(stored)
        assert await storage.views.seen_by_user(3) == set(stored)
        for s, kept in zip(HOSTILE, stored, strict=True):
            assert await storage.views.count(s) == 1
            [entry] = await storage.audit.history(s)
            assert (entry.card_id, entry.collection_id, entry.moderator_name, entry.detail) == (kept,) * 4
            assert entry.before == {s: s}  # JSON escapes a NUL: kept exactly on both engines
            assert entry.after == {"text": s, "n": [1, s]}
        assert await storage.db.fetchval("SELECT COUNT(*) FROM views") == len(HOSTILE)


async def test_snowflakes_fit_and_bad_ids_are_refused_at_the_call_site(db_target):
    big = 2**63 - 1
    async with Storage.open(db_target) as storage:
        storage.views.record(ViewEvent("a", big, big, big, "random"))
        assert await storage.views.seen_in_guild(big) == {"a"}
        await storage.views.flush()
        assert await storage.views.seen_by_user(big, guild_id=big) == {"a"}
    with pytest.raises(ValueError, match="64-bit"):
        ViewEvent("a", 2**63, None, None, "random")
    with pytest.raises(TypeError):
        ViewEvent("a", "123", None, None, "random")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ViewEvent("", 1, None, None, "random")


async def test_fifty_concurrent_writers_all_land(db_target):
    async with Storage.open(db_target, flush_interval=0.01, max_batch=50) as storage:

        async def writer(w: int) -> None:
            for i in range(200):
                storage.views.record(_v(f"c{i % 13}", guild=w % 3, user=w))
                if i % 7 == 0:
                    await asyncio.sleep(0)
            await storage.audit.record("edit", card_id=f"w{w}", moderator_id=w)

        await asyncio.gather(*(writer(w) for w in range(50)))
        assert sum((await storage.views.counts([f"c{i}" for i in range(13)])).values()) == 10_000
    assert await _count_in(db_target) == 10_000
    assert await _count_in(db_target, "SELECT COUNT(*) FROM audit_log") == 50


async def test_naive_and_local_times_are_stored_as_utc(db_target):
    local = dt.timezone(dt.timedelta(hours=5))
    async with Storage.open(db_target) as storage:
        storage.views.record(_v("a", at=dt.datetime(2024, 1, 2, 3, 0, tzinfo=local)))
        storage.views.record(_v("b", at=dt.datetime(2024, 1, 1, 22, 0)))
        await storage.views.flush()
        rows = await storage.db.fetchall("SELECT card_id, at_ms FROM views ORDER BY card_id")
    expected = dt.datetime(2024, 1, 1, 22, 0, tzinfo=UTC).timestamp() * 1000
    assert [tuple(r) for r in rows] == [("a", expected), ("b", expected)]


# -- stats ---------------------------------------------------------------------------------------------

NOW = dt.datetime(2024, 5, 10, 12, 0, tzinfo=UTC)


def _at(days_ago: int, hour: int = 10) -> dt.datetime:
    return (NOW - dt.timedelta(days=days_ago)).replace(hour=hour)


async def test_stats_by_guild_and_overall(db_target):
    data = [
        # (card, guild, user, command, days ago)
        ("a", 1, 10, "random", 0),
        ("a", 1, 11, "random", 0),
        ("a", 1, 10, "search", 1),
        ("b", 1, 10, "cite", 6),
        ("c", 1, 12, "random", 7),  # outside the last 7 days
        ("a", 2, 20, "random", 0),
        ("b", 2, 20, "random", 2),
        ("b", 2, 21, "daily", 2),
        ("d", None, 10, "random", 3),  # a DM
    ]
    async with Storage.open(db_target, flush_interval=60) as storage:
        views = storage.views
        for i, (card, guild, user, command, ago) in enumerate(data):
            views.record(ViewEvent(card, guild, 100, user, command, _at(ago)))
            if i == 4:
                await views.flush()  # half in the table, half in the buffer
        assert views.pending == 4

        overall = await views.stats(now=NOW)
        assert overall.total_views == 9
        assert overall.top_cards == [("a", 4), ("b", 3), ("c", 1), ("d", 1)]
        assert overall.by_command == {"random": 6, "cite": 1, "daily": 1, "search": 1}
        assert overall.by_day == [
            (dt.date(2024, 5, 4), 1),
            (dt.date(2024, 5, 5), 0),
            (dt.date(2024, 5, 6), 0),
            (dt.date(2024, 5, 7), 1),
            (dt.date(2024, 5, 8), 2),
            (dt.date(2024, 5, 9), 1),
            (dt.date(2024, 5, 10), 3),
        ]

        g1 = await views.stats(guild_id=1, top=2, now=NOW)
        assert g1.total_views == 5
        assert g1.top_cards == [("a", 3), ("b", 1)]
        assert g1.by_command == {"random": 3, "cite": 1, "search": 1}
        assert [n for _, n in g1.by_day] == [1, 0, 0, 0, 0, 1, 2]

        g2 = await views.stats(guild_id=2, now=NOW)
        assert (g2.total_views, g2.top_cards) == (3, [("b", 2), ("a", 1)])

        assert await views.views_by_card() == {"a": 4, "b": 3, "c": 1, "d": 1}
        assert await views.views_by_card(guild_id=2) == {"a": 1, "b": 2}
        assert await views.seen_by_user(10) == {"a", "b", "d"}
        assert await views.seen_by_user(10, guild_id=1) == {"a", "b"}
        assert await views.seen_in_guild(2) == {"a", "b"}
        assert await views.seen_in_guild(3) == set()

        await views.flush()  # same answers with everything in the table
        assert await views.stats(now=NOW) == overall
        assert await views.stats(guild_id=1, top=2, now=NOW) == g1


# -- audit ---------------------------------------------------------------------------------------------


async def test_audit_history_newest_first(db_target):
    async with Storage.open(db_target) as storage:
        audit = storage.audit
        card = {"id": "a", "text": "old", "topics": ["x"], "added": dt.date(2024, 1, 1)}
        await audit.record("add", card_id="a", collection_id="col", guild_id=1, moderator_id=5, after=card)
        await audit.record(
            "edit",
            card_id="a",
            collection_id="col",
            guild_id=1,
            moderator_id=5,
            moderator_name="mod",
            before=card,
            after={**card, "text": "new"},
        )
        await audit.record("reload", guild_id=2, detail="12 cards")
        await audit.record("remove", card_id="a", guild_id=1, before={**card, "text": "new"})
        history = await audit.history("a")
        assert [e.action for e in history] == ["remove", "edit", "add"]
        edit = history[1]
        assert edit.before == {"id": "a", "text": "old", "topics": ["x"], "added": "2024-01-01"}
        assert edit.after == {**card, "added": "2024-01-01", "text": "new"}
        assert (edit.guild_id, edit.moderator_id, edit.moderator_name) == (1, 5, "mod")
        assert edit.at.tzinfo is not None
        assert history[0].after is None
        assert [e.action for e in await audit.history("a", limit=1)] == ["remove"]
        assert [e.action for e in await audit.recent(1)] == ["remove", "edit", "add"]
        assert [e.action for e in await audit.recent(2)] == ["reload"]
        assert [e.action for e in await audit.recent(limit=2)] == ["remove", "reload"]
        with pytest.raises(ValueError, match="unknown audit action"):
            await audit.record("delete", card_id="a")  # type: ignore[arg-type]


# -- shutdown durability (real processes) --------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import asyncio, signal, sys
    from bot.storage import Storage, ViewEvent

    async def main(path, n, interval, keep_going):
        async with Storage.open(path, flush_interval=interval, max_batch=10**9) as storage:
            stop = asyncio.Event()
            # The app's shutdown handler: leave the `async with`, which calls storage.close().
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
            for i in range(n):
                storage.views.record(ViewEvent(f"card-{i % 50}", 1, 2, i, "random"))
            print("ready", flush=True)
            i = 0
            while keep_going and not stop.is_set():
                storage.views.record(ViewEvent("late", 1, 2, i, "random"))
                i += 1
                await asyncio.sleep(0.005)
            await stop.wait()

    asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4] == "1"))
    """
)


def _spawn(tmp_path: Path, n: int, interval: float, keep_going: bool) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path / "data" / "bot.db"), str(n), str(interval), str(int(keep_going))],
        cwd=tmp_path,  # not the repo: migrations must be found through the package
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    if line.strip() != "ready":
        child.kill()
        pytest.fail(f"child did not start: {line!r} {child.communicate()[1]}")
    return child


def test_sigterm_loses_nothing(tmp_path):
    n = 3000
    child = _spawn(tmp_path, n, interval=60.0, keep_going=False)  # no flush would happen by itself
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=15)
    assert child.returncode == 0, err
    assert _count(tmp_path / "data" / "bot.db") == n


def test_sigkill_loses_at_most_one_interval(tmp_path):
    n, interval = 2000, 0.2
    child = _spawn(tmp_path, n, interval=interval, keep_going=True)
    time.sleep(interval * 3)  # more than one interval after the first n views were recorded
    child.kill()
    child.communicate(timeout=15)
    path = tmp_path / "data" / "bot.db"
    assert _count(path, "SELECT COUNT(*) FROM views WHERE card_id != 'late'") == n
    assert _count(path, "SELECT COUNT(*) FROM views WHERE card_id = 'late'") > 0  # kept flushing meanwhile


async def test_guild_tallies_follow_records_flushes_and_trims(db_target):
    async with Storage.open(db_target, flush_interval=60, max_batch=3, max_buffer=3) as storage:
        views = storage.views
        views.record(_v("a", user=1))
        assert await views.count("a", guild_id=1) == 1  # loads the tally
        assert await views.seen_by_user(1, guild_id=1) == {"a"}
        views.record(_v("a", user=2))
        views.record(_v("b", user=1))
        assert await views.counts(["a", "b", "c"], guild_id=1) == {"a": 2, "b": 1, "c": 0}
        assert await views.seen_by_user(1, guild_id=1) == {"a", "b"}
        await views.flush()
        assert await views.count("a", guild_id=1) == 2
        for card in ("c", "d", "e", "f"):  # the buffer holds 3: the oldest is dropped
            views.record(_v(card, user=1))
        assert views.dropped == 1
        assert await views.counts(["a", "b", "c", "f"], guild_id=1) == {"a": 2, "b": 1, "c": 0, "f": 1}
        assert await views.seen_by_user(1, guild_id=1) == {"a", "b", "d", "e", "f"}


async def test_guild_tallies_notice_another_writer(db_target):
    async with Storage.open(db_target, flush_interval=0.05) as storage:
        storage.views.record(_v("a"))
        assert await storage.views.count("a", guild_id=1) == 1
        assert await storage.views.seen_by_user(7, guild_id=1) == {"a"}
        await asyncio.sleep(0.2)  # the flusher has written the view and noted the data version
        async with Database(db_target) as other:  # another process
            await other.execute(
                "INSERT INTO views (card_id, guild_id, channel_id, user_id, command, at_ms)"
                " VALUES ('b', 1, 1, 7, 'x', 0)"
            )
        for _ in range(40):
            if await storage.views.count("b", guild_id=1) == 1:
                break
            await asyncio.sleep(0.05)
        assert await storage.views.count("b", guild_id=1) == 1
        assert await storage.views.seen_by_user(7, guild_id=1) == {"a", "b"}


async def test_audit_record_many_stores_every_row_in_one_transaction(db_target: str) -> None:
    async with Storage.open(db_target) as storage:
        stored = await storage.audit.record_many(
            {"action": "import", "card_id": f"c-{n}", "after": {"text": f"fact {n}"}, "moderator_id": 7}
            for n in range(3)
        )
        assert stored == 3
        (entry,) = await storage.audit.history("c-2")
        assert (entry.action, entry.after, entry.moderator_id) == ("import", {"text": "fact 2"}, 7)
        with pytest.raises(ValueError, match="unknown audit action"):
            await storage.audit.record_many([{"action": "import"}, {"action": "frobnicate"}])
        assert len(await storage.audit.recent(limit=10)) == 3  # a bad row stores none of its batch
