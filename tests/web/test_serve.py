"""``factdeck web`` as a real process: it serves the pages, counts a reader's view in the database with source
``web``, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sqlite3
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import ROOT
from tests.web.conftest import BROWSER


async def _factdeck_web(tmp_path: Path, port: str, **streams: Any) -> asyncio.subprocess.Process:
    """``factdeck web --port PORT`` with a config of its own in ``tmp_path`` (no Discord token needed)."""
    (tmp_path / "config.yml").write_text("database: factdeck.db\nview_flush_interval: 0.1\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FACTDECK_CONFIG": str(tmp_path / "config.yml")}
    env.pop("DISCORD_TOKEN", None)
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "web",
        "--port",
        port,
        cwd=tmp_path,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        **streams,
    )


async def test_factdeck_web_serves_counts_views_and_stops_on_sigterm(tmp_path: Path) -> None:
    log = (tmp_path / "web.log").open("wb")
    process = await _factdeck_web(tmp_path, "0", stdout=asyncio.subprocess.PIPE, stderr=log)
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=60)).decode()
        found = re.search(r"at (http://127\.0\.0\.1:\d+)", line)
        assert found, line
        async with aiohttp.ClientSession(headers=BROWSER) as session:
            async with session.get(found[1] + "/card/therapeutic-alliance-004") as response:
                assert response.status == 200
                assert "Bartle-Haring" in await response.text()
            async with session.get(found[1] + "/api/") as response:
                assert (await response.json())[0]["id"] == "therapeutic-alliance"
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    with sqlite3.connect(tmp_path / "factdeck.db") as conn:
        rows = conn.execute("SELECT card_id, guild_id, channel_id, user_id, command FROM views").fetchall()
    assert rows == [("therapeutic-alliance-004", None, None, None, "web")]


@pytest.mark.parametrize("port", ["-1", "70000", "taken"])
async def test_a_port_that_cannot_be_used_is_one_clear_line(tmp_path: Path, port: str) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    if port == "taken":
        port = str(taken.getsockname()[1])
    process = await _factdeck_web(tmp_path, port, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    taken.close()
    assert process.returncode != 0
    assert "Traceback" not in err.decode()
    assert "port" in err.decode() or "already in use" in err.decode()
