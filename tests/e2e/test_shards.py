"""Shards across processes: each bot process runs its own gateway shards against one database."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import discord
import pytest

from bot.discord.app import FactdeckBot
from tests.e2e.conftest import start_bot, write_config
from tests.fakediscord import FakeDiscord, FakeGuild

pytestmark = pytest.mark.e2e


def _shard_of(guild: FakeGuild, count: int) -> int:
    return (guild.id >> 22) % count


def _config(
    folder: Path, library: Path, cache: Path | None, database: Path, shards: str | None, count: int | None
) -> Path:
    folder.mkdir()
    if cache is None:  # a cache of its own (a process that writes the cards must not share one)
        cache = folder / "own-cache"
        cache.mkdir()
    config = write_config(folder, library, cache)
    text = config.read_text(encoding="utf-8").replace("database: data/factdeck.db", f"database: {database}")
    if shards is not None:
        text += f"shards: '{shards}'\nshard_count: {count}\n"
    config.write_text(text, encoding="utf-8")
    return config


@contextlib.asynccontextmanager
async def _process(
    fake: FakeDiscord,
    folder: Path,
    library: Path,
    cache: Path | None,
    database: Path,
    shards: str | None,
    count: int | None,
) -> AsyncIterator[FactdeckBot]:
    """A bot as ``factdeck run --shards ... --shard-count ...`` would start it, on the shared ``database``."""
    config = _config(folder, library, cache, database, shards, count)
    async with start_bot(fake, config) as (_settings, bot, _task):
        yield bot


async def test_two_processes_of_two_shards_answer_every_server_exactly_once(
    world: tuple, library: Path, warm_cache: Path, tmp_path: Path
) -> None:
    fake, *_ = world
    for i in range(8):
        fake.add_guild(f"server {i}", shard=(i % 4, 4)).add_channel("general")
    guilds = [g for g in fake.guilds if g.channels]
    database = tmp_path / "shared.db"
    async with (
        _process(fake, tmp_path / "a", library, warm_cache, database, "0-1", 4) as a,
        _process(fake, tmp_path / "b", library, warm_cache, database, "2-3", 4) as b,
    ):
        assert sorted(s for s in fake.identified_shards if s is not None) == [(0, 4), (1, 4), (2, 4), (3, 4)]
        assert {g.id for g in a.guilds} == {g.id for g in fake.guilds if _shard_of(g, 4) in (0, 1)}
        assert {g.id for g in b.guilds} == {g.id for g in fake.guilds if _shard_of(g, 4) in (2, 3)}
        for guild in guilds:
            member = guild.add_member(f"reader of {guild.name}")
            it = await fake.slash(guild, guild.channels[0], member, "fact random")
            await it.wait_message()
            assert len(list(it.messages())) == 1  # one process answered, not two
        on_a = sum(1 for g in guilds if _shard_of(g, 4) in (0, 1))
        assert a.storage.views.pending + a.storage.views.written == on_a
        assert b.storage.views.pending + b.storage.views.written == len(guilds) - on_a
    fake.assert_no_errors()


async def test_without_shards_one_process_runs_the_count_discord_recommends(
    world: tuple, library: Path, warm_cache: Path, tmp_path: Path
) -> None:
    fake, *_ = world
    fake.recommended_shards = 2
    other = fake.add_guild("on the other shard", shard=(1 - _shard_of(fake.guilds[0], 2), 2))
    async with _process(fake, tmp_path / "a", library, warm_cache, tmp_path / "f.db", None, None) as bot:
        assert sorted(s for s in fake.identified_shards if s is not None) == [(0, 2), (1, 2)]
        assert bot.shard_count == 2
        assert {g.id for g in bot.guilds} == {g.id for g in fake.guilds}
        assert other.id in {g.id for g in bot.guilds}
    fake.assert_no_errors()


def test_shards_from_the_command_line_are_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli.main import main

    config = tmp_path / "config.yml"
    config.write_text("database: f.db\n", encoding="utf-8")
    assert main(["run", "--config", str(config), "--shards", "0-3"]) == 2
    assert "shards and shard_count go together" in capsys.readouterr().err
    assert main(["run", "--config", str(config), "--shards", "6-9", "--shard-count", "8"]) == 2
    assert "shard 9 does not exist with shard_count 8" in capsys.readouterr().err
    assert main(["run", "--config", str(config), "--shards", "3-1", "--shard-count", "8"]) == 2
    assert "runs backwards" in capsys.readouterr().err


async def test_an_edit_through_one_process_is_served_by_the_other(
    world: tuple, library: Path, tmp_path: Path, e2e_engine: str
) -> None:
    if e2e_engine == "sqlite":
        pytest.skip("one process per SQLite file: there is no other process to tell")
    fake, guild, chan, _alice, _bob = world
    maria = guild.add_member("maria", roles=[guild.add_role("Moderators", permissions=discord.Permissions(8192))])
    elsewhere = fake.add_guild("elsewhere", shard=(1 - _shard_of(guild, 2), 2))
    reader, room = elsewhere.add_member("reader"), elsewhere.add_channel("general")
    cards = tmp_path / "cards"  # one folder both processes serve, as a shared volume
    await asyncio.to_thread(shutil.copytree, library, cards)
    database = tmp_path / "unused.db"  # the PostgreSQL schema of the test is used
    mine, theirs = str(_shard_of(guild, 2)), str(_shard_of(elsewhere, 2))
    async with (
        _process(fake, tmp_path / "a", cards, None, database, mine, 2) as a,
        _process(fake, tmp_path / "b", cards, None, database, theirs, 2) as b,
    ):
        assert a.get_guild(elsewhere.id) is None
        assert b.get_guild(guild.id) is None
        await fake.wait_for(lambda: b.storage.cards.connects == 1, what="process B to follow card edits")
        it = await fake.slash(guild, chan, maria, "cards edit", card="lab-001")
        modal = await it.wait_modal()
        defaults = {t["_label"]: t.get("value") for t in modal.text_inputs()}
        new_text = "Mitochondria are edited through process A."
        message = await (await fake.submit_modal(modal, {**defaults, "Text": new_text})).wait_message()
        assert "Updated card `lab-001`" in message.text

        def served_by_b() -> bool:
            detail = b.service.detail("lab-001")
            return detail is not None and detail.card.text == new_text

        await fake.wait_for(served_by_b, timeout=5, what="process B to serve process A's edit")
        shown = await (await fake.slash(elsewhere, room, reader, "fact show", card="lab-001")).wait_message()
        assert new_text in shown.embed["description"]
    fake.assert_no_errors()
