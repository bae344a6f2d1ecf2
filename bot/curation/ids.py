"""New card ids: ``<collection>-NNN``, counting up from the highest number in use."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

__all__ = ["id_prefix", "new_card_ids"]


def id_prefix(collection_id: str) -> str:
    """The part of a new card's id before its number."""
    return collection_id[:75].rstrip("-") or "card"


def new_card_ids(collection_id: str, used: Iterable[str]) -> Iterator[str]:
    """Free ``<collection>-NNN`` ids counting up from the highest in ``used`` (one scan, however many are drawn)."""
    taken = set(used)
    prefix = id_prefix(collection_id)
    pattern = re.compile(rf"^{re.escape(prefix)}-(\d+)$")
    number = max((int(m.group(1)) for cid in taken if (m := pattern.match(cid))), default=0)
    while True:
        number += 1
        if f"{prefix}-{number:03d}" not in taken:  # taken only if numbers were padded oddly
            yield f"{prefix}-{number:03d}"
