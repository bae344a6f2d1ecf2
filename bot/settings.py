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

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import msgspec
import yaml

__all__ = [
    "COOLDOWN_COMMANDS",
    "Cooldown",
    "Daily",
    "Settings",
    "SettingsError",
    "default_cards_dir",
    "default_config_path",
    "load_settings",
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
    """Daily posts (the daily cog): how late a missed post may still go out."""

    catch_up_hours: Annotated[float, msgspec.Meta(ge=0, le=24)] = 6.0


class Settings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Everything the bot is configured with. Build it with :func:`load_settings`."""

    token: str | None = None
    cards_dir: Path = SHIPPED_CARDS
    database: Path = Path("factdeck.db")
    cache_dir: Path | None = None
    dev_guilds: tuple[Snowflake, ...] = ()
    moderator_roles: list[RoleRef] | dict[str, list[RoleRef]] = msgspec.field(default_factory=list)
    log_level: str = "INFO"
    view_flush_interval: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 1.0
    daily: Daily = Daily()
    cooldowns: dict[str, Cooldown] = msgspec.field(default_factory=_default_cooldowns)
    guild_ready_timeout: Annotated[float, msgspec.Meta(ge=0, le=60)] = 2.0
    results_timeout: Annotated[float, msgspec.Meta(ge=1, le=840)] = 300.0
    health_file: Path | None = None
    #: Card files larger than this many bytes are refused unread (docs/cards.md, "Files that are not read").
    max_card_file_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 16 << 20
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
    def effective_cache_dir(self) -> Path:
        """Where the card and search-index caches go: ``cache_dir``, else ``.factdeck-cache`` beside the database."""
        return self.cache_dir if self.cache_dir is not None else self.database.parent / ".factdeck-cache"


_FIELDS = tuple(f.encode_name for f in msgspec.structs.fields(Settings) if f.encode_name != "source")


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


def _env_overrides(env: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    data: dict[str, Any] = {}
    problems: list[str] = []
    if env.get("DISCORD_TOKEN"):
        data["token"] = env["DISCORD_TOKEN"]
    aliases = {"FACTDECK_CARDS": "cards_dir", "FACTDECK_CACHE": "cache_dir"}
    for name, key in aliases.items():
        if env.get(name):
            data[key] = env[name]
    for key in _FIELDS:
        name = f"FACTDECK_{key.upper()}"
        value = env.get(name)
        if value is None or key in ("token", "cooldowns", "daily"):
            continue
        if key in ("dev_guilds", "moderator_roles"):
            data[key] = [v.strip() for v in value.split(",") if v.strip()]
        else:
            data[key] = value
    if env.get("FACTDECK_CATCH_UP_HOURS"):
        data["daily"] = {"catch_up_hours": env["FACTDECK_CATCH_UP_HOURS"]}
    for command in COOLDOWN_COMMANDS:
        name = f"FACTDECK_COOLDOWN_{command.upper()}"
        if name in env:
            rate, _, per = env[name].partition("/")
            try:
                data.setdefault("cooldowns", {})[command] = {"rate": int(rate), "per": float(per or 10)}
            except ValueError:
                problems.append(f"{name}={env[name]!r}: expected RATE/SECONDS, e.g. 5/10")
    return data, problems


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
        try:
            text = config.read_text(encoding="utf-8")
            root = yaml.compose(text, Loader=yaml.SafeLoader)
            loaded = yaml.safe_load(text)
        except OSError as exc:
            raise SettingsError(f"{config}: cannot read it: {exc.strerror or exc}") from exc
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            where = f"{config}:{mark.line + 1}:{mark.column + 1}" if mark else str(config)
            raise SettingsError(f"{where}: not valid YAML: {exc.problem}") from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise SettingsError(f"{config}:1: expected a mapping of keys (token: ..., cards_dir: ...)")
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
    overrides, problems = _env_overrides(env)
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
    bad_entry = _check_mappings(merged)
    if bad_entry is not None:
        key_path, message = bad_entry
        raise SettingsError(f"{_origin(key_path, overrides, config, root)}: {message}")
    try:
        settings = msgspec.convert(merged, Settings, strict=False, dec_hook=_dec_hook)
    except msgspec.ValidationError as exc:
        message, _, where = str(exc).partition(" - at `")
        key_path = _parse_path(where.rstrip("`"))
        raise SettingsError(f"{_origin(key_path, overrides, config, root)}: {message}") from exc
    return _finish(settings, base, source, config, root)


def _origin(key_path: list[str | int], overrides: dict[str, Any], config: Path, root: yaml.Node | None) -> str:
    top = str(key_path[0]) if key_path else ""
    dotted = ".".join(str(p) for p in key_path) or "<file>"
    if top and top in overrides:
        name = "DISCORD_TOKEN" if top == "token" else f"FACTDECK_{top.upper()}"
        return f"environment {name} ({dotted})"
    return f"{config}:{_line_of(root, key_path) or 1}: {dotted}"


def _dec_hook(kind: type, value: Any) -> Any:
    if kind is Path and isinstance(value, str):
        return Path(value)
    raise NotImplementedError


def _finish(settings: Settings, base: Path, source: Path | None, config: Path, root: yaml.Node | None) -> Settings:
    def resolve(p: Path | None) -> Path | None:
        if p is None:
            return None
        p = p.expanduser()
        return p if p.is_absolute() else (base / p).resolve()

    level = settings.log_level.upper()
    if level not in LOG_LEVELS:
        raise SettingsError(
            f"{config}:{_line_of(root, ['log_level']) or 1}: log_level {settings.log_level!r} is not one of "
            + ", ".join(LOG_LEVELS)
        )
    bad = [c for c in settings.cooldowns if c not in COOLDOWN_COMMANDS]
    if bad:
        raise SettingsError(
            f"{config}:{_line_of(root, ['cooldowns', bad[0]]) or 1}: no cooldown for {bad[0]!r}; "
            f"commands with cooldowns: {', '.join(COOLDOWN_COMMANDS)}"
        )
    if isinstance(settings.moderator_roles, dict):
        for key in settings.moderator_roles:
            if key != "*" and not key.isdigit():
                raise SettingsError(
                    f"{config}:{_line_of(root, ['moderator_roles', key]) or 1}: moderator_roles keys are guild "
                    f"ids or '*' (all guilds), not {key!r}"
                )
    if settings.token is not None and not settings.token.strip():
        settings = msgspec.structs.replace(settings, token=None)
    cards = resolve(settings.cards_dir)
    assert cards is not None
    if not cards.is_dir():
        raise SettingsError(
            f"{config}:{_line_of(root, ['cards_dir']) or 1}: cards_dir {cards} is not a folder of card files"
        )
    cooldowns = {**_default_cooldowns(), **settings.cooldowns}
    return msgspec.structs.replace(
        settings,
        cards_dir=cards,
        database=resolve(settings.database),
        cache_dir=resolve(settings.cache_dir),
        health_file=resolve(settings.health_file),
        log_level=level,
        cooldowns=cooldowns,
        source=source,
    )
