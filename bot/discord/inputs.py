"""Where user text enters the Discord surface: made valid Unicode once, and declared with its longest length.

Discord delivers option values, autocomplete text and component values as JSON strings; a broken client (or a
forged payload) can put unpaired surrogates in them, which is what invalid UTF-8 becomes on the way in. Such a
string cannot be encoded again, so the search index, the database or the reply would fail on it.
:func:`clean_payload` replaces every unpaired surrogate with U+FFFD before any command or autocomplete reads
the interaction (the command tree calls it, see :class:`bot.discord.errors.FactdeckTree`).

Discord's client holds a text option to its ``max_length``, but nothing makes a forged request do so: a command
that passes its options on to work (``/daily set``) first refuses one that is too long, with
:func:`too_long`, in one short line instead of echoing it.
"""

from __future__ import annotations

import orjson
from discord import app_commands

__all__ = [
    "CARD_MAX",
    "COLLECTION_MAX",
    "QUERY_MAX",
    "REFERENCE_MAX",
    "TIME_MAX",
    "TOPIC_MAX",
    "ZONE_MAX",
    "CardId",
    "CollectionId",
    "Query",
    "ReferenceText",
    "TimeOfDay",
    "Topic",
    "ZoneName",
    "clean_payload",
    "clean_text",
    "too_long",
]

#: The longest value each kind of text option takes (``max_length`` in the synced command).
QUERY_MAX = 200
REFERENCE_MAX = 200
CARD_MAX = 100
TOPIC_MAX = 100
COLLECTION_MAX = 100
#: A time of day (``HH:MM``, room for spaces) and an IANA time zone name (the longest is 32 characters).
TIME_MAX = 10
ZONE_MAX = 64

#: The text options as command parameters declare them (Discord enforces the length in its client).
Query = app_commands.Range[str, 1, QUERY_MAX]
ReferenceText = app_commands.Range[str, 1, REFERENCE_MAX]
CardId = app_commands.Range[str, 1, CARD_MAX]
Topic = app_commands.Range[str, 1, TOPIC_MAX]
CollectionId = app_commands.Range[str, 1, COLLECTION_MAX]
TimeOfDay = app_commands.Range[str, 1, TIME_MAX]
ZoneName = app_commands.Range[str, 1, ZONE_MAX]


def too_long(what: str, value: str | None, limit: int, hint: str = "") -> str | None:
    """The refusal of an option value longer than ``limit`` (only a forged request sends one), naming ``what``
    it is and how long it may be (then ``hint``, in brackets); None when ``value`` fits or is absent."""
    if value is None or len(value) <= limit:
        return None
    return f"The {what} is too long: {len(value):,} characters, at most {limit}{f' ({hint})' if hint else ''}."


def clean_text(text: str) -> str:
    """``text`` with every unpaired surrogate replaced by U+FFFD (a surrogate pair becomes its character)."""
    if text.isascii():  # most text: nothing to look for, nothing encoded
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def _is_clean(value: object) -> bool:
    """Whether every string in a JSON value (keys too) is valid Unicode already."""
    if isinstance(value, str):
        return clean_text(value) is value
    if isinstance(value, dict):
        return all(_is_clean(k) and _is_clean(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_is_clean(v) for v in value)
    return True


def clean_payload(value: object) -> object:
    """A JSON value (dicts, lists, strings, numbers) with every string, keys too, made valid Unicode.

    A value with nothing to clean (every interaction but a broken or forged one) is returned as it is, not copied:
    the command tree runs this on every interaction. Whether there is anything to clean is first asked of orjson,
    which refuses to encode exactly the unpaired surrogates looked for (walking the value in Python, string by
    string, cost as much as the rest of the command); what orjson refuses for another reason (a number beyond 64
    bits, a key that is not a string) is walked as before."""
    try:
        orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        if not _is_clean(value):
            return _cleaned(value)
    return value


def _cleaned(value: object) -> object:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): _cleaned(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cleaned(v) for v in value]
    return value
