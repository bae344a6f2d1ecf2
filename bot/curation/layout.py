"""Keeping a card file as curators wrote it: a moderator's write rewrites only the lines of the cards it changes.

Curators edit the files by hand, with comments, flow-style lists and their own line breaks; rewriting the whole
file from the parsed cards would throw all of that away, and a diff of one moderator edit would show every card.
So the new text is the old text with each changed card's lines replaced by that card as :func:`dump` writes it,
removed cards' lines taken out and new cards appended after the last one. Anything this cannot do line by line (a
flow-style card list, a changed collection, cards reordered) falls back to the whole file as :func:`dump` writes
it. Either way the caller validates the result with the one validator before anything is written.
"""

from __future__ import annotations

from typing import Any

import yaml

from bot.cards.model import Card, CardFile
from bot.cards.validate import validate_text_aside
from bot.cards.yamlio import CardLoader, compose, construct, dump

__all__ = ["render"]


def render(text: str | None, old: CardFile | None, new: CardFile) -> str:
    """The text of ``new``: ``text`` (the file holding ``old``) with only the changed cards' lines rewritten when
    that reads back as ``new``, else the whole file as :func:`dump` writes it."""
    if text is not None and old is not None:
        try:
            spliced = _splice(text, old, new)
        except yaml.YAMLError:
            spliced = None
        if spliced is not None and validate_text_aside(spliced, "spliced.yml").card_file == new:
            return spliced
    return dump(new)


def _last_end(node: yaml.Node) -> yaml.Mark:
    """Where a node's own text ends (a block collection's end mark lies past the comments after it)."""
    if isinstance(node, yaml.MappingNode) and not node.flow_style and node.value:
        return _last_end(node.value[-1][1])
    if isinstance(node, yaml.SequenceNode) and not node.flow_style and node.value:
        return _last_end(node.value[-1])
    return node.end_mark


def _card_lines(collection_file: CardFile, card: Card, indent: int, newline: str) -> list[str]:
    """One card as :func:`dump` writes it, its dash at column ``indent``."""
    whole = dump(CardFile(collection=collection_file.collection, cards=(card,)))
    body = whole[whole.index("\ncards:\n") + len("\ncards:\n") :]
    return [" " * indent + line[2:] + newline for line in body.splitlines()]


def _key_lines(collection_file: CardFile, card: Card, newline: str) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """Each key of a card as :func:`dump` writes it, at column 0 (its value's lines indented under it), and the
    card as the plain data those lines read back as."""
    keys: dict[str, list[str]] = {}
    current: list[str] = []
    lines = _card_lines(collection_file, card, 0, newline)
    for line in lines:
        body = line[2:]
        if line.startswith("- ") or (line.startswith("  ") and body[:1] not in (" ", "\r", "\n", "")):
            current = keys.setdefault(body.split(":", 1)[0], [])
        current.append(body)
    plain = yaml.load("".join(lines), Loader=CardLoader)
    return keys, plain[0] if isinstance(plain, list) and plain and isinstance(plain[0], dict) else {}


def _edit_card_lines(
    lines: list[str], item: yaml.MappingNode, new: Card, collection_file: CardFile, newline: str
) -> list[str] | None:
    """A block-style card's lines with only its changed keys rewritten (None when that cannot be done)."""
    if item.flow_style:
        return None
    written, after = _key_lines(collection_file, new, newline)
    before = construct(item)
    column, at = item.start_mark.column, item.start_mark.line
    out: list[str] = []
    for key_node, value_node in item.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.start_mark.column != column:
            return None
        first, end = key_node.start_mark.line, _last_end(value_node)
        after_line = end.line + (1 if end.column > 0 else 0)
        if first < at:
            return None  # two keys on one line
        out.extend(lines[at:first])
        key = key_node.value
        if before.get(key) == after.get(key):
            out.extend(lines[first:after_line])
        elif key in written:  # changed; a key missing from ``written`` was removed
            head = lines[first][:column] if first == item.start_mark.line else " " * column
            out.extend([head + written[key][0], *(" " * column + rest for rest in written[key][1:])])
        at = after_line
    out.extend(" " * column + line for key in written if key not in before for line in written[key])
    return out


def _splice(text: str, old: CardFile, new: CardFile) -> str | None:
    if old.collection != new.collection:
        return None
    root = compose(text)
    if not isinstance(root, yaml.MappingNode):
        return None
    seq = next((v for k, v in root.value if isinstance(k, yaml.ScalarNode) and k.value == "cards"), None)
    if not isinstance(seq, yaml.SequenceNode) or seq.flow_style or len(seq.value) != len(old.cards) or not seq.value:
        return None
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if text.count("\r\n") * 2 > text.count("\n") else "\n"
    spans: list[tuple[int, int, int]] = []  # first line, line after the last, column of the dash
    item_of: dict[str, yaml.MappingNode] = {}
    for item, card in zip(seq.value, old.cards, strict=True):
        if not isinstance(item, yaml.MappingNode) or construct(item).get("id") != card.id:
            return None
        item_of[card.id] = item
        first, column = item.start_mark.line, item.start_mark.column
        prefix = lines[first][:column]
        if prefix.strip() != "-":
            if prefix.strip() or first == 0 or lines[first - 1].strip() != "-":
                return None
            first -= 1
            prefix = lines[first]
        end = _last_end(item)
        after = end.line + (1 if end.column > 0 else 0)
        if spans and first < spans[-1][1]:
            return None
        spans.append((first, after, len(prefix) - len(prefix.lstrip())))
    old_ids = [c.id for c in old.cards]
    new_cards = {c.id: c for c in new.cards}
    kept = [cid for cid in old_ids if cid in new_cards]
    if [c.id for c in new.cards[: len(kept)]] != kept:
        return None  # reordered, or a new card in between: write the whole file
    out: list[str] = []
    at = 0
    for (first, after, indent), card in zip(spans, old.cards, strict=True):
        out.extend(lines[at:first])
        at = after
        if card.id not in new_cards:
            continue
        if new_cards[card.id] == card:
            out.extend(lines[first:after])
        else:
            edited = _edit_card_lines(lines, item_of[card.id], new_cards[card.id], new, newline)
            if edited is None or lines[first][: item_of[card.id].start_mark.column].strip() != "-":
                edited = _card_lines(new, new_cards[card.id], indent, newline)
            out.extend(edited)
    indent = spans[-1][2]  # ``at`` is now the line after the last card
    if out and not out[-1].endswith(("\n", "\r")):
        out[-1] += newline
    for card in new.cards[len(kept) :]:
        out.extend(_card_lines(new, card, indent, newline))
    out.extend(lines[at:])
    return "".join(out)
