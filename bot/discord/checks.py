"""Who counts as a moderator: Manage Messages, or a role named in ``moderator_roles`` (by name or id).

``is_moderator(interaction)`` is the usual call (settings from ``interaction.client.settings``, permissions in the
channel from the interaction); ``is_moderator(member, settings)`` works without an interaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import discord
from discord import app_commands

if TYPE_CHECKING:
    from bot.settings import Settings

__all__ = ["NOT_MODERATOR", "in_guild", "is_moderator", "moderator_only"]

T = TypeVar("T")

#: What a non-moderator is told.
NOT_MODERATOR = "You need Manage Messages or a moderator role for that."


def is_moderator(
    subject: discord.Interaction[Any] | discord.abc.User,
    settings: Settings | None = None,
    *,
    permissions: discord.Permissions | None = None,
) -> bool:
    """True for a guild member with Manage Messages (in the channel, for an interaction) or administrator, or
    with a moderator role configured for that guild (``moderator_roles``, by role name or id)."""
    if isinstance(subject, discord.Interaction):
        settings = settings if settings is not None else getattr(subject.client, "settings", None)
        permissions = permissions if permissions is not None else subject.permissions
        member: discord.abc.User = subject.user
    else:
        member = subject
    if not isinstance(member, discord.Member):
        return False
    perms = permissions if permissions is not None else member.guild_permissions
    if perms.manage_messages or perms.administrator:
        return True
    if settings is None:
        return False
    wanted = {str(r).casefold() for r in settings.moderator_roles_for(member.guild.id)}
    return any(str(role.id) in wanted or role.name.casefold() in wanted for role in member.roles)


def in_guild() -> Callable[[T], T]:
    """Refuse a command in direct messages, checked when it runs.

    discord.py applies ``guild_only`` to top-level commands and groups only, so a subcommand that needs a server
    (``/fact stats``, ``/fact today``) carries this check instead.
    """

    def predicate(interaction: discord.Interaction[Any]) -> bool:
        if interaction.guild_id is None:
            raise app_commands.NoPrivateMessage()
        return True

    return app_commands.check(predicate)


def moderator_only() -> Callable[[T], T]:
    """Check, when the command runs, that the member is a moderator in a server.

    Discord hides the moderator groups (``/cards``, ``/daily``) from members without Manage Messages through the
    groups' ``default_permissions``; that is a default a server can change, so every subcommand checks again here.
    """

    def predicate(interaction: discord.Interaction[Any]) -> bool:
        if interaction.guild is None:
            raise app_commands.NoPrivateMessage()
        if not is_moderator(interaction):
            raise app_commands.CheckFailure(NOT_MODERATOR)
        return True

    return app_commands.check(predicate)
