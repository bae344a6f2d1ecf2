"""An in-process fake of Discord's REST API and gateway, on 127.0.0.1, for the real discord.py client."""

# The wait helpers take a `timeout=` on purpose: it is the test-facing API (default 5 s, never hang).
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import mimetypes
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import WSMsgType, web

from . import limits
from .interactions import FakeInteraction, FakeModal, FakeResponse, InteractionType, ResponseType
from .models import (
    ATTACH_FILES,
    DEFAULT_EVERYONE_PERMISSIONS,
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    FakeAttachment,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeMessage,
    FakeRole,
    FakeUser,
    iso_now,
    snowflake,
)
from .ratelimit import GlobalRateLimit

log = logging.getLogger("fakediscord")

T = TypeVar("T")

# Gateway intents the fake looks at.
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15


@dataclass
class FakeError:
    """An error response the fake returned (a broken Discord rule, a missing permission, ...)."""

    method: str
    path: str
    status: int
    code: int
    message: str
    rule: str
    injected: bool = False

    def __str__(self) -> str:
        return f"{self.status} (code {self.code}) {self.message} [{self.rule}] on {self.method} {self.path}"


@dataclass
class UnhandledRequest:
    """A request to a route the fake does not implement (answered 404)."""

    method: str
    path: str
    body: Any

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class CommandSync:
    """One bulk overwrite (``PUT``) of application commands; ``guild_id`` is ``None`` for global."""

    guild_id: int | None
    commands: list[dict[str, Any]]
    accepted: bool


@dataclass
class GatewayConnection:
    """One websocket connection the client opened (``path`` tells the default URL from the resume URL)."""

    path: str
    query: dict[str, str]
    ops: list[int] = field(default_factory=list)
    closed: bool = False


@dataclass(eq=False)
class _Session:
    id: str
    intents: int
    shard: tuple[int, int] | None
    seq: int = 0
    events: list[tuple[int, str]] = field(default_factory=list)
    conn: _Conn | None = None
    valid: bool = True

    def handles(self, guild_id: int) -> bool:
        if self.shard is None:
            return True
        shard_id, count = self.shard
        return (guild_id >> 22) % count == shard_id


@dataclass(eq=False)
class _Conn:
    ws: web.WebSocketResponse
    transport: Any
    info: GatewayConnection
    queue: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    session: _Session | None = None
    writer: asyncio.Task[None] | None = None


@dataclass
class _Req:
    request: web.Request
    method: str
    path: str  # relative to /api/v10
    params: dict[str, str]
    query: Mapping[str, str]
    body: Any
    files: list[tuple[str, str, bytes, str | None]]  # (field name, filename, data, content type)

    @property
    def with_response(self) -> bool:
        return self.query.get("with_response", "").lower() in ("1", "true")


Handler = Callable[[_Req], Awaitable[web.StreamResponse]]


def _json(obj: Any, status: int = 200) -> web.Response:
    # Content-Type exactly "application/json": discord.py treats "...; charset=utf-8" as text.
    return web.Response(status=status, body=json.dumps(obj).encode(), headers={"Content-Type": "application/json"})


def _no_content() -> web.Response:
    return web.Response(status=204)


class FakeDiscord:
    """A fake Discord (REST + gateway) for end-to-end tests of a discord.py bot.

    Usage::

        async with FakeDiscord(token="test-token") as fake:
            guild = fake.add_guild("Study Group")
            chan = guild.add_channel("general")
            alice = guild.add_member("alice")
            async with run_bot(fake, bot):
                it = await fake.slash(guild, chan, alice, "fact search", query="alliance")
                msg = await it.wait_message()
    """

    def __init__(
        self,
        token: str = "test-token",
        *,
        bot_name: str = "Factdeck",
        ack_deadline: float = 3.0,
        default_timeout: float = 5.0,
        heartbeat_interval_ms: int = 41250,
        attachment_size_limit: int = 10 * 1024 * 1024,
        global_rate_limit: float | None = None,
        rest_latency: float = 0.0,
    ) -> None:
        """``ack_deadline``: seconds the bot has to acknowledge an interaction (Discord: 3).
        ``default_timeout``: seconds every ``wait_*`` helper waits before failing the test.
        ``global_rate_limit``: requests a second the bot token may make (Discord: 50, ``ratelimit.DISCORD_GLOBAL_RATE``)
        before a global 429; None (the default, so tests are not slowed): no limit.
        ``rest_latency``: seconds every REST answer takes, as the network to Discord would (benchmarks; 0 in tests)."""
        self.token = token
        self.ack_deadline = ack_deadline
        self.default_timeout = default_timeout
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.attachment_size_limit = attachment_size_limit
        self.application_id = snowflake()
        self.bot_user = FakeUser(id=self.application_id, username=bot_name, bot=True)
        self.app_owner = FakeUser(id=snowflake(), username=f"{bot_name.lower()}-owner")
        self.users: dict[int, FakeUser] = {self.bot_user.id: self.bot_user, self.app_owner.id: self.app_owner}
        self.guilds: list[FakeGuild] = []
        self._channels: dict[int, FakeChannel] = {}
        self.dm_channels: dict[int, FakeChannel] = {}
        #: Users who do not accept DMs from the bot: sending them one fails as on Discord (403, code 50007).
        self.dms_closed: set[int] = set()
        self.messages: dict[int, FakeMessage] = {}
        self.attachments: dict[int, FakeAttachment] = {}
        self.interactions: list[FakeInteraction] = []
        self._interactions_by_id: dict[int, FakeInteraction] = {}
        self._interactions_by_token: dict[str, FakeInteraction] = {}
        self._commands: dict[int | None, list[dict[str, Any]]] = {}
        self.command_syncs: list[CommandSync] = []
        self.errors: list[FakeError] = []
        self.unhandled: list[UnhandledRequest] = []
        self.requests: list[str] = []
        self.bot_errors: list[str] = []
        self.bot_task: asyncio.Task[Any] | None = None
        #: Called with the interaction each time the bot's acknowledgement is accepted (e.g. to time it without
        #: polling ``wait_response``).
        self.response_hooks: list[Callable[[FakeInteraction], None]] = []
        self.identify_count = 0
        #: The shard count GET /gateway/bot recommends (discord.py's AutoShardedBot starts that many).
        self.recommended_shards = 1
        #: The ``[shard_id, shard_count]`` of every IDENTIFY, in order (None: an unsharded client).
        self.identified_shards: list[tuple[int, int] | None] = []
        self.resume_count = 0
        self.failed_resume_count = 0
        self.gateway_connections: list[GatewayConnection] = []
        self._sessions: dict[str, _Session] = {}
        self._conns: list[_Conn] = []
        self._failures: list[list[Any]] = []  # [status, remaining, match]
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._routes: list[tuple[str, re.Pattern[str], Handler, bool]] = []
        self._install_routes()
        #: Discord's global rate limit on the bot token's requests (None: off); see :mod:`.ratelimit`.
        self.global_limit = GlobalRateLimit(global_rate_limit) if global_rate_limit is not None else None
        self.rest_latency = rest_latency

    # ================================================================== lifecycle
    async def start(self) -> str:
        """Start serving on 127.0.0.1 (random port); return the base URL ``http://127.0.0.1:PORT``."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch_http)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        log.debug("fake discord listening on %s", self.base_url)
        return self.base_url

    async def stop(self) -> None:
        """Close every gateway connection and stop the server."""
        for conn in list(self._conns):
            conn.queue.put_nowait(("close", 1001))
        for conn in list(self._conns):
            if conn.writer:
                conn.writer.cancel()
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """What ``discord.http.Route.BASE`` must be: ``http://127.0.0.1:PORT/api/v10``."""
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        """The default gateway URL: ``ws://127.0.0.1:PORT/``."""
        return f"ws://127.0.0.1:{self.port}/"

    @property
    def resume_gateway_url(self) -> str:
        """The ``resume_gateway_url`` READY hands out (a distinct path, so tests can see it was used)."""
        return f"ws://127.0.0.1:{self.port}/resume/"

    def patch_client(self) -> contextlib.AbstractContextManager[None]:
        """Context manager pointing discord.py (Route.BASE, DEFAULT_GATEWAY, CDN) at this fake."""
        from .harness import patch_discord

        return patch_discord(self)

    # ================================================================== waiting
    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(
        self,
        predicate: Callable[[], T | None],
        *,
        timeout: float | None = None,
        what: str = "a condition",
    ) -> T:
        """Wait until ``predicate()`` returns something other than ``None``/``False``; return it.

        Wakes on every change in the fake (and every 50 ms, so predicates on bot state work too).
        Raises AssertionError naming ``what`` (plus recent bot errors) after ``timeout`` seconds.
        """
        loop = asyncio.get_running_loop()
        limit = self.default_timeout if timeout is None else timeout
        deadline = loop.time() + limit
        while True:
            result = predicate()
            if result is not None and result is not False:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(self._timeout_message(what, limit))
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), min(remaining, 0.05))

    def _timeout_message(self, what: str, limit: float) -> str:
        lines = [f"Timed out after {limit:g}s waiting for {what}."]
        if self.bot_task is not None and self.bot_task.done():
            exc = None if self.bot_task.cancelled() else self.bot_task.exception()
            lines.append(f"The bot task has ended ({exc!r}).")
        if self.bot_errors:
            lines.append("The bot logged errors:\n" + "\n".join(self.bot_errors[-3:]))
        if self.errors:
            lines.append("Recent Discord errors: " + "; ".join(str(e) for e in self.errors[-3:]))
        if self.unhandled:
            lines.append("Unhandled routes: " + ", ".join(str(u) for u in self.unhandled[-5:]))
        return "\n".join(lines)

    def assert_no_errors(self, *, allow: tuple[int, ...] = ()) -> None:
        """Fail if the bot broke a Discord rule or hit an unknown route.

        Injected failures (``fail_next``) are ignored, as are error codes in ``allow``
        (e.g. ``allow=(50013,)`` in a test about missing permissions).
        """
        bad = [e for e in self.errors if not e.injected and e.code not in allow]
        problems = [str(e) for e in bad] + [f"unhandled route {u}" for u in self.unhandled]
        assert not problems, "Fake Discord saw problems:\n" + "\n".join(problems)

    # ================================================================== world setup
    def create_user(self, username: str, *, global_name: str | None = None, bot: bool = False) -> FakeUser:
        """Create a user that is in no guild (``FakeGuild.add_member`` calls this)."""
        user = FakeUser(id=snowflake(), username=username, global_name=global_name, bot=bot)
        self.users[user.id] = user
        return user

    def add_guild(
        self,
        name: str = "Test Guild",
        *,
        bot_permissions: int | Any = DEFAULT_EVERYONE_PERMISSIONS,
        everyone_permissions: int | Any = DEFAULT_EVERYONE_PERMISSIONS,
        locale: str = "en-US",
        shard: tuple[int, int] | None = None,
    ) -> FakeGuild:
        """Create a guild the bot is in. It comes with @everyone (``guild.everyone``), an owner member
        (``guild.owner``), the bot's managed role (``guild.bot_role``) and the bot member (``guild.me``).
        Permissions take an int or ``discord.Permissions``. ``shard=(shard_id, shard_count)``: an id on that shard
        (``(id >> 22) % shard_count == shard_id``)."""
        from .models import perm_value

        guild_id = snowflake()
        if shard is not None:
            shard_id, count = shard
            guild_id += (((shard_id - (guild_id >> 22)) % count) + count) << 22  # a later id, on that shard
        guild = FakeGuild(
            self,
            id=guild_id,
            name=name,
            bot_permissions=perm_value(bot_permissions),
            everyone_permissions=perm_value(everyone_permissions),
            locale=locale,
        )
        self.guilds.append(guild)
        self._emit_guild(guild, "GUILD_CREATE", guild.to_dict())
        return guild

    def remove_guild(self, guild: FakeGuild) -> None:
        """The bot is removed from ``guild`` (kicked, or the server deleted): GUILD_DELETE without ``unavailable``,
        as Discord sends it; the guild is gone from the fake afterwards."""
        self._emit_guild(guild, "GUILD_DELETE", {"id": str(guild.id)})
        self.guilds.remove(guild)

    def add_attachment(
        self, filename: str, data: bytes | str, content_type: str | None = None, *, description: str | None = None
    ) -> FakeAttachment:
        """Register a file "uploaded by a user"; pass the result as an ATTACHMENT option to ``slash``.
        The bot downloads it from the fake with ``await attachment.read()``."""
        raw = data.encode() if isinstance(data, str) else data
        return self._store_attachment(filename, raw, content_type, description=description, ephemeral=True)

    def _store_attachment(
        self,
        filename: str,
        data: bytes,
        content_type: str | None,
        *,
        description: str | None = None,
        ephemeral: bool = False,
    ) -> FakeAttachment:
        aid = snowflake()
        ctype = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        att = FakeAttachment(
            id=aid,
            filename=filename,
            data=data,
            content_type=ctype,
            url=f"{self.base_url}/attachments/{aid}/{filename}",
            description=description,
            ephemeral=ephemeral,
        )
        self.attachments[aid] = att
        return att

    def fail_next(self, status: int = 503, *, times: int = 1, match: str = "") -> None:
        """Make the next ``times`` REST requests whose ``"METHOD /path"`` (path after ``/api/v10``)
        contains ``match`` fail with HTTP ``status``. discord.py retries 500/502/504 by itself."""
        self._failures.append([status, times, match])

    def get_channel(self, channel_id: int) -> FakeChannel | None:
        """Guild or DM channel by id."""
        return self._channels.get(channel_id)

    def get_message(self, message_id: int) -> FakeMessage:
        """A stored message by id (AssertionError if unknown)."""
        try:
            return self.messages[message_id]
        except KeyError:
            raise AssertionError(f"no message {message_id}") from None

    def dm_channel(self, user: FakeUser | FakeMember) -> FakeChannel | None:
        """The DM channel the bot opened with ``user``, if any."""
        return self.dm_channels.get(user.id)

    # ================================================================== application commands
    def commands(self, guild: FakeGuild | int | None = None) -> list[dict[str, Any]]:
        """The commands as stored by the last sync (global, or for ``guild``)."""
        gid = guild.id if isinstance(guild, FakeGuild) else guild
        return list(self._commands.get(gid, []))

    def command_names(self, guild: FakeGuild | int | None = None) -> list[str]:
        """Top-level command names stored (global, or for ``guild``)."""
        return [c["name"] for c in self.commands(guild)]

    def sync_count(self, guild: FakeGuild | int | None = None) -> int:
        """How many accepted bulk overwrites (``tree.sync``) targeted global (or ``guild``) commands."""
        gid = guild.id if isinstance(guild, FakeGuild) else guild
        return sum(1 for s in self.command_syncs if s.accepted and s.guild_id == gid)

    def _find_command(self, name: str, guild: FakeGuild | None, ctype: int = 1) -> dict[str, Any]:
        pools = ([self._commands.get(guild.id, [])] if guild else []) + [self._commands.get(None, [])]
        for pool in pools:
            for cmd in pool:
                if cmd["name"] == name and cmd.get("type", 1) == ctype:
                    return cmd
        known = [c["name"] for pool in pools for c in pool]
        raise AssertionError(f"no synced command {name!r} (the bot synced {known}); did the bot call tree.sync()?")

    # ================================================================== gateway side: events
    def _live_sessions(self, guild_id: int | None = None) -> list[_Session]:
        return [s for s in self._sessions.values() if s.valid and (guild_id is None or s.handles(guild_id))]

    def _emit(self, session: _Session, event: str, data: Any) -> None:
        session.seq += 1
        text = json.dumps({"op": 0, "t": event, "s": session.seq, "d": data})
        session.events.append((session.seq, text))
        if session.conn is not None:
            session.conn.queue.put_nowait(text)

    def dispatch(self, event: str, data: Any, *, guild: FakeGuild | None = None) -> int:
        """Send a raw gateway DISPATCH event to every live bot session; return how many got it.
        Events for a session whose socket is down are replayed when it resumes."""
        sessions = self._live_sessions(guild.id if guild else None)
        for s in sessions:
            self._emit(s, event, data)
        self._notify()
        return len(sessions)

    def _emit_guild(self, guild: FakeGuild, event: str, data: Any, *, intent: int = 0) -> None:
        if guild not in self.guilds:
            return
        for s in self._live_sessions(guild.id):
            if not intent or s.intents & intent:
                self._emit(s, event, data)
        self._notify()

    def _channel_changed(self, chan: FakeChannel) -> None:
        if chan.guild is not None and not chan.deleted:
            self._emit_guild(chan.guild, "CHANNEL_UPDATE", chan.to_dict())

    def _channel_deleted(self, chan: FakeChannel) -> None:
        if chan.guild is not None:
            self._emit_guild(chan.guild, "CHANNEL_DELETE", chan.to_dict())

    # ================================================================== gateway side: connection control
    def _current_conn(self) -> _Conn:
        live = [c for c in self._conns if c.session is not None and c.session.valid and c.session.conn is c]
        if not live:
            raise AssertionError("no bot is connected to the fake gateway")
        return live[-1]

    async def reconnect(self, *, wait: bool = True, timeout: float | None = None) -> None:
        """Send op 7 RECONNECT; with ``wait``, return once the client has RESUMEd."""
        before = self.resume_count
        self._current_conn().queue.put_nowait(json.dumps({"op": 7, "d": None}))
        if wait:
            await self.wait_for(lambda: self.resume_count > before, timeout=timeout, what="the bot to RESUME")

    async def invalidate_session(
        self, *, resumable: bool = False, wait: bool = True, timeout: float | None = None
    ) -> None:
        """Send op 9 INVALID_SESSION. Non-resumable: the client must IDENTIFY again (wait for that);
        resumable: it reconnects and RESUMEs."""
        conn = self._current_conn()
        identifies, resumes = self.identify_count, self.resume_count
        if not resumable and conn.session is not None:
            conn.session.valid = False
        conn.queue.put_nowait(json.dumps({"op": 9, "d": resumable}))
        if wait:
            if resumable:
                await self.wait_for(lambda: self.resume_count > resumes, timeout=timeout, what="the bot to RESUME")
            else:
                await self.wait_for(
                    lambda: self.identify_count > identifies, timeout=timeout, what="the bot to IDENTIFY again"
                )

    async def drop_connection(self, *, wait: bool = True, timeout: float | None = None) -> None:
        """Abort the websocket's TCP connection (no close frame); with ``wait``, return once resumed."""
        before = self.resume_count
        self._current_conn().queue.put_nowait(("abort",))
        if wait:
            await self.wait_for(lambda: self.resume_count > before, timeout=timeout, what="the bot to RESUME")

    async def close_connection(self, code: int = 4000, *, wait: bool = True, timeout: float | None = None) -> None:
        """Close the websocket with ``code`` (4000 is resumable; 4004 means bad token and is fatal)."""
        before = self.resume_count
        self._current_conn().queue.put_nowait(("close", code))
        if wait:
            await self.wait_for(lambda: self.resume_count > before, timeout=timeout, what="the bot to RESUME")

    async def wait_until_connected(self, timeout: float | None = None) -> None:
        """Wait until a bot session has IDENTIFYed (READY and GUILD_CREATEs have been queued)."""
        await self.wait_for(lambda: bool(self._live_sessions()), timeout=timeout, what="a bot to connect")

    # ================================================================== gateway side: protocol
    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        transport = request.transport
        await ws.prepare(request)
        info = GatewayConnection(path=request.path, query=dict(request.query))
        self.gateway_connections.append(info)
        conn = _Conn(ws=ws, transport=transport, info=info)
        self._conns.append(conn)
        conn.writer = asyncio.create_task(self._writer(conn), name="fakediscord-gateway-writer")
        conn.queue.put_nowait(json.dumps({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}}))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._on_gateway_message(conn, json.loads(msg.data))
                elif msg.type == WSMsgType.ERROR:
                    break
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            info.closed = True
            if conn.session is not None and conn.session.conn is conn:
                conn.session.conn = None
            if conn.writer:
                conn.writer.cancel()
            with contextlib.suppress(ValueError):
                self._conns.remove(conn)
            self._notify()
        return ws

    async def _writer(self, conn: _Conn) -> None:
        try:
            while True:
                item = await conn.queue.get()
                if isinstance(item, str):
                    await conn.ws.send_str(item)
                elif item[0] == "close":
                    await conn.ws.close(code=item[1])
                    return
                elif item[0] == "abort":
                    if conn.transport is not None:
                        conn.transport.abort()
                    return
        except (ConnectionResetError, RuntimeError) as exc:
            log.debug("gateway writer stopped: %r", exc)

    async def _on_gateway_message(self, conn: _Conn, msg: dict[str, Any]) -> None:
        op, d = msg.get("op"), msg.get("d")
        conn.info.ops.append(op)
        if op == 1:  # HEARTBEAT
            conn.queue.put_nowait(json.dumps({"op": 11}))
        elif op == 2:  # IDENTIFY
            if d.get("token") != self.token:
                conn.queue.put_nowait(("close", 4004))
                return
            shard = tuple(d["shard"]) if d.get("shard") else None
            session = _Session(id=uuid.uuid4().hex, intents=int(d.get("intents") or 0), shard=shard)  # type: ignore[arg-type]
            self.identified_shards.append(session.shard)
            self._sessions[session.id] = session
            session.conn = conn
            conn.session = session
            self.identify_count += 1
            ready: dict[str, Any] = {
                "v": 10,
                "user": {**self.bot_user.to_dict(), "verified": True, "mfa_enabled": False, "email": None},
                "guilds": [{"id": str(g.id), "unavailable": True} for g in self.guilds if session.handles(g.id)],
                "session_id": session.id,
                "session_type": "normal",
                "resume_gateway_url": self.resume_gateway_url,
                "application": {"id": str(self.application_id), "flags": 0},
                "private_channels": [],
                "relationships": [],
                "presences": [],
                "guild_join_requests": [],
                "geo_ordered_rtc_regions": [],
                "user_settings": {},
                "auth": {},
                "_trace": ["fakediscord"],
            }
            if shard is not None:
                ready["shard"] = list(shard)
            self._emit(session, "READY", ready)
            for g in self.guilds:
                if session.handles(g.id):
                    self._emit(session, "GUILD_CREATE", g.to_dict())
            self._notify()
        elif op == 6:  # RESUME
            session = self._sessions.get(d.get("session_id", ""))
            if session is None or not session.valid or d.get("token") != self.token:
                self.failed_resume_count += 1
                conn.queue.put_nowait(json.dumps({"op": 9, "d": False}))
                self._notify()
                return
            if session.conn is not None and session.conn is not conn:
                session.conn.queue.put_nowait(("close", 4000))
            session.conn = conn
            conn.session = session
            last = int(d.get("seq") or 0)
            for seq, text in session.events:
                if seq > last:
                    conn.queue.put_nowait(text)
            self._emit(session, "RESUMED", {"_trace": ["fakediscord"]})
            self.resume_count += 1
            self._notify()
        elif op == 8:  # REQUEST_GUILD_MEMBERS
            self._members_chunk(conn, d)
        # op 3 presence, op 4 voice state...: accepted and ignored

    def _members_chunk(self, conn: _Conn, d: dict[str, Any]) -> None:
        if conn.session is None:
            return
        gid = int(d.get("guild_id"))
        guild = next((g for g in self.guilds if g.id == gid), None)
        members = list(guild.members) if guild else []
        if d.get("user_ids"):
            ids = {int(x) for x in d["user_ids"]} if isinstance(d["user_ids"], list) else {int(d["user_ids"])}
            members = [m for m in members if m.id in ids]
        elif d.get("query"):
            members = [m for m in members if m.name.lower().startswith(d["query"].lower())]
        if d.get("limit"):
            members = members[: int(d["limit"])]
        payload = {
            "guild_id": str(gid),
            "members": [m.to_dict() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
            "presences": [],
        }
        if d.get("nonce") is not None:
            payload["nonce"] = d["nonce"]
        self._emit(conn.session, "GUILD_MEMBERS_CHUNK", payload)

    # ================================================================== HTTP plumbing
    def _install_routes(self) -> None:
        r = self._route
        r("GET", r"/users/@me", self._get_me)
        r("GET", r"/users/(?P<user_id>\d+)", self._get_user)
        r("POST", r"/users/@me/channels", self._create_dm)
        r("GET", r"/(?:oauth2/)?applications/@me", self._get_application)
        r("GET", r"/gateway", self._get_gateway, auth=False)
        r("GET", r"/gateway/bot", self._get_gateway_bot)
        cmds = r"/applications/(?P<app_id>\d+)(?:/guilds/(?P<guild_id>\d+))?/commands"
        r("GET", cmds, self._get_commands)
        r("PUT", cmds, self._put_commands)
        r("POST", cmds, self._post_command)
        r("GET", cmds + r"/(?P<command_id>\d+)", self._get_command)
        r("PATCH", cmds + r"/(?P<command_id>\d+)", self._patch_command)
        r("DELETE", cmds + r"/(?P<command_id>\d+)", self._delete_command)
        r("POST", r"/interactions/(?P<interaction_id>\d+)/(?P<token>[^/]+)/callback", self._callback, auth=False)
        hook = r"/webhooks/(?P<app_id>\d+)/(?P<token>[^/]+)"
        r("POST", hook, self._followup, auth=False)
        r("GET", hook + r"/messages/(?P<message_id>@original|\d+)", self._get_webhook_message, auth=False)
        r("PATCH", hook + r"/messages/(?P<message_id>@original|\d+)", self._edit_webhook_message, auth=False)
        r("DELETE", hook + r"/messages/(?P<message_id>@original|\d+)", self._delete_webhook_message, auth=False)
        chan = r"/channels/(?P<channel_id>\d+)"
        r("GET", chan, self._get_channel)
        r("POST", chan + r"/typing", self._typing)
        r("POST", chan + r"/messages", self._post_message)
        r("GET", chan + r"/messages", self._get_messages)
        r("GET", chan + r"/messages/(?P<message_id>\d+)", self._get_message)
        r("PATCH", chan + r"/messages/(?P<message_id>\d+)", self._edit_message)
        r("DELETE", chan + r"/messages/(?P<message_id>\d+)", self._delete_message)
        react = chan + r"/messages/(?P<message_id>\d+)/reactions/(?P<emoji>[^/]+)/@me"
        r("PUT", react, self._add_reaction)
        r("DELETE", react, self._remove_reaction)
        guild = r"/guilds/(?P<guild_id>\d+)"
        r("GET", guild, self._get_guild)
        r("GET", guild + r"/channels", self._get_guild_channels)
        r("GET", guild + r"/roles", self._get_guild_roles)
        r("GET", guild + r"/members", self._get_guild_members)
        r("GET", guild + r"/members/(?P<user_id>\d+)", self._get_guild_member)

    def _route(self, method: str, pattern: str, handler: Handler, *, auth: bool = True) -> None:
        self._routes.append((method, re.compile(f"^{pattern}/?$"), handler, auth))

    def _error(
        self,
        req: _Req,
        status: int,
        code: int,
        message: str,
        *,
        rule: str = "",
        violations: list[limits.Violation] | None = None,
        injected: bool = False,
        interaction: FakeInteraction | None = None,
    ) -> web.Response:
        if violations:
            rule = rule or "; ".join(str(v) for v in violations)
        err = FakeError(req.method, req.path, status, code, message, rule or message, injected)
        self.errors.append(err)
        if interaction is not None:
            interaction.rejected.append(err)
        log.warning("fake discord answered %s", err)
        body: dict[str, Any] = {"code": code, "message": message}
        if violations:
            body["errors"] = limits.errors_body(violations)
        self._notify()
        return _json(body, status)

    def _invalid(
        self, req: _Req, violations: list[limits.Violation], interaction: FakeInteraction | None = None
    ) -> web.Response:
        return self._error(req, 400, 50035, "Invalid Form Body", violations=violations, interaction=interaction)

    async def _dispatch_http(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._gateway(request)
        if request.method == "GET" and path.startswith("/attachments/"):
            return self._serve_attachment(path)
        self.requests.append(f"{request.method} {path}")
        req = await self._parse(request)
        if not path.startswith("/api/v10/"):
            return self._unhandled(req)
        for method, pattern, handler, auth in self._routes:
            m = pattern.match(req.path)
            if method != request.method or m is None:
                continue
            req.params = {k: v for k, v in m.groupdict().items() if v is not None}
            if auth and request.headers.get("Authorization") != f"Bot {self.token}":
                return self._error(req, 401, 0, "401: Unauthorized", rule="bad or missing bot token")
            if self.rest_latency:
                await asyncio.sleep(self.rest_latency)
            if auth and self.global_limit is not None and (wait := self.global_limit.take()) is not None:
                return web.Response(
                    status=429,
                    body=json.dumps(GlobalRateLimit.body(wait)).encode(),
                    headers=GlobalRateLimit.headers(wait),
                )
            for failure in self._failures:
                status, remaining, match = failure
                if remaining > 0 and match in f"{req.method} {req.path}":
                    failure[1] -= 1
                    return self._error(
                        req, status, 0, f"{status}: injected failure", rule=f"fail_next({match!r})", injected=True
                    )
            try:
                return await handler(req)
            except Exception:
                log.exception("fake discord crashed on %s %s", req.method, req.path)
                raise
        return self._unhandled(req)

    def _unhandled(self, req: _Req) -> web.Response:
        self.unhandled.append(UnhandledRequest(req.method, req.request.path, req.body))
        log.warning("fake discord: unhandled route %s %s", req.method, req.request.path)
        self._notify()
        return _json({"code": 0, "message": "404: Not Found"}, 404)

    async def _parse(self, request: web.Request) -> _Req:
        body: Any = None
        files: list[tuple[str, str, bytes, str | None]] = []
        ctype = request.content_type
        if ctype.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                if part.name == "payload_json":
                    body = json.loads(await part.text())
                elif part.filename is not None:
                    data = await part.read(decode=False)
                    files.append((part.name or "", part.filename, bytes(data), part.headers.get("Content-Type")))
        elif request.can_read_body:
            raw = await request.read()
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode("utf-8", "replace")
        path = request.path[len("/api/v10") :] if request.path.startswith("/api/v10/") else request.path
        return _Req(request, request.method, path, {}, request.query, body, files)

    def _serve_attachment(self, path: str) -> web.Response:
        parts = path.split("/")
        att = self.attachments.get(int(parts[2])) if len(parts) >= 3 and parts[2].isdigit() else None
        if att is None:
            return web.Response(status=404, text="asset not found")
        return web.Response(body=att.data, headers={"Content-Type": att.content_type or "application/octet-stream"})

    # ================================================================== REST: users, app, gateway
    async def _get_me(self, req: _Req) -> web.Response:
        return _json(
            {**self.bot_user.to_dict(), "verified": True, "mfa_enabled": False, "locale": "en-US", "email": None}
        )

    async def _get_user(self, req: _Req) -> web.Response:
        user = self.users.get(int(req.params["user_id"]))
        if user is None:
            return self._error(req, 404, 10013, "Unknown User")
        return _json(user.to_dict())

    async def _create_dm(self, req: _Req) -> web.Response:
        user = self.users.get(int((req.body or {}).get("recipient_id", 0)))
        if user is None:
            return self._error(req, 400, 50035, "Invalid Form Body", rule="unknown recipient_id")
        chan = self.dm_channels.get(user.id)
        if chan is None:
            chan = FakeChannel(self, id=snowflake(), name=f"dm-{user.username}", guild=None, type=1, recipient=user)
            self.dm_channels[user.id] = chan
            self._channels[chan.id] = chan
        return _json(chan.to_dict())

    async def _get_application(self, req: _Req) -> web.Response:
        return _json(
            {
                "id": str(self.application_id),
                "name": self.bot_user.username,
                "icon": None,
                "description": "Fake application",
                "summary": "",
                "type": None,
                "hook": True,
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "owner": self.app_owner.to_dict(),
                "team": None,
                "flags": 0,
                "tags": [],
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "approximate_guild_count": len(self.guilds),
                "bot": self.bot_user.to_dict(),
            }
        )

    async def _get_gateway(self, req: _Req) -> web.Response:
        return _json({"url": self.gateway_url.rstrip("/")})

    async def _get_gateway_bot(self, req: _Req) -> web.Response:
        return _json(
            {
                "url": self.gateway_url.rstrip("/"),
                "shards": self.recommended_shards,
                "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1},
            }
        )

    # ================================================================== REST: application commands
    def _check_app(self, req: _Req) -> web.Response | None:
        if int(req.params["app_id"]) != self.application_id:
            return self._error(req, 403, 50001, "Missing Access", rule="wrong application id")
        gid = req.params.get("guild_id")
        if gid is not None and not any(g.id == int(gid) for g in self.guilds):
            return self._error(req, 403, 50001, "Missing Access", rule="bot is not in that guild")
        return None

    def _store_command(self, body: dict[str, Any], guild_id: int | None, old: dict[str, Any] | None) -> dict[str, Any]:
        cmd = {
            "type": 1,
            "description": "",
            "options": [],
            "default_member_permissions": None,
            "dm_permission": True,
            "nsfw": False,
            "contexts": None,
            "integration_types": [0],
            **body,
            "id": old["id"] if old else str(snowflake()),
            "application_id": str(self.application_id),
            "version": str(snowflake()),
        }
        if guild_id is not None:
            cmd["guild_id"] = str(guild_id)
        return cmd

    def _cmd_scope(self, req: _Req) -> int | None:
        gid = req.params.get("guild_id")
        return int(gid) if gid is not None else None

    async def _get_commands(self, req: _Req) -> web.Response:
        if (bad := self._check_app(req)) is not None:
            return bad
        return _json(self._commands.get(self._cmd_scope(req), []))

    async def _put_commands(self, req: _Req) -> web.Response:
        if (bad := self._check_app(req)) is not None:
            return bad
        scope = self._cmd_scope(req)
        body = req.body if isinstance(req.body, list) else []
        violations = limits.check_commands(body)
        self.command_syncs.append(CommandSync(scope, body, accepted=not violations))
        if violations:
            return self._invalid(req, violations)
        existing = {(c["name"], c.get("type", 1)): c for c in self._commands.get(scope, [])}
        stored = [self._store_command(c, scope, existing.get((c["name"], c.get("type", 1)))) for c in body]
        self._commands[scope] = stored
        self._notify()
        return _json(stored)

    async def _post_command(self, req: _Req) -> web.Response:
        if (bad := self._check_app(req)) is not None:
            return bad
        scope = self._cmd_scope(req)
        violations = limits.check_commands([req.body or {}])
        if violations:
            return self._invalid(req, [limits.Violation(v.path[1:], v.code, v.message) for v in violations])
        pool = self._commands.setdefault(scope, [])
        old = next((c for c in pool if c["name"] == req.body["name"]), None)
        cmd = self._store_command(req.body, scope, old)
        if old:
            pool[pool.index(old)] = cmd
        else:
            pool.append(cmd)
        self._notify()
        return _json(cmd, 200 if old else 201)

    def _lookup_command(self, req: _Req) -> dict[str, Any] | None:
        return next(
            (c for c in self._commands.get(self._cmd_scope(req), []) if c["id"] == req.params["command_id"]), None
        )

    async def _get_command(self, req: _Req) -> web.Response:
        cmd = self._lookup_command(req)
        return _json(cmd) if cmd else self._error(req, 404, 10063, "Unknown application command")

    async def _patch_command(self, req: _Req) -> web.Response:
        cmd = self._lookup_command(req)
        if cmd is None:
            return self._error(req, 404, 10063, "Unknown application command")
        merged = {**cmd, **(req.body or {})}
        violations = limits.check_commands([merged])
        if violations:
            return self._invalid(req, [limits.Violation(v.path[1:], v.code, v.message) for v in violations])
        cmd.update(req.body or {})
        return _json(cmd)

    async def _delete_command(self, req: _Req) -> web.Response:
        cmd = self._lookup_command(req)
        if cmd is None:
            return self._error(req, 404, 10063, "Unknown application command")
        self._commands[self._cmd_scope(req)].remove(cmd)
        return _no_content()

    # ================================================================== messages: shared logic
    def _attachments_from(
        self, body: dict[str, Any], files: list[tuple[str, str, bytes, str | None]], keep: list[FakeAttachment]
    ) -> list[FakeAttachment]:
        """Resolve ``attachments`` (existing ids to keep, new ``{"id": index}`` entries) plus uploaded files."""
        by_field = {}
        for name, filename, data, ctype in files:
            m = re.match(r"files\[(\d+)\]", name)
            by_field[int(m.group(1)) if m else len(by_field)] = (filename, data, ctype)
        result: list[FakeAttachment] = []
        used: set[int] = set()
        existing = {a.id: a for a in keep}
        if "attachments" in body:
            for entry in body.get("attachments") or []:
                aid = int(entry.get("id", -1))
                if aid in existing:
                    result.append(existing[aid])
                elif aid in by_field:
                    filename, data, ctype = by_field[aid]
                    guessed = mimetypes.guess_type(entry.get("filename") or filename)[0]
                    result.append(
                        self._store_attachment(
                            entry.get("filename") or filename,
                            data,
                            guessed or ctype,
                            description=entry.get("description"),
                        )
                    )
                    used.add(aid)
        else:
            result = list(keep)
        for idx, (filename, data, ctype) in sorted(by_field.items()):
            if idx not in used:
                result.append(self._store_attachment(filename, data, mimetypes.guess_type(filename)[0] or ctype))
        return result

    def _message_payload(
        self,
        *,
        mid: int,
        channel: FakeChannel | None,
        channel_id: int,
        author: FakeUser,
        body: dict[str, Any],
        attachments: list[FakeAttachment],
        msg_type: int,
        flags: int,
        interaction: FakeInteraction | None,
    ) -> dict[str, Any]:
        guild = channel.guild if channel else (interaction.guild if interaction else None)
        payload: dict[str, Any] = {
            "id": str(mid),
            "channel_id": str(channel_id),
            "author": author.to_dict(),
            "content": body.get("content") or "",
            "timestamp": iso_now(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts", False)),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [a.to_dict() for a in attachments],
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "pinned": False,
            "type": msg_type,
            "flags": flags,
        }
        if guild is not None:
            payload["guild_id"] = str(guild.id)
            member = guild.get_member(author.id)
            if member is not None:
                payload["member"] = member.to_dict(with_user=False)
        if interaction is not None:
            payload["webhook_id"] = str(self.application_id)
            payload["application_id"] = str(self.application_id)
            payload["interaction_metadata"] = {
                "id": str(interaction.id),
                "type": int(interaction.type),
                "user": (
                    interaction.user.user if isinstance(interaction.user, FakeMember) else interaction.user
                ).to_dict(),
                "authorizing_integration_owners": {"0": str(guild.id)} if guild else {"1": str(interaction.user.id)},
            }
        return payload

    def _validate_message(self, body: dict[str, Any], *, has_files: bool, creating: bool) -> list[limits.Violation]:
        return limits.check_message(body, has_files=has_files, creating=creating)

    def _create_message(
        self,
        channel_id: int,
        body: dict[str, Any],
        files: list[tuple[str, str, bytes, str | None]],
        *,
        author: FakeUser,
        msg_type: int = 0,
        flags: int | None = None,
        interaction: FakeInteraction | None = None,
    ) -> FakeMessage:
        channel = self._channels.get(channel_id)
        attachments = self._attachments_from(body, files, [])
        if flags is None:
            flags = int(body.get("flags") or 0)
        mid = snowflake()
        payload = self._message_payload(
            mid=mid,
            channel=channel,
            channel_id=channel_id,
            author=author,
            body=body,
            attachments=attachments,
            msg_type=msg_type,
            flags=flags,
            interaction=interaction,
        )
        msg = FakeMessage(
            id=mid,
            channel_id=channel_id,
            guild_id=channel.guild.id if channel and channel.guild else None,
            payload=payload,
            raw=body,
            attachments=attachments,
            interaction=interaction,
        )
        self.messages[mid] = msg
        if channel is not None:
            channel.all_messages.append(msg)
        if not msg.ephemeral and not msg.loading:
            self._emit_message_event("MESSAGE_CREATE", msg)
        self._notify()
        return msg

    def _emit_message_event(self, event: str, msg: FakeMessage) -> None:
        chan = self._channels.get(msg.channel_id)
        if chan is None:
            return
        needed = INTENT_GUILD_MESSAGES if chan.guild else INTENT_DIRECT_MESSAGES
        data = dict(msg.payload)
        for s in self._live_sessions(chan.guild.id if chan.guild else None):
            if s.intents & needed:
                self._emit(s, event, data)

    def _apply_edit(
        self,
        msg: FakeMessage,
        body: dict[str, Any],
        files: list[tuple[str, str, bytes, str | None]],
        *,
        replace: bool = False,
    ) -> None:
        """Edit ``msg`` in place. ``replace``: a deferred "thinking" message being replaced wholesale."""
        p = msg.payload
        keep = [] if replace else msg.attachments
        if replace or "attachments" in body or files:
            msg.attachments = self._attachments_from(body, files, keep)
            p["attachments"] = [a.to_dict() for a in msg.attachments]
        for key in ("content", "embeds", "components"):
            if key in body:
                p[key] = body[key] if body[key] is not None else ("" if key == "content" else [])
            elif replace:
                p[key] = "" if key == "content" else []
        if "flags" in body and body["flags"] is not None:
            # Only SUPPRESS_EMBEDS (and components v2 on creation) can change; ephemeral stays as it was.
            p["flags"] = (p.get("flags", 0) & FLAG_EPHEMERAL) | (int(body["flags"]) & ~(FLAG_EPHEMERAL | FLAG_LOADING))
        if replace:
            p["flags"] = (p.get("flags", 0) & ~FLAG_LOADING) | (
                int(body.get("flags") or 0) & ~(FLAG_EPHEMERAL | FLAG_LOADING)
            )
        else:
            p["edited_timestamp"] = iso_now()
        msg.edits.append(body)
        if not msg.ephemeral:
            self._emit_message_event("MESSAGE_UPDATE" if not replace else "MESSAGE_CREATE", msg)
        self._notify()

    def _check_new_message(
        self, req: _Req, body: dict[str, Any], interaction: FakeInteraction | None = None
    ) -> web.Response | None:
        violations = self._validate_message(body, has_files=bool(req.files), creating=True)
        if violations:
            return self._invalid(req, violations, interaction)
        if limits.is_empty_message(body, has_files=bool(req.files)):
            return self._error(req, 400, 50006, "Cannot send an empty message", interaction=interaction)
        return None

    def _check_edit(self, req: _Req, msg: FakeMessage, body: dict[str, Any]) -> web.Response | None:
        merged = {**msg.payload, **{k: v for k, v in body.items() if v is not None}}
        violations = self._validate_message(merged, has_files=bool(req.files), creating=False)
        return self._invalid(req, violations) if violations else None

    # ================================================================== REST: interactions
    async def _callback(self, req: _Req) -> web.Response:
        received_at = asyncio.get_running_loop().time()
        it = self._interactions_by_id.get(int(req.params["interaction_id"]))
        if it is None or it.token != req.params["token"]:
            return self._error(req, 404, 10062, "Unknown interaction", rule="no such interaction id/token")
        body = req.body if isinstance(req.body, dict) else {}
        if it.response is not None:
            return self._error(
                req,
                400,
                40060,
                "Interaction has already been acknowledged.",
                rule=f"second acknowledgement of {it.label}",
                interaction=it,
            )
        elapsed = asyncio.get_running_loop().time() - it.created_at
        if elapsed > self.ack_deadline:
            return self._error(
                req,
                404,
                10062,
                "Unknown interaction",
                rule=f"acknowledged {it.label} after {elapsed:.2f}s (deadline {self.ack_deadline:g}s)",
                interaction=it,
            )
        try:
            rtype = ResponseType(int(body.get("type", 0)))
        except ValueError:
            rtype = None
        allowed = {
            InteractionType.APPLICATION_COMMAND: {4, 5, 9},
            InteractionType.MESSAGE_COMPONENT: {4, 5, 6, 7, 9},
            InteractionType.AUTOCOMPLETE: {8},
            InteractionType.MODAL_SUBMIT: {4, 5, 6, 7} if it.message is not None else {4, 5},
        }[it.type]
        if rtype is None or rtype not in allowed:
            return self._invalid(
                req,
                [
                    limits.Violation(
                        ("type",),
                        "INTERACTION_RESPONSE_TYPE_INVALID",
                        f"Response type {body.get('type')} is not valid for a {it.type.name} interaction",
                    )
                ],
                it,
            )
        data = body.get("data") or {}
        response = FakeResponse(
            type=rtype, data=data, raw=body, received_at=received_at, with_response=req.with_response
        )
        if rtype == ResponseType.CHANNEL_MESSAGE:
            if (bad := self._check_new_message(req, data, it)) is not None:
                return bad
            msg_type = 20 if it.type == InteractionType.APPLICATION_COMMAND else 19
            response.message = it.original = self._create_message(
                it.channel.id if it.channel else 0,
                data,
                req.files,
                author=self.bot_user,
                msg_type=msg_type,
                interaction=it,
            )
        elif rtype == ResponseType.DEFERRED_CHANNEL_MESSAGE:
            flags = FLAG_LOADING | (int(data.get("flags") or 0) & FLAG_EPHEMERAL)
            response.message = it.original = self._create_message(
                it.channel.id if it.channel else 0,
                {},
                [],
                author=self.bot_user,
                msg_type=20,
                flags=flags,
                interaction=it,
            )
        elif rtype == ResponseType.DEFERRED_UPDATE_MESSAGE:
            it.original = it.message
        elif rtype == ResponseType.UPDATE_MESSAGE:
            assert it.message is not None
            if (bad := self._check_edit(req, it.message, data)) is not None:
                it.rejected.append(self.errors[-1])
                return bad
            self._apply_edit(it.message, data, req.files)
            response.message = it.original = it.message
            it.original_edits += 1
        elif rtype == ResponseType.AUTOCOMPLETE_RESULT:
            if violations := limits.check_autocomplete(data):
                return self._invalid(req, violations, it)
        elif rtype == ResponseType.MODAL:
            if violations := limits.check_modal(data):
                return self._invalid(req, violations, it)
            response.modal = FakeModal(
                custom_id=data.get("custom_id", ""),
                title=data.get("title", ""),
                components=data.get("components") or [],
                source=it,
            )
        it.response = response
        self._notify()
        for hook in self.response_hooks:
            hook(it)
        if not req.with_response:
            return _no_content()
        orig = it.original
        result: dict[str, Any] = {
            "interaction": {
                "id": str(it.id),
                "type": int(it.type),
                "activity_instance_id": None,
                "response_message_id": str(orig.id) if orig else None,
                "response_message_loading": bool(orig and orig.loading),
                "response_message_ephemeral": bool(orig and orig.ephemeral),
            },
            "resource": {"type": int(rtype)},
        }
        if response.message is not None:
            result["resource"]["message"] = response.message.payload
        return _json(result)

    def _interaction_for_hook(self, req: _Req) -> FakeInteraction | None:
        it = self._interactions_by_token.get(req.params["token"])
        if it is None or int(req.params["app_id"]) != self.application_id or it.response is None:
            return None
        return it

    async def _followup(self, req: _Req) -> web.Response:
        it = self._interaction_for_hook(req)
        if it is None:
            return self._error(
                req, 404, 10015, "Unknown Webhook", rule="follow-up for unknown or unacknowledged interaction"
            )
        body = req.body if isinstance(req.body, dict) else {}
        if (bad := self._check_new_message(req, body)) is not None:
            return bad
        orig = it.original
        if (
            orig is not None
            and orig.loading
            and it.response
            and it.response.type == ResponseType.DEFERRED_CHANNEL_MESSAGE
        ):
            # The first follow-up after a deferral replaces the "thinking" message and keeps its ephemerality.
            self._apply_edit(orig, body, req.files, replace=True)
            msg = orig
        else:
            msg = self._create_message(
                it.channel.id if it.channel else 0, body, req.files, author=self.bot_user, msg_type=19, interaction=it
            )
        it.followups.append(msg)
        self._notify()
        if req.query.get("wait", "").lower() in ("1", "true"):
            return _json(msg.payload)
        return _no_content()

    def _hook_message(self, req: _Req, it: FakeInteraction) -> FakeMessage | None:
        mid = req.params["message_id"]
        msg = it.original if mid == "@original" else next((m for m in it.messages() if m.id == int(mid)), None)
        return None if msg is None or msg.deleted else msg

    async def _get_webhook_message(self, req: _Req) -> web.Response:
        it = self._interaction_for_hook(req)
        msg = self._hook_message(req, it) if it else None
        if msg is None:
            return self._error(req, 404, 10008, "Unknown Message")
        return _json(msg.payload)

    async def _edit_webhook_message(self, req: _Req) -> web.Response:
        it = self._interaction_for_hook(req)
        if it is None:
            return self._error(
                req, 404, 10015, "Unknown Webhook", rule="edit for unknown or unacknowledged interaction"
            )
        msg = self._hook_message(req, it)
        if msg is None:
            return self._error(req, 404, 10008, "Unknown Message")
        body = req.body if isinstance(req.body, dict) else {}
        if (bad := self._check_edit(req, msg, body)) is not None:
            return bad
        self._apply_edit(msg, body, req.files, replace=msg.loading)
        if msg is it.original:
            it.original_edits += 1
        self._notify()
        return _json(msg.payload)

    async def _delete_webhook_message(self, req: _Req) -> web.Response:
        it = self._interaction_for_hook(req)
        msg = self._hook_message(req, it) if it else None
        if msg is None:
            return self._error(req, 404, 10008, "Unknown Message")
        msg.deleted = True
        self._notify()
        return _no_content()

    # ================================================================== REST: channels & messages
    def _channel_or_error(self, req: _Req) -> tuple[FakeChannel | None, web.Response | None]:
        chan = self._channels.get(int(req.params["channel_id"]))
        if chan is None or chan.deleted:
            return None, self._error(req, 404, 10003, "Unknown Channel")
        if chan.guild is not None and not chan.permissions_for(chan.guild.me) & VIEW_CHANNEL:
            return None, self._error(req, 403, 50001, "Missing Access", rule=f"bot cannot view #{chan.name}")
        return chan, None

    async def _get_channel(self, req: _Req) -> web.Response:
        chan, err = self._channel_or_error(req)
        return err if chan is None else _json(chan.to_dict())  # type: ignore[return-value]

    async def _typing(self, req: _Req) -> web.Response:
        chan, err = self._channel_or_error(req)
        return err if chan is None else _no_content()  # type: ignore[return-value]

    async def _post_message(self, req: _Req) -> web.Response:
        chan, err = self._channel_or_error(req)
        if chan is None:
            return err  # type: ignore[return-value]
        body = req.body if isinstance(req.body, dict) else {}
        if chan.guild is None and chan.recipient is not None and chan.recipient.id in self.dms_closed:
            return self._error(req, 403, 50007, "Cannot send messages to this user", rule="the user's DMs are closed")
        if chan.guild is not None:
            perms = chan.permissions_for(chan.guild.me)
            if not perms & SEND_MESSAGES:
                return self._error(
                    req, 403, 50013, "Missing Permissions", rule=f"bot lacks send_messages in #{chan.name}"
                )
            if req.files and not perms & ATTACH_FILES:
                return self._error(
                    req, 403, 50013, "Missing Permissions", rule=f"bot lacks attach_files in #{chan.name}"
                )
        if (bad := self._check_new_message(req, body)) is not None:
            return bad
        msg = self._create_message(chan.id, body, req.files, author=self.bot_user)
        return _json(msg.payload)

    async def _get_messages(self, req: _Req) -> web.Response:
        chan, err = self._channel_or_error(req)
        if chan is None:
            return err  # type: ignore[return-value]
        limit = int(req.query.get("limit", 50))
        msgs = list(reversed(chan.messages))[:limit]  # newest first, like Discord
        return _json([m.payload for m in msgs])

    def _channel_message(self, req: _Req) -> tuple[FakeMessage | None, web.Response | None]:
        chan, err = self._channel_or_error(req)
        if chan is None:
            return None, err
        msg = self.messages.get(int(req.params["message_id"]))
        if msg is None or msg.deleted or msg.ephemeral or msg.channel_id != chan.id:
            return None, self._error(req, 404, 10008, "Unknown Message")
        return msg, None

    async def _get_message(self, req: _Req) -> web.Response:
        msg, err = self._channel_message(req)
        return err if msg is None else _json(msg.payload)  # type: ignore[return-value]

    async def _edit_message(self, req: _Req) -> web.Response:
        msg, err = self._channel_message(req)
        if msg is None:
            return err  # type: ignore[return-value]
        if int(msg.payload["author"]["id"]) != self.bot_user.id:
            return self._error(req, 403, 50005, "Cannot edit a message authored by another user")
        body = req.body if isinstance(req.body, dict) else {}
        if (bad := self._check_edit(req, msg, body)) is not None:
            return bad
        self._apply_edit(msg, body, req.files)
        return _json(msg.payload)

    async def _delete_message(self, req: _Req) -> web.Response:
        msg, err = self._channel_message(req)
        if msg is None:
            return err  # type: ignore[return-value]
        msg.deleted = True
        chan = self._channels[msg.channel_id]
        self._emit_message_event_raw("MESSAGE_DELETE", chan, {"id": str(msg.id), "channel_id": str(chan.id)})
        self._notify()
        return _no_content()

    def _emit_message_event_raw(self, event: str, chan: FakeChannel, data: dict[str, Any]) -> None:
        if chan.guild is not None:
            data["guild_id"] = str(chan.guild.id)
        for s in self._live_sessions(chan.guild.id if chan.guild else None):
            if s.intents & (INTENT_GUILD_MESSAGES if chan.guild else INTENT_DIRECT_MESSAGES):
                self._emit(s, event, data)

    async def _add_reaction(self, req: _Req) -> web.Response:
        msg, err = self._channel_message(req)
        if msg is None:
            return err  # type: ignore[return-value]
        from urllib.parse import unquote

        emoji = unquote(req.params["emoji"])
        reactions = msg.payload.setdefault("reactions", [])
        if not any(r["emoji"]["name"] == emoji for r in reactions):
            reactions.append({"emoji": {"id": None, "name": emoji}, "count": 1, "me": True})
        self._notify()
        return _no_content()

    async def _remove_reaction(self, req: _Req) -> web.Response:
        msg, err = self._channel_message(req)
        if msg is None:
            return err  # type: ignore[return-value]
        from urllib.parse import unquote

        emoji = unquote(req.params["emoji"])
        msg.payload["reactions"] = [r for r in msg.payload.get("reactions", []) if r["emoji"]["name"] != emoji]
        self._notify()
        return _no_content()

    # ================================================================== REST: guilds
    def _guild_or_error(self, req: _Req) -> tuple[FakeGuild | None, web.Response | None]:
        guild = next((g for g in self.guilds if g.id == int(req.params["guild_id"])), None)
        if guild is None:
            return None, self._error(req, 404, 10004, "Unknown Guild")
        return guild, None

    async def _get_guild(self, req: _Req) -> web.Response:
        guild, err = self._guild_or_error(req)
        if guild is None:
            return err  # type: ignore[return-value]
        data = guild.to_dict(full=False)
        if req.query.get("with_counts", "").lower() in ("1", "true"):
            data.update(approximate_member_count=len(guild.members), approximate_presence_count=0)
        return _json(data)

    async def _get_guild_channels(self, req: _Req) -> web.Response:
        guild, err = self._guild_or_error(req)
        if guild is None:
            return err  # type: ignore[return-value]
        return _json([c.to_dict() for c in guild.channels if not c.deleted])

    async def _get_guild_roles(self, req: _Req) -> web.Response:
        guild, err = self._guild_or_error(req)
        if guild is None:
            return err  # type: ignore[return-value]
        return _json([r.to_dict() for r in guild.roles])

    async def _get_guild_members(self, req: _Req) -> web.Response:
        guild, err = self._guild_or_error(req)
        if guild is None:
            return err  # type: ignore[return-value]
        limit = int(req.query.get("limit", 1))
        after = int(req.query.get("after", 0))
        members = sorted((m for m in guild.members if m.id > after), key=lambda m: m.id)[:limit]
        return _json([m.to_dict() for m in members])

    async def _get_guild_member(self, req: _Req) -> web.Response:
        guild, err = self._guild_or_error(req)
        if guild is None:
            return err  # type: ignore[return-value]
        member = guild.get_member(int(req.params["user_id"]))
        if member is None:
            return self._error(req, 404, 10007, "Unknown Member")
        return _json(member.to_dict())

    # ================================================================== driving interactions
    def _member_of(self, guild: FakeGuild | None, user: FakeMember | FakeUser) -> FakeMember | None:
        if isinstance(user, FakeMember):
            return user
        return guild.get_member(user.id) if guild else None

    def _new_interaction(
        self,
        itype: InteractionType,
        data: dict[str, Any],
        guild: FakeGuild | None,
        channel: FakeChannel | None,
        user: FakeMember | FakeUser,
        *,
        label: str,
        message: FakeMessage | None = None,
    ) -> FakeInteraction:
        if not self._live_sessions(guild.id if guild else None):
            raise AssertionError(f"cannot send {label}: no bot session is connected (is the bot running and READY?)")
        iid = snowflake()
        token = f"aW50ZXJhY3Rpb246{iid}:{secrets.token_urlsafe(32)}"
        member = self._member_of(guild, user)
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(self.application_id),
            "type": int(itype),
            "data": data,
            "token": token,
            "version": 1,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": self.attachment_size_limit,
        }
        if guild is not None:
            if member is None:
                raise AssertionError(f"{user!r} is not a member of {guild.name!r}")
            payload.update(
                guild_id=str(guild.id),
                guild={"id": str(guild.id), "locale": guild.locale, "features": []},
                guild_locale=guild.locale,
                locale=member.locale,
                member=member.to_dict(permissions=member.permissions_in(channel)),
                app_permissions=str(guild.me.permissions_in(channel)),
                context=0,
                authorizing_integration_owners={"0": str(guild.id)},
            )
            if channel is not None:
                payload["channel_id"] = str(channel.id)
                payload["channel"] = channel.to_dict(permissions_for=member)
        else:
            raw_user = user.user if isinstance(user, FakeMember) else user
            if channel is None:
                channel = self.dm_channels.get(raw_user.id)
                if channel is None:
                    channel = FakeChannel(
                        self, id=snowflake(), name=f"dm-{raw_user.username}", guild=None, type=1, recipient=raw_user
                    )
                    self.dm_channels[raw_user.id] = channel
                    self._channels[channel.id] = channel
            payload.update(
                user=raw_user.to_dict(),
                locale="en-US",
                app_permissions=str(0),
                context=1,
                authorizing_integration_owners={"0": "0"},
                channel_id=str(channel.id),
                channel=channel.to_dict(),
            )
        if message is not None:
            payload["message"] = message.payload
        it = FakeInteraction(
            fake=self,
            id=iid,
            token=token,
            type=itype,
            payload=payload,
            guild=guild,
            channel=channel,
            user=member or user,
            created_at=asyncio.get_running_loop().time(),
            label=label,
            message=message,
        )
        self.interactions.append(it)
        self._interactions_by_id[iid] = it
        self._interactions_by_token[token] = it
        self.dispatch("INTERACTION_CREATE", payload, guild=guild)
        return it

    def _option_value(
        self,
        opt: dict[str, Any],
        value: Any,
        resolved: dict[str, dict[str, Any]],
        guild: FakeGuild | None,
        channel: FakeChannel | None,
        invoker: FakeMember | None,
        *,
        focused: bool,
    ) -> Any:
        otype = opt["type"]
        if focused:
            return str(value)
        if otype == 3:
            return str(value)
        if otype == 4:
            return int(value)
        if otype == 10:
            return float(value)
        if otype == 5:
            return bool(value)
        if otype == 11:
            att = value if isinstance(value, FakeAttachment) else None
            if att is None:
                raise AssertionError(f"option {opt['name']!r} is an ATTACHMENT: pass fake.add_attachment(...)")
            resolved.setdefault("attachments", {})[str(att.id)] = att.to_dict()
            return str(att.id)
        if isinstance(value, FakeMember | FakeUser) and otype in (6, 9):
            u = value.user if isinstance(value, FakeMember) else value
            resolved.setdefault("users", {})[str(u.id)] = u.to_dict()
            m = self._member_of(guild, value)
            if m is not None:
                resolved.setdefault("members", {})[str(u.id)] = m.to_dict(
                    with_user=False, permissions=m.permissions_in(channel)
                )
            return str(u.id)
        if isinstance(value, FakeRole) and otype in (8, 9):
            resolved.setdefault("roles", {})[str(value.id)] = value.to_dict()
            return str(value.id)
        if isinstance(value, FakeChannel) and otype == 7:
            data = value.to_dict(permissions_for=invoker) if invoker and value.guild else value.to_dict()
            resolved.setdefault("channels", {})[str(value.id)] = data
            return str(value.id)
        return str(value)

    def _build_command_data(
        self,
        guild: FakeGuild | None,
        channel: FakeChannel | None,
        user: FakeMember | FakeUser,
        command: str,
        values: dict[str, Any],
        *,
        focused: str | None = None,
    ) -> dict[str, Any]:
        parts = command.lstrip("/").split()
        cmd = self._find_command(parts[0], guild)
        invoker = self._member_of(guild, user)
        level: list[dict[str, Any]] = cmd.get("options") or []
        root: list[dict[str, Any]] = []
        holder = root
        for part in parts[1:]:
            sub = next((o for o in level if o["name"] == part and o["type"] in (1, 2)), None)
            if sub is None:
                names = [o["name"] for o in level if o["type"] in (1, 2)]
                raise AssertionError(f"/{command}: {part!r} is not a subcommand here (available: {names})")
            node: dict[str, Any] = {"name": part, "type": sub["type"], "options": []}
            holder.append(node)
            holder = node["options"]
            level = sub.get("options") or []
        if any(o["type"] in (1, 2) for o in level):
            names = [o["name"] for o in level]
            raise AssertionError(f"/{command} is a group; name a subcommand (available: {names})")
        resolved: dict[str, dict[str, Any]] = {}
        defs = {o["name"]: o for o in level}
        for name, value in values.items():
            if name not in defs:
                raise AssertionError(f"/{command} has no option {name!r} (options: {list(defs)})")
            opt = defs[name]
            is_focused = name == focused
            if opt.get("choices") and not is_focused:
                allowed = [c["value"] for c in opt["choices"]]
                if value not in allowed:
                    raise AssertionError(f"/{command} {name}={value!r} is not one of the choices {allowed}")
            entry: dict[str, Any] = {
                "name": name,
                "type": opt["type"],
                "value": self._option_value(opt, value, resolved, guild, channel, invoker, focused=is_focused),
            }
            if is_focused:
                entry["focused"] = True
            holder.append(entry)
        if focused is not None and focused not in values:
            if focused not in defs:
                raise AssertionError(f"/{command} has no option {focused!r} (options: {list(defs)})")
            holder.append({"name": focused, "type": defs[focused]["type"], "value": "", "focused": True})
        if focused is None:
            missing = [o["name"] for o in level if o.get("required") and o["name"] not in values]
            if missing:
                raise AssertionError(f"/{command}: required option(s) {missing} missing")
        data: dict[str, Any] = {"id": cmd["id"], "name": cmd["name"], "type": 1, "options": root}
        if resolved:
            data["resolved"] = resolved
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        return data

    async def slash(
        self,
        guild: FakeGuild | None,
        channel: FakeChannel | None,
        user: FakeMember | FakeUser,
        command: str,
        options: Mapping[str, Any] | None = None,
        /,
        **kwargs: Any,
    ) -> FakeInteraction:
        """Invoke a synced slash command as ``user`` in ``channel``: ``"fact search"`` walks subcommand
        groups. Options by keyword (or a mapping for names that are not identifiers); members, roles,
        channels and attachments (``add_attachment``) are resolved like Discord does. ``guild=None``: a DM.
        Returns at once; use ``wait_response()`` / ``wait_message()`` on the result."""
        values = {**(options or {}), **kwargs}
        data = self._build_command_data(guild, channel, user, command, values)
        return self._new_interaction(
            InteractionType.APPLICATION_COMMAND, data, guild, channel, user, label=f"/{command}"
        )

    async def autocomplete(
        self,
        guild: FakeGuild | None,
        channel: FakeChannel | None,
        user: FakeMember | FakeUser,
        command: str,
        options: Mapping[str, Any] | None = None,
        /,
        *,
        focused: str,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> list[dict[str, Any]]:
        """Type into option ``focused`` of ``command`` (other options as already filled in); return the
        choices the bot offered (``[{"name": ..., "value": ...}]``)."""
        values = {**(options or {}), **kwargs}
        data = self._build_command_data(guild, channel, user, command, values, focused=focused)
        it = self._new_interaction(
            InteractionType.AUTOCOMPLETE, data, guild, channel, user, label=f"autocomplete /{command} [{focused}]"
        )
        resp = await it.wait_response(timeout)
        return resp.choices

    def _resolve_target_message(self, target: FakeMessage | FakeInteraction) -> FakeMessage:
        if isinstance(target, FakeInteraction):
            if target.original is None:
                raise AssertionError(f"{target.label} has no message yet; await wait_message() first")
            return target.original
        return target

    def _component_user(self, msg: FakeMessage, user: FakeMember | FakeUser | None) -> FakeMember | FakeUser:
        if user is None:
            if msg.interaction is None:
                raise AssertionError("pass user=... (this message was not created by an interaction)")
            user = msg.interaction.user
        if msg.ephemeral and msg.interaction is not None and msg.interaction.user.id != user.id:
            raise AssertionError(f"{user!r} cannot see ephemeral message {msg.id}")
        if msg.deleted:
            raise AssertionError(f"message {msg.id} was deleted")
        return user

    def _component_context(self, msg: FakeMessage) -> tuple[FakeGuild | None, FakeChannel | None]:
        chan = self._channels.get(msg.channel_id)
        return (chan.guild if chan else None), chan

    async def click(
        self, message: FakeMessage | FakeInteraction, button: str, *, user: FakeMember | FakeUser | None = None
    ) -> FakeInteraction:
        """Click the button whose custom_id or label is ``button`` on ``message`` (a FakeMessage, or an
        interaction whose @original it is). ``user`` defaults to whoever triggered the message."""
        msg = self._resolve_target_message(message)
        comp = next((b for b in msg.buttons if button in (b.get("custom_id"), b.get("label"))), None)
        if comp is None:
            raise AssertionError(
                f"no button {button!r} on message {msg.id}; buttons: "
                f"{[(b.get('label'), b.get('custom_id')) for b in msg.buttons]}"
            )
        if comp.get("disabled"):
            raise AssertionError(f"button {button!r} is disabled; a user cannot click it")
        if comp.get("style") in (5, 6):
            raise AssertionError(f"button {button!r} is a link/premium button; it sends no interaction")
        who = self._component_user(msg, user)
        guild, chan = self._component_context(msg)
        data = {"custom_id": comp["custom_id"], "component_type": 2}
        if "id" in comp:
            data["id"] = comp["id"]
        return self._new_interaction(
            InteractionType.MESSAGE_COMPONENT, data, guild, chan, who, label=f"click {button!r}", message=msg
        )

    async def select(
        self,
        message: FakeMessage | FakeInteraction,
        select: str,
        values: list[Any],
        *,
        user: FakeMember | FakeUser | None = None,
    ) -> FakeInteraction:
        """Pick ``values`` in the select menu whose custom_id or placeholder is ``select``. For string
        selects, values are option values (or labels); for user/role/channel selects, fake objects."""
        msg = self._resolve_target_message(message)
        comp = next((s for s in msg.selects if select in (s.get("custom_id"), s.get("placeholder"))), None)
        if comp is None:
            raise AssertionError(
                f"no select {select!r} on message {msg.id}; selects: "
                f"{[(s.get('placeholder'), s.get('custom_id')) for s in msg.selects]}"
            )
        if comp.get("disabled"):
            raise AssertionError(f"select {select!r} is disabled")
        lo, hi = comp.get("min_values", 1), comp.get("max_values", 1)
        if not lo <= len(values) <= hi:
            raise AssertionError(f"select {select!r} takes {lo}..{hi} values, got {len(values)}")
        who = self._component_user(msg, user)
        guild, chan = self._component_context(msg)
        data: dict[str, Any] = {"custom_id": comp["custom_id"], "component_type": comp["type"]}
        if comp["type"] == 3:
            out = []
            for v in values:
                opt = next((o for o in comp.get("options", []) if v in (o.get("value"), o.get("label"))), None)
                if opt is None:
                    raise AssertionError(
                        f"select {select!r} has no option {v!r}; options: {[o.get('value') for o in comp['options']]}"
                    )
                out.append(opt["value"])
            data["values"] = out
        else:
            resolved: dict[str, dict[str, Any]] = {}
            otype = {5: 6, 6: 8, 7: 7, 8: 9}[comp["type"]]
            invoker = self._member_of(guild, who)
            data["values"] = [
                self._option_value({"type": otype, "name": select}, v, resolved, guild, chan, invoker, focused=False)
                for v in values
            ]
            data["resolved"] = resolved
        return self._new_interaction(
            InteractionType.MESSAGE_COMPONENT, data, guild, chan, who, label=f"select {select!r}", message=msg
        )

    async def forge_component(
        self,
        message: FakeMessage | FakeInteraction,
        data: dict[str, Any],
        *,
        user: FakeMember | FakeUser | None = None,
        channel: FakeChannel | None = None,
    ) -> FakeInteraction:
        """Send a component interaction on ``message`` with any ``data`` (e.g. a select with no values), as a
        hostile client could; nothing is checked against the message's components. ``channel`` (with ``user``)
        sends it from another channel and server than the message's, replaying a message seen elsewhere."""
        msg = self._resolve_target_message(message)
        if channel is not None and user is not None:
            who: FakeMember | FakeUser = user
            guild, chan = channel.guild, channel
        else:
            who = self._component_user(msg, user)
            guild, chan = self._component_context(msg)
        return self._new_interaction(
            InteractionType.MESSAGE_COMPONENT, data, guild, chan, who, label=f"forged {data!r}"[:80], message=msg
        )

    async def submit_modal(
        self,
        source: FakeInteraction | FakeModal | str,
        values: Mapping[str, str],
        *,
        user: FakeMember | FakeUser | None = None,
        guild: FakeGuild | None = None,
        channel: FakeChannel | None = None,
    ) -> FakeInteraction:
        """Submit a modal: ``source`` is the interaction the bot answered with a modal (or the FakeModal).
        ``values`` maps each text input's custom_id *or label* to the typed text. Passing a string
        ``source`` forges a submit with that custom_id (then give ``user``, ``guild``, ``channel``)."""
        remaining = dict(values)
        message = None
        if isinstance(source, str):
            custom_id = source
            components = [
                {"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]} for k, v in values.items()
            ]
            remaining = {}
            if user is None:
                raise AssertionError("a forged modal submit needs user=...")
        else:
            modal = await source.wait_modal() if isinstance(source, FakeInteraction) else source
            custom_id = modal.custom_id
            origin = modal.source
            user = user or origin.user
            guild = guild or origin.guild
            channel = channel or origin.channel
            message = origin.message

            def fill(ti: dict[str, Any], label: str | None) -> dict[str, Any]:
                key = ti.get("custom_id") if ti.get("custom_id") in remaining else label
                if ti.get("type") == 3:
                    picked = remaining.pop(key, []) if key in remaining else []
                    return {"type": 3, "custom_id": ti["custom_id"], "values": list(picked)}
                if key in remaining:
                    text = str(remaining.pop(key))
                else:
                    if ti.get("required", True):
                        raise AssertionError(
                            f"modal {modal.title!r}: required input {label or ti.get('custom_id')!r} not given"
                        )
                    text = ""
                if ti.get("max_length") is not None and len(text) > ti["max_length"]:
                    raise AssertionError(f"modal input {label!r}: at most {ti['max_length']} characters")
                if text and ti.get("min_length") is not None and len(text) < ti["min_length"]:
                    raise AssertionError(f"modal input {label!r}: at least {ti['min_length']} characters")
                return {"type": 4, "custom_id": ti["custom_id"], "value": text}

            components = []
            for comp in modal.components:
                if comp.get("type") == 1:
                    components.append(
                        {"type": 1, "components": [fill(ti, ti.get("label")) for ti in comp.get("components") or []]}
                    )
                elif comp.get("type") == 18 and isinstance(comp.get("component"), dict):
                    components.append({"type": 18, "component": fill(comp["component"], comp.get("label"))})
            if remaining:
                raise AssertionError(f"modal {modal.title!r} has no input(s) {list(remaining)}; inputs: {modal.labels}")
        assert user is not None
        data = {"custom_id": custom_id, "components": components}
        return self._new_interaction(
            InteractionType.MODAL_SUBMIT,
            data,
            guild,
            channel,
            user,
            label=f"modal submit {custom_id!r}",
            message=message,
        )

    async def send_user_message(self, channel: FakeChannel, user: FakeMember | FakeUser, content: str) -> FakeMessage:
        """A user posts ``content`` in ``channel`` (MESSAGE_CREATE; content is blanked unless the bot
        asked for the message_content intent, is mentioned, or it is a DM, as on Discord)."""
        raw_user = user.user if isinstance(user, FakeMember) else user
        msg = FakeMessage(
            id=snowflake(),
            channel_id=channel.id,
            guild_id=channel.guild.id if channel.guild else None,
            payload={},
            raw={"content": content},
        )
        msg.payload = self._message_payload(
            mid=msg.id,
            channel=channel,
            channel_id=channel.id,
            author=raw_user,
            body={"content": content},
            attachments=[],
            msg_type=0,
            flags=0,
            interaction=None,
        )
        self.messages[msg.id] = msg
        channel.all_messages.append(msg)
        needed = INTENT_GUILD_MESSAGES if channel.guild else INTENT_DIRECT_MESSAGES
        for s in self._live_sessions(channel.guild.id if channel.guild else None):
            if s.intents & needed:
                data = dict(msg.payload)
                sees_content = (
                    s.intents & INTENT_MESSAGE_CONTENT or channel.guild is None or self.bot_user.mention in content
                )
                if not sees_content:
                    data["content"] = ""
                self._emit(s, "MESSAGE_CREATE", data)
        self._notify()
        return msg

    # ================================================================== misc
    def iter_errors(self, code: int | None = None) -> Iterator[FakeError]:
        """Errors the fake returned, optionally only those with Discord error ``code``."""
        return (e for e in self.errors if code is None or e.code == code)
