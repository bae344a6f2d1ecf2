"""What study mode asks about a card, for ``factdeck questions CARD`` and the console's ``questions`` command:
a curator checks the blanks and distractors of a card (and the effect of its ``study`` block) without Discord."""

from __future__ import annotations

import textwrap

from bot.cards.library import Library
from bot.study.questions import Question, no_questions_reason, questions_for


def derive(card_id: str, library: Library) -> tuple[tuple[Question, ...], str] | None:
    """The card's questions and, when it has none, why; None for an unknown card."""
    card = library.cards.get(card_id)
    if card is None:
        return None
    questions = questions_for(card, library)
    reason = "" if questions else no_questions_reason(card) or "it has nothing to blank (no topic, name or number)"
    return questions, reason


def questions_json(card_id: str, questions: tuple[Question, ...], reason: str) -> dict[str, object]:
    """The questions as a JSON object: the card id, each question's fields, and why there are none if so."""
    data: dict[str, object] = {
        "id": card_id,
        "questions": [
            {
                "kind": q.kind,
                "term_kind": q.term_kind,
                "prompt": q.prompt,
                "answer": q.answer,
                "choices": list(q.choices),
                "accepted": list(q.accepted),
            }
            for q in questions
        ],
    }
    if reason:
        data["none_because"] = reason
    return data


def questions_text(card_id: str, questions: tuple[Question, ...], reason: str, width: int = 88) -> str:
    """The questions laid out for a terminal: per question its kind, the prompt, the answer and the options."""
    if not questions:
        return f"{card_id} is not quizzed: {reason}."
    blocks = [f"{card_id}: {len(questions)} question{'s' if len(questions) != 1 else ''}"]
    previous = ""
    for number, q in enumerate(questions, 1):
        lines = [f"{number}. {q.kind} ({q.term_kind})"]
        if q.prompt == previous:
            lines.append("   (the prompt above)")
        else:
            lines.append(textwrap.fill(q.prompt, width, initial_indent="   ", subsequent_indent="   "))
        previous = q.prompt
        if q.choices:
            lines.append("   choices: " + " · ".join(q.choices))
        lines.append(f"   answer: {q.answer}" + (f" (also accepted: {', '.join(q.accepted)})" if q.accepted else ""))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
