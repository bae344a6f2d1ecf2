"""One word, one meaning (issue 12.5): in the Discord surface a "view" is a ``discord.ui.View`` or a logged view
of a card, never a card with its collection (a :class:`bot.service.CardDetail` is called ``detail``)."""

from __future__ import annotations

import ast
from pathlib import Path

import bot.discord

DETAIL_PARTS = {"card", "collection", "references"}
VIEW_NAMES = {"view", "views", "v"}


def test_no_view_named_variable_holds_a_card_detail() -> None:
    root = Path(bot.discord.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in DETAIL_PARTS
                and isinstance(node.value, ast.Name)
                and node.value.id in VIEW_NAMES
            ):
                found.append(f"{path.relative_to(root)}:{node.lineno}: {node.value.id}.{node.attr}")
    assert found == []
