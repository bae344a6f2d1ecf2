"""User text as it enters the command line and the console.

Bytes of an argument or an input line that are not UTF-8 reach Python as lone surrogates ("\\udcff" for the byte
0xFF); they cannot be printed or searched for, so they become U+FFFD (the replacement character) at the door.
Paths are left alone: the operating system reads the original bytes back from them.
"""

from __future__ import annotations

import argparse
import re

_SURROGATE_RE = re.compile("[\ud800-\udfff]")

#: The arguments of ``factdeck`` commands that carry user text (queries, topics, collections, card ids, references).
TEXT_ARGS = ("query", "topic", "collection", "id", "reference")


def valid_text(text: str) -> str:
    """``text`` with each unpaired surrogate replaced by U+FFFD, so that it can be printed and searched for."""
    return _SURROGATE_RE.sub("\ufffd", text)


def valid_args(args: argparse.Namespace) -> argparse.Namespace:
    """``args`` with the user text of :data:`TEXT_ARGS` made valid (in place, and returned)."""
    for name in TEXT_ARGS:
        value = getattr(args, name, None)
        if isinstance(value, str):
            setattr(args, name, valid_text(value))
    return args
