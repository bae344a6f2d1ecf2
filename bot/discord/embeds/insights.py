"""What curators see of their readers: the reports queue, one card's reports, and insights.

Every report text and reporter name goes through :func:`safe` (markdown escaped, mentions broken), so a report
can neither ping anyone nor dress itself up as something else.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import discord

from bot.discord.embeds.common import (
    CARD_COLOR,
    DESCRIPTION_MAX,
    FIELD_NAME_MAX,
    FIELD_VALUE_MAX,
    OK_COLOR,
    WARN_COLOR,
    clip,
    safe,
)
from bot.insights import KINDS, CardReports, Insights
from bot.storage import Report

__all__ = ["STALE", "card_reports_embed", "insights_embed", "queue_embed", "report_line"]

#: How a report on a card edited (or removed) since is marked.
STALE = "possibly stale: the card changed since"
#: Reports listed on one card's page (the rest are counted).
REPORTS_SHOWN = 10


def _ago(when: dt.datetime, now: dt.datetime) -> str:
    return discord.utils.format_dt(when, "R") if when <= now else discord.utils.format_dt(when, "f")


def _kinds(group: CardReports) -> str:
    names = ((KINDS.get(kind, kind).lower(), n) for kind, n in group.kinds.items())
    return ", ".join(f"{name} ×{n}" if n > 1 else name for name, n in names)


def queue_embed(
    groups: Sequence[CardReports], *, status: str, offset: int, total: int, collection: str | None
) -> discord.Embed:
    """A page of the queue: one line per card, most reported first."""
    where = f" in `{safe(collection, 80)}`" if collection else ""
    title = f"Reports: {status}{where} — {total} card{'s' if total != 1 else ''}"
    if not groups:
        return discord.Embed(title=title, description="Nothing here. Readers have nothing to report.", color=OK_COLOR)
    lines = []
    for n, group in enumerate(groups, offset + 1):
        count = len(group.reports)
        mark = ""
        if not group.exists:
            mark = " · **no longer in the deck**"
        elif any(group.stale(r) for r in group.reports):
            mark = " · possibly stale"
        lines.append(f"{n}. `{group.card_id}`: {count} report{'s' if count != 1 else ''} ({_kinds(group)}){mark}")
    description = clip("\n".join(lines), DESCRIPTION_MAX)[0]
    embed = discord.Embed(title=title, description=description, color=WARN_COLOR)
    embed.set_footer(text="Open a card below to see its reports, fix it or dismiss them.")
    return embed


def report_line(report: Report, group: CardReports, now: dt.datetime) -> tuple[str, str]:
    """One report as an embed field: (name, value). The text is shown escaped."""
    head = f"{KINDS.get(report.kind, report.kind)} · {report.reporter_name}"
    name = clip(safe(head), FIELD_NAME_MAX - 40)[0] + f" · {report.status}"
    notes = [_ago(report.updated, now)]
    if group.stale(report) and group.exists:
        notes.append(STALE)
    if report.resolution and report.status != "open":
        notes.append(f"{report.status}: {safe(report.resolution, 200)}")
    text = safe(report.text) if report.text.strip() else "*(no details given)*"
    value = clip(text, FIELD_VALUE_MAX - 300)[0] + "\n-# " + " · ".join(notes)
    return name, value


def card_reports_embed(group: CardReports, *, now: dt.datetime | None = None) -> discord.Embed:
    """One card's reports (open first): kind, who, when, the text escaped, and whether it is possibly stale."""
    now = now or discord.utils.utcnow()
    open_ = sum(1 for r in group.reports if r.status == "open")
    title = f"Reports on {group.card_id}: {open_} open of {len(group.reports)}"
    embed = discord.Embed(title=clip(title, 256)[0], color=WARN_COLOR if open_ else OK_COLOR)
    if not group.exists:
        embed.description = "This card is no longer in the deck; its reports are kept."
    for report in group.reports[:REPORTS_SHOWN]:
        name, value = report_line(report, group, now)
        embed.add_field(name=name, value=value, inline=False)
    if len(group.reports) > REPORTS_SHOWN:
        embed.set_footer(text=f"and {len(group.reports) - REPORTS_SHOWN} more (factdeck reports --json lists all)")
    return embed


def insights_embed(insights: Insights) -> discord.Embed:
    """What readers looked for and did not find, what they read most and least, and what they reported."""
    where = f" in `{safe(insights.collection, 80)}`" if insights.collection else ""
    embed = discord.Embed(title=f"Insights{where}: the last {insights.days} days", color=CARD_COLOR)

    def field(name: str, lines: Sequence[str], empty: str) -> None:
        value = clip("\n".join(lines), FIELD_VALUE_MAX)[0] if lines else empty
        embed.add_field(name=name, value=value, inline=False)

    missed = [
        f"“{safe(m.query, 80)}”{' (cite)' if m.kind == 'cite' else ''}: {m.count}× on {m.days} day"
        + ("s" if m.days != 1 else "")
        for m in insights.missed
    ]
    field("Searched for, found nothing", missed, "No failed searches.")
    field("Most viewed", [f"`{c}`: {n}" for c, n in insights.most_viewed], "No views yet.")
    field("Least viewed", [f"`{c}`: {n}" for c, n in insights.least_viewed], "No cards.")
    field("Most reported (open)", [f"`{c}`: {n}" for c, n in insights.most_reported], "No open reports.")
    if insights.forgotten:
        lines = [f"`{c}`: Again {again}× of {n} review{'s' if n != 1 else ''}" for c, again, n in insights.forgotten]
        field("Forgotten most in study", lines, "")
    return embed
