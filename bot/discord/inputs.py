"""Where user text enters the Discord surface: made valid Unicode once, and declared with its longest length.

Discord delivers option values, autocomplete text and component values as JSON strings; a broken client (or a
forged payload) can put unpaired surrogates in them, which is what invalid UTF-8 becomes on the way in. Such a
string cannot be encoded again, so the search index, the database or the reply would fail on it.
:func:`clean_payload` replaces every unpaired surrogate with U+FFFD before any command or autocomplete reads
the interaction (the command tree calls it, see :class:`bot.discord.errors.FactdeckTree`).
"""

from __future__ import annotations

from discord import app_commands

__all__ = [
    "CARD_MAX",
    "COLLECTION_MAX",
    "QUERY_MAX",
    "REFERENCE_MAX",
    "TOPIC_MAX",
    "CardId",
    "CollectionId",
    "Query",
    "ReferenceText",
    "Topic",
    "clean_payload",
    "clean_text",
]

#: The longest value each kind of text option takes (``max_length`` in the synced command).
QUERY_MAX = 200
REFERENCE_MAX = 200
CARD_MAX = 100
TOPIC_MAX = 100
COLLECTION_MAX = 100

#: The text options as command parameters declare them (Discord enforces the length in its client).
Query = app_commands.Range[str, 1, QUERY_MAX]
ReferenceText = app_commands.Range[str, 1, REFERENCE_MAX]
CardId = app_commands.Range[str, 1, CARD_MAX]
Topic = app_commands.Range[str, 1, TOPIC_MAX]
CollectionId = app_commands.Range[str, 1, COLLECTION_MAX]


def clean_text(text: str) -> str:
    """``text`` with every unpaired surrogate replaced by U+FFFD (a surrogate pair becomes its character)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def clean_payload(value: object) -> object:
    """A JSON value (dicts, lists, strings, numbers) with every string, keys too, made valid Unicode."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_payload(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_payload(v) for v in value]
    return value
