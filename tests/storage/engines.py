"""The two storage engines in the tests: SQLite always, PostgreSQL when ``FACTDECK_TEST_POSTGRES`` names a server.

A test that takes ``db_target`` runs once per engine: ``[sqlite]`` with a file in ``tmp_path``, ``[postgresql]``
in a schema of its own on the server ``FACTDECK_TEST_POSTGRES`` names (``make test-pg`` starts a throwaway
cluster and sets it; without it the PostgreSQL half is skipped). The PostgreSQL half carries the ``postgres``
marker, so ``pytest -m postgres`` runs just that half.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.storage.sqltext import numbered_placeholders

ENV = "FACTDECK_TEST_POSTGRES"
#: The parameters of a test that runs on both engines.
ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _run(coro: Any) -> Any:
    """Run ``coro`` to the end on a loop of its own (fixtures are synchronous; a test's loop may be running)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


def _with_schema(base: str, schema: str) -> str:
    """``base`` with ``search_path`` set to ``schema`` (asyncpg passes unknown URL parameters to the server)."""
    return f"{base}{'&' if '?' in base else '?'}search_path={schema}"


async def _admin(base: str, sql: str) -> None:
    conn = await asyncpg.connect(base)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def new_schema_url(base: str) -> tuple[str, str]:
    """A fresh, empty schema on ``base``'s server: ``(its URL, its name)``."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    _run(_admin(base, f"CREATE SCHEMA {schema}"))
    return _with_schema(base, schema), schema


def drop_schema(base: str, schema: str) -> None:
    _run(_admin(base, f"DROP SCHEMA IF EXISTS {schema} CASCADE"))


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL on an empty schema of its own (skips when no server is configured)."""
    base = os.environ.get(ENV)
    if not base:
        pytest.skip(f"PostgreSQL half: set {ENV} to a server's URL, or run make test-pg")
    url, schema = new_schema_url(base)
    try:
        yield url
    finally:
        drop_schema(base, schema)


@pytest.fixture(params=ENGINES)
def db_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """What ``Database``/``Storage.open`` opens, once per engine: a SQLite file, or a PostgreSQL schema's URL."""
    if request.param == "sqlite":
        yield str(tmp_path / "bot.db")
        return
    yield request.getfixturevalue("postgres_url")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without a server, the PostgreSQL half is left out (deselected, not skipped one by one): ``make test`` runs
    the SQLite half and says nothing about the other; ``make test-pg`` runs it."""
    if os.environ.get(ENV):
        return
    kept = [item for item in items if item.get_closest_marker("postgres") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item.get_closest_marker("postgres")])
        items[:] = kept


def query(target: str | os.PathLike[str], sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` (``?`` placeholders) read the way another process would, on either engine; callable
    from a test's event loop (PostgreSQL is read on a thread of its own)."""
    text = os.fspath(target)
    if not text.startswith("postgresql"):
        with contextlib.closing(sqlite3.connect(text)) as conn:
            return conn.execute(sql, params).fetchall()

    async def read() -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(text)
        try:
            return [tuple(row) for row in await conn.fetch(numbered_placeholders(sql), *params)]
        finally:
            await conn.close()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        rows: list[tuple[Any, ...]] = pool.submit(_run, read()).result()
    return rows
