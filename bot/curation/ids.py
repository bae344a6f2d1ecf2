"""New card ids: ``<collection>-NNN``, counting up from the highest number in use."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

__all__ = ["highest_numbers", "id_prefix", "new_card_ids"]

_NUMBERED = re.compile(r"^(.+)-(\d+)$")


def id_prefix(collection_id: str) -> str:
    """The part of a new card's id before its number."""
    return collection_id[:75].rstrip("-") or "card"


def highest_numbers(card_ids: Iterable[str]) -> dict[str, int]:
    """Per prefix, the highest number among ids of the form ``<prefix>-NNN``."""
    highest: dict[str, int] = {}
    for card_id in card_ids:
        if (match := _NUMBERED.match(card_id)) is not None:
            prefix, number = match.group(1), int(match.group(2))
            highest[prefix] = max(highest.get(prefix, 0), number)
    return highest


def new_card_ids(collection_id: str, used: Iterable[str], *, given: int = 0) -> Iterator[str]:
    """Free ``<collection>-NNN`` ids counting up from the highest in ``used`` (one scan, however many are drawn).

    ``given`` is the highest number ever given out in this prefix (the high-water mark kept in the database):
    counting starts above it too, so the id of a removed card is never given to a new one.
    """
    taken = set(used)
    prefix = id_prefix(collection_id)
    pattern = re.compile(rf"^{re.escape(prefix)}-(\d+)$")
    number = max((int(m.group(1)) for cid in taken if (m := pattern.match(cid))), default=given)
    number = max(number, given)
    while True:
        number += 1
        if f"{prefix}-{number:03d}" not in taken:  # taken only if numbers were padded oddly
            yield f"{prefix}-{number:03d}"
