"""Who may do what: moderators of a server, and curators of the shared card library.

A moderator has Manage Messages (or administrator) in the server, read from the member's server-wide
permissions, never from one channel's overwrites, or holds a role named in ``moderator_roles``.

The card library is shared by every server that invites the bot, so changing it (``/cards``) takes more: the
bot's owner (or a member of its team) may anywhere; otherwise only a moderator of a server named in
``curator_guilds``. With no ``curator_guilds`` set, only the owner curates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import discord
from discord import app_commands

from bot.settings import Settings

if TYPE_CHECKING:
    from bot.discord.app import FactdeckBot

__all__ = [
    "NOT_A_CURATOR_GUILD",
    "NOT_MODERATOR",
    "NOT_THIS_SERVER",
    "ONLY_THE_OWNER",
    "curates_here",
    "curator_only",
    "curator_refusal",
    "in_guild",
    "is_moderator",
    "may_curate",
    "moderator_only",
    "moderator_refusal",
    "per_user_cooldown",
]

T = TypeVar("T")

#: What a non-moderator is told.
NOT_MODERATOR = "You need Manage Messages or a moderator role for that."
#: What a moderator of a server that does not curate the shared library is told.
NOT_A_CURATOR_GUILD = (
    "Every server that uses this bot reads the same cards, so they are changed only from the servers its owner "
    "named in `curator_guilds`, and this server is not one of them. Ask the bot's owner to change a card."
)
#: What someone is told who tries to change a server's own collection from elsewhere.
NOT_THIS_SERVER = "That collection belongs to another server: it can only be changed there, by its moderators."
#: What a moderator is told when no server curates (no ``curator_guilds``).
ONLY_THE_OWNER = (
    "Every server that uses this bot reads the same cards, so only the bot's owner changes them "
    "(no server is named in `curator_guilds`). Ask the bot's owner to change a card."
)


def is_moderator(member: discord.abc.User, settings: Settings) -> bool:
    """True for a server member with Manage Messages or administrator in the server (server-wide: a channel's
    overwrite does not count), or with a moderator role configured for that server (``moderator_roles``, by
    role name or id)."""
    if not isinstance(member, discord.Member):
        return False
    perms = member.guild_permissions
    if perms.manage_messages or perms.administrator:
        return True
    wanted = {str(r).casefold() for r in settings.moderator_roles_for(member.guild.id)}
    return any(str(role.id) in wanted or role.name.casefold() in wanted for role in member.roles)


async def curator_refusal(interaction: discord.Interaction[FactdeckBot]) -> str | None:
    """Why the user may not change the shared card library here, or None when they may."""
    bot = interaction.client
    if await bot.is_owner(interaction.user):
        return None
    settings = bot.settings
    if not settings.curator_guilds:
        return ONLY_THE_OWNER
    if interaction.guild_id not in settings.curator_guilds:
        return NOT_A_CURATOR_GUILD
    if not is_moderator(interaction.user, settings):
        return NOT_MODERATOR
    return None


async def may_curate(interaction: discord.Interaction[FactdeckBot], audience: int | None) -> str | None:
    """Why the user may not change ``audience``'s collections here (None: the shared library, see
    :func:`curator_refusal`; a server id: that server's own), or None when they may.

    A server's own collections are changed only from that server, by its moderators (or the bot's owner): a form
    or button carried to another server, or a forged one, is refused there.
    """
    if audience is None:
        return await curator_refusal(interaction)
    if interaction.guild_id != audience:
        return NOT_THIS_SERVER
    if is_moderator(interaction.user, interaction.client.settings) or await interaction.client.is_owner(
        interaction.user
    ):
        return None
    return NOT_MODERATOR


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

    def predicate(interaction: discord.Interaction[FactdeckBot]) -> bool:
        if interaction.guild is None:
            raise app_commands.NoPrivateMessage()
        if not is_moderator(interaction.user, interaction.client.settings):
            raise app_commands.CheckFailure(NOT_MODERATOR)
        return True

    return app_commands.check(predicate)


def curates_here() -> Callable[[T], T]:
    """Check, when the command runs, that the member may curate something here: a moderator of the server (its own
    collections) or the bot's owner. Whether they may change the collection or card they name (the shared library
    needs more, see :func:`may_curate`) is decided by the command once it knows which."""

    async def predicate(interaction: discord.Interaction[FactdeckBot]) -> bool:
        if interaction.guild is None:
            raise app_commands.NoPrivateMessage()
        refusal = await moderator_refusal(interaction)
        if refusal is not None:
            raise app_commands.CheckFailure(refusal)
        return True

    return app_commands.check(predicate)


async def moderator_refusal(interaction: discord.Interaction[FactdeckBot]) -> str | None:
    """Why the user may not curate anything here (a server's moderators curate its own collections; the bot's
    owner may too), or None when they may: :func:`curates_here` for buttons and forms, checked at every press."""
    if interaction.guild_id is None:
        return "Use this in a server."
    if is_moderator(interaction.user, interaction.client.settings) or await interaction.client.is_owner(
        interaction.user
    ):
        return None
    return NOT_MODERATOR


def curator_only() -> Callable[[T], T]:
    """Check, when the command runs, that the user may change the shared card library here
    (:func:`curator_refusal`); the refusal says why."""

    async def predicate(interaction: discord.Interaction[FactdeckBot]) -> bool:
        if interaction.guild is None:
            raise app_commands.NoPrivateMessage()
        refusal = await curator_refusal(interaction)
        if refusal is not None:
            raise app_commands.CheckFailure(refusal)
        return True

    return app_commands.check(predicate)


class _UserCooldowns:
    """The per-user cooldown of one command, its rate read from the settings (``cooldowns``) for each new bucket.

    discord.py's ``dynamic_cooldown`` looks at every user's bucket on every use, to drop the expired ones: with
    thousands of members using ``/fact search`` within a minute, each search walked thousands of buckets. Here a use
    looks at its own user's bucket only, and the buckets whose window has passed are dropped at most once per
    cooldown period (so each bucket is looked at about once per period, however busy the command). Such a bucket
    behaves as a new one would (all its uses are back), so when it is dropped changes nothing a user sees.
    """

    __slots__ = ("_buckets", "_swept", "command")

    def __init__(self, command: str) -> None:
        self.command = command
        self._buckets: dict[int, app_commands.Cooldown] = {}
        self._swept = 0.0

    def __call__(self, interaction: discord.Interaction[FactdeckBot]) -> bool:
        wanted = interaction.client.settings.cooldown(self.command)
        if wanted is None:
            return True
        # discord.py's clock for cooldowns: when Discord created the interaction (its snowflake), in seconds.
        now = ((interaction.id >> 22) + discord.utils.DISCORD_EPOCH) / 1000
        buckets = self._buckets
        if now - self._swept > wanted.per:
            self._swept = now
            for user_id in [k for k, b in buckets.items() if b.get_tokens(now) == b.rate]:  # as good as new
                del buckets[user_id]
        bucket = buckets.get(interaction.user.id)
        if bucket is None or bucket.rate != wanted.rate or bucket.per != wanted.per:
            bucket = buckets[interaction.user.id] = app_commands.Cooldown(wanted.rate, wanted.per)
        retry_after = bucket.update_rate_limit(now)
        if retry_after is not None:
            raise app_commands.CommandOnCooldown(bucket, retry_after)
        return True

    def __len__(self) -> int:
        return len(self._buckets)


def per_user_cooldown(command: str) -> Callable[[T], T]:
    """Each user may run ``command`` ``rate`` times per ``per`` seconds (the ``cooldowns`` setting; none when it is
    absent or its rate is 0); beyond that the command is refused with :class:`discord.app_commands.CommandOnCooldown`,
    which says how long to wait. Checked in constant time per use (see :class:`_UserCooldowns`)."""
    return app_commands.check(_UserCooldowns(command))
