"""The two engines under :class:`bot.storage.db.Database`: SQLite (aiosqlite) and PostgreSQL (asyncpg).

Both hand out the same :class:`Connection`: ``await conn.execute(sql, params)`` (or ``async with`` it) gives a
:class:`Cursor` with ``rowcount``, ``lastrowid`` (SQLite only; write ``RETURNING id`` to be portable),
``fetchone()`` and ``fetchall()``; ``conn.executemany(sql, rows)`` and ``conn.execute_fetchall(sql, params)``.
SQL uses ``?`` placeholders on both. Rows are read by index or by column name on both (:class:`Row`).

Errors are the standard library's DB-API classes on both engines, so a repository catches one set:
a broken constraint is :class:`sqlite3.IntegrityError`, any other database error a :class:`sqlite3.DatabaseError`
subclass, and a server that cannot be reached is :class:`~bot.storage.db.StorageUnavailable`.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import decimal
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterable, Iterator, Sequence
from types import TracebackType
from typing import Any, Protocol

import aiosqlite
import asyncpg

from .sqltext import numbered_placeholders, returns_rows

__all__ = ["Connection", "Cursor", "PostgresConnection", "Row", "SqliteConnection", "translate_postgres_error"]


class Row(Protocol):
    """A result row on either engine (``sqlite3.Row`` or ``asyncpg.Record``): by index or by column name."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Any]: ...

    def keys(self) -> Iterable[str]: ...


class Cursor:
    """What a statement gave: its rows (read eagerly), how many rows it changed, and SQLite's new rowid."""

    __slots__ = ("_rows", "lastrowid", "rowcount")

    def __init__(self, rows: Sequence[Row], rowcount: int, lastrowid: int | None = None) -> None:
        self._rows = list(rows)
        self.rowcount = rowcount
        self.lastrowid = lastrowid

    async def fetchone(self) -> Row | None:
        return self._rows.pop(0) if self._rows else None

    async def fetchall(self) -> list[Row]:
        rows, self._rows = self._rows, []
        return rows

    async def close(self) -> None:
        self._rows = []


class Result:
    """``await`` it for the :class:`Cursor`, or ``async with`` it (aiosqlite's calling convention)."""

    __slots__ = ("_run",)

    def __init__(self, run: Callable[[], Awaitable[Cursor]]) -> None:
        self._run = run

    def __await__(self) -> Generator[Any, None, Cursor]:
        return self._run().__await__()

    async def __aenter__(self) -> Cursor:
        return await self._run()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None


class Connection(abc.ABC):
    """One connection of either engine, as the repositories see it inside ``db.transaction()``."""

    #: ``sqlite`` or ``postgresql``.
    engine: str

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        return Result(lambda: self._execute(sql, params))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Result:
        return Result(lambda: self._executemany(sql, rows))

    async def execute_fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return await (await self._execute(sql, params)).fetchall()

    @abc.abstractmethod
    async def _execute(self, sql: str, params: Sequence[Any]) -> Cursor: ...

    @abc.abstractmethod
    async def _executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Cursor: ...


class SqliteConnection(Connection):
    """The aiosqlite connection, unchanged in behaviour."""

    engine = "sqlite"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.raw = conn

    async def _execute(self, sql: str, params: Sequence[Any]) -> Cursor:
        async with self.raw.execute(sql, params) as cursor:
            rows: list[Row] = list(await cursor.fetchall())
            return Cursor(rows, cursor.rowcount, cursor.lastrowid)

    async def _executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Cursor:
        async with self.raw.executemany(sql, rows) as cursor:
            return Cursor([], cursor.rowcount, None)


_STATUS_COUNT = re.compile(r"(\d+)\s*$")


#: What PostgreSQL stores for a NUL character, which its text type cannot hold (SQLite's can).
NUL_STAND_IN = "\ufffd"


def _storable(params: Sequence[Any]) -> Sequence[Any]:
    """``params`` with every NUL in a string replaced by :data:`NUL_STAND_IN`, so one stray NUL (a pasted query,
    say) never fails a whole batch; the same ``params`` when there is none (the usual case, checked cheaply)."""
    if not any(isinstance(p, str) and "\x00" in p for p in params):
        return params
    return [p.replace("\x00", NUL_STAND_IN) if isinstance(p, str) else p for p in params]


class PostgresConnection(Connection):
    """An asyncpg connection speaking ``?`` placeholders, with errors as the DB-API classes. PostgreSQL's text
    cannot hold NUL: a NUL in a parameter is stored as U+FFFD (:data:`NUL_STAND_IN`)."""

    engine = "postgresql"

    def __init__(self, conn: asyncpg.pool.PoolConnectionProxy) -> None:
        self.raw = conn

    async def _execute(self, sql: str, params: Sequence[Any]) -> Cursor:
        query = numbered_placeholders(sql)
        with translate_postgres_error():
            params = _storable(params)
            if returns_rows(sql):
                rows: list[Row] = list(await self.raw.fetch(query, *params))
                return Cursor(rows, len(rows))
            status = await self.raw.execute(query, *params)
        match = _STATUS_COUNT.search(status or "")
        return Cursor([], int(match.group(1)) if match else -1)

    async def _executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Cursor:
        with translate_postgres_error():
            await self.raw.executemany(numbered_placeholders(sql), (_storable(row) for row in rows))
        return Cursor([], -1)  # asyncpg does not report it


def _numeric(text: str) -> int | float:
    """PostgreSQL's ``numeric`` (``SUM`` of integers, ``AVG``) as SQLite gives it: an int, or a float."""
    value = decimal.Decimal(text)
    return int(value) if value == value.to_integral_value() else float(value)


async def setup_postgres_connection(conn: asyncpg.Connection) -> None:
    """Per connection: ``numeric`` results come back as int or float, as on SQLite."""
    await conn.set_type_codec("numeric", encoder=str, decoder=_numeric, schema="pg_catalog", format="text")


#: Errors that mean the server cannot be used now (not a fault of the statement).
UNREACHABLE: tuple[type[Exception], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.InsufficientResourcesError,
    asyncpg.AdminShutdownError,
)


#: Anything a connection attempt to the server can raise: unreachable, or refused (login, database, permissions).
CONNECT_FAULTS: tuple[type[Exception], ...] = (*UNREACHABLE, asyncpg.PostgresError)


@contextlib.contextmanager
def translate_postgres_error() -> Iterator[None]:
    """Raise asyncpg's errors as the standard DB-API classes the repositories already catch."""
    from .db import StorageUnavailable  # the facade's error; db imports this module

    try:
        yield
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise sqlite3.IntegrityError(f"{exc} ({exc.sqlstate})") from exc
    except UNREACHABLE as exc:
        raise StorageUnavailable(f"the PostgreSQL database cannot be used now ({type(exc).__name__}: {exc})") from exc
    except asyncpg.PostgresError as exc:
        raise sqlite3.OperationalError(f"{exc} ({exc.sqlstate})") from exc


@contextlib.asynccontextmanager
async def acquired(pool: asyncpg.Pool) -> AsyncIterator[PostgresConnection]:
    """A connection from ``pool`` for one read or one transaction."""
    with translate_postgres_error():
        conn = await pool.acquire()
    try:
        yield PostgresConnection(conn)
    finally:
        with contextlib.suppress(Exception):
            await pool.release(conn)
