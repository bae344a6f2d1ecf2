"""What one server may hold in its own collections, checked before a write: a write that would pass a limit is
refused whole (nothing is written), with the limit and the usage in the refusal."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bot.cards.library import Library

from .errors import CurationError

__all__ = ["Quota", "QuotaExceeded", "Usage"]


class QuotaExceeded(CurationError):
    """A write that would take a server past one of its limits."""


@dataclass(frozen=True, slots=True)
class Usage:
    """What a server's own collections take: how many collections and cards, and how many bytes of card files."""

    collections: int
    cards: int
    bytes: int


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


@dataclass(frozen=True, slots=True)
class Quota:
    """A server's limits (``server_decks`` in the config)."""

    collections: int
    cards: int
    bytes: int

    @staticmethod
    def usage(part: Library) -> Usage:
        """What ``part`` (one server's part of the library) takes now (reads file sizes: call off the event loop)."""
        return Usage(
            collections=len(part.files),
            cards=sum(len(f.card_file.cards) for f in part.files),
            bytes=sum(_size(f.path) for f in part.files),
        )

    def check(self, part: Library, path: Path, cards: int, size: int) -> Usage:
        """The usage once ``path`` holds ``cards`` cards in ``size`` bytes; raises :class:`QuotaExceeded` when that
        passes a limit that the server is not already past (a write that shrinks never is refused)."""
        before = self.usage(part)
        old = next((f for f in part.files if f.path == path), None)
        old_cards, old_size = (len(old.card_file.cards), _size(old.path)) if old is not None else (0, 0)
        after = Usage(
            collections=before.collections + (old is None),
            cards=before.cards - old_cards + cards,
            bytes=before.bytes - old_size + size,
        )
        for what, limit, was, now, unit in (
            ("collections", self.collections, before.collections, after.collections, ""),
            ("cards", self.cards, before.cards, after.cards, ""),
            ("bytes of card files", self.bytes, before.bytes, after.bytes, ""),
        ):
            if now > limit and now > was:
                raise QuotaExceeded(
                    f"this server may hold at most {limit:,} {what} of its own and this would make {now:,}{unit}, "
                    "so nothing was written; remove some first, or ask the bot's owner to raise the limit "
                    "(server_decks in the config)"
                )
        return after
