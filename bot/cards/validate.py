"""The one validator for card files: shipped files, reloads, imports and moderator edits all go through it.

It reports every problem in a file, each with the file, line and column of the YAML node at fault. It is
driven by the structs in ``bot.cards.model`` (their fields, types and constraints), so there is no second schema to
drift: the fast path decodes a whole file with ``msgspec.convert``; only a file that fails is walked node by
node, which is slower but finds every error, not just the first.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec
import yaml

from bot.cards import yamlio
from bot.cards.model import Card, CardFile, term_spans
from bot.cards.worker import in_worker_process

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """One thing wrong with a card file, at a 1-based line and column."""

    path: str
    line: int
    column: int
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{self.path}:{self.line}:{self.column}: {prefix}{self.message}"

    @property
    def is_error(self) -> bool:
        """True for problems that stop a file from loading."""
        return self.severity == "error"


@dataclass(slots=True)
class FileResult:
    """A validated file: its decoded cards when it has no errors, and every problem found."""

    path: str
    card_file: CardFile | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the file has no errors (it may have warnings)."""
        return self.card_file is not None and not any(p.is_error for p in self.problems)


#: How much of a curator's own text a message quotes back: enough to recognise it, never a whole huge value.
ECHO_CHARS = 60


def echo(value: object, limit: int = ECHO_CHARS) -> str:
    """A value quoted back in a message: on one line, control characters shown as escapes, clipped to ``limit``."""
    text = str(value)
    clipped = text[: limit - 1] + "…" if len(text) > limit else text
    shown = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in clipped)
    more = f" ({len(text):,} characters)" if len(text) > limit else ""
    return f"'{shown}'{more}"


# ----------------------------------------------------------------------------------------- YAML marks
class _Located(Exception):
    """An error raised while constructing, carrying the node it is about."""

    def __init__(self, mark: yamlio.Position, message: str) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message


def _check_duplicate_keys(node: yaml.MappingNode) -> None:
    """PyYAML silently keeps the last of two equal keys; a curator needs to hear about the first."""
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else id(key_node)
        if key in seen:
            raise _Located(key_node.start_mark, f"the key {echo(key)} appears twice in this mapping")
        seen.add(key)


class _StrictLoader(yamlio.CardLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        if len(mapping) != len(node.value):
            _check_duplicate_keys(node)
        return mapping


def _load_strict(text: str) -> Any:
    return yaml.load(text, Loader=_StrictLoader)


def _problem(path: str, mark: yamlio.Position | None, message: str, severity: Severity = "error") -> Problem:
    if mark is None:
        return Problem(path, 1, 1, message, severity)
    return Problem(path, mark.line + 1, mark.column + 1, message, severity)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _yaml_error(path: str, exc: yaml.YAMLError, text: str = "") -> Problem:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or "invalid YAML"
        if isinstance(exc, yaml.constructor.ConstructorError) and "could not determine a constructor" in what:
            tag = what.split("the tag", 1)[-1].strip(" '").replace("tag:yaml.org,2002:", "!!")
            what = f"the tag {echo(tag)} is not allowed: card files hold plain text, lists and mappings"
        context = f" ({exc.context})" if exc.context and exc.context not in what else ""
        kind = "" if isinstance(exc, yaml.constructor.ConstructorError) else "YAML syntax: "
        return _problem(path, mark, _one_line(f"{kind}{what}{context}"))
    if isinstance(exc, yaml.reader.ReaderError):
        # The reader gives an offset (in bytes, from the C reader), not a line. The reader stops at the first
        # character it refuses, so the first occurrence of that character in the text is the one.
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        at = text.find(char)
        before = text[: at if at >= 0 else 0]
        line, column = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
        message = (
            f"the character U+{ord(char):04X} is not allowed in a card file "
            "(YAML forbids control characters and non-characters); remove it"
        )
        return Problem(path, line, column, message)
    return Problem(path, 1, 1, _one_line(f"YAML syntax: {exc}"))


# ------------------------------------------------------------------------------------ model-driven walk
def _unwrap(tp: Any) -> tuple[Any, bool]:
    """Strip Annotated and Optional; say whether None is allowed."""
    optional = False
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            optional = optional or len(args) < len(typing.get_args(tp))
            if len(args) != 1:
                return tp, optional
            tp = args[0]
        else:
            return tp, optional


def _is_struct(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, msgspec.Struct)


_KIND = {yaml.MappingNode: "a mapping", yaml.SequenceNode: "a list", yaml.ScalarNode: "a single value"}
_PATH_PART = re.compile(r"\.([A-Za-z_]\w*)|\[(\d+)\]")


def _describe(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


_TYPE_WORDS = {
    "str": "text",
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "null": "empty",
    "NoneType": "empty",
    "array": "a list",
    "list": "a list",
    "object": "a mapping",
    "dict": "a mapping",
    "datetime": "a date and time (2026-11-26T09:30:00Z)",
}


def _friendly(name: str, message: str, value: Any) -> str:
    """Turn msgspec's terse messages into ones a curator can act on."""
    bound = re.match(r"Expected `(?:int|float)` (>=|<=|>|<) (-?[\d.]+)", message)
    if bound and isinstance(value, int | float) and not isinstance(value, bool):
        limit = {">=": "at least", "<=": "at most", ">": "more than", "<": "less than"}[bound.group(1)]
        return f"{name} is {value}; it should be {limit} {bound.group(2)}"
    if "with a timezone component" in message or "RFC3339" in message:
        return (
            f"{name} {echo(value)} should be a date and time with a time zone, "
            "written like 2026-11-26T09:30:00+00:00 (or ...Z for UTC)"
        )
    if isinstance(value, str):
        longest = re.search(r"length <= (\d+)", message)
        if longest:
            extra = " so that it fits a Discord embed" if name.endswith("text") else ""
            return f"{name} is {len(value):,} characters; at most {int(longest.group(1)):,} are allowed{extra}"
        if "length >=" in message:
            return f"{name} is empty"
        if "matching regex" in message:
            return (
                f"{name} {echo(value)} is not a valid id: use lowercase letters, digits and hyphens, "
                "starting with a letter or digit, at most 80 characters"
            )
    if isinstance(value, list | tuple):
        most = re.search(r"length <= (\d+)", message)
        if most:
            return f"{name} has {len(value):,} entries; at most {int(most.group(1)):,} are allowed"
    expected = re.match(r"Expected `([^`]+)`", message)
    if expected:
        wanted = " or ".join(_TYPE_WORDS.get(t.strip(), t.strip()) for t in expected.group(1).split("|"))
        got = _TYPE_WORDS.get(type(value).__name__ if value is not None else "null", type(value).__name__)
        return f"{name} should be {wanted}, not {got}"
    return _one_line(f"{name}: {message}")


class _Walker:
    """Checks a node tree against a struct type, collecting every problem."""

    def __init__(self, path: str, root_name: str = "the file") -> None:
        self.path = path
        self.root_name = root_name
        self.problems: list[Problem] = []

    def describe(self, where: tuple[str | int, ...]) -> str:
        return _describe(where) if where else self.root_name

    def error(self, node: yaml.Node | None, message: str) -> None:
        self.problems.append(_problem(self.path, node.start_mark if node else None, message))

    def struct(self, node: yaml.Node, tp: type[msgspec.Struct], where: tuple[str | int, ...]) -> None:
        name = self.describe(where)
        if not isinstance(node, yaml.MappingNode):
            self.error(node, f"{name} should be a mapping of keys to values, not {_KIND[type(node)]}")
            return
        fields = {f.encode_name: f for f in msgspec.structs.fields(tp)}
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                self.error(key_node, f"{name} has a key that is not text")
                continue
            if key in seen:
                self.error(key_node, f"the key {echo(key)} appears twice in {name}")
                continue
            seen.add(key)
            if key not in fields:
                close = difflib.get_close_matches(key, list(fields), n=1, cutoff=0.6)
                hint = f"; did you mean '{close[0]}'?" if close else f"; allowed keys: {', '.join(fields)}"
                self.error(key_node, f"unknown key {echo(key)} in {name}{hint}")
                continue
            self.value(value_node, fields[key].type, (*where, key))
        for key, info in fields.items():
            if info.required and key not in seen:
                self.error(node, f"{name} is missing the required key '{key}'")

    def value(self, node: yaml.Node, tp: Any, where: tuple[str | int, ...]) -> None:
        inner, optional = _unwrap(tp)
        if optional and isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return
        if _is_struct(inner):
            self.struct(node, inner, where)
            return
        origin = typing.get_origin(inner)
        args = typing.get_args(inner)
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis and _is_struct(_unwrap(args[0])[0]):
            if not isinstance(node, yaml.SequenceNode):
                self.error(node, f"{self.describe(where)} should be a list, not {_KIND[type(node)]}")
                return
            for index, item in enumerate(node.value):
                self.value(item, args[0], (*where, index))
            return
        self.leaf(node, tp, where)

    def leaf(self, node: yaml.Node, tp: Any, where: tuple[str | int, ...]) -> None:
        try:
            value = yamlio.construct(node)
        except yaml.YAMLError as exc:
            self.problems.append(_yaml_error(self.path, exc))
            return
        try:
            msgspec.convert(value, tp)
        except msgspec.ValidationError as exc:
            message = str(exc)
            inner_where, inner_node, inner_value = where, node, value
            if " - at `$" in message:
                for attr, index in _PATH_PART.findall(message.rsplit(" - at `$", 1)[1]):
                    step: str | int = attr or int(index)
                    child = _child(inner_node, step)
                    if child is None:
                        break
                    inner_node, inner_where = child, (*inner_where, step)
                    try:
                        inner_value = inner_value[step]
                    except (KeyError, IndexError, TypeError):
                        break
            self.error(inner_node, _friendly(self.describe(inner_where), message, inner_value))


def _child(node: yaml.Node, step: str | int) -> yaml.Node | None:
    if isinstance(step, int) and isinstance(node, yaml.SequenceNode) and step < len(node.value):
        item: yaml.Node = node.value[step]
        return item
    if isinstance(step, str) and isinstance(node, yaml.MappingNode):
        pairs: list[tuple[yaml.Node, yaml.Node]] = node.value
        for key_node, value_node in pairs:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == step:
                return value_node
    return None


def node_at(root: yaml.Node | None, where: Sequence[str | int]) -> yaml.Node | None:
    """The node at a path like ("cards", 3, "id"), or the deepest node found on the way."""
    node = root
    for step in where:
        if node is None:
            return None
        child = _child(node, step)
        if child is None:
            return node
        node = child
    return node


# ---------------------------------------------------------------------------------------------- files
def decode_text(raw: bytes, path: str) -> tuple[str | None, list[Problem]]:
    """Decode a card file's bytes as UTF-8, or say where the first bad byte is."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        return None, [
            Problem(path, line, column, f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x}); save it as UTF-8")
        ]
    return text.removeprefix("\ufeff"), []


def validate_text(text: str, path: str) -> FileResult:
    """Validate one card file's text: every error and warning that can be found within the file."""
    if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()):
        return FileResult(path, None, [Problem(path, 1, 1, "the file is empty: it needs a collection and cards")])
    alias = yamlio.find_alias(text)
    if alias is not None:
        message = "YAML aliases (*name) are not allowed in card files; write the value out instead"
        return FileResult(path, None, [_problem(path, alias, message)])
    try:
        data = _load_strict(text)
    except _Located as exc:
        return FileResult(path, None, _walk(text, path) or [_problem(path, exc.mark, exc.message)])
    except yaml.constructor.ConstructorError as exc:
        return FileResult(path, None, _walk(text, path) or [_yaml_error(path, exc, text)])
    except yaml.YAMLError as exc:
        return FileResult(path, None, [_yaml_error(path, exc, text)])
    try:
        card_file = msgspec.convert(data, CardFile)
    except msgspec.ValidationError:
        return FileResult(path, None, _walk(text, path))
    problems = list(_within_file(card_file, path, text))
    return FileResult(path, None if any(p.is_error for p in problems) else card_file, problems)


#: Texts at least this long are validated in a worker process by :func:`validate_text_aside`.
ASIDE_FROM = 1 << 20


def validate_text_aside(text: str, path: str) -> FileResult:
    """:func:`validate_text` for a caller in a thread beside the bot's event loop: a text of :data:`ASIDE_FROM`
    characters or more is validated in a worker process, since parsing it holds the GIL for seconds."""
    if len(text) >= ASIDE_FROM:
        return in_worker_process(_validate_text_in_worker, text, path)
    return validate_text(text, path)


def _validate_text_in_worker(text: str, path: str) -> FileResult:
    return validate_text(text, path)


def _walk(text: str, path: str) -> list[Problem]:
    try:
        root = yamlio.compose(text)
    except yaml.YAMLError as exc:
        return [_yaml_error(path, exc, text)]
    walker = _Walker(path)
    if root is None:
        return [Problem(path, 1, 1, "the file is empty: it needs a collection and cards")]
    walker.struct(root, CardFile, ())
    cards = _child(root, "cards")
    if isinstance(cards, yaml.SequenceNode):
        first_seen: dict[str, int] = {}
        for index, item in enumerate(cards.value):
            id_node = _child(item, "id")
            if isinstance(id_node, yaml.ScalarNode):
                if id_node.value in first_seen:
                    message = (
                        f"duplicate card id {echo(id_node.value)}: card {first_seen[id_node.value] + 1} has it too"
                    )
                    walker.error(id_node, message)
                first_seen.setdefault(id_node.value, index)
    return sorted(walker.problems)


class _Locator:
    """Finds the line and column of a path in a file, composing the file at most once, and only if asked.

    ``text`` is the text that was validated, or a function giving it (None when it is no longer to be had, e.g.
    the file changed on disk since). Locating never fails: without a text that parses, a problem is placed at 1:1.
    """

    def __init__(self, path: str, text: str | Callable[[], str | None]) -> None:
        self.path, self.text = path, text
        self._root: yaml.Node | None = None
        self._composed = False

    def problem(self, where: Sequence[str | int], message: str, severity: Severity = "error") -> Problem:
        if not self._composed:
            self._composed = True
            try:
                text = self.text if isinstance(self.text, str) else self.text()
                self._root = yamlio.compose(text) if text is not None else None
            except (OSError, ValueError, yaml.YAMLError):
                self._root = None
        node = node_at(self._root, where)
        return _problem(self.path, node.start_mark if node else None, message, severity)


def validate_data(data: Mapping[str, Any], path: str) -> FileResult:
    """Validate a whole card file given as plain data (an import, assembled), with the same rules as a file's text.

    The model's structs check it in one pass; only to place a problem is it written out as YAML (and, when the
    structs refuse it, validated as that text, to name every problem).
    """

    def text() -> str:
        return yaml.safe_dump(dict(data), allow_unicode=True, sort_keys=False)

    try:
        card_file = msgspec.convert(data, CardFile)
    except msgspec.ValidationError:
        return validate_text(text(), path)
    problems = list(_within_file(card_file, path, text))
    return FileResult(path, None if any(p.is_error for p in problems) else card_file, problems)


def _within_file(card_file: CardFile, path: str, text: str | Callable[[], str | None]) -> Iterator[Problem]:
    where = _Locator(path, text)
    first_seen: dict[str, int] = {}
    for index, card in enumerate(card_file.cards):
        if card.id in first_seen:
            yield where.problem(
                ("cards", index, "id"),
                f"duplicate card id '{card.id}': card {first_seen[card.id] + 1} has it too",
            )
        else:
            first_seen[card.id] = index
        if not card.text.strip():
            yield where.problem(("cards", index, "text"), "text is empty")
        if not card.topics:
            yield where.problem(
                ("cards", index, "id"), f"card '{card.id}' has no topics, so topic search cannot find it", "warning"
            )
        for at, message, severity in study_problems(card):
            yield where.problem(("cards", index, *at), f"cards[{index}].{message}", severity)


def study_problems(card: Card) -> Iterator[tuple[tuple[str | int, ...], str, Severity]]:
    """What is wrong with a card's study block: (where in the card, message, severity) for each problem.

    A cloze term must occur in the text (ignoring case, accents and spacing, as whole words), or no question could
    blank it; accepted answers only make sense for curated cloze terms.
    """
    study = card.study
    seen: dict[str, int] = {}
    for number, term in enumerate(study.cloze):
        at, name = ("study", "cloze", number), f"study.cloze[{number}]"
        if not term.strip():
            yield at, f"{name} is empty", "error"
        elif not term_spans(card.text, term):
            yield at, f"{name} {echo(term)} does not occur in the card's text (whole words, any case)", "error"
        key = " ".join(term.casefold().split())
        if key in seen:
            yield at, f"{name} {echo(term)} is study.cloze[{seen[key]}] again", "warning"
        seen.setdefault(key, number)
    for number, answer in enumerate(study.answers):
        if not answer.strip():
            yield ("study", "answers", number), f"study.answers[{number}] is empty", "error"
    if study.answers and not study.cloze:
        yield ("study", "answers"), "study.answers needs study.cloze: the terms these answers stand for", "error"
    if study.skip and study.cloze:
        yield ("study", "skip"), "study.skip is true, so study.cloze is never used", "warning"


def validate_card(data: dict[str, Any], path: str = "<card>") -> tuple[Card | None, list[Problem]]:
    """Validate one card given as plain data (a moderator's edit, an imported row), with a file's rules.

    The model's structs check a good card at once; only a card with a problem is written out as YAML and walked
    node by node, to name every problem.
    """
    try:
        card = msgspec.convert(data, Card)
    except msgspec.ValidationError:
        pass
    else:
        if not card.text.strip():
            return None, [Problem(path, 1, 1, "text is empty")]
        return _study_checked(card, path, lambda: yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    walker = _Walker(path, "the card")
    root = yamlio.compose(text)
    if root is None:
        return None, [Problem(path, 1, 1, "the card is empty")]
    walker.struct(root, Card, ())
    if walker.problems:
        return None, walker.problems
    card = msgspec.convert(data, Card)
    if not card.text.strip():
        return None, [Problem(path, 1, 1, "text is empty")]
    return _study_checked(card, path, text)


def _study_checked(card: Card, path: str, text: str | Callable[[], str]) -> tuple[Card | None, list[Problem]]:
    """A valid card after its study block's checks: refused on an error, kept with its warnings otherwise."""
    where = _Locator(path, text)
    problems = [where.problem(at, message, severity) for at, message, severity in study_problems(card)]
    return (None if any(p.is_error for p in problems) else card), problems


# ---------------------------------------------------------------------------------------- whole library
def cross_file(files: Iterable[tuple[str, CardFile, Callable[[], str | None]]]) -> dict[str, list[Problem]]:
    """Problems between files: duplicate collection ids, card ids and texts. Keyed by the file at fault.

    ``files`` are (path, card file, a function giving the text that was validated, or None) in load order, the text
    being asked for only to locate a problem; the first file to use an id keeps it, and each
    later use is an error in the later file. A text seen twice (exactly) is a warning on the later card.
    """
    problems: dict[str, list[Problem]] = {}
    collections: dict[str, str] = {}
    card_ids: dict[str, str] = {}
    texts: dict[str, tuple[str, str]] = {}
    for path, card_file, text in files:
        locator = _Locator(path, text)
        found = problems.setdefault(path, [])

        def add(where: tuple[str | int, ...], message: str, severity: Severity = "error") -> None:
            found.append(locator.problem(where, message, severity))  # noqa: B023 - called within this iteration

        owner = collections.setdefault(card_file.collection.id, path)
        if owner != path:
            add(("collection", "id"), f"duplicate collection id '{card_file.collection.id}': {owner} has it too")
        for index, card in enumerate(card_file.cards):
            holder = card_ids.setdefault(card.id, path)
            if holder != path:
                add(("cards", index, "id"), f"duplicate card id '{card.id}': {holder} has it too")
            first = texts.setdefault(card.text, (path, card.id))
            if first[1] != card.id:
                add(("cards", index, "text"), f"this text is also card '{first[1]}' in {first[0]}", "warning")
    return {path: found for path, found in problems.items() if found}
