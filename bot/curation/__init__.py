"""Moderators' writes to the card files: add, edit, remove, import, export and reload.

The YAML files in ``cards/`` stay the source of truth that curators also edit by hand, so every change here is a
write to one of them, and the library being served is then rebuilt from what was written. One module per concern:

* ``curator``: :class:`Curator`, the one entry point; serialises writes and runs them off the event loop;
* ``writes``: validating and writing one file (the same validator as shipped files; never over a hand edit);
* ``imports``: planning an import from an uploaded YAML, CSV or seed page (nothing written until confirmed);
* ``audit``: recording each change in the audit log, the card before and after;
* ``folder``: the cards folder (no id or collection name can steer a write outside it), ``ids``: new card ids;
* ``forms``: what a moderator types and who they are; ``errors``: the refusals, worded for the moderator.

Nothing here knows about Discord: the cog parses an interaction, calls a :class:`Curator` method and renders the
result; errors a moderator should read are raised as :class:`CurationError` (or a subclass) with that message.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.cards.validate import Problem

from .curator import COPIED_FROM, Curator, Export
from .errors import CurationError, NotFoundError, StaleCardError, StaleFileError, ValidationFailed
from .forms import CardInput, Moderator, card_builtins, parse_list
from .imports import MAX_IMPORT_BYTES, ImportApplied, ImportFormat, ImportPlan
from .writes import CardChange

__all__ = [
    "COPIED_FROM",
    "MAX_IMPORT_BYTES",
    "CardChange",
    "CardInput",
    "CurationError",
    "Curator",
    "Export",
    "ImportApplied",
    "ImportFormat",
    "ImportPlan",
    "Moderator",
    "NotFoundError",
    "StaleCardError",
    "StaleFileError",
    "ValidationFailed",
    "card_builtins",
    "describe_problems",
    "parse_list",
]


def describe_problems(problems: Iterable[Problem], limit: int = 20) -> list[str]:
    """Problems as ``file:line:col: message`` lines, at most ``limit`` and a line saying how many more."""
    items = list(problems)
    lines = [str(p) for p in items[:limit]]
    if len(items) > limit:
        lines.append(f"… and {len(items) - limit} more")
    return lines
