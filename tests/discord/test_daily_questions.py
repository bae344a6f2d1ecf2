"""What a daily question post shows, without Discord: the question, or the fact when the card yields none."""

from __future__ import annotations

from pathlib import Path

from bot.discord.cogs.daily import POST_HEADER, post_message
from bot.discord.daily_questions import QUESTION_HEADER, REVEAL_LABEL, day_question
from bot.service import CardService
from tests.study.test_questions import write_cards

CARDS = [
    {"id": "short", "text": "Rogers (1951) said so.", "topics": ["rogers"]},
    {
        "id": "bordin",
        "text": "Bordin (1979) described the working alliance as goals, tasks and a bond between client and therapist.",
        "topics": ["working alliance"],
    },
]


def test_a_card_that_yields_no_question_is_posted_as_the_fact_and_the_post_says_why(tmp_path: Path) -> None:
    library = write_cards(tmp_path, CARDS)
    service = CardService(library)
    detail = service.detail("short")
    assert detail is not None
    assert day_question(detail.card, library) is None
    post = post_message(detail, library, "question", None)
    assert post["content"].startswith(QUESTION_HEADER)
    assert "No question today" in post["content"]
    assert "too short to quiz" in post["content"]
    assert post["embed"].description.startswith("Rogers (1951) said so.")  # the fact itself


def test_a_question_post_hides_the_answer_behind_the_reveal_button(tmp_path: Path) -> None:
    library = write_cards(tmp_path, CARDS)
    detail = CardService(library).detail("bordin")
    assert detail is not None
    found = day_question(detail.card, library)
    assert found is not None
    _, question = found
    post = post_message(detail, library, "question", None)
    assert post["content"] == QUESTION_HEADER
    assert question.answer not in post["embed"].description
    assert [item.item.label for item in post["view"].children] == [REVEAL_LABEL]
    fact = post_message(detail, library, "fact", None)
    assert fact["content"] == POST_HEADER
    assert "view" not in fact or all(getattr(i, "label", "") != REVEAL_LABEL for i in fact["view"].children)
