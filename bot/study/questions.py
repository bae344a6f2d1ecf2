"""Questions derived from cards (provisional: a small, honest stand-in until the full derivation lands).

A cloze blanks the first of the card's topic words (a word of four letters or more from one of its topics) that
occurs in the text; a choice question offers that word and three distractors, topic words of other cards of the
same collection that do not occur in this card's text. A card with nothing to blank yields no question.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal

from rapidfuzz import fuzz

from bot.cards.library import Library
from bot.cards.model import Card
from bot.util.text import fold

__all__ = ["Kind", "Question", "answer_matches", "questions_for"]

Kind = Literal["cloze", "choice"]
BLANK = "_____"
_WORD = re.compile(r"[^\W\d_][\w'-]{3,}")


@dataclass(frozen=True, slots=True)
class Question:
    """One recall prompt derived from a card."""

    card_id: str
    kind: Kind
    prompt: str
    answer: str
    choices: tuple[str, ...]
    accepted: tuple[str, ...]
    term_kind: str


def _topic_words(card: Card) -> list[str]:
    words: list[str] = []
    for topic in card.topics:
        for word in _WORD.findall(topic):
            if fold(word) not in {fold(w) for w in words}:
                words.append(word)
    return words


def _find(word: str, text: str) -> re.Match[str] | None:
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, flags=re.IGNORECASE)


def questions_for(card: Card, library: Library) -> tuple[Question, ...]:
    """The cloze and the choice question of ``card`` (none when no topic word occurs in its text)."""
    for word in _topic_words(card):
        match = _find(word, card.text)
        if match is None:
            continue
        answer = match.group(0)
        prompt = card.text[: match.start()] + BLANK + card.text[match.end() :]
        cloze = Question(card.id, "cloze", prompt, answer, (), (), "topic")
        collection = library.card_collection.get(card.id)
        others = library.cards_of(collection) if collection is not None else ()
        pool: list[str] = []
        for other in others:
            if other.id == card.id:
                continue
            for candidate in _topic_words(other):
                if _find(candidate, card.text) is None and fold(candidate) not in {fold(p) for p in [answer, *pool]}:
                    pool.append(candidate)
        if len(pool) < 3:
            return (cloze,)
        pool.sort(key=lambda w: hashlib.sha256(f"{card.id}:{w}".encode()).hexdigest())
        options = sorted([answer, *pool[:3]], key=lambda w: hashlib.sha256(f"{card.id}|{w}".encode()).hexdigest())
        return (cloze, Question(card.id, "choice", prompt, answer, tuple(options), (), "topic"))
    return ()


def answer_matches(given: str, question: Question) -> bool:
    """True when ``given`` is the answer (or an accepted one), forgiving case, accents, a plural and small typos."""
    wanted = [fold(a).strip() for a in (question.answer, *question.accepted)]
    got = fold(given).strip()
    if not got:
        return False
    for want in wanted:
        if got in (want, want + "s", want + "es") or want in (got + "s", got + "es"):
            return True
        if len(want) >= 5 and fuzz.ratio(got, want) >= 85:
            return True
    return False
