"""Reading and writing card files as YAML.

Reading uses PyYAML's C loader with safe constructors only, so no Python object is ever built from a tag.
Two resolver changes keep curators' text as they typed it: timestamps stay strings (the model parses
``added_at``), and only ``true``/``false`` are booleans (YAML 1.1 would turn a topic ``no`` or ``on`` into one).

Writing produces the layout documented in docs/cards.md: keys in model order, long texts as folded block
scalars, so that a diff of one change shows one card.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

import yaml

from bot.cards.model import CARD_KEYS, COLLECTION_KEYS, FILE_KEYS, SOURCE_KEYS, CardFile, to_builtins

try:  # PyYAML built against libyaml: several times faster.
    from yaml import CSafeLoader as _BaseLoader

    HAS_C_LOADER = True
except ImportError:  # pragma: no cover - only where libyaml is missing
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

    HAS_C_LOADER = False


class Position(Protocol):
    """Where a node or an error is in a file (0-based), as both PyYAML's and libyaml's marks give it."""

    @property
    def line(self) -> int: ...
    @property
    def column(self) -> int: ...


class CardLoader(_BaseLoader):
    """The safe (C) loader with timestamp and YAML 1.1 yes/no/on/off resolution turned off."""


CardLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")
    ]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
CardLoader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL, list("tTfF"))

# Numbers as YAML 1.2 writes them. YAML 1.1 also reads 0x7D0, 0o3720, 0b11111010000, 2_000 and 33:20 (base 60)
# as 2000: a year or a topic that happens to look like one would silently become a different value.
_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
CardLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _NUMBER_TAGS]
    for first, resolvers in CardLoader.yaml_implicit_resolvers.items()
}
_DECIMAL = re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$")  # no leading zero: 03720 is octal in YAML 1.1
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
CardLoader.add_implicit_resolver("tag:yaml.org,2002:int", _DECIMAL, list("-+0123456789"))
CardLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))

# Only plain text, numbers, true/false, empty, lists and mappings can be built. Any other tag (!!set, !!omap,
# !!pairs, !!binary, !!timestamp) is refused by name instead of turning into a value no card field expects.
_ALLOWED_TAGS = {f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float", "str", "seq", "map")}
CardLoader.yaml_constructors = {
    tag: build for tag, build in _BaseLoader.yaml_constructors.items() if tag in _ALLOWED_TAGS or tag is None
}


def _construct_decimal(loader: CardLoader, node: yaml.ScalarNode) -> int:
    """``!!int`` as written in decimal digits only (an explicit tag must not bring hex or base 60 back)."""
    value = loader.construct_scalar(node)
    if not isinstance(value, str) or not _DECIMAL.match(value):
        shown = str(value)[:40]
        raise yaml.constructor.ConstructorError(
            None, None, f"'{shown}' is not a whole number written in decimal digits", node.start_mark
        )
    return int(value)


CardLoader.add_constructor("tag:yaml.org,2002:int", _construct_decimal)

# An anchor (&name) or alias (*name) token: a word glued to & or * after white space or a flow indicator.
# Text like "Horvath & Symonds" or "R&D" does not match; a match only means "look closer" (see find_alias).
_ANCHOR_OR_ALIAS = re.compile(r"(?:^|[\s\[\]{},])[&*][^\s\[\]{},]")


def load(text: str) -> Any:
    """Parse YAML text into plain data. Callers must have checked ``find_alias`` first."""
    return yaml.load(text, Loader=CardLoader)


def compose(text: str) -> yaml.Node | None:
    """Parse YAML text into a node tree whose nodes carry line and column marks."""
    return yaml.compose(text, Loader=CardLoader)


def construct(node: yaml.Node) -> Any:
    """Build the plain Python value of one node (safe constructors only)."""
    loader = CardLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def find_alias(text: str) -> Position | None:
    """The position of the first YAML alias in ``text``, or None.

    Card files never need aliases, and aliases are how a small file expands into billions of nodes (the
    "billion laughs" attack), so the loader refuses any file that has one, before it is built. The cheap regular
    expression screens out nearly every file; only a possible match pays for a scan of the parser's events,
    which never expands an alias. Never raises: a file that does not parse has no alias to find.
    """
    if _ANCHOR_OR_ALIAS.search(text) is None:
        return None
    try:
        for event in yaml.parse(text, Loader=CardLoader):
            if isinstance(event, yaml.AliasEvent):
                return event.start_mark
    except yaml.YAMLError:
        # A syntax error before any alias: loading the text stops at the same error (before anything is built)
        # and reports it where it is; it is not this screen's to raise.
        return None
    return None


# ---------------------------------------------------------------------------------------------- writing
FOLD_AT = 88


class _CardDumper(yaml.SafeDumper):
    """Block scalars for long and multi-line text; everything else as PyYAML would write it.

    The pure-Python emitter is used on purpose: writes are one file at a time, and it lets list items be
    indented under their key as curators write them by hand.
    """

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent list items under their key ("cards:\n  - id: ..."), as curators write them by hand.
        super().increase_indent(flow, False)


#: Line breaks in YAML 1.1 besides \n. In a block or plain scalar the reader folds NEL into a space or a newline,
#: so a text holding one is written double-quoted, where it is escaped (\N) and reads back as written.
_OTHER_BREAKS = frozenset("\x85\u2028\u2029")


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if not _OTHER_BREAKS.isdisjoint(value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    if len(value) > FOLD_AT:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=">")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_CardDumper.add_representer(str, _represent_str)
# Quote any text the card loader would read as a number ("09", "1e3"), besides what YAML 1.1 would (as before).
_CardDumper.add_implicit_resolver("tag:yaml.org,2002:int", _DECIMAL, list("-+0123456789"))
_CardDumper.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


def _ordered(data: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: data[key] for key in keys if key in data}


def card_file_builtins(card_file: CardFile) -> dict[str, Any]:
    """A card file as plain data in the documented key order."""
    collection = _ordered(to_builtins(card_file.collection), COLLECTION_KEYS)
    cards = []
    for card in card_file.cards:
        data = _ordered(to_builtins(card), CARD_KEYS)
        if "source" in data:
            data["source"] = _ordered(data["source"], SOURCE_KEYS)
        if "added_at" in data:
            data["added_at"] = card.added_at.isoformat() if card.added_at else None
        cards.append(data)
    return _ordered({"collection": collection, "cards": cards}, FILE_KEYS)


SCHEMA_COMMENT = "# yaml-language-server: $schema=card-file.schema.json\n"


def dump(card_file: CardFile) -> str:
    """The YAML text of a card file: stable, readable, and loaded back to equal structs."""
    body = yaml.dump(
        card_file_builtins(card_file),
        Dumper=_CardDumper,
        sort_keys=False,
        allow_unicode=True,
        width=FOLD_AT,
        default_flow_style=False,
    )
    return SCHEMA_COMMENT + body
