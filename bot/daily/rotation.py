"""Which card a day's post shows: a fair rotation, deterministic so a preview shows what the post will.

No card repeats in a guild until every eligible card (after topic/collection filters) was posted in the current
cycle; the cycle and its posted cards live in ``daily_rotation`` (:class:`bot.storage.daily.RotationState`). The
pick is a seeded RNG over the sorted remaining ids, seeded from (guild, local date, cycle).

A question schedule on a server that uses study mode orders the cycle by forgetting instead of chance: the pick
is the remaining card its members forget most (``prefer``, ranked by :func:`rank_forgotten` from the counts the
surface passes in), so the hardest cards come first and still none repeats before the cycle is through.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Mapping, Sequence, Set

from bot.storage.daily import Chooser, RotationState

from .errors import NoEligibleCards

__all__ = ["chooser", "pick_card", "rank_forgotten"]


def pick_card(
    eligible_ids: Sequence[str],
    posted_this_cycle: Set[str],
    guild_id: int,
    local_date: dt.date,
    cycle: int,
    *,
    avoid: str | None = None,
    prefer: Sequence[str] = (),
) -> tuple[str, int]:
    """Choose the day's card deterministically; returns ``(card_id, cycle)``.

    Candidates are the sorted eligible ids not yet posted in ``cycle``; when none are left a new cycle
    (``cycle + 1``) starts over all eligible ids. ``avoid`` (the previous post) is left out when there is
    another choice, so a new cycle does not start with yesterday's card. The first card of ``prefer`` (ids,
    most wanted first) among the candidates is the pick; without one, the RNG seeded from (guild, date, cycle)
    picks, so the same inputs always give the same card. Raises :class:`NoEligibleCards`.
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
    candidates = set(remaining)
    wanted = next((card for card in prefer if card in candidates), None)
    if wanted is not None:
        return wanted, cycle
    seed = hashlib.sha256(f"factdeck-daily|{guild_id}|{local_date.isoformat()}|{cycle}".encode()).digest()
    rng = random.Random(int.from_bytes(seed[:8], "big"))
    return rng.choice(remaining), cycle


def chooser(eligible_ids: Sequence[str], guild_id: int, local_date: dt.date, prefer: Sequence[str] = ()) -> Chooser:
    """The pick of ``local_date`` as the store asks for it: given the guild's rotation, the card and its cycle."""

    def choose(state: RotationState) -> tuple[str, int]:
        return pick_card(
            eligible_ids, state.posted, guild_id, local_date, state.cycle, avoid=state.last_card, prefer=prefer
        )

    return choose


def rank_forgotten(counts: Mapping[str, tuple[int, int]], eligible_ids: Sequence[str]) -> list[str]:
    """The eligible cards a server forgets, most forgotten first, from ``{card_id: (again, reviews)}``.

    "Forgotten most" is the number of Again ratings (a recall that failed) the server's members gave the card;
    ties go to the higher share of Again among the card's reviews, then to the card id, so the order is fully
    determined by the counts. Cards never rated Again are left out (nobody forgets them): with none left, the
    rotation's seeded pick decides, as on a server that does not study.
    """
    eligible = set(eligible_ids)
    forgotten = [(card, again, total) for card, (again, total) in counts.items() if card in eligible and again > 0]
    forgotten.sort(key=lambda item: (-item[1], -item[1] / max(item[2], 1), item[0]))
    return [card for card, _, _ in forgotten]
