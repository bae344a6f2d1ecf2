"""Test-side model of the fake Discord's world: users, guilds, roles, channels, messages, attachments.

Everything here is plain Python state that the fake server turns into Discord JSON payloads.  Setup
methods are synchronous; when a bot session is live, mutations are also pushed to it as gateway events
(``CHANNEL_CREATE``, ``CHANNEL_UPDATE``, ``GUILD_ROLE_CREATE``...), so the bot's cache stays consistent.
"""

# The wait helpers take a `timeout=` on purpose: it is the test-facing API (default 5 s, never hang).
# ruff: noqa: ASYNC109

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .interactions import FakeInteraction
    from .server import FakeDiscord

DISCORD_EPOCH_MS = 1420070400000

# Permission bits (https://discord.com/developers/docs/topics/permissions).
ADMINISTRATOR = 1 << 3
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
ALL_PERMISSIONS = (1 << 53) - 1

#: What a fresh guild's @everyone role may do (a sensible subset of Discord's defaults).
DEFAULT_EVERYONE_PERMISSIONS = (
    (1 << 0)  # create_instant_invite
    | (1 << 6)  # add_reactions
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | (1 << 18)  # use_external_emojis
    | (1 << 20)  # connect
    | (1 << 21)  # speak
    | (1 << 26)  # change_nickname
    | (1 << 31)  # use_application_commands
    | (1 << 35)  # create_public_threads
    | (1 << 38)  # send_messages_in_threads
)

# Message flags.
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_COMPONENTS_V2 = 1 << 15

_counter = itertools.count(1)


def snowflake() -> int:
    """Return a new, unique, time-ordered Discord snowflake."""
    ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
    return (ms << 22) | (next(_counter) & 0x3FFFFF)


def iso_now() -> str:
    """Current time as Discord's ISO 8601 timestamp."""
    return dt.datetime.now(dt.UTC).isoformat()


class _HasValue(Protocol):
    value: int


def perm_value(value: int | _HasValue | None) -> int:
    """Accept an ``int`` bitfield or anything with ``.value`` (e.g. ``discord.Permissions``)."""
    if value is None:
        return 0
    return value if isinstance(value, int) else int(value.value)


@dataclass(eq=False)
class FakeUser:
    """A Discord user (a person or the bot)."""

    id: int
    username: str
    global_name: str | None = None
    bot: bool = False
    avatar: str | None = None

    @property
    def name(self) -> str:
        """The username."""
        return self.username

    @property
    def mention(self) -> str:
        """``<@id>``."""
        return f"<@{self.id}>"

    def to_dict(self) -> dict[str, Any]:
        """The user object as Discord sends it."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "username": self.username,
            "global_name": self.global_name,
            "discriminator": "0",
            "avatar": self.avatar,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass(eq=False)
class FakeRole:
    """A guild role. The @everyone role has the guild's id."""

    id: int
    guild: FakeGuild
    name: str
    permissions: int = 0
    position: int = 1
    managed: bool = False
    bot_id: int | None = None
    color: int = 0

    @property
    def mention(self) -> str:
        """``<@&id>``."""
        return f"<@&{self.id}>"

    def to_dict(self) -> dict[str, Any]:
        """The role object as Discord sends it."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "name": self.name,
            "color": self.color,
            "colors": {"primary_color": self.color, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.managed,
            "mentionable": False,
            "flags": 0,
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data


@dataclass(eq=False)
class FakeMember:
    """A user's membership in a guild. Exposes ``id``/``name``/``mention`` of the user for convenience."""

    user: FakeUser
    guild: FakeGuild
    roles: list[FakeRole] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=iso_now)
    locale: str = "en-US"

    @property
    def id(self) -> int:
        """The user id."""
        return self.user.id

    @property
    def name(self) -> str:
        """The username."""
        return self.user.username

    @property
    def mention(self) -> str:
        """``<@id>``."""
        return self.user.mention

    def base_permissions(self) -> int:
        """Guild-wide permissions (owner, @everyone and roles, administrator)."""
        g = self.guild
        if g.owner_id == self.id:
            return ALL_PERMISSIONS
        perms = g.everyone.permissions
        for role in self.roles:
            perms |= role.permissions
        if perms & ADMINISTRATOR:
            return ALL_PERMISSIONS
        return perms

    def permissions_in(self, channel: FakeChannel | None) -> int:
        """Permissions in ``channel`` after overwrites, computed as Discord does."""
        return channel.permissions_for(self) if channel is not None else self.base_permissions()

    def to_dict(self, *, with_user: bool = True, permissions: int | None = None) -> dict[str, Any]:
        """The guild member object as Discord sends it."""
        data: dict[str, Any] = {
            "roles": [str(r.id) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.to_dict()
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclass(eq=False)
class Overwrite:
    """A channel permission overwrite (type 0 role, 1 member)."""

    id: int
    type: int
    allow: int = 0
    deny: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The overwrite object as Discord sends it."""
        return {"id": str(self.id), "type": self.type, "allow": str(self.allow), "deny": str(self.deny)}


@dataclass(eq=False)
class FakeAttachment:
    """A file stored by the fake: uploaded by the bot, or registered by a test as a user upload."""

    id: int
    filename: str
    data: bytes
    content_type: str | None
    url: str
    description: str | None = None
    ephemeral: bool = False

    @property
    def size(self) -> int:
        """Size in bytes."""
        return len(self.data)

    @property
    def text(self) -> str:
        """The content decoded as UTF-8."""
        return self.data.decode("utf-8")

    def to_dict(self) -> dict[str, Any]:
        """The attachment object as Discord sends it."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "filename": self.filename,
            "size": self.size,
            "url": self.url,
            "proxy_url": self.url,
            "content_type": self.content_type,
        }
        if self.description is not None:
            data["description"] = self.description
        if self.ephemeral:
            data["ephemeral"] = True
        return data


def _walk_components(components: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for comp in components:
        yield comp
        yield from _walk_components(comp.get("components") or [])
        if isinstance(comp.get("component"), dict):
            yield from _walk_components([comp["component"]])
        if isinstance(comp.get("accessory"), dict):
            yield from _walk_components([comp["accessory"]])


@dataclass(eq=False)
class FakeMessage:
    """A message the fake stores. ``payload`` is the Discord message object as it stands now; ``raw`` is
    the JSON body the bot sent to create it and ``edits`` the bodies of later edits (``allowed_mentions``
    included), so tests can check exactly what the bot asked for."""

    id: int
    channel_id: int
    guild_id: int | None
    payload: dict[str, Any]
    raw: dict[str, Any]
    attachments: list[FakeAttachment] = field(default_factory=list)
    edits: list[dict[str, Any]] = field(default_factory=list)
    interaction: FakeInteraction | None = None
    deleted: bool = False

    # --- what a user sees -------------------------------------------------------------------
    @property
    def content(self) -> str:
        """Message text (``""`` if none)."""
        return self.payload.get("content") or ""

    @property
    def embeds(self) -> list[dict[str, Any]]:
        """Embeds as Discord JSON dicts (``title``, ``description``, ``fields``...)."""
        return self.payload.get("embeds") or []

    @property
    def embed(self) -> dict[str, Any] | None:
        """The first embed, or ``None``."""
        return self.embeds[0] if self.embeds else None

    @property
    def components(self) -> list[dict[str, Any]]:
        """Top-level components (action rows...) as Discord JSON."""
        return self.payload.get("components") or []

    @property
    def flags(self) -> int:
        """Message flags bitfield."""
        return int(self.payload.get("flags") or 0)

    @property
    def ephemeral(self) -> bool:
        """Whether only the invoking user can see it."""
        return bool(self.flags & FLAG_EPHEMERAL)

    @property
    def loading(self) -> bool:
        """Whether this is still a deferred "thinking..." message."""
        return bool(self.flags & FLAG_LOADING)

    @property
    def allowed_mentions(self) -> dict[str, Any] | None:
        """The ``allowed_mentions`` the bot sent most recently for this message (``None`` if never sent)."""
        for body in [*reversed(self.edits), self.raw]:
            if "allowed_mentions" in body:
                return body["allowed_mentions"]
        return None

    @property
    def edited(self) -> bool:
        """Whether the message was edited after creation."""
        return bool(self.edits)

    def walk_components(self) -> Iterator[dict[str, Any]]:
        """Every component, nested ones included (rows, buttons, selects, containers...)."""
        return _walk_components(self.components)

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """All buttons (type 2), in display order."""
        return [c for c in self.walk_components() if c.get("type") == 2]

    @property
    def selects(self) -> list[dict[str, Any]]:
        """All select menus (types 3, 5, 6, 7, 8)."""
        return [c for c in self.walk_components() if c.get("type") in (3, 5, 6, 7, 8)]

    @property
    def button_labels(self) -> list[str]:
        """Labels of all buttons, in display order."""
        return [b.get("label") or "" for b in self.buttons]

    @property
    def text(self) -> str:
        """All human-visible text: content, embed author/title/description/fields/footer, text displays."""
        parts: list[str] = [self.content] if self.content else []
        for e in self.embeds:
            parts += [
                (e.get("author") or {}).get("name") or "",
                e.get("title") or "",
                e.get("description") or "",
            ]
            for f in e.get("fields") or []:
                parts += [f.get("name") or "", f.get("value") or ""]
            parts.append((e.get("footer") or {}).get("text") or "")
        parts += [c.get("content") or "" for c in self.walk_components() if c.get("type") == 10]
        return "\n".join(p for p in parts if p)

    def attachment(self, filename: str) -> FakeAttachment:
        """The attachment called ``filename`` (AssertionError listing what exists otherwise)."""
        for a in self.attachments:
            if a.filename == filename:
                return a
        raise AssertionError(
            f"message {self.id} has no attachment {filename!r}; it has {[a.filename for a in self.attachments]}"
        )

    def __repr__(self) -> str:
        flags = []
        if self.ephemeral:
            flags.append("ephemeral")
        if self.loading:
            flags.append("loading")
        return (
            f"<FakeMessage id={self.id} channel={self.channel_id} {' '.join(flags)} "
            f"content={self.content[:60]!r} embeds={len(self.embeds)} buttons={self.button_labels}>"
        )


class FakeChannel:
    """A guild text (or other) channel, or a DM channel.

    ``messages`` holds every visible (non-ephemeral, non-deleted) message in the channel, interaction
    replies included; ``posts`` only those the bot created with ``POST /channels/{id}/messages``.
    """

    def __init__(
        self,
        fake: FakeDiscord,
        *,
        id: int,
        name: str,
        guild: FakeGuild | None,
        type: int = 0,
        topic: str | None = None,
        position: int = 0,
        parent: FakeChannel | None = None,
        nsfw: bool = False,
        recipient: FakeUser | None = None,
    ) -> None:
        self._fake = fake
        self.id = id
        self.name = name
        self.guild = guild
        self.type = type
        self.topic = topic
        self.position = position
        self.parent = parent
        self.nsfw = nsfw
        self.recipient = recipient
        self.overwrites: dict[int, Overwrite] = {}
        self.deleted = False
        self.all_messages: list[FakeMessage] = []

    def __repr__(self) -> str:
        return f"<FakeChannel id={self.id} name={self.name!r} type={self.type}>"

    @property
    def mention(self) -> str:
        """``<#id>``."""
        return f"<#{self.id}>"

    # --- messages -----------------------------------------------------------------------------
    @property
    def messages(self) -> list[FakeMessage]:
        """Visible messages in this channel, oldest first (interaction replies included)."""
        return [m for m in self.all_messages if not m.deleted and not m.ephemeral and not m.loading]

    @property
    def posts(self) -> list[FakeMessage]:
        """Messages the bot posted directly (``POST /channels/{id}/messages``), not deleted."""
        bot_id = str(self._fake.bot_user.id)
        return [
            m
            for m in self.all_messages
            if not m.deleted and m.interaction is None and m.payload.get("author", {}).get("id") == bot_id
        ]

    async def wait_for_message(
        self,
        predicate: Any = None,
        *,
        timeout: float | None = None,
        posts_only: bool = False,
    ) -> FakeMessage:
        """Return the first visible message (existing or future) for which ``predicate(msg)`` is true.

        ``predicate`` may be ``None`` (any message) or a string (contained in ``msg.text``).
        """
        if isinstance(predicate, str):
            needle = predicate

            def predicate(m: FakeMessage) -> bool:
                return needle in m.text

        def find() -> FakeMessage | None:
            pool = self.posts if posts_only else self.messages
            return next((m for m in pool if predicate is None or predicate(m)), None)

        return await self._fake.wait_for(find, timeout=timeout, what=f"a message in #{self.name}")

    # --- permissions ---------------------------------------------------------------------------
    def set_permissions(
        self,
        target: FakeRole | FakeMember | FakeUser,
        *,
        allow: int | _HasValue | None = 0,
        deny: int | _HasValue | None = 0,
    ) -> None:
        """Set the channel overwrite for a role or member (replacing any previous one).

        ``allow``/``deny`` take an int bitfield or ``discord.Permissions(...)``.
        """
        ow_type = 0 if isinstance(target, FakeRole) else 1
        self.overwrites[target.id] = Overwrite(target.id, ow_type, perm_value(allow), perm_value(deny))
        self._fake._channel_changed(self)

    def forbid_bot(self) -> None:
        """Deny the bot ``send_messages`` here (it can still see the channel): posts get 403/50013."""
        assert self.guild is not None, "DM channels have no permissions"
        self.set_permissions(self.guild.me, deny=SEND_MESSAGES)

    def delete(self) -> None:
        """Delete the channel: REST calls on it get 404/10003, the bot gets CHANNEL_DELETE."""
        self.deleted = True
        self._fake._channel_deleted(self)

    def fail_next(self, status: int = 503, *, times: int = 1) -> None:
        """Make the next ``times`` message posts to this channel fail with HTTP ``status``.

        Note: discord.py retries 500/502/504 itself (after 1 s, 3 s...), 503 is raised at once as
        ``discord.DiscordServerError``.
        """
        self._fake.fail_next(status, times=times, match=f"POST /channels/{self.id}/messages")

    def permissions_for(self, member: FakeMember) -> int:
        """Compute ``member``'s permissions here exactly like Discord (and discord.py) do."""
        base = member.base_permissions()
        if base & ADMINISTRATOR or base == ALL_PERMISSIONS:
            return ALL_PERMISSIONS
        perms = base
        assert self.guild is not None
        everyone = self.overwrites.get(self.guild.id)
        if everyone is not None:
            perms = (perms & ~everyone.deny) | everyone.allow
        allow = deny = 0
        role_ids = {r.id for r in member.roles}
        for ow in self.overwrites.values():
            if ow.type == 0 and ow.id in role_ids:
                allow |= ow.allow
                deny |= ow.deny
        perms = (perms & ~deny) | allow
        own = self.overwrites.get(member.id)
        if own is not None and own.type == 1:
            perms = (perms & ~own.deny) | own.allow
        if not perms & VIEW_CHANNEL:
            return 0
        if not perms & SEND_MESSAGES:
            perms &= ~(MENTION_EVERYONE | EMBED_LINKS | ATTACH_FILES | (1 << 38))
        return perms

    # --- payloads --------------------------------------------------------------------------------
    def to_dict(self, *, permissions_for: FakeMember | None = None) -> dict[str, Any]:
        """The channel object as Discord sends it (with ``permissions`` when resolved for a member)."""
        if self.guild is None:
            return {
                "id": str(self.id),
                "type": 1,
                "last_message_id": None,
                "recipients": [self.recipient.to_dict()] if self.recipient else [],
                "flags": 0,
            }
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild.id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [ow.to_dict() for ow in self.overwrites.values()],
            "nsfw": self.nsfw,
            "parent_id": str(self.parent.id) if self.parent else None,
            "flags": 0,
        }
        if self.type in (0, 5):
            data.update(topic=self.topic, last_message_id=None, rate_limit_per_user=0)
        if self.type == 2:
            data.update(bitrate=64000, user_limit=0, rtc_region=None)
        if permissions_for is not None:
            data["permissions"] = str(self.permissions_for(permissions_for))
        return data


class FakeGuild:
    """A guild: roles (``everyone`` is the @everyone role), channels, members, ``me`` (the bot member)."""

    def __init__(
        self,
        fake: FakeDiscord,
        *,
        id: int,
        name: str,
        bot_permissions: int,
        everyone_permissions: int,
        locale: str = "en-US",
    ) -> None:
        self._fake = fake
        self.id = id
        self.name = name
        self.locale = locale
        self.roles: list[FakeRole] = []
        self.channels: list[FakeChannel] = []
        self.members: list[FakeMember] = []
        self.unavailable = False
        self.everyone = FakeRole(id=id, guild=self, name="@everyone", permissions=everyone_permissions, position=0)
        self.roles.append(self.everyone)
        owner_user = fake.create_user(f"{name.lower().replace(' ', '-')}-owner")
        self.owner = FakeMember(owner_user, self)
        self.members.append(self.owner)
        self.owner_id = owner_user.id
        self.bot_role = FakeRole(
            id=snowflake(),
            guild=self,
            name=fake.bot_user.username,
            permissions=bot_permissions,
            position=1,
            managed=True,
            bot_id=fake.bot_user.id,
        )
        self.roles.append(self.bot_role)
        self.me = FakeMember(fake.bot_user, self, roles=[self.bot_role])
        self.members.append(self.me)

    def __repr__(self) -> str:
        return f"<FakeGuild id={self.id} name={self.name!r}>"

    # --- setup ------------------------------------------------------------------------------------
    def add_role(self, name: str, *, permissions: int | _HasValue | None = 0, color: int = 0) -> FakeRole:
        """Create a role (positioned above the existing ones). ``permissions``: int or discord.Permissions."""
        role = FakeRole(
            id=snowflake(),
            guild=self,
            name=name,
            permissions=perm_value(permissions),
            position=max(r.position for r in self.roles) + 1,
            color=color,
        )
        self.roles.append(role)
        self._fake._emit_guild(self, "GUILD_ROLE_CREATE", {"guild_id": str(self.id), "role": role.to_dict()})
        return role

    def add_channel(
        self,
        name: str,
        *,
        type: int = 0,
        topic: str | None = None,
        category: FakeChannel | None = None,
        nsfw: bool = False,
    ) -> FakeChannel:
        """Create a channel (type 0 text by default; 2 voice, 4 category, 5 announcement)."""
        chan = FakeChannel(
            self._fake,
            id=snowflake(),
            name=name,
            guild=self,
            type=type,
            topic=topic,
            position=len(self.channels),
            parent=category,
            nsfw=nsfw,
        )
        self.channels.append(chan)
        self._fake._channels[chan.id] = chan
        self._fake._emit_guild(self, "CHANNEL_CREATE", chan.to_dict())
        return chan

    def add_member(
        self,
        name: str,
        *,
        roles: list[FakeRole] | None = None,
        nick: str | None = None,
        global_name: str | None = None,
        locale: str = "en-US",
        bot: bool = False,
        user: FakeUser | None = None,
    ) -> FakeMember:
        """Create a user and make them a member with ``roles`` (@everyone is implicit); ``user``: make an existing
        user (e.g. ``fake.app_owner``) a member instead (``name`` is then ignored)."""
        user = user or self._fake.create_user(name, global_name=global_name, bot=bot)
        member = FakeMember(user, self, roles=list(roles or []), nick=nick, locale=locale)
        self.members.append(member)
        self._fake._emit_guild(self, "GUILD_MEMBER_ADD", {**member.to_dict(), "guild_id": str(self.id)}, intent=1 << 1)
        return member

    def remove_member(self, member: FakeMember) -> None:
        """The member leaves the server: REST look-ups of them get 404/10007, the bot gets GUILD_MEMBER_REMOVE."""
        self.members.remove(member)
        data = {"guild_id": str(self.id), "user": member.user.to_dict()}
        self._fake._emit_guild(self, "GUILD_MEMBER_REMOVE", data, intent=1 << 1)

    def get_member(self, user_id: int) -> FakeMember | None:
        """The member with that user id, or ``None``."""
        return next((m for m in self.members if m.id == user_id), None)

    def get_channel(self, name_or_id: str | int) -> FakeChannel:
        """A channel by name or id (AssertionError if missing)."""
        for c in self.channels:
            if name_or_id in (c.id, c.name):
                return c
        raise AssertionError(f"guild {self.name!r} has no channel {name_or_id!r}")

    def get_role(self, name_or_id: str | int) -> FakeRole:
        """A role by name or id (AssertionError if missing)."""
        for r in self.roles:
            if name_or_id in (r.id, r.name):
                return r
        raise AssertionError(f"guild {self.name!r} has no role {name_or_id!r}")

    # --- payloads ----------------------------------------------------------------------------------
    def to_dict(self, *, full: bool = True) -> dict[str, Any]:
        """The guild object; ``full`` adds what GUILD_CREATE carries (channels, members, ...)."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "roles": [r.to_dict() for r in self.roles],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": self.locale,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "max_members": 500000,
        }
        if full:
            data.update(
                joined_at=self.me.joined_at,
                large=False,
                unavailable=False,
                member_count=len(self.members),
                voice_states=[],
                members=[m.to_dict() for m in self.members],
                channels=[c.to_dict() for c in self.channels if not c.deleted],
                threads=[],
                presences=[],
                stage_instances=[],
                guild_scheduled_events=[],
                soundboard_sounds=[],
            )
        return data
