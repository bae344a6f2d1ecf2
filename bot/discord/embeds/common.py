"""What every embed shares: Discord's limits, the colours, and the two text helpers every builder uses.

:func:`safe` makes user and card text inert (markdown escaped, mentions broken); :func:`clip` cuts text to a limit
at a word boundary. Every builder in this package runs what it shows through them, so nothing it renders pings
anyone or goes past a limit Discord would refuse.
"""

from __future__ import annotations

import re

import discord

__all__ = [
    "AUTHOR_MAX",
    "CARD_COLOR",
    "DESCRIPTION_MAX",
    "ELLIPSIS",
    "EMBED_TOTAL_MAX",
    "ERROR_COLOR",
    "FIELDS_MAX",
    "FIELD_NAME_MAX",
    "FIELD_VALUE_MAX",
    "FOOTER_MAX",
    "OK_COLOR",
    "TITLE_MAX",
    "WARN_COLOR",
    "clip",
    "safe",
    "whole_escapes",
]

#: The colour of everything a reader sees (cards, results, the daily status).
CARD_COLOR = discord.Color.from_rgb(88, 101, 242)
#: A curation outcome: done, waiting for a confirmation, refused or broken.
OK_COLOR = discord.Color.green()
WARN_COLOR = discord.Color.orange()
ERROR_COLOR = discord.Color.red()
#: Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
TITLE_MAX, DESCRIPTION_MAX, FIELD_NAME_MAX, FIELD_VALUE_MAX = 256, 4096, 256, 1024
FOOTER_MAX, AUTHOR_MAX, FIELDS_MAX, EMBED_TOTAL_MAX = 2048, 256, 25, 6000
ELLIPSIS = "…"


#: The characters discord.py's markdown escape acts on, or with which its other patterns begin (but a line that
#: starts with a dash): text without any, and without such a line, is returned as it is.
_MARKDOWN_CHARS = re.compile(r"[_\\~|*`>\[#]")


def _has_markdown(text: str) -> bool:
    """Whether discord.py's ``escape_markdown`` could change ``text`` (a false alarm is harmless, a miss is not)."""
    if _MARKDOWN_CHARS.search(text) is not None:
        return True
    return "-" in text and any(line.lstrip().startswith("-") for line in text.split("\n"))


def safe(text: str, limit: int | None = None) -> str:
    """User text made inert: markdown escaped, ``@everyone``/``@here`` broken, optionally clipped.

    The same as discord.py's ``escape_markdown`` then ``escape_mentions``, but text with nothing to escape (most
    card text) is not run through their regular expressions: each card shown or searched was paying for them."""
    out = text
    if _has_markdown(out):
        out = discord.utils.escape_markdown(out)
    if "@" in out:
        out = discord.utils.escape_mentions(out)
    return clip(out, limit)[0] if limit is not None else out


def clip(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cut to at most ``limit`` characters at a word boundary (with "…"); and whether it was cut.

    The cut never leaves half a markdown escape behind (a lone backslash would escape the "…").
    """
    if len(text) <= limit:
        return text, False
    room = max(limit - len(ELLIPSIS), 0)
    cut = text[:room]
    space = cut.rfind(" ")
    if space > room // 2:
        cut = cut[:space]
    cut = whole_escapes(cut.rstrip())
    return cut + ELLIPSIS, True


def whole_escapes(text: str) -> str:
    """``text`` without a last backslash that has nothing left to escape (an odd run of them at its end)."""
    run = len(text) - len(text.rstrip("\\"))
    return text[:-1] if run % 2 else text
