"""The per-user cooldown of /fact random, search and cite (``bot.discord.checks.per_user_cooldown``): the rate
from the settings, each user on their own, the wait Discord users are told, and expired buckets let go."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import discord
import pytest
from discord import app_commands

from bot.discord.checks import _UserCooldowns
from bot.settings import Cooldown


def _snowflake(seconds: float) -> int:
    """The id of an interaction Discord created ``seconds`` into a fixed day (its time is what cooldowns read)."""
    return (round((1_800_000_000 + seconds) * 1000) - discord.utils.DISCORD_EPOCH) << 22


@dataclass
class _Settings:
    rates: dict[str, Cooldown] = field(default_factory=dict)

    def cooldown(self, command: str) -> Cooldown | None:
        return self.rates.get(command)


@dataclass
class _User:
    id: int


@dataclass
class _Client:
    settings: _Settings


@dataclass
class _Interaction:
    id: int
    user: _User
    client: _Client


def _use(check: _UserCooldowns, settings: _Settings, user: int, at: float) -> float | None:
    """Run the check as ``user`` at ``at`` seconds; the wait it asks for (None: allowed)."""
    interaction: Any = _Interaction(_snowflake(at), _User(user), _Client(settings))
    try:
        assert check(interaction) is True
    except app_commands.CommandOnCooldown as refused:
        return refused.retry_after
    return None


def test_each_user_gets_the_rate_of_the_settings_and_is_told_how_long_to_wait() -> None:
    settings = _Settings({"search": Cooldown(rate=2, per=10.0)})
    check = _UserCooldowns("search")
    assert _use(check, settings, 1, 100.0) is None
    assert _use(check, settings, 1, 101.0) is None
    assert _use(check, settings, 1, 102.0) == pytest.approx(8.0)  # the window opened at 100 s
    assert _use(check, settings, 2, 102.0) is None  # another user is not slowed down
    assert _use(check, settings, 1, 110.5) is None  # the window has passed


def test_no_cooldown_configured_lets_every_use_through_and_keeps_nothing() -> None:
    check = _UserCooldowns("random")
    for second in range(50):
        assert _use(check, _Settings(), 1, float(second) / 100) is None
    assert len(check) == 0


def test_expired_buckets_are_let_go_so_memory_follows_the_active_users() -> None:
    settings = _Settings({"cite": Cooldown(rate=5, per=10.0)})
    check = _UserCooldowns("cite")
    for user in range(1000):
        assert _use(check, settings, user, 1000.0 + user / 1000) is None
    assert len(check) == 1000
    assert _use(check, settings, 5000, 1030.0) is None  # 30 s later: the others' buckets have expired
    assert len(check) == 1


def test_a_changed_rate_applies_to_the_next_use() -> None:
    settings = _Settings({"search": Cooldown(rate=1, per=60.0)})
    check = _UserCooldowns("search")
    assert _use(check, settings, 1, 10.0) is None
    assert _use(check, settings, 1, 11.0) is not None
    settings.rates["search"] = Cooldown(rate=5, per=60.0)
    assert _use(check, settings, 1, 12.0) is None
