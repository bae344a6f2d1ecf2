"""Daily posts as questions: the day's question, the post and its "Reveal the answer" button, and study mode's
forgetting counts for the pick.

The daily engine (:mod:`bot.daily`) knows nothing of study mode; this module is where the two meet:

* :func:`day_question` turns the day's card into one question with :func:`bot.study.questions.questions_for`
  (the first multiple choice, else the first cloze; ``None`` when the card yields none, and the post falls back
  to the fact, saying so).
* :func:`question_post` is what the channel sees: the prompt (and the four options of a choice) and the
  :class:`RevealButton`. The button is a :class:`discord.ui.DynamicItem` whose custom id carries the card id and
  the question's index (``factdeck:dq:<card>:<index>``, a server's own card as ``id@``: :mod:`bot.discord.keys`),
  so it works after a restart; the daily cog registers it and answers a press
  (:meth:`bot.discord.cogs.daily.DailyCog.on_reveal`) with the answer and the whole card, to whoever pressed,
  ephemerally. Under a multiple choice, one :class:`ChoiceButton` per option lets a member
  answer privately (``factdeck:dq:<card>:<index>:<option>``): right or wrong, and the answer. Nobody is tracked.
* :func:`forgetting` is the engine's :data:`bot.daily.Forgotten` over :class:`bot.storage.study.StudyStore`:
  the Again ratings of the server's studying members per card over the :data:`WINDOW` before the post's day.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import discord
from discord.ext import commands

from bot.cards.library import Library
from bot.cards.model import Card
from bot.daily import Forgotten
from bot.discord.embeds import clip, safe
from bot.discord.embeds.common import CARD_COLOR, DESCRIPTION_MAX, FIELD_VALUE_MAX
from bot.discord.errors import reply
from bot.discord.keys import CARRIED, component_key, served_key
from bot.storage.study import StudyStore
from bot.study.questions import Question, no_questions_reason, questions_for

__all__ = [
    "QUESTION_HEADER",
    "REVEAL_LABEL",
    "REVEAL_PREFIX",
    "WINDOW",
    "ChoiceButton",
    "RevealButton",
    "RevealHandler",
    "day_question",
    "forgetting",
    "no_question_note",
    "question_embed",
    "question_post",
]

#: The line above a question post.
QUESTION_HEADER = "**Question of the day**"
REVEAL_LABEL = "Reveal the answer"
#: How far back a server's forgetting counts: the 30 days before the post's day (see :func:`forgetting`).
WINDOW = dt.timedelta(days=30)
#: The start of the custom id of every button under a daily question (Reveal and the options).
REVEAL_PREFIX = "factdeck:dq:"
LETTERS = "ABCD"


def day_question(card: Card, library: Library) -> tuple[int, Question] | None:
    """The question a daily post asks about ``card`` and its index among the card's questions: the first
    multiple choice, else the first cloze; ``None`` when the card yields no question."""
    questions = questions_for(card, library)
    for kind in ("choice", "cloze"):
        for index, question in enumerate(questions):
            if question.kind == kind:
                return index, question
    return None


def no_question_note(card: Card) -> str:
    """What a question post of a card that yields no question says above the fact instead."""
    reason = no_questions_reason(card) or "it has no key term to ask about"
    return f"{QUESTION_HEADER}\nNo question today: this card cannot be quizzed ({reason}), so here is the fact."


def question_embed(question: Question) -> discord.Embed:
    """The question as the channel sees it: the prompt with its blank and, for a choice, the four options. The
    card's id and source stay hidden (an id can give the answer away) until someone presses Reveal."""
    embed = discord.Embed(
        title="Question of the day", description=clip(question.prompt, DESCRIPTION_MAX)[0], color=CARD_COLOR
    )
    if question.choices:
        lines = [
            f"**{letter}.** {safe(choice, 200)}" for letter, choice in zip(LETTERS, question.choices, strict=False)
        ]
        embed.add_field(name="Which one fills the blank?", value=clip("\n".join(lines), FIELD_VALUE_MAX)[0])
    else:
        embed.add_field(name="What fills the blank?", value="Think of your answer, then reveal it.")
    embed.set_footer(text="Press “Reveal the answer” to see it with the card and its source (only you will).")
    return embed


@runtime_checkable
class RevealHandler(Protocol):
    """What answers a press of :class:`RevealButton` (the daily cog)."""

    async def on_reveal(self, interaction: discord.Interaction, card_id: str, index: int) -> None:
        """Reveal the question's answer and its card to whoever pressed."""
        ...

    async def on_choice(self, interaction: discord.Interaction, card_id: str, index: int, choice: int) -> None:
        """Tell whoever picked option ``choice`` whether it is right, and the answer."""
        ...


async def _handler(interaction: discord.Interaction) -> RevealHandler | None:
    """The daily cog, or ``None`` (and the member told) when it is not loaded."""
    client = interaction.client
    cog = client.get_cog("DailyCog") if isinstance(client, commands.Bot) else None
    if isinstance(cog, RevealHandler):
        return cog
    await reply(interaction, "Daily questions are not available right now.")
    return None


class RevealButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=rf"factdeck:dq:(?P<card>{CARRIED}):(?P<index>\d{{1,3}})",
):
    """ "Reveal the answer" under a daily question: the answer and the whole card, to whoever presses it."""

    def __init__(self, card_id: str, index: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=REVEAL_LABEL,
                style=discord.ButtonStyle.primary,
                custom_id=f"{REVEAL_PREFIX}{component_key(card_id)}:{index}",
                row=1,
            )
        )
        self.card_id, self.index = card_id, index

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> RevealButton:
        """Rebuild the button from its custom id."""
        return cls(served_key(match["card"], interaction.guild_id), int(match["index"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Hand the press to the daily cog (it checks the button is on the message and the question still is)."""
        cog = await _handler(interaction)
        if cog is not None:
            await cog.on_reveal(interaction, self.card_id, self.index)


class ChoiceButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=rf"factdeck:dq:(?P<card>{CARRIED}):(?P<index>\d{{1,3}}):(?P<choice>[0-3])",
):
    """One option of a daily multiple choice: whoever picks it is told, privately, whether it is right."""

    def __init__(self, card_id: str, index: int, choice: int, label: str = "-") -> None:
        super().__init__(
            discord.ui.Button(
                label=f"{LETTERS[choice]}. {label}"[:80],
                style=discord.ButtonStyle.secondary,
                custom_id=f"{REVEAL_PREFIX}{component_key(card_id)}:{index}:{choice}",
                row=0,
            )
        )
        self.card_id, self.index, self.choice = card_id, index, choice

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ChoiceButton:
        """Rebuild the button from its custom id."""
        return cls(served_key(match["card"], interaction.guild_id), int(match["index"]), int(match["choice"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Hand the pick to the daily cog (it checks the question still is what was asked)."""
        cog = await _handler(interaction)
        if cog is not None:
            await cog.on_choice(interaction, self.card_id, self.index, self.choice)


def question_post(card: Card, library: Library) -> dict[str, Any] | None:
    """Keyword arguments for a send of the day's question (content, embed, the option buttons of a choice and the
    Reveal button); ``None`` when the card yields no question."""
    found = day_question(card, library)
    if found is None:
        return None
    index, question = found
    view = discord.ui.View(timeout=None)
    for choice, option in enumerate(question.choices[: len(LETTERS)]):
        view.add_item(ChoiceButton(card.id, index, choice, option))
    view.add_item(RevealButton(card.id, index))
    view.stop()  # a finished view is not kept: the dynamic item routes the press, also after a restart
    return {"content": QUESTION_HEADER, "embed": question_embed(question), "view": view}


def forgetting(store: StudyStore) -> Forgotten:
    """The engine's :data:`bot.daily.Forgotten`: per card, ``(Again ratings, reviews)`` of the members who studied
    in the server, over the 30 days that end at 00:00 UTC the day before the post's local date.

    The window ends before the post's day begins anywhere, so the counts, and with them the pick, are the same
    for ``/daily preview`` run from then on and for the post itself: reviews of the day before count the day after.
    """

    async def counts(guild_id: int, local_date: dt.date) -> Mapping[str, tuple[int, int]]:
        until = dt.datetime.combine(local_date - dt.timedelta(days=1), dt.time(), dt.UTC)
        return await store.forgotten(guild_id, until - WINDOW, until)

    return counts
