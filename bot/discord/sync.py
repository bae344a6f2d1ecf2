"""Command sync that does not hammer Discord: sync a target only when its command payload changed.

The payload of a target (global, or one dev guild) is what ``tree.sync`` would send; its SHA-256 over sorted
JSON is kept in ``storage.meta`` under ``commands.<application id>.<target>``. A start whose tree is unchanged
syncs nothing; ``factdeck sync`` (``force=True``) always syncs.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

import discord
from discord import app_commands

from bot.storage import Meta

log = logging.getLogger(__name__)

__all__ = ["SyncResult", "sync_commands", "tree_hash", "tree_payload"]


def tree_payload(tree: app_commands.CommandTree[Any], guild: discord.abc.Snowflake | None) -> list[dict[str, Any]]:
    """The commands ``tree.sync(guild=guild)`` would send, sorted by type and name."""
    payload = [command.to_dict(tree) for command in tree.get_commands(guild=guild)]
    return sorted(payload, key=lambda c: (c.get("type", 1), c["name"]))


def tree_hash(payload: list[dict[str, Any]]) -> str:
    """A stable digest of a command payload."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class SyncResult:
    """What happened to one target: ``None`` is global."""

    guild_id: int | None
    synced: bool
    commands: int
    digest: str


async def sync_commands(
    tree: app_commands.CommandTree[Any],
    meta: Meta,
    *,
    application_id: int,
    dev_guilds: tuple[int, ...] = (),
    force: bool = False,
) -> list[SyncResult]:
    """Sync the global commands, or (when ``dev_guilds`` is set) a copy of them to each dev guild only.

    Each target is synced when its payload hash differs from the stored one, or always with ``force``.
    """
    targets: list[discord.Object | None] = [discord.Object(g) for g in dev_guilds] or [None]
    results = []
    for guild in targets:
        if guild is not None:
            tree.copy_global_to(guild=guild)
        payload = tree_payload(tree, guild)
        digest = tree_hash(payload)
        key = f"commands.{application_id}.{'global' if guild is None else guild.id}"
        if not force and await meta.get(key) == digest:
            log.info("commands for %s are up to date (%d); not syncing", key.rsplit(".", 1)[1], len(payload))
            results.append(SyncResult(guild.id if guild else None, False, len(payload), digest))
            continue
        await tree.sync(guild=guild)
        await meta.set(key, digest)
        log.info("synced %d commands to %s", len(payload), "every server" if guild is None else f"guild {guild.id}")
        results.append(SyncResult(guild.id if guild else None, True, len(payload), digest))
    return results
