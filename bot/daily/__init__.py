"""Daily facts: one card posted per server per local day, exactly once, at a DST-correct local time.

The package by concern:

* :mod:`bot.daily.schedule`: when a post is due (``HH:MM`` in a zone to UTC instants, DST, catch-up, skipped days).
* :mod:`bot.daily.zones`: time-zone names as moderators type them (lookup, suggestions, autocomplete).
* :mod:`bot.daily.rotation`: which card a day shows (a fair, deterministic rotation).
* :mod:`bot.daily.failures`: what a failed send leads to (retry, give up, pause); the surface classifies.
* :mod:`bot.daily.engine`: :class:`DailyEngine`, which claims each day in the database and posts exactly once.
* :mod:`bot.daily.errors`: the errors a moderator sees.

Nothing here speaks to Discord: the surface passes in the poster and the classifier of its exceptions
(:mod:`bot.discord.daily_failures`). Import from ``bot.daily``; the names below are the public API.
"""

from __future__ import annotations

from .engine import (
    CARD_STATES,
    DEFAULT_CATCH_UP_HOURS,
    DEFAULT_PAUSE_AFTER,
    FINAL_STATES,
    VIEW_COMMAND,
    CardSource,
    Clock,
    DailyEngine,
    DailyStatus,
    Forgotten,
    Outcome,
    Poster,
    PostResult,
    ViewRecorder,
)
from .errors import DailyError, NoEligibleCards
from .failures import NONCE_WINDOW, Classifier, Failure, FailureKind, post_nonce
from .rotation import pick_card, rank_forgotten
from .schedule import (
    HHMM_HELP,
    ScheduleTimes,
    Slot,
    due_slot,
    due_slots,
    local_day_end,
    local_post_instant,
    next_post_time,
    parse_hhmm,
    slot_for,
)
from .zones import resolve_zone, zone_choices, zone_suggestions

__all__ = [
    "CARD_STATES",
    "DEFAULT_CATCH_UP_HOURS",
    "DEFAULT_PAUSE_AFTER",
    "FINAL_STATES",
    "HHMM_HELP",
    "NONCE_WINDOW",
    "VIEW_COMMAND",
    "CardSource",
    "Classifier",
    "Clock",
    "DailyEngine",
    "DailyError",
    "DailyStatus",
    "Failure",
    "FailureKind",
    "Forgotten",
    "NoEligibleCards",
    "Outcome",
    "PostResult",
    "Poster",
    "ScheduleTimes",
    "Slot",
    "ViewRecorder",
    "due_slot",
    "due_slots",
    "local_day_end",
    "local_post_instant",
    "next_post_time",
    "parse_hhmm",
    "pick_card",
    "post_nonce",
    "rank_forgotten",
    "resolve_zone",
    "slot_for",
    "zone_choices",
    "zone_suggestions",
]
