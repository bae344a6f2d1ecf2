"""What a curator sees after ``/cards``: the problems in a file, an import's preview and outcome, a reload's
report, a card's history, and the notes beside a written card.

Every builder takes the curation layer's own records (:class:`~bot.curation.ImportPlan`,
:class:`~bot.curation.CardChange`, :class:`~bot.storage.AuditEntry`, :class:`~bot.service.ReloadReport`) and
needs no interaction, so each is tested without Discord.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import discord

from bot.cards.validate import Problem
from bot.curation import COPIED_FROM, CardChange, ImportPlan, StaleCardError, card_builtins, describe_problems
from bot.discord.embeds.common import (
    DESCRIPTION_MAX,
    ERROR_COLOR,
    FIELD_VALUE_MAX,
    OK_COLOR,
    TITLE_MAX,
    WARN_COLOR,
    clip,
    safe,
)
from bot.service import ReloadReport
from bot.storage import AuditEntry

__all__ = [
    "CONTENT_MAX",
    "HISTORY_MAX",
    "cancelled_embed",
    "change_lines",
    "fit_lines",
    "history_embed",
    "id_list",
    "import_preview_embed",
    "imported_embed",
    "problems_embed",
    "refused_embed",
    "reload_embed",
    "removed_embed",
    "stale_card_text",
    "written_card_text",
]

#: The most characters a message's content may have.
CONTENT_MAX = 2000
#: The most changes ``/cards history`` shows.
HISTORY_MAX = 10


# ---------------------------------------------------------------------------------------------- problems
def problems_embed(title: str, problems: Sequence[Problem], *, with_place: bool = True) -> tuple[discord.Embed, bool]:
    """Every problem, one a line (``file:line:col: message``) in a code block, as many as fit; and whether some
    did not fit."""
    lines = [str(p) if with_place else f"{'warning: ' if not p.is_error else ''}{p.message}" for p in problems]
    body, cut = fit_lines(lines, DESCRIPTION_MAX - 40)
    embed = discord.Embed(title=clip(title, TITLE_MAX)[0], color=ERROR_COLOR, description=body)
    return embed, cut


def fit_lines(lines: Sequence[str], limit: int) -> tuple[str, bool]:
    """``lines`` in a code block of at most ``limit`` characters, with "… and N more" when they do not all fit;
    and whether some were left out. A backtick in a line cannot close the block."""
    out: list[str] = []
    used = 8  # the code fences
    for number, line in enumerate(lines):
        text = clip(line.replace("`", "\u02cb"), 400)[0]
        more = f"… and {len(lines) - number} more (see the attached file)"
        if used + len(text) + 1 > limit - len(more):
            return "```\n" + "\n".join(out) + "\n```" + more, True
        out.append(text)
        used += len(text) + 1
    return ("```\n" + "\n".join(out) + "\n```") if out else "-", False


def id_list(ids: Sequence[str], limit: int = FIELD_VALUE_MAX) -> str:
    """Card ids in code spans, comma-separated and cut to ``limit``; "none" for none."""
    if not ids:
        return "none"
    return clip(", ".join(f"`{i}`" for i in ids), limit)[0]


def _added_changed_removed(
    embed: discord.Embed, added: Sequence[str], changed: Sequence[str], removed: Sequence[str]
) -> None:
    embed.add_field(name=f"Added ({len(added)})", value=id_list(added), inline=False)
    embed.add_field(name=f"Changed ({len(changed)})", value=id_list(changed), inline=False)
    embed.add_field(name=f"Removed ({len(removed)})", value=id_list(removed), inline=False)


# ------------------------------------------------------------------------------------------------ import
def import_preview_embed(plan: ImportPlan, *, dry_run: bool) -> discord.Embed:
    """What a valid import would add, change and remove, its warnings, and that nothing changed yet."""
    verb = "would change" if not dry_run else "would change (dry run)"
    title = f"{plan.filename} → {plan.display_path}: {verb}"
    if not plan.has_changes:
        title = f"{plan.filename} → {plan.display_path}: nothing to change"
    embed = discord.Embed(title=clip(title, TITLE_MAX)[0], color=WARN_COLOR)
    if plan.new_collection:
        embed.description = f"A new collection `{plan.collection_id}`."
    _added_changed_removed(embed, plan.added, plan.changed, plan.removed)
    if plan.warnings:
        lines = describe_problems(plan.warnings, limit=8)
        embed.add_field(name=f"Warnings ({len(plan.warnings)})", value=clip(safe("\n".join(lines)), 1000)[0])
    footer = f"{plan.unchanged} unchanged."
    footer += " Nothing was changed." if dry_run else " Nothing changes until you confirm."
    embed.set_footer(text=footer)
    return embed


def imported_embed(plan: ImportPlan) -> discord.Embed:
    """The preview of an import that was confirmed and written, now saying so."""
    done = import_preview_embed(plan, dry_run=False)
    done.title = clip(f"Imported {plan.filename} into {plan.display_path}", TITLE_MAX)[0]
    done.color = OK_COLOR
    done.set_footer(text="Live now.")
    return done


# ------------------------------------------------------------------------------------------------ reload
def reload_embed(report: ReloadReport, broken: Sequence[str]) -> discord.Embed:
    """What a reload changed; ``broken`` names the files that failed (as the curator sees their paths)."""
    embed = discord.Embed(title=f"Reloaded: {report.cards} cards live", color=ERROR_COLOR if broken else OK_COLOR)
    _added_changed_removed(embed, report.added, report.changed, report.removed)
    value = "\n".join(f"`{b}`" for b in broken) + "\n-# a broken file keeps its last good version live"
    embed.add_field(name=f"Broken files ({len(broken)})", value=clip(value, 1000)[0] if broken else "none")
    return embed


# ------------------------------------------------------------------------------------ outcomes and notes
def refused_embed(message: str) -> discord.Embed:
    """A confirmed change the curator refused: its reason, in red."""
    return discord.Embed(description=clip(message, DESCRIPTION_MAX)[0], color=ERROR_COLOR)


def removed_embed(card_id: str, display_path: str) -> discord.Embed:
    """A card removed after the moderator confirmed."""
    return discord.Embed(
        description=f"Removed card `{card_id}` from `{display_path}`; its view history is kept.", color=OK_COLOR
    )


def cancelled_embed() -> discord.Embed:
    """A confirmation the moderator cancelled."""
    return discord.Embed(description="Cancelled: nothing was changed.", color=discord.Color.light_grey())


def written_card_text(change: CardChange, headline: str) -> str:
    """The message above a card just written: ``headline``, the file it went to, and its warnings."""
    notes = [headline, f"-# written to `{change.display_path}`"]
    notes += [f"-# warning: {safe(p.message)}" for p in change.warnings]
    return clip("\n".join(notes), CONTENT_MAX)[0]


def stale_card_text(error: StaleCardError) -> str:
    """Why a form saved on a card that changed meanwhile wrote nothing, and what changed."""
    changed = change_lines(card_builtins(error.opened), card_builtins(error.current))
    lines = [
        f"Card `{error.current.id}` was changed since you opened the form, so nothing was written"
        " (saving would have reverted that change). Open /cards edit again to start from it.",
        "What changed:",
        *(f"- {safe(line)}" for line in changed),
    ]
    return clip("\n".join(lines), CONTENT_MAX)[0]


# ----------------------------------------------------------------------------------------------- history
def _value(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value) or "(none)"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items()) or "(none)"
    return str(value)


def change_lines(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    """What changed between two card dicts, one line per field: ``field: before → after``."""
    if before is None and after is None:
        return []
    if before is None:
        return ["created: " + clip(_value((after or {}).get("text")), 200)[0]]
    if after is None:
        return ["removed; it was: " + clip(_value(before.get("text")), 200)[0]]
    out = []
    for key in dict.fromkeys([*before, *after]):
        if before.get(key) != after.get(key):
            out.append(f"{key}: {clip(_value(before.get(key)), 150)[0]} → {clip(_value(after.get(key)), 150)[0]}")
    return out or ["no change"]


def history_embed(card_id: str, entries: Sequence[AuditEntry]) -> discord.Embed:
    """The audit entries of a card as an embed: when, who, what, before and after."""
    embed = discord.Embed(title=clip(f"History of {card_id}", TITLE_MAX)[0], color=discord.Color.blurple())
    for entry in entries[:HISTORY_MAX]:
        who = entry.moderator_name or "unknown"
        stamp = discord.utils.format_dt(entry.at, "f")
        name = clip(f"{entry.action} by {who}", 256)[0]
        lines = [stamp, *(safe(line) for line in change_lines(entry.before, entry.after))]
        if entry.detail and (entry.action in ("import", "reload") or COPIED_FROM in entry.detail):
            lines.append(f"-# {safe(entry.detail, 200)}")
        embed.add_field(name=safe(name, 256), value=clip("\n".join(lines), 1000)[0], inline=False)
    return embed
