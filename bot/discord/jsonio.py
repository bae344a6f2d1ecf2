"""discord.py's JSON through orjson, with the standard library for what orjson refuses.

discord.py encodes every request and parses every gateway event and response with ``discord.utils._to_json`` and
``_from_json``; with orjson installed (its "speed" extra) it uses ``orjson.dumps``/``loads``, several times faster
than ``json``. But orjson refuses unpaired surrogates, which ``json`` escapes and reads back: a query, a member's
name or a report typed by a broken client arrives as ``"\\ud800"`` in the gateway's JSON, where ``orjson.loads``
raises and discord.py's gateway task ends (the bot goes offline), and a card file can carry one into a reply, where
``orjson.dumps`` raises and the reply is lost. :func:`install` keeps orjson for the common case and hands exactly
what it refuses to ``json``, so every text reaches Discord as it did before orjson.
"""

from __future__ import annotations

import json
from typing import Any

import discord.utils
import orjson

__all__ = ["dumps", "install", "loads"]


def dumps(obj: object) -> str:
    """``obj`` as compact JSON text: orjson's, or the standard library's (ASCII-escaped) where orjson refuses it
    (unpaired surrogates, integers beyond 64 bits, keys that are not strings)."""
    try:
        return orjson.dumps(obj).decode("utf-8")
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=True)


def loads(data: str | bytes | bytearray | memoryview) -> Any:  # any JSON value, as discord.py expects
    """The value of JSON ``data``: orjson's parse, or the standard library's where orjson refuses the text (an
    escaped unpaired surrogate, NaN); invalid JSON raises ``json.JSONDecodeError`` as before. (orjson reads an
    integer beyond 64 bits as a float; Discord sends none: its ids are strings.)"""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(bytes(data) if isinstance(data, memoryview) else data)


def install() -> None:
    """Make discord.py encode and parse with :func:`dumps` and :func:`loads` (idempotent)."""
    discord.utils._to_json = dumps
    discord.utils._from_json = loads
