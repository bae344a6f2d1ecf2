"""Card edits reach every process: a file lock across processes, a notice after each write, reconcile on connect."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.curation import CardInput, Curator, Moderator
from bot.curation.follow import CardFollower
from bot.service import CardService
from bot.storage import Storage

pytestmark = pytest.mark.postgres


async def _until(condition: Callable[[], bool], what: str, within: float = 10.0) -> None:
    """Wait for ``condition`` (checked every 10 ms); fail naming ``what`` after ``within`` seconds."""
    for _ in range(int(within / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"waited {within} s for {what}")


def _text(service: CardService, card_id: str) -> str:
    detail = service.detail(card_id)
    assert detail is not None
    return detail.card.text


async def test_an_edit_through_one_process_is_served_by_the_other(cards_copy: Path, postgres_url: str) -> None:
    one = await asyncio.to_thread(CardService.load, cards_copy)
    two = await asyncio.to_thread(CardService.load, cards_copy)
    card_id = sorted(one.library.cards)[0]
    async with Storage.open(postgres_url) as a, Storage.open(postgres_url) as b:
        follower = CardFollower(two, cards_copy)
        b.cards.follow(follower.changed, follower.reconcile)
        await _until(lambda: b.cards.connects == 1, "process two to follow")
        curator = Curator(one, cards_copy, audit=a.audit, bus=a.cards)
        await curator.start()

        await curator.edit_card(card_id, CardInput(text="Edited through process one."), Moderator("maria"))
        assert _text(one, card_id) == "Edited through process one."
        await _until(lambda: _text(two, card_id) == "Edited through process one.", "process two to serve it")
        assert (follower.files_reloaded, follower.reloads) == (1, 0)  # that one file, not the folder
        assert a.cards.received == 0  # a process does not follow its own notices

        await b.cards.close()  # process two loses its connection; an edit goes by meanwhile
        await curator.edit_card(card_id, CardInput(text="Edited while two was away."), Moderator("maria"))
        assert _text(two, card_id) == "Edited through process one."
        b.cards.follow(follower.changed, follower.reconcile)  # back: it reconciles by digest
        await _until(lambda: _text(two, card_id) == "Edited while two was away.", "process two to reconcile")
        assert follower.reloads == 1


async def test_two_processes_never_write_one_file_at_once(postgres_url: str) -> None:
    async with Storage.open(postgres_url) as a, Storage.open(postgres_url) as b:
        order: list[str] = []
        async with a.cards.lock("lab.yml"):
            waiting = asyncio.create_task(_take(b, "lab.yml", order))
            async with b.cards.lock("other.yml"):  # another file is not held up
                order.append("other")
            waiters = "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            for _ in range(1000):  # until process two waits for the lock
                if await a.db.fetchval(waiters):
                    break
                await asyncio.sleep(0.01)
            assert order == ["other"]
            order.append("one done")
        await waiting
        assert order == ["other", "one done", "two"]


async def _take(storage: Storage, file: str, order: list[str]) -> None:
    async with storage.cards.lock(file):
        order.append("two")
