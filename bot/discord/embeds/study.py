"""What study mode looks like in Discord: question, reveal, summary, review and progress embeds.

Every reveal shows the right answer, the whole card (its text, article, source type and what it cites) and its
source formatted as a reference. Member text is always made inert (:func:`bot.discord.embeds.safe`): an answer
of markdown and mentions is shown as typed and pings nobody.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import discord

from bot.discord.embeds.cards import card_embed
from bot.discord.embeds.common import (
    DESCRIPTION_MAX,
    EMBED_TOTAL_MAX,
    FIELD_NAME_MAX,
    FIELD_VALUE_MAX,
    clip,
    safe,
)
from bot.service import CardDetail
from bot.study.desk import Progress
from bot.study.questions import Question
from bot.study.session import Result, Session, Summary

__all__ = [
    "leaderboard_embed",
    "missing",
    "progress_embed",
    "question_embed",
    "reveal_embeds",
    "review_answer_embeds",
    "review_question_embed",
    "summary_embed",
]

STUDY_COLOR = discord.Color.from_rgb(87, 242, 135)


def _prompt(question: Question) -> str:
    return clip(safe(question.prompt), DESCRIPTION_MAX - 200)[0]


#: What a member is told is missing, by what was blanked (a topic is a term of the field, to them).
MISSING = {"year": "year", "number": "number", "author": "author", "name": "name"}


def missing(question: Question) -> str:
    """ "the missing year", "the missing author"...: a cloze is answerable only if one knows what to type."""
    return f"the missing {MISSING.get(question.term_kind, 'term')}"


def question_embed(session: Session, question: Question, *, deadline: dt.datetime | None) -> discord.Embed:
    """A session's question, without its source (the source would give the answer away)."""
    how = "Pick an answer below" if question.kind == "choice" else f"Press **Answer** and type {missing(question)}"
    when = f" · reveal {discord.utils.format_dt(deadline, 'R')}" if deadline is not None else ""
    embed = discord.Embed(
        title=f"Question {session.number} of {len(session.card_ids)}",
        description=f"{_prompt(question)}\n\n{how}{when}. Answers are private; one each.",
        color=STUDY_COLOR,
    )
    if question.kind == "choice":
        embed.add_field(
            name="Choices",
            value="\n".join(f"**{i + 1}.** {safe(c, 200)}" for i, c in enumerate(question.choices)),
            inline=False,
        )
    return embed


def _whole_card(detail: CardDetail, source: str | None) -> discord.Embed:
    embed = card_embed(detail, text_max=min(DESCRIPTION_MAX, EMBED_TOTAL_MAX - 2000)).embed
    shown = {str(field.value) for field in embed.fields}
    # The plain source repeats the Article and Source type fields line by line ("Article: …"): show only what the
    # card does not already say (a full article title the field had to clip, a reference).
    lines = [
        safe(line)
        for line in (source or "").splitlines()
        if line.strip() and safe(line.partition(": ")[2]) not in shown
    ]
    if lines:
        embed.add_field(name="Source", value=clip("\n".join(lines), FIELD_VALUE_MAX)[0], inline=False)
    return embed


def _fit(head: discord.Embed, card: discord.Embed) -> list[discord.Embed]:
    """``head`` and ``card`` as one message: Discord refuses one whose embeds add up to more than
    ``EMBED_TOTAL_MAX`` characters, so the card's text gives up what is over (cut at a word, with "…")."""
    over = len(head) + len(card) - EMBED_TOTAL_MAX
    text = card.description or ""
    if over > 0:
        card.description = clip(text, max(len(text) - over, 0))[0] or None
    return [head, card]


def _answer_line(question: Question) -> str:
    return f"The answer: **{safe(question.answer, 300)}**"


def reveal_embeds(
    session: Session, question: Question, detail: CardDetail, source: str | None, result: Result
) -> list[discord.Embed]:
    """The reveal: the answer and how many got it right, then the whole card with its source."""
    got = f"{result.right} of {result.total} got it right." if result.total else "Nobody answered this one."
    head = discord.Embed(
        title=f"Question {session.number}: revealed", description=f"{_answer_line(question)}\n{got}", color=STUDY_COLOR
    )
    return _fit(head, _whole_card(detail, source))


#: Members listed by name in a summary; the rest are counted.
SUMMARY_MEMBERS = 20


def summary_embed(
    summary: Summary,
    *,
    hardest: Question | None = None,
    stopped_by: int | None = None,
    reason: str | None = None,
) -> discord.Embed:
    """The end of a session: score per member (best first, out of the questions asked) and the hardest card, by
    the answer its question was after (``hardest``, when the card is still in the library)."""
    asked = summary.asked
    lines = [
        f"{n}. <@{user}>: {score} of {asked} right"
        for n, (user, score) in enumerate(summary.ranking[:SUMMARY_MEMBERS], start=1)
    ]
    if len(summary.ranking) > SUMMARY_MEMBERS:
        lines.append(f"…and {len(summary.ranking) - SUMMARY_MEMBERS} more.")
    if not lines:
        lines = ["Nobody answered."]
    if summary.hardest is not None:
        h = summary.hardest
        what = f" (answer: **{safe(hardest.answer, 100)}**)" if hardest is not None else ""
        lines.append(f"\nHardest card: `{h.card_id}`{what}, {h.right} of {h.total} got it right.")
    note = reason or (f"Stopped by <@{stopped_by}>." if stopped_by is not None else "")
    embed = discord.Embed(
        title=f"Study session over: {asked} question{'s' if asked != 1 else ''}",
        description=clip("\n".join(lines) + (f"\n\n{note}" if note else ""), DESCRIPTION_MAX)[0],
        color=STUDY_COLOR,
    )
    return embed


def review_question_embed(question: Question, *, due: int) -> discord.Embed:
    """A personal review's question (only the member sees it)."""
    embed = discord.Embed(title="Review", description=_prompt(question), color=STUDY_COLOR)
    embed.set_footer(text=f"{due} card{'s' if due != 1 else ''} to review · recall {missing(question)}, then reveal")
    return embed


def review_answer_embeds(question: Question, detail: CardDetail, source: str | None) -> list[discord.Embed]:
    """A personal review's reveal: the answer, then the whole card; the member rates their recall below."""
    head = discord.Embed(
        title="Review", description=f"{_answer_line(question)}\nHow well did you recall it?", color=STUDY_COLOR
    )
    return _fit(head, _whole_card(detail, source))


def _percent(share: float | None) -> str:
    return "–" if share is None else f"{share:.0%}"


def progress_embed(progress: Progress) -> discord.Embed:
    """A member's progress in numbers (the chart comes as the attachment)."""
    embed = discord.Embed(title="Your study progress", color=STUDY_COLOR)
    embed.add_field(name="Cards studied", value=str(progress.studied))
    embed.add_field(name="Learned", value=str(progress.learned))
    embed.add_field(name="Retention", value=_percent(progress.retention))
    embed.add_field(name="Due today", value=str(progress.due_today))
    embed.add_field(name="Due this week", value=str(progress.due_week))
    if progress.streak is not None:
        embed.add_field(name="Streak", value=f"{progress.streak} day{'s' if progress.streak != 1 else ''}")
    for topic, day, ready in progress.exams[:5]:
        embed.add_field(
            name=clip(f"Exam: {safe(topic)}", FIELD_NAME_MAX)[0],
            value=f"{day.isoformat()} · readiness {ready:.0%}",
            inline=False,
        )
    embed.set_image(url="attachment://progress.png")
    return embed


def leaderboard_embed(rows: Sequence[tuple[int, int, int]]) -> discord.Embed:
    """The last 30 days, ranked by correct recalls."""
    lines = [
        f"{n}. <@{user}>: {right} right of {total} ({right / total:.0%})"
        for n, (user, right, total) in enumerate(rows, start=1)
    ]
    return discord.Embed(
        title="Study leaderboard: the last 30 days",
        description=clip("\n".join(lines), DESCRIPTION_MAX)[0]
        or "Nobody has recalled a card here in the last 30 days.",
        color=STUDY_COLOR,
    ).set_footer(text="Ranked by correct recalls, then accuracy")
