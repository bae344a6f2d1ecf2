"""Discord's server-side validation rules, so tests catch what production would reject.

Each checker returns a list of :class:`Violation`; the server turns them into Discord's
``{"code": 50035, "message": "Invalid Form Body", "errors": {...}}`` body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELDS_MAX = 25
EMBED_FIELD_NAME_MAX = 256
EMBED_FIELD_VALUE_MAX = 1024
EMBED_FOOTER_MAX = 2048
EMBED_AUTHOR_MAX = 256
EMBED_TOTAL_MAX = 6000
ACTION_ROWS_MAX = 5
ROW_COMPONENTS_MAX = 5
SELECT_OPTIONS_MAX = 25
CUSTOM_ID_MAX = 100
BUTTON_LABEL_MAX = 80
CHOICES_MAX = 25
OPTIONS_MAX = 25
MODAL_TITLE_MAX = 45
MODAL_COMPONENTS_MAX = 5
COMMAND_NAME_RE = re.compile(r"^[-_\w]{1,32}$")


@dataclass
class Violation:
    """One broken rule: ``path`` into the request body, Discord's error ``code`` and ``message``."""

    path: tuple[str | int, ...]
    code: str
    message: str

    @property
    def where(self) -> str:
        """Dotted path, e.g. ``embeds.0.title``."""
        return ".".join(str(p) for p in self.path) or "<body>"

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def errors_body(violations: list[Violation]) -> dict[str, Any]:
    """Nest violations the way Discord does: ``{"embeds": {"0": {"title": {"_errors": [...]}}}}``."""
    root: dict[str, Any] = {}
    for v in violations:
        node = root
        for part in v.path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": v.code, "message": v.message})
    return root


def _max_len(out: list[Violation], path: tuple[str | int, ...], value: Any, limit: int) -> None:
    if isinstance(value, str) and len(value) > limit:
        out.append(Violation(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length (got {len(value)})."))


def _len_between(out: list[Violation], path: tuple[str | int, ...], value: Any, lo: int, hi: int) -> None:
    n = len(value) if isinstance(value, str) else 0
    if not lo <= n <= hi:
        out.append(Violation(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {lo} and {hi} in length (got {n})."))


# --- messages -------------------------------------------------------------------------------------
def embed_size(embed: dict[str, Any]) -> int:
    """Characters counted towards the 6000 limit."""
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    total += len((embed.get("footer") or {}).get("text") or "")
    total += len((embed.get("author") or {}).get("name") or "")
    for f in embed.get("fields") or []:
        total += len(f.get("name") or "") + len(f.get("value") or "")
    return total


def check_embeds(embeds: list[dict[str, Any]]) -> list[Violation]:
    """Embed count, per-field lengths and the 6000 total."""
    out: list[Violation] = []
    if len(embeds) > EMBEDS_MAX:
        out.append(Violation(("embeds",), "BASE_TYPE_MAX_LENGTH", f"Must be {EMBEDS_MAX} or fewer in length."))
    for i, e in enumerate(embeds):
        p: tuple[str | int, ...] = ("embeds", i)
        _max_len(out, (*p, "title"), e.get("title"), EMBED_TITLE_MAX)
        _max_len(out, (*p, "description"), e.get("description"), EMBED_DESCRIPTION_MAX)
        _max_len(out, (*p, "footer", "text"), (e.get("footer") or {}).get("text"), EMBED_FOOTER_MAX)
        _max_len(out, (*p, "author", "name"), (e.get("author") or {}).get("name"), EMBED_AUTHOR_MAX)
        fields = e.get("fields") or []
        if len(fields) > EMBED_FIELDS_MAX:
            out.append(
                Violation((*p, "fields"), "BASE_TYPE_MAX_LENGTH", f"Must be {EMBED_FIELDS_MAX} or fewer in length.")
            )
        for j, f in enumerate(fields):
            for key, limit in (("name", EMBED_FIELD_NAME_MAX), ("value", EMBED_FIELD_VALUE_MAX)):
                val = f.get(key)
                if not val:
                    out.append(Violation((*p, "fields", j, key), "BASE_TYPE_REQUIRED", "This field is required"))
                else:
                    _max_len(out, (*p, "fields", j, key), val, limit)
    total = sum(embed_size(e) for e in embeds)
    if total > EMBED_TOTAL_MAX:
        out.append(
            Violation(
                ("embeds",),
                "MAX_EMBED_SIZE_EXCEEDED",
                f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX} (got {total}).",
            )
        )
    return out


def check_components(components: list[dict[str, Any]], *, v2: bool = False) -> list[Violation]:
    """Action rows, buttons, selects: counts, custom_id lengths and uniqueness, option counts."""
    out: list[Violation] = []
    seen: set[str] = set()
    if not v2 and len(components) > ACTION_ROWS_MAX:
        out.append(Violation(("components",), "BASE_TYPE_MAX_LENGTH", f"Must be {ACTION_ROWS_MAX} or fewer in length."))

    def check_leaf(c: dict[str, Any], p: tuple[str | int, ...]) -> None:
        ctype = c.get("type")
        cid = c.get("custom_id")
        if cid is not None:
            _len_between(out, (*p, "custom_id"), cid, 1, CUSTOM_ID_MAX)
            if cid in seen:
                out.append(
                    Violation(
                        (*p, "custom_id"), "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated"
                    )
                )
            seen.add(cid)
        if ctype == 2:
            _max_len(out, (*p, "label"), c.get("label"), BUTTON_LABEL_MAX)
            if c.get("style") == 5:
                if not c.get("url"):
                    out.append(Violation((*p, "url"), "BASE_TYPE_REQUIRED", "This field is required"))
            elif c.get("style") != 6 and cid is None:
                out.append(Violation((*p, "custom_id"), "BASE_TYPE_REQUIRED", "This field is required"))
        if ctype == 3:
            opts = c.get("options") or []
            if not 1 <= len(opts) <= SELECT_OPTIONS_MAX:
                out.append(
                    Violation(
                        (*p, "options"),
                        "BASE_TYPE_BAD_LENGTH",
                        f"Must be between 1 and {SELECT_OPTIONS_MAX} in length (got {len(opts)}).",
                    )
                )
            for k, o in enumerate(opts):
                _len_between(out, (*p, "options", k, "label"), o.get("label"), 1, 100)
                _len_between(out, (*p, "options", k, "value"), o.get("value"), 1, 100)
        if ctype in (3, 5, 6, 7, 8):
            _max_len(out, (*p, "placeholder"), c.get("placeholder"), 150)
            max_values = c.get("max_values", 1)
            if ctype == 3 and max_values > len(c.get("options") or []):
                out.append(Violation((*p, "max_values"), "BASE_TYPE_MAX", "max_values exceeds the number of options"))

    def walk(comps: list[dict[str, Any]], p: tuple[str | int, ...]) -> None:
        for i, c in enumerate(comps):
            cp = (*p, i)
            if c.get("type") == 1:
                children = c.get("components") or []
                if not 1 <= len(children) <= ROW_COMPONENTS_MAX:
                    out.append(
                        Violation(
                            (*cp, "components"),
                            "BASE_TYPE_BAD_LENGTH",
                            f"Must be between 1 and {ROW_COMPONENTS_MAX} in length (got {len(children)}).",
                        )
                    )
                if any(ch.get("type") in (3, 4, 5, 6, 7, 8) for ch in children) and len(children) > 1:
                    out.append(
                        Violation(
                            (*cp, "components"),
                            "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                            "The specified component exceeds the maximum width",
                        )
                    )
                walk(children, (*cp, "components"))
            elif c.get("components"):
                walk(c["components"], (*cp, "components"))
            else:
                check_leaf(c, cp)
            if isinstance(c.get("accessory"), dict):
                check_leaf(c["accessory"], (*cp, "accessory"))
            if isinstance(c.get("component"), dict):
                check_leaf(c["component"], (*cp, "component"))

    walk(components, ("components",))
    return out


def check_message(body: dict[str, Any], *, has_files: bool = False, creating: bool = True) -> list[Violation]:
    """All message rules: content length, embeds, components, and not empty (code 50006 handled by caller)."""
    out: list[Violation] = []
    _max_len(out, ("content",), body.get("content"), CONTENT_MAX)
    out += check_embeds(body.get("embeds") or [])
    flags = int(body.get("flags") or 0)
    out += check_components(body.get("components") or [], v2=bool(flags & (1 << 15)))
    return out


def is_empty_message(body: dict[str, Any], *, has_files: bool) -> bool:
    """Discord refuses to create a message with nothing in it (code 50006)."""
    return not (
        body.get("content")
        or body.get("embeds")
        or body.get("components")
        or body.get("sticker_ids")
        or body.get("poll")
        or has_files
    )


# --- interaction callbacks ---------------------------------------------------------------------------
def check_autocomplete(data: dict[str, Any]) -> list[Violation]:
    """At most 25 choices; names 1-100 characters; string values at most 100."""
    out: list[Violation] = []
    choices = data.get("choices") or []
    if len(choices) > CHOICES_MAX:
        out.append(
            Violation(
                ("data", "choices"),
                "BASE_TYPE_MAX_LENGTH",
                f"Must be {CHOICES_MAX} or fewer in length (got {len(choices)}).",
            )
        )
    for i, c in enumerate(choices):
        _len_between(out, ("data", "choices", i, "name"), c.get("name"), 1, 100)
        if isinstance(c.get("value"), str):
            _max_len(out, ("data", "choices", i, "value"), c["value"], 100)
    return out


def check_modal(data: dict[str, Any]) -> list[Violation]:
    """Title 1-45, custom_id 1-100, 1-5 top-level components, text input labels <= 45."""
    out: list[Violation] = []
    _len_between(out, ("data", "title"), data.get("title"), 1, MODAL_TITLE_MAX)
    _len_between(out, ("data", "custom_id"), data.get("custom_id"), 1, CUSTOM_ID_MAX)
    comps = data.get("components") or []
    if not 1 <= len(comps) <= MODAL_COMPONENTS_MAX:
        out.append(
            Violation(
                ("data", "components"),
                "BASE_TYPE_BAD_LENGTH",
                f"Must be between 1 and {MODAL_COMPONENTS_MAX} in length (got {len(comps)}).",
            )
        )
    for i, c in enumerate(comps):
        inner = c.get("components") or ([c["component"]] if isinstance(c.get("component"), dict) else [])
        for j, ti in enumerate(inner):
            if ti.get("type") == 4:
                _len_between(out, ("data", "components", i, "components", j, "custom_id"), ti.get("custom_id"), 1, 100)
                if c.get("type") == 1:
                    _len_between(out, ("data", "components", i, "components", j, "label"), ti.get("label"), 1, 45)
        if c.get("type") == 18:
            _len_between(out, ("data", "components", i, "label"), c.get("label"), 1, 45)
    return out


# --- application commands ------------------------------------------------------------------------------
def check_commands(commands: list[dict[str, Any]]) -> list[Violation]:
    """Names, descriptions, option counts and choices for a bulk overwrite (PUT) body."""
    out: list[Violation] = []
    if len(commands) > 100:
        out.append(Violation((), "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length."))
    seen: set[tuple[int, str]] = set()
    for i, cmd in enumerate(commands):
        ctype = cmd.get("type", 1)
        name = cmd.get("name")
        key = (ctype, name)
        if key in seen:
            out.append(
                Violation(
                    (i, "name"),
                    "APPLICATION_COMMANDS_DUPLICATE_NAME",
                    f"Application command names must be unique ({name!r})",
                )
            )
        seen.add(key)  # type: ignore[arg-type]
        if ctype == 1:
            _check_name(out, (i, "name"), name)
            _len_between(out, (i, "description"), cmd.get("description"), 1, 100)
            _check_options(out, (i,), cmd.get("options") or [], depth=0)
        else:
            _len_between(out, (i, "name"), name, 1, 32)
            if cmd.get("description"):
                out.append(
                    Violation(
                        (i, "description"), "BASE_TYPE_MAX_LENGTH", "Context menu commands cannot have a description."
                    )
                )
    return out


def _check_name(out: list[Violation], path: tuple[str | int, ...], name: Any) -> None:
    if not isinstance(name, str) or not COMMAND_NAME_RE.match(name):
        out.append(
            Violation(
                path,
                "APPLICATION_COMMAND_INVALID_NAME",
                f"Command name is invalid ({name!r}): 1-32 characters of letters, digits, - or _.",
            )
        )
    elif name != name.lower():
        out.append(Violation(path, "APPLICATION_COMMAND_INVALID_NAME", f"Command name must be lowercase ({name!r})."))


def _check_options(
    out: list[Violation], path: tuple[str | int, ...], options: list[dict[str, Any]], depth: int
) -> None:
    if len(options) > OPTIONS_MAX:
        out.append(
            Violation(
                (*path, "options"),
                "BASE_TYPE_MAX_LENGTH",
                f"Must be {OPTIONS_MAX} or fewer in length (got {len(options)}).",
            )
        )
    names: set[str] = set()
    seen_optional = False
    for j, opt in enumerate(options):
        p = (*path, "options", j)
        otype = opt.get("type")
        _check_name(out, (*p, "name"), opt.get("name"))
        _len_between(out, (*p, "description"), opt.get("description"), 1, 100)
        if opt.get("name") in names:
            out.append(
                Violation(
                    (*p, "name"), "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Option names must be unique"
                )
            )
        names.add(opt.get("name", ""))
        if otype in (1, 2):
            if (otype == 2 and depth > 0) or (otype == 1 and depth > 1):
                out.append(
                    Violation((*p, "type"), "APPLICATION_COMMAND_OPTION_TYPE_INVALID", "Subcommands nested too deeply")
                )
            _check_options(out, p, opt.get("options") or [], depth + 1)
            continue
        if opt.get("required"):
            if seen_optional:
                out.append(
                    Violation(
                        (*p, "required"),
                        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                        "Required options must be placed before non-required options",
                    )
                )
        else:
            seen_optional = True
        choices = opt.get("choices") or []
        if len(choices) > CHOICES_MAX:
            out.append(
                Violation(
                    (*p, "choices"),
                    "BASE_TYPE_MAX_LENGTH",
                    f"Must be {CHOICES_MAX} or fewer in length (got {len(choices)}).",
                )
            )
        if choices and opt.get("autocomplete"):
            out.append(
                Violation(
                    (*p, "autocomplete"),
                    "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_CHOICES",
                    "Autocomplete cannot be set with choices",
                )
            )
        for k, c in enumerate(choices):
            _len_between(out, (*p, "choices", k, "name"), c.get("name"), 1, 100)
            if isinstance(c.get("value"), str):
                _len_between(out, (*p, "choices", k, "value"), c["value"], 1, 100)
