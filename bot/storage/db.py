"""One storage interface, two engines: SQLite (the default) and PostgreSQL (several bot processes sharing one).

``Database(target)`` picks the engine from ``target``: a file path (or ``":memory:"``) is SQLite through one
:mod:`aiosqlite` connection (WAL mode, ``synchronous=NORMAL``, foreign keys on, a busy timeout); a
``postgresql://user@host[:port]/dbname`` URL is PostgreSQL through an :mod:`asyncpg` pool. The password never
sits in the URL (it would sit in the config file): it comes from ``FACTDECK_DATABASE_PASSWORD`` or a standard
``PGPASSFILE`` / ``~/.pgpass``; a URL with a password is refused.

Both engines are used the same way, so a repository is written once:

- ``fetchall``/``fetchone``/``fetchval`` read, ``execute``/``executemany`` write one statement in its own
  transaction, and ``async with db.transaction() as conn:`` runs ``conn.execute``/``conn.executemany``/
  ``conn.execute_fetchall`` atomically (a nested ``transaction()`` is a savepoint). One write transaction at a
  time per process; on PostgreSQL, reads outside it run on other pooled connections.
- ``?`` placeholders (rewritten to ``$n`` for asyncpg outside string literals); rows by index or column name.
- Portable SQL only: ``INSERT ... ON CONFLICT (...) DO UPDATE/NOTHING`` (never ``INSERT OR REPLACE/IGNORE``),
  ``RETURNING id`` for a new row's id (``lastrowid`` is SQLite's alone), ``COALESCE``, no ``rowid``, no SQLite
  functions (``julianday``, ``strftime``, ``json_each``, two-argument ``max``), no ``WHERE 1`` (write
  ``WHERE TRUE`` or build the clause), ``SUM(CASE WHEN ... THEN 1 ELSE 0 END)`` rather than summing a comparison.
  Dates are computed in Python and stored as ISO text or integers; booleans as INTEGER 0/1.
- Errors are the DB-API classes of :mod:`sqlite3` on both engines (see :mod:`bot.storage.engines`).

Migrations are the files ``migrations/NNNN_name.sql`` next to this module (found through
:mod:`importlib.resources`, never the working directory), written once for both engines. They are applied in
version order, each in its own transaction together with its row in ``schema_migrations``, so a failing migration
leaves no trace; on PostgreSQL an advisory lock makes two processes starting at once apply each file once.

To add a table for both engines: add the next ``migrations/NNNN_area_name.sql`` in SQLite's words with the
portable types (``INTEGER``, ``TEXT``, ``REAL``, ``BLOB``; ``id INTEGER PRIMARY KEY`` for a self-numbering key).
On PostgreSQL :func:`bot.storage.sqltext.to_postgresql` maps them (``INTEGER PRIMARY KEY`` to a 64-bit identity
column, ``INTEGER`` to ``BIGINT``, ``WITHOUT ROWID`` dropped, ``REAL`` to ``DOUBLE PRECISION``, ``BLOB`` to
``BYTEA``, ``x GLOB 'p'`` to a regular expression match). When a statement needs words the mapping does not
know (a SQLite function in a ``CHECK``, say), add a twin
``migrations/postgresql/NNNN_area_name.sql`` with the same number and name: PostgreSQL then runs the twin instead.
Run the storage tests on both engines (``make test`` and ``make test-pg``). Never edit a file that has shipped.
A migration file must not contain ``BEGIN``/``COMMIT``/``ROLLBACK`` (the runner owns the transaction) nor
``PRAGMA`` statements that cannot run inside a transaction (``foreign_keys``, ``journal_mode``).

Discord snowflakes are stored as 64-bit signed integers (SQLite ``INTEGER``, PostgreSQL ``BIGINT``); snowflakes
are unsigned 64-bit in Discord's API but their top bit stays clear until the 42-bit millisecond timestamp
overflows in 2084, so every real snowflake fits. Values outside ``0 <= id < 2**63`` are rejected before they
reach the database.
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
from typing import Any, Literal, Self
from urllib.parse import urlsplit, urlunsplit

import aiosqlite
import asyncpg

from bot.settings import database_url_problem, is_database_url

from .engines import (
    CONNECT_FAULTS,
    UNREACHABLE,
    Connection,
    Row,
    SqliteConnection,
    acquired,
    setup_postgres_connection,
)
from .sqltext import to_postgresql

__all__ = [
    "MAX_SNOWFLAKE",
    "Connection",
    "Database",
    "Engine",
    "Migration",
    "MigrationError",
    "Row",
    "StorageUnavailable",
    "chunked",
    "describe_fault",
    "display_target",
    "is_environmental",
    "load_migrations",
    "marks",
    "split_sql",
]

log = logging.getLogger(__name__)

#: Largest id a 64-bit signed integer column (SQLite INTEGER, PostgreSQL BIGINT) can store.
MAX_SNOWFLAKE = 2**63 - 1

#: The two engines.
Engine = Literal["sqlite", "postgresql"]

#: The environment variable that holds the PostgreSQL password (never the config file).
PASSWORD_ENV = "FACTDECK_DATABASE_PASSWORD"
#: Any number: the advisory lock key that serialises migrations between processes (PostgreSQL).
_MIGRATION_LOCK = 0x46444D47  # "FDMG"

_MIGRATION_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[A-Za-z0-9_-]+)\.sql$")
_LEADING_COMMENTS = re.compile(r"^(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.DOTALL)
_FORBIDDEN_IN_MIGRATION = {"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE", "VACUUM"}

#: A failed ROLLBACK: none active (SQLite rolled back already), or a lost server (which rolls back itself).
_ROLLBACK_FAULTS: tuple[type[Exception], ...] = (sqlite3.Error, *UNREACHABLE)

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
    if is_database_url(path):
        return f"the database {display_target(path)} cannot be used ({type(exc).__name__}: {exc})"
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
    """A fault of the file, the server or the machine (full, read-only, locked...), not of a migration's SQL."""
    if isinstance(exc, StorageUnavailable):
        return True
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


def load_migrations(
    directory: Traversable | os.PathLike[str] | str | None = None, engine: Engine = "sqlite"
) -> list[Migration]:
    """Read every ``NNNN_name.sql`` in ``directory`` (default: the package's own), sorted by version, in the
    words of ``engine``: for PostgreSQL, a twin in ``directory/postgresql/`` replaces a file, and the others are
    mapped by :func:`~bot.storage.sqltext.to_postgresql`.

    Other files are ignored, but a ``.sql`` file with a bad name, a duplicate version, a twin without its
    original, or a statement that would break the runner's transaction raises :class:`MigrationError` so that
    mistakes fail at startup.
    """
    root: Traversable = default_migrations_dir() if directory is None else _as_traversable(directory)
    found = _read_migrations(root)
    twins_dir = root / "postgresql"
    twins = _read_migrations(twins_dir) if twins_dir.is_dir() else {}
    for version, twin in twins.items():
        if version not in found or found[version].name != twin.name:
            raise MigrationError(
                f"postgresql/{version:04d}_{twin.name}.sql has no migration {version:04d}_{twin.name}.sql beside it"
            )
    if engine == "postgresql":
        for version, migration in found.items():
            found[version] = twins.get(version) or dataclasses.replace(
                migration, statements=tuple(to_postgresql(statement) for statement in migration.statements)
            )
    return [found[v] for v in sorted(found)]


def _read_migrations(root: Traversable) -> dict[int, Migration]:
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
    return found


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


def display_target(target: str | os.PathLike[str]) -> str:
    """The database as shown in logs and errors: a path, or a URL without its query (never a password)."""
    text = os.fspath(target)
    if not is_database_url(text):
        return text
    parts = urlsplit(text)
    host = parts.hostname or ""
    netloc = (f"{parts.username}@" if parts.username else "") + host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _utc_now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


class Database:
    """The bot's database, SQLite or PostgreSQL: migrations applied on open, one write transaction at a time.

    Use as ``async with Database(target) as db:`` or ``await db.open()`` ... ``await db.close()``. ``target`` is
    a file path (SQLite; ``":memory:"`` for tests; the parent directory is created if missing) or a
    ``postgresql://`` URL without a password (see the module's docstring).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        migrations_dir: Traversable | os.PathLike[str] | str | None = None,
        busy_timeout: float = 5.0,
        pool_size: int = 5,
    ) -> None:
        target = os.fspath(path)
        self.engine: Engine = "postgresql" if is_database_url(target) else "sqlite"
        if self.engine == "postgresql":
            problem = database_url_problem(target)
            if problem is not None:
                raise ValueError(problem)
        self.path = target
        self._migrations_dir = migrations_dir
        self._busy_timeout = busy_timeout
        self._pool_size = pool_size
        self._conn: SqliteConnection | None = None
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()
        self._tx_owner: asyncio.Task[Any] | None = None
        self._tx_conn: Connection | None = None
        self._savepoints = 0
        self._closed = False
        #: Versions applied by the last :meth:`open` (empty when the schema was already current).
        self.applied_now: list[int] = []
        #: Why the last :meth:`open` failed (one line), or None when it did not.
        self.unavailable: str | None = None

    def __repr__(self) -> str:
        return f"Database({display_target(self.path)!r})"

    # -- lifecycle -------------------------------------------------------------------------------------

    async def open(self) -> Self:
        """Connect, set the engine's options and apply pending migrations. Returns ``self``.

        Raises :class:`StorageUnavailable` (one line: what and where) when the database cannot be used: a
        damaged, read-only, locked or foreign SQLite file, a file on a full disk, a folder (see :func:`_probe`),
        or a PostgreSQL server that cannot be reached or refuses the login. :meth:`reopen` tries again later.
        """
        if self.is_open:
            return self
        if self._closed:
            raise RuntimeError("this Database was closed; create a new one")
        migrations = load_migrations(self._migrations_dir, self.engine)  # fail on a bad file before connecting
        if self.engine == "postgresql":
            await self._open_postgres()
        else:
            await self._open_sqlite()
        try:
            await self._migrate(migrations)
        except BaseException as exc:
            await self._disconnect()
            if isinstance(exc, sqlite3.Error | OSError):
                raise self._unavailable(exc) from exc
            raise
        if self.unavailable is not None:
            log.warning("the database %s can be used again", display_target(self.path))
        self.unavailable = None
        return self

    async def _open_sqlite(self) -> None:
        try:
            if self.path != ":memory:":
                await asyncio.to_thread(_probe, self.path, self._busy_timeout)
            raw = await aiosqlite.connect(self.path, isolation_level=None, timeout=self._busy_timeout)
        except (sqlite3.Error, OSError) as exc:
            raise self._unavailable(exc) from exc
        try:
            raw.row_factory = sqlite3.Row
            await raw.execute("PRAGMA journal_mode=WAL")
            await raw.execute("PRAGMA synchronous=NORMAL")
            await raw.execute("PRAGMA foreign_keys=ON")
            await raw.execute(f"PRAGMA busy_timeout={int(self._busy_timeout * 1000)}")
        except BaseException as exc:
            with contextlib.suppress(Exception):
                await raw.close()
            if isinstance(exc, sqlite3.Error | OSError):
                raise self._unavailable(exc) from exc
            raise
        self._conn = SqliteConnection(raw)

    async def _open_postgres(self) -> None:
        password = os.environ.get(PASSWORD_ENV) or None  # else asyncpg reads PGPASSFILE / ~/.pgpass
        try:
            self._pool = await asyncpg.create_pool(
                self.path,
                password=password,
                min_size=1,
                max_size=self._pool_size,
                timeout=max(self._busy_timeout, 1.0),
                init=setup_postgres_connection,
            )
        except CONNECT_FAULTS as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
            self.unavailable = (
                f"the database {display_target(self.path)} cannot be reached or refused the login ({reason})"
            )
            raise StorageUnavailable(self.unavailable) from exc

    async def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        pool, self._pool = self._pool, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.raw.close()
        if pool is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pool.close(), timeout=5)

    def _unavailable(self, exc: BaseException) -> StorageUnavailable:
        self.unavailable = describe_fault(self.path, exc)
        return exc if isinstance(exc, StorageUnavailable) else StorageUnavailable(self.unavailable)

    @property
    def is_open(self) -> bool:
        """Whether the connection is up (False before :meth:`open`, after a failed one, and after close)."""
        return self._conn is not None or self._pool is not None

    async def reopen(self) -> bool:
        """After a failed :meth:`open`, try again; return whether the database is open now. Never raises
        :class:`StorageUnavailable` (it is kept in :attr:`unavailable`)."""
        if self.is_open:
            return True
        if self._closed:
            return False
        try:
            await self.open()
        except StorageUnavailable:
            return False
        return True

    async def close(self) -> None:
        """Close the connection (or pool). Idempotent; waits for a running write transaction to finish first."""
        if not self.is_open:
            self._closed = True
            return
        async with self._lock:
            self._closed = True
            if self._conn is not None:
                try:
                    await self._conn.raw.execute("PRAGMA optimize")
                except sqlite3.Error:
                    log.debug("PRAGMA optimize failed on close", exc_info=True)
            await self._disconnect()

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def _check_open(self) -> None:
        if not self.is_open:
            if self.unavailable is not None and not self._closed:
                raise StorageUnavailable(self.unavailable)
            raise RuntimeError("the database is not open")

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[Connection]:
        """A connection for one read or one transaction: SQLite's only one, or one from the pool."""
        self._check_open()
        if self._conn is not None:
            yield self._conn
            return
        assert self._pool is not None
        async with acquired(self._pool) as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def dedicated(self) -> AsyncIterator[asyncpg.pool.PoolConnectionProxy]:
        """PostgreSQL: a pooled connection of one's own, outside the write lock, for session-level work such as
        an advisory lock held across a file write."""
        self._check_open()
        if self._pool is None:
            raise RuntimeError("a dedicated connection is PostgreSQL's; SQLite has one connection")
        async with acquired(self._pool) as conn:
            yield conn.raw

    # -- migrations ------------------------------------------------------------------------------------

    async def _migrate(self, migrations: Sequence[Migration]) -> None:
        if self.engine == "postgresql":
            async with self.transaction() as tx:
                await self._lock_migrations(tx)
                await tx.execute(_BOOTSTRAP)
        else:
            async with self._connection() as conn:
                await conn.execute(_BOOTSTRAP)
        rows = await self.fetchall("SELECT version FROM schema_migrations")
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
                    await self._lock_migrations(tx)
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
                    raise  # the file, the server or the disk, not the migration: open() says which
                raise MigrationError(f"migration {migration.version:04d}_{migration.name} failed: {exc}") from exc
            self.applied_now.append(migration.version)
            log.info("applied migration %04d_%s", migration.version, migration.name)

    async def _lock_migrations(self, tx: Connection) -> None:
        """PostgreSQL: one process at a time migrates (SQLite's ``BEGIN IMMEDIATE`` already does this)."""
        if self.engine == "postgresql":
            await tx.execute(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")

    async def migrations(self) -> list[tuple[int, str, str]]:
        """The applied migrations as ``(version, name, applied_at)``, oldest first."""
        rows = await self.fetchall("SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
        return [(row[0], row[1], row[2]) for row in rows]

    async def tables(self) -> list[str]:
        """The names of the tables in the database (``schema_migrations`` included), sorted."""
        if self.engine == "postgresql":
            sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        else:
            sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        return sorted(str(row[0]) for row in await self.fetchall(sql))

    async def data_version(self) -> int:
        """A number that changes when a write was committed: SQLite's ``data_version`` (other connections' writes
        only), PostgreSQL's next transaction id (any write, this process's included)."""
        if self.engine == "postgresql":
            value = await self.fetchval("SELECT pg_snapshot_xmax(pg_current_snapshot())::text")
            return int(value)
        return int(await self.fetchval("PRAGMA data_version"))

    # -- transactions ----------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """``async with db.transaction() as conn:`` run writes atomically; commit on success, else roll back.

        Transactions are serialised by one lock per process (SQLite: ``BEGIN IMMEDIATE``, so another process's
        writer is waited for up to ``busy_timeout``; PostgreSQL: ``BEGIN``, READ COMMITTED, so a statement that
        must decide between processes uses a unique key with ``ON CONFLICT``). Inside a transaction, the same
        task may call :meth:`execute`, :meth:`fetchall` and friends, or open a nested ``transaction()``, which
        becomes a savepoint.
        """
        if self._tx_owner is not None and self._tx_owner is asyncio.current_task():
            async with self._savepoint() as conn:
                yield conn
            return
        async with self._lock, self._connection() as conn:
            try:
                await conn.execute("BEGIN IMMEDIATE" if self.engine == "sqlite" else "BEGIN")
            except BaseException:
                # a cancellation (shutdown cancels flushers) can arrive after the BEGIN ran on the driver's side:
                # roll back, or the one shared connection stays in a transaction and every later write fails
                await self._rollback(conn)
                raise
            self._tx_owner = asyncio.current_task()
            self._tx_conn = conn
            try:
                yield conn
                await conn.execute("COMMIT")
            except BaseException:
                await self._rollback(conn)
                raise
            finally:
                self._tx_owner = None
                self._tx_conn = None

    @contextlib.asynccontextmanager
    async def _savepoint(self) -> AsyncIterator[Connection]:
        conn = self._tx_conn
        assert conn is not None
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
    async def _rollback(conn: Connection) -> None:
        try:
            await conn.execute("ROLLBACK")
        except _ROLLBACK_FAULTS:
            # "no transaction is active": SQLite already rolled back (or the COMMIT went through); or the
            # PostgreSQL connection is gone, which rolls back on the server.
            log.debug("ROLLBACK failed", exc_info=True)

    @contextlib.asynccontextmanager
    async def _reading(self) -> AsyncIterator[Connection]:
        if self._tx_owner is not None and self._tx_owner is asyncio.current_task() and self._tx_conn is not None:
            yield self._tx_conn
            return
        if self.engine == "postgresql":
            async with self._connection() as conn:
                yield conn
            return
        async with self._lock, self._connection() as conn:
            yield conn

    # -- helpers ---------------------------------------------------------------------------------------

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a query and return every row (by index or column name)."""
        async with self._reading() as conn:
            return await conn.execute_fetchall(sql, params)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
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
        """Run one write statement for each parameter row, all in one transaction; return the rows changed
        (SQLite; PostgreSQL's driver does not count them: -1)."""
        async with self.transaction() as conn, conn.executemany(sql, rows) as cursor:
            return cursor.rowcount


#: The most values one ``IN (...)`` list gets (both engines allow over 32,000 parameters in a statement).
IN_LIST_CHUNK = 5000


def marks(count: int) -> str:
    """``?, ?, ?`` for ``count`` values, for an ``IN (...)`` list: the portable spelling of SQLite's
    ``json_each(?)``."""
    if count < 1:
        raise ValueError("an IN list needs at least one value")
    return ", ".join(["?"] * count)


def chunked(values: Sequence[Any], size: int = IN_LIST_CHUNK) -> Iterable[Sequence[Any]]:
    """``values`` in slices of at most ``size``, for statements with one parameter per value."""
    for start in range(0, len(values), size):
        yield values[start : start + size]
