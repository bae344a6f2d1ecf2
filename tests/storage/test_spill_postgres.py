"""PostgreSQL unreachable at shutdown: the views of the last second wait in the process's side file and the next
start writes them, exactly once (the PostgreSQL half; SQLite's side file is tested in ``test_spill.py``).

The server is made unreachable for real: the bot talks to it through a TCP relay that the test cuts, so its
connections die and new ones are refused, as when the database host goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.discord.app import _open_storage
from bot.settings import Settings
from bot.storage import ViewEvent, spill
from tests.storage.engines import ENV, drop_schema, new_schema_url, query

pytestmark = pytest.mark.postgres


class Relay:
    """A TCP port that forwards to the server of a ``postgresql://`` URL (its socket folder or host); ``cut()``
    closes every relayed connection and stops listening, so the server is unreachable through :attr:`url`."""

    def __init__(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        params = dict(urllib.parse.parse_qsl(parts.query))
        self._host = params.pop("host", None) or parts.hostname or "127.0.0.1"
        self._port = int(params.pop("port", None) or parts.port or 5432)
        self._parts, self._params = parts, params
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self.url = ""
        self.port = 0

    async def start(self, port: int = 0) -> None:
        """Listen (again, on the same port after :meth:`cut`: the server is back at the same address)."""
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", port)
        port = self._server.sockets[0].getsockname()[1]
        self.port = port
        user = f"{self._parts.username}@" if self._parts.username else ""
        query = urllib.parse.urlencode(self._params)
        self.url = urllib.parse.urlunsplit(("postgresql", f"{user}127.0.0.1:{port}", self._parts.path, query, ""))

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._host.startswith("/"):
            up_reader, up_writer = await asyncio.open_unix_connection(f"{self._host}/.s.PGSQL.{self._port}")
        else:
            up_reader, up_writer = await asyncio.open_connection(self._host, self._port)
        self._writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await asyncio.sleep(0)


@contextlib.asynccontextmanager
async def relayed(url: str) -> AsyncIterator[Relay]:
    relay = Relay(url)
    await relay.start()
    try:
        yield relay
    finally:
        with contextlib.suppress(Exception):
            await relay.cut()


def _settings(url: str, folder: Path) -> Settings:
    return Settings(database=folder / "factdeck.db", database_url=url, view_flush_interval=60)


async def test_views_of_a_server_unreachable_at_shutdown_are_written_at_the_next_start(
    postgres_url: str, tmp_path: Path
) -> None:
    async with relayed(postgres_url) as relay:
        async with _open_storage(_settings(relay.url, tmp_path)) as storage:
            assert storage.unavailable is None
            for n in range(7):
                storage.views.record(ViewEvent(f"lab-{n:03d}", 10, 20, 1000 + n, "random"))
            await relay.cut()  # the database host goes away with the views of the last second still buffered
        assert query(postgres_url, "SELECT COUNT(*) FROM views") == [(0,)]

        await relay.start(relay.port)  # the server is back, at the same address
        for _ in range(2):  # the next start writes them; a start after it writes nothing more
            async with _open_storage(_settings(relay.url, tmp_path)):
                pass
            assert query(postgres_url, "SELECT COUNT(*) FROM views") == [(7,)]


async def test_two_processes_keep_their_views_apart(postgres_url: str) -> None:
    """Two processes (different shards) on one server, each cut off with views buffered: each start writes its own
    process's views once, never the other's twice."""
    with tempfile.TemporaryDirectory() as folder:
        shared = Path(folder)  # one data folder for both, as on a host running two processes
        async with relayed(postgres_url) as relay:

            def settings(shards: str) -> Settings:
                database = shared / "factdeck.db"
                return Settings(database=database, database_url=relay.url, shards=shards, shard_count=2)

            assert settings("0").views_side_file != settings("1").views_side_file
            for shards, views in (("0", 3), ("1", 4)):
                async with _open_storage(settings(shards)) as storage:
                    for n in range(views):
                        storage.views.record(ViewEvent("lab-001", 10, 20, n, "random"))
                    await relay.cut()
                await relay.start(relay.port)
            for shards in ("0", "1", "0"):
                async with _open_storage(settings(shards)):
                    pass
        assert query(postgres_url, "SELECT COUNT(*) FROM views") == [(7,)]


async def test_a_side_file_started_afresh_leaves_one_mark_in_the_shared_database(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spill, "ROTATE_BYTES", 200)
    async with _open_storage(_settings(postgres_url, tmp_path)) as storage:
        for _ in range(3):  # each round fills the file past the limit: it starts afresh after the commit
            for n in range(20):
                storage.views.record(ViewEvent("lab-001", 10, 20, n, "random"))
            await storage.views.flush()
    marks = query(postgres_url, "SELECT key FROM meta WHERE key LIKE 'views.spill%'")
    assert len(marks) == 1
    assert query(postgres_url, "SELECT COUNT(*) FROM views") == [(60,)]


async def test_views_kept_for_one_database_are_never_written_into_another(postgres_url: str, tmp_path: Path) -> None:
    base = os.environ[ENV]
    other, schema = await asyncio.to_thread(new_schema_url, base)  # the same data folder, another database
    try:
        async with relayed(postgres_url) as relay:
            async with _open_storage(_settings(relay.url, tmp_path)) as storage:
                for n in range(5):
                    storage.views.record(ViewEvent("lab-001", 10, 20, n, "random"))
                await relay.cut()
            async with _open_storage(_settings(other, tmp_path)):
                pass
            assert query(other, "SELECT COUNT(*) FROM views") == [(0,)]
            await relay.start(relay.port)
            async with _open_storage(_settings(relay.url, tmp_path)):
                pass
        assert query(postgres_url, "SELECT COUNT(*) FROM views") == [(5,)]
    finally:
        await asyncio.to_thread(drop_schema, base, schema)
