"""One SQLite connection, numbered SQL migrations, and serialised write transactions.

The bot keeps exactly one :class:`Database` per process. It owns one :mod:`aiosqlite` connection (WAL mode,
``synchronous=NORMAL``, foreign keys on, a busy timeout) and one :class:`asyncio.Lock`: every write goes through
:meth:`Database.transaction`, so there is one writer at a time, and reads wait for an open write transaction so
they never see uncommitted rows.

Migrations are the files ``migrations/NNNN_name.sql`` next to this module (found through
:mod:`importlib.resources`, never the working directory). They are applied in version order, each in its own
transaction together with its row in ``schema_migrations``, so a failing migration leaves no trace. To change
the schema, add the next numbered file; never edit one that has shipped. A migration file must not contain
``BEGIN``/``COMMIT``/``ROLLBACK`` (the runner owns the transaction) nor ``PRAGMA`` statements that cannot run
inside a transaction (``foreign_keys``, ``journal_mode``).

Discord snowflakes are stored as ``INTEGER``. SQLite integers are signed 64-bit; snowflakes are unsigned 64-bit
in Discord's API but their top bit stays clear until the 42-bit millisecond timestamp overflows in 2084, so every
real snowflake fits. Values outside ``0 <= id < 2**63`` are rejected before they reach SQLite.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import importlib.resources
import logging
import os
import re
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from importlib.resources.abc import Traversable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiosqlite

__all__ = [
    "MAX_SNOWFLAKE",
    "Database",
    "Migration",
    "MigrationError",
    "StorageUnavailable",
    "describe_fault",
    "is_environmental",
    "load_migrations",
    "split_sql",
]

log = logging.getLogger(__name__)

#: Largest id SQLite can store in an INTEGER column (signed 64-bit).
MAX_SNOWFLAKE = 2**63 - 1

_MIGRATION_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[A-Za-z0-9_-]+)\.sql$")
_LEADING_COMMENTS = re.compile(r"^(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.DOTALL)
_FORBIDDEN_IN_MIGRATION = {"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE", "VACUUM"}

_BOOTSTRAP = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
)
"""


class MigrationError(RuntimeError):
    """A migration file is misnamed, malformed, or failed to apply."""


class StorageUnavailable(sqlite3.OperationalError):
    """The database cannot be used now (damaged, read-only, full, locked, not a file, not ours).

    ``str()`` is one line that says what and where. It is a :class:`sqlite3.OperationalError`, so code that
    already copes with a database fault at runtime copes with this one the same way.
    """


#: What a SQLite or OS error message means for the person running the bot, by a fragment of the message.
_FAULTS = (
    ("file is not a database", "is not a SQLite database, or is damaged (corrupt or truncated)"),
    ("malformed", "is damaged (corrupt or truncated)"),
    ("readonly", "is read-only (check the file's and its folder's permissions)"),
    ("read-only", "is read-only (check the file's and its folder's permissions)"),
    ("permission denied", "is read-only (check the file's and its folder's permissions)"),
    ("disk is full", "cannot be written: the disk is full"),
    ("no space left", "cannot be written: the disk is full"),
    ("locked", "is locked by another process for longer than the busy timeout"),
    ("busy", "is locked by another process for longer than the busy timeout"),
    ("disk i/o error", "cannot be read or written (disk I/O error)"),
)


def describe_fault(path: str, exc: BaseException) -> str:
    """One line for a database that cannot be opened or written: what is wrong with ``path``, and the cause."""
    if isinstance(exc, StorageUnavailable):
        return str(exc)
    target = Path(path)
    reason = str(exc.strerror if isinstance(exc, OSError) and exc.strerror else exc)
    lowered = reason.lower()
    what = next((meaning for fragment, meaning in _FAULTS if fragment in lowered), None)
    if what is None:
        if target.is_dir():
            what = "is a folder, not a database file"
        elif any(parent.exists() and not parent.is_dir() for parent in target.parents):
            what = "cannot be created: a part of its folder path is a file"
        else:
            what = "cannot be opened"
    return f"the database {path} {what} ({reason})"


def is_environmental(exc: sqlite3.Error) -> bool:
    """A fault of the file or the machine (full, read-only, locked...), not of a migration's SQL."""
    lowered = str(exc).lower()
    return any(fragment in lowered for fragment, _ in _FAULTS) or "unable to open" in lowered


@dataclasses.dataclass(frozen=True, slots=True)
class Migration:
    """One ``NNNN_name.sql`` file: its version, name and the statements it runs, in order."""

    version: int
    name: str
    statements: tuple[str, ...]


def split_sql(script: str) -> list[str]:
    """Split a SQL script into single statements (``CREATE TRIGGER ... BEGIN ... END;`` stays whole).

    Semicolons inside strings, identifiers and comments are handled by :func:`sqlite3.complete_statement`.
    Comment-only fragments are dropped. Raises :class:`MigrationError` on a trailing incomplete statement.
    """
    statements: list[str] = []
    start = 0
    for i, ch in enumerate(script):
        if ch != ";":
            continue
        candidate = script[start : i + 1]
        if sqlite3.complete_statement(candidate):
            body = _LEADING_COMMENTS.sub("", candidate).strip()
            if body not in ("", ";"):
                statements.append(candidate.strip())
            start = i + 1
    rest = _LEADING_COMMENTS.sub("", script[start:]).strip()
    if rest:
        raise MigrationError(f"incomplete SQL statement at the end of the script: {rest[:80]!r}")
    return statements


def _first_keyword(statement: str) -> str:
    body = _LEADING_COMMENTS.sub("", statement)
    match = re.match(r"[A-Za-z]+", body)
    return match.group(0).upper() if match else ""


def default_migrations_dir() -> Traversable:
    """The ``migrations`` directory shipped inside this package."""
    return importlib.resources.files(__package__ or "bot.storage") / "migrations"


def load_migrations(directory: Traversable | os.PathLike[str] | str | None = None) -> list[Migration]:
    """Read every ``NNNN_name.sql`` in ``directory`` (default: the package's own), sorted by version.

    Other files are ignored, but a ``.sql`` file with a bad name, a duplicate version, or a statement that
    would break the runner's transaction raises :class:`MigrationError` so that mistakes fail at startup.
    """
    root: Traversable = default_migrations_dir() if directory is None else _as_traversable(directory)
    found: dict[int, Migration] = {}
    for entry in root.iterdir():
        if not entry.is_file() or not entry.name.endswith(".sql"):
            continue
        match = _MIGRATION_NAME.match(entry.name)
        if match is None:
            raise MigrationError(f"migration file {entry.name!r} is not named NNNN_name.sql")
        version = int(match["version"])
        if version in found:
            raise MigrationError(f"two migration files have version {version:04d}")
        statements = tuple(split_sql(entry.read_text(encoding="utf-8")))
        for statement in statements:
            keyword = _first_keyword(statement)
            if keyword in _FORBIDDEN_IN_MIGRATION:
                raise MigrationError(f"{entry.name}: {keyword} is not allowed; each file runs in one transaction")
        found[version] = Migration(version, match["name"], statements)
    return [found[v] for v in sorted(found)]


def _as_traversable(directory: Traversable | os.PathLike[str] | str) -> Traversable:
    if isinstance(directory, str | os.PathLike):
        return Path(directory)
    return directory


def _probe(path: str, busy_timeout: float) -> None:
    """Before the read-write connection: refuse a folder, and a database that is not ours.

    A database with tables but no ``schema_migrations`` is not Factdeck's: most often a stale or foreign ``-wal``
    file beside ours replaced its contents. Migrating it would start the views from zero and hide the damage, so
    it is refused. The probe connection is read-only, so closing it never checkpoints that ``-wal`` into the file.
    """
    target = Path(path)
    if target.is_dir():
        raise StorageUnavailable(f"the database {path} is a folder, not a database file")
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() or target.stat().st_size == 0:
        return  # a new database
    conn = sqlite3.connect(f"{target.resolve().as_uri()}?mode=ro", uri=True, timeout=busy_timeout)
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()
    if tables and "schema_migrations" not in tables:
        shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
        raise StorageUnavailable(
            f"the database {path} is not a Factdeck database (tables {shown}, no schema_migrations; a stale or "
            f"foreign {target.name}-wal beside it may have replaced it): not migrating it; move it and its -wal "
            "and -shm files aside, or set `database` to the right file"
        )


def _utc_now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


class Database:
    """The bot's SQLite database: one connection, migrations applied on open, writes serialised.

    Use as ``async with Database(path) as db:`` or ``await db.open()`` ... ``await db.close()``. ``path`` may be
    ``":memory:"`` for tests; otherwise the parent directory is created if missing.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        migrations_dir: Traversable | os.PathLike[str] | str | None = None,
        busy_timeout: float = 5.0,
    ) -> None:
        self.path = str(path) if str(path) == ":memory:" else os.fspath(path)
        self._migrations_dir = migrations_dir
        self._busy_timeout = busy_timeout
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._tx_owner: asyncio.Task[Any] | None = None
        self._savepoints = 0
        self._closed = False
        #: Versions applied by the last :meth:`open` (empty when the schema was already current).
        self.applied_now: list[int] = []
        #: Why the last :meth:`open` failed (one line), or None when it did not.
        self.unavailable: str | None = None

    # -- lifecycle -------------------------------------------------------------------------------------

    async def open(self) -> Self:
        """Connect, set the pragmas and apply pending migrations. Returns ``self``.

        Raises :class:`StorageUnavailable` (one line: what and where) when the file cannot be used: damaged,
        read-only, on a full disk, locked past the busy timeout, a folder, or a database that is not ours (it
        has tables but no ``schema_migrations``; see :func:`_probe`). :meth:`reopen` tries again later.
        """
        if self._conn is not None:
            return self
        if self._closed:
            raise RuntimeError("this Database was closed; create a new one")
        migrations = load_migrations(self._migrations_dir)  # fail on a bad file before touching the db
        try:
            if self.path != ":memory:":
                await asyncio.to_thread(_probe, self.path, self._busy_timeout)
            conn = await aiosqlite.connect(self.path, isolation_level=None, timeout=self._busy_timeout)
        except (sqlite3.Error, OSError) as exc:
            raise self._unavailable(exc) from exc
        try:
            conn.row_factory = sqlite3.Row
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA synchronous=NORMAL")
            await conn.execute("PRAGMA foreign_keys=ON")
            await conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout * 1000)}")
            self._conn = conn
            await self._migrate(migrations)
        except BaseException as exc:
            self._conn = None
            with contextlib.suppress(Exception):
                await conn.close()
            if isinstance(exc, sqlite3.Error | OSError):
                raise self._unavailable(exc) from exc
            raise
        if self.unavailable is not None:
            log.warning("the database %s can be used again", self.path)
        self.unavailable = None
        return self

    def _unavailable(self, exc: BaseException) -> StorageUnavailable:
        self.unavailable = describe_fault(self.path, exc)
        return exc if isinstance(exc, StorageUnavailable) else StorageUnavailable(self.unavailable)

    @property
    def is_open(self) -> bool:
        """Whether the connection is up (False before :meth:`open`, after a failed one, and after close)."""
        return self._conn is not None

    async def reopen(self) -> bool:
        """After a failed :meth:`open`, try again; return whether the database is open now. Never raises
        :class:`StorageUnavailable` (it is kept in :attr:`unavailable`)."""
        if self._conn is not None:
            return True
        if self._closed:
            return False
        try:
            await self.open()
        except StorageUnavailable:
            return False
        return True

    async def close(self) -> None:
        """Close the connection. Idempotent; waits for a running write transaction to finish first."""
        if self._conn is None:
            self._closed = True
            return
        async with self._lock:
            conn, self._conn = self._conn, None
            self._closed = True
            if conn is None:
                return
            try:
                await conn.execute("PRAGMA optimize")
            except sqlite3.Error:
                log.debug("PRAGMA optimize failed on close", exc_info=True)
            await conn.close()

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def _require(self) -> aiosqlite.Connection:
        if self._conn is None:
            if self.unavailable is not None and not self._closed:
                raise StorageUnavailable(self.unavailable)
            raise RuntimeError("the database is not open")
        return self._conn

    # -- migrations ------------------------------------------------------------------------------------

    async def _migrate(self, migrations: Sequence[Migration]) -> None:
        conn = self._require()
        await conn.execute(_BOOTSTRAP)
        rows = await conn.execute_fetchall("SELECT version FROM schema_migrations")
        applied = {row[0] for row in rows}
        unknown = applied - {m.version for m in migrations}
        if unknown:
            log.warning("database has migrations this code does not know: %s", sorted(unknown))
        self.applied_now = []
        for migration in migrations:
            if migration.version in applied:
                continue
            try:
                async with self.transaction() as tx:
                    # Re-check inside the write lock: another process may have just applied it.
                    again = await tx.execute_fetchall(
                        "SELECT 1 FROM schema_migrations WHERE version = ?", (migration.version,)
                    )
                    if again:
                        continue
                    for statement in migration.statements:
                        await tx.execute(statement)
                    await tx.execute(
                        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                        (migration.version, migration.name, _utc_now_iso()),
                    )
            except sqlite3.Error as exc:
                if is_environmental(exc):
                    raise  # the file or the disk, not the migration: open() says which
                raise MigrationError(f"migration {migration.version:04d}_{migration.name} failed: {exc}") from exc
            self.applied_now.append(migration.version)
            log.info("applied migration %04d_%s", migration.version, migration.name)

    async def migrations(self) -> list[tuple[int, str, str]]:
        """The applied migrations as ``(version, name, applied_at)``, oldest first."""
        rows = await self.fetchall("SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
        return [(row[0], row[1], row[2]) for row in rows]

    # -- transactions ----------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """``async with db.transaction() as conn:`` run writes atomically; commit on success, else roll back.

        Transactions are serialised by one lock (``BEGIN IMMEDIATE``, so another process's writer is waited
        for up to ``busy_timeout``). Inside a transaction, the same task may call :meth:`execute`,
        :meth:`fetchall` and friends, or open a nested ``transaction()``, which becomes a savepoint.
        """
        if self._tx_owner is not None and self._tx_owner is asyncio.current_task():
            async with self._savepoint() as conn:
                yield conn
            return
        async with self._lock:
            conn = self._require()
            await conn.execute("BEGIN IMMEDIATE")
            self._tx_owner = asyncio.current_task()
            try:
                yield conn
                await conn.execute("COMMIT")
            except BaseException:
                await self._rollback(conn)
                raise
            finally:
                self._tx_owner = None

    @contextlib.asynccontextmanager
    async def _savepoint(self) -> AsyncIterator[aiosqlite.Connection]:
        conn = self._require()
        self._savepoints += 1
        name = f"sp{self._savepoints}"
        await conn.execute(f"SAVEPOINT {name}")
        try:
            yield conn
            await conn.execute(f"RELEASE {name}")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                await conn.execute(f"ROLLBACK TO {name}")
                await conn.execute(f"RELEASE {name}")
            raise
        finally:
            self._savepoints -= 1

    @staticmethod
    async def _rollback(conn: aiosqlite.Connection) -> None:
        try:
            await conn.execute("ROLLBACK")
        except sqlite3.Error:
            # "no transaction is active": SQLite already rolled back (or the COMMIT went through).
            log.debug("ROLLBACK failed", exc_info=True)

    @contextlib.asynccontextmanager
    async def _reading(self) -> AsyncIterator[aiosqlite.Connection]:
        if self._tx_owner is not None and self._tx_owner is asyncio.current_task():
            yield self._require()
            return
        async with self._lock:
            yield self._require()

    # -- helpers ---------------------------------------------------------------------------------------

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Run a query and return every row (``sqlite3.Row``: index or column name)."""
        async with self._reading() as conn:
            return list(await conn.execute_fetchall(sql, params))

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        """Run a query and return its first row, or ``None``."""
        async with self._reading() as conn, conn.execute(sql, params) as cursor:
            return await cursor.fetchone()

    async def fetchval(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run a query and return the first column of its first row, or ``None``."""
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one write statement in its own transaction (or the caller's); return the rows changed."""
        async with self.transaction() as conn, conn.execute(sql, params) as cursor:
            return cursor.rowcount

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        """Run one write statement for each parameter row, all in one transaction; return the rows changed."""
        async with self.transaction() as conn, conn.executemany(sql, rows) as cursor:
            return cursor.rowcount
