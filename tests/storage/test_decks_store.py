"""The server_decks table: when the bot left a server, and when its collections were archived."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bot.storage import Storage

T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


async def test_a_server_left_is_due_after_its_grace_period_until_archived_or_rejoined(tmp_path: Path) -> None:
    async with Storage.open(tmp_path / "f.db") as storage:
        decks = storage.decks
        await decks.left(1, T0)
        await decks.left(1, T0 + dt.timedelta(days=3))  # a second removal keeps the first time
        await decks.left(2, T0)
        assert await decks.due(T0 - dt.timedelta(milliseconds=1)) == []
        assert sorted(await decks.due(T0)) == [1, 2]
        await decks.joined(2)
        assert await decks.due(T0 + dt.timedelta(days=30)) == [1]
        await decks.archived(1, T0 + dt.timedelta(days=30))
        assert await decks.due(T0 + dt.timedelta(days=60)) == []
        states = await decks.states()
        assert states[1].left_at == T0
        assert states[1].archived_at == T0 + dt.timedelta(days=30)
        assert states[2].left_at is None
