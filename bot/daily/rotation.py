"""Which card a day's post shows: a fair rotation, deterministic so a preview shows what the post will.

No card repeats in a guild until every eligible card (after topic/collection filters) was posted in the current
cycle; the cycle and its posted cards live in ``daily_rotation`` (:class:`bot.storage.daily.RotationState`). The
pick is a seeded RNG over the sorted remaining ids, seeded from (guild, local date, cycle).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Sequence, Set

from bot.storage.daily import Chooser, RotationState

from .errors import NoEligibleCards

__all__ = ["chooser", "pick_card"]


def pick_card(
    eligible_ids: Sequence[str],
    posted_this_cycle: Set[str],
    guild_id: int,
    local_date: dt.date,
    cycle: int,
    *,
    avoid: str | None = None,
) -> tuple[str, int]:
    """Choose the day's card deterministically; returns ``(card_id, cycle)``.

    Candidates are the sorted eligible ids not yet posted in ``cycle``; when none are left a new cycle
    (``cycle + 1``) starts over all eligible ids. ``avoid`` (the previous post) is left out when there is
    another choice, so a new cycle does not start with yesterday's card. The RNG is seeded from
    (guild, date, cycle), so the same inputs always give the same card. Raises :class:`NoEligibleCards`.
    """
    pool = sorted(set(eligible_ids))
    if not pool:
        raise NoEligibleCards("No cards match this server's daily topic/collection filters.")
    remaining = [card for card in pool if card not in posted_this_cycle]
    if not remaining:
        cycle += 1
        remaining = pool
    if avoid is not None and avoid in remaining and len(remaining) > 1:
        remaining.remove(avoid)
    seed = hashlib.sha256(f"factdeck-daily|{guild_id}|{local_date.isoformat()}|{cycle}".encode()).digest()
    rng = random.Random(int.from_bytes(seed[:8], "big"))
    return rng.choice(remaining), cycle


def chooser(eligible_ids: Sequence[str], guild_id: int, local_date: dt.date) -> Chooser:
    """The pick of ``local_date`` as the store asks for it: given the guild's rotation, the card and its cycle."""

    def choose(state: RotationState) -> tuple[str, int]:
        return pick_card(eligible_ids, state.posted, guild_id, local_date, state.cycle, avoid=state.last_card)

    return choose
