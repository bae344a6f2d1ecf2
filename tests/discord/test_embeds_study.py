"""What study mode shows a member, built with no Discord at all from real objects: the shipped cards, their derived
questions (``questions_for``), sessions driven as in tests/study, and a member's progress."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import discord
import pytest
import yaml

from bot.discord import embeds
from bot.discord.embeds.study import (
    SUMMARY_MEMBERS,
    leaderboard_embed,
    progress_embed,
    question_embed,
    reveal_embeds,
    review_answer_embeds,
    review_question_embed,
    summary_embed,
)
from bot.service import CardDetail, CardService
from bot.study.desk import Progress
from bot.study.questions import BLANK, Question, questions_for
from bot.study.session import Session, new_session
from tests.conftest import SHIPPED_CARDS

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
#: What a member could type or a curator could write: markdown, a user mention and a mass ping.
HOSTILE = "**@everyone** <@123456789012345678> _x_"


@pytest.fixture(scope="module")
def service() -> CardService:
    return CardService.load(SHIPPED_CARDS)


def _question(service: CardService, card_id: str, kind: str, term_kind: str | None = None) -> Question:
    card = service.library.cards[card_id]
    return next(
        q
        for q in questions_for(card, service.library)
        if q.kind == kind and (term_kind is None or q.term_kind == term_kind)
    )


def _detail(service: CardService, card_id: str) -> CardDetail:
    detail = service.detail(card_id)
    assert detail is not None
    return detail


def _session(card_ids: list[str], mode: str = "choice") -> Session:
    s = new_session(guild_id=1, channel_id=2, starter_id=10, card_ids=card_ids, mode=mode, seconds=30)  # type: ignore[arg-type]
    s.ask(T0, message_id=99)
    return s


def within_limits(embed: discord.Embed) -> None:
    assert len(embed) <= embeds.EMBED_TOTAL_MAX
    assert len(embed.description or "") <= embeds.DESCRIPTION_MAX
    assert len(embed.title or "") <= embeds.TITLE_MAX
    for field in embed.fields:
        assert 0 < len(field.name or "") <= embeds.FIELD_NAME_MAX
        assert 0 < len(field.value or "") <= embeds.FIELD_VALUE_MAX


def fields(embed: discord.Embed) -> dict[str, str]:
    return {str(f.name): str(f.value) for f in embed.fields}


# -- questions --------------------------------------------------------------------------------------------
def test_a_choice_question_shows_its_prompt_with_the_blank_and_four_numbered_choices(service: CardService) -> None:
    question = _question(service, "therapeutic-alliance-004", "choice", "year")
    session = _session(["therapeutic-alliance-004", "therapeutic-alliance-007"])
    embed = question_embed(session, question, deadline=session.deadline())
    assert embed.title == "Question 1 of 2"
    description = embed.description or ""
    assert "(Bartle-Haring et al., " + embeds.safe(BLANK) + ")" in description  # the blank, where the year was
    assert "2007" not in description.split("\n\n")[0]  # the prompt does not give the answer away
    assert "Pick an answer below" in description
    assert f"<t:{int(T0.timestamp()) + 30}:R>" in description  # the reveal's time, in each member's clock
    choices = fields(embed)["Choices"].splitlines()
    assert choices == [f"**{n}.** {c}" for n, c in enumerate(question.choices, start=1)]
    assert len(choices) == 4
    assert question.answer in question.choices
    within_limits(embed)


def test_a_cloze_question_asks_for_the_missing_term_and_lists_no_choices(service: CardService) -> None:
    question = _question(service, "therapeutic-alliance-002", "cloze", "author")
    session = _session(["therapeutic-alliance-002"], mode="cloze")
    embed = question_embed(session, question, deadline=None)
    description = embed.description or ""
    assert embeds.safe(BLANK) + " (5) identified three components" in description
    assert "Bordin" not in description
    assert "type the missing author" in description  # what to type, so the blank has one answer
    assert "reveal <t:" not in description
    assert embed.fields == []


def test_a_question_of_markdown_and_mentions_shows_them_as_typed_and_pings_nobody() -> None:
    question = Question(
        card_id="x",
        kind="choice",
        prompt=f"{HOSTILE} said {BLANK} first.",
        answer=HOSTILE,
        choices=(HOSTILE, "@here", "`code`", "plain"),
        accepted=(),
        term_kind="term",
    )
    embed = question_embed(_session(["x"]), question, deadline=None)
    shown = (embed.description or "") + fields(embed)["Choices"]
    assert "@everyone" not in shown
    assert "@here" not in shown
    assert "<@123456789012345678>" not in shown
    assert "\\*\\*" in shown
    assert "\\`code\\`" in shown


def test_a_huge_prompt_is_clipped_within_discords_limits() -> None:
    words = " ".join(["alliance"] * 3000)
    question = Question(
        card_id="x",
        kind="choice",
        prompt=f"{BLANK} {words}",
        answer="a" * 500,
        choices=tuple(c * 500 for c in "abcd"),
        accepted=(),
        term_kind="term",
    )
    embed = question_embed(_session(["x"]), question, deadline=T0)
    within_limits(embed)
    assert (embed.description or "").startswith(embeds.safe(BLANK))
    assert "Pick an answer below" in (embed.description or "")  # the instructions survive the clipping
    assert "…" in (embed.description or "")


# -- the reveal -------------------------------------------------------------------------------------------
def test_the_reveal_gives_the_answer_the_count_and_the_whole_card_with_its_citation_and_source(
    service: CardService,
) -> None:
    card_id = "therapeutic-alliance-004"
    question = _question(service, card_id, "choice", "year")
    session = _session([card_id])
    session.answer(11, 0, "2007", True, T0)
    session.answer(12, 0, "1992", False, T0)
    result = session.reveal()
    head, card = reveal_embeds(session, question, _detail(service, card_id), service.source(card_id), result)
    assert head.title == "Question 1: revealed"
    assert (head.description or "").splitlines() == ["The answer: **2007**", "1 of 2 got it right."]
    detail = _detail(service, card_id)
    assert card.description == embeds.safe(detail.card.text)  # the whole card, the answer in place
    shown = fields(card)
    assert shown["Cites"] == "Bartle-Haring et al. (2007)"
    assert shown["Article"] == embeds.safe(detail.card.source.article or "")
    assert shown["Source type"] == "Offline Book/Journal"
    assert card.footer.text == f"card {card_id}"
    # The source is on the card once: no second field repeating the article and source type.
    values = [v for v in shown.values() for v in v.splitlines()]
    assert not any(v.endswith(shown["Article"]) for v in values if v != shown["Article"])
    within_limits(card)


def test_a_reveal_nobody_answered_says_so(service: CardService) -> None:
    card_id = "therapeutic-alliance-002"
    question = _question(service, card_id, "choice")
    session = _session([card_id])
    head, _card = reveal_embeds(session, question, _detail(service, card_id), None, session.reveal())
    assert "Nobody answered this one." in (head.description or "")


def test_a_source_that_adds_to_the_card_is_shown_and_markdown_in_it_is_inert(service: CardService) -> None:
    card_id = "therapeutic-alliance-002"
    question = _question(service, card_id, "cloze")
    session = _session([card_id], mode="cloze")
    source = "Article: Therapeutic alliance as a…\nDOI: 10.1000/**x**"
    _head, card = reveal_embeds(session, question, _detail(service, card_id), source, session.reveal())
    assert fields(card)["Source"] == "DOI: 10.1000/\\*\\*x\\*\\*"


# -- the summary ------------------------------------------------------------------------------------------
def _played(service: CardService) -> tuple[Session, Question]:
    ids = ["therapeutic-alliance-004", "therapeutic-alliance-007"]
    session = _session(ids)
    for index, right in enumerate([{11: True, 12: True, 13: False}, {11: True, 12: False, 13: False}]):
        if index:
            session.advance()
            session.ask(T0)
        for user, correct in right.items():
            assert session.answer(user, index, "x", correct, T0) == "recorded"
        session.reveal()
    session.advance()
    return session, _question(service, ids[1], "choice")


def test_the_summary_ranks_members_by_score_out_of_the_questions_and_names_the_hardest_card(
    service: CardService,
) -> None:
    session, hardest = _played(service)
    embed = summary_embed(session.summary(), hardest=hardest, stopped_by=10)
    assert embed.title == "Study session over: 2 questions"
    lines = (embed.description or "").splitlines()
    assert lines[:3] == ["1. <@11>: 2 of 2 right", "2. <@12>: 1 of 2 right", "3. <@13>: 0 of 2 right"]
    assert f"Hardest card: `therapeutic-alliance-007` (answer: **{hardest.answer}**), 1 of 3 got it right." in lines
    assert lines[-1] == "Stopped by <@10>."


def test_a_summary_where_everybody_was_right_names_no_hardest_card(service: CardService) -> None:
    session = _session(["therapeutic-alliance-004"])
    session.answer(11, 0, "2007", True, T0)
    session.reveal()
    embed = summary_embed(session.summary())
    assert "Hardest" not in (embed.description or "")
    assert embed.title == "Study session over: 1 question"


def test_a_summary_of_a_crowd_lists_the_first_members_and_counts_the_rest() -> None:
    session = _session(["x"])
    for user in range(100, 160):
        session.answer(user, 0, "x", user % 2 == 0, T0)
    session.reveal()
    embed = summary_embed(session.summary(), reason="The channel is closing.")
    lines = (embed.description or "").splitlines()
    assert lines[0] == "1. <@100>: 1 of 1 right"
    assert f"…and {60 - SUMMARY_MEMBERS} more." in lines
    assert lines[-1] == "The channel is closing."
    within_limits(embed)


def test_an_empty_session_summary_says_nobody_answered() -> None:
    session = _session(["x"])
    session.reveal()
    assert (summary_embed(session.summary()).description or "").startswith("Nobody answered.")


# -- personal reviews -------------------------------------------------------------------------------------
def test_a_review_shows_the_prompt_then_the_answer_and_the_whole_card(service: CardService) -> None:
    card_id = "therapeutic-alliance-010"
    question = _question(service, card_id, "cloze", "year")
    ask = review_question_embed(question, due=3)
    assert embeds.safe(BLANK) in (ask.description or "")
    assert ask.footer.text is not None
    assert ask.footer.text == f"3 cards to review · recall the missing {question.term_kind}, then reveal"
    assert review_question_embed(question, due=1).footer.text.startswith("1 card to review")  # type: ignore[union-attr]
    head, card = review_answer_embeds(question, _detail(service, card_id), service.source(card_id))
    assert (head.description or "").startswith(f"The answer: **{embeds.safe(question.answer)}**")
    assert "How well did you recall it?" in (head.description or "")
    assert card.footer.text == f"card {card_id}"
    within_limits(card)


# -- progress and leaderboard -----------------------------------------------------------------------------
def _progress(**changes: object) -> Progress:
    base = Progress(
        studied=12,
        learned=7,
        due_today=3,
        due_week=9,
        retention=0.8333,
        reviews_by_day=[(T0.date(), 4)],
        coming=[(T0.date(), 3)],
        exams=[],
        streak=None,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_progress_shows_the_figures_a_member_checks_and_points_at_the_chart() -> None:
    embed = progress_embed(_progress())
    assert fields(embed) == {
        "Cards studied": "12",
        "Learned": "7",
        "Retention": "83%",
        "Due today": "3",
        "Due this week": "9",
    }
    assert embed.image.url == "attachment://progress.png"


def test_progress_shows_the_streak_and_each_exams_readiness_with_inert_topics() -> None:
    exams = [(HOSTILE, dt.date(2026, 6, 15), 0.4), ("psychotherapy (server)", dt.date(2026, 7, 1), 1.0)]
    embed = progress_embed(_progress(streak=1, retention=None, exams=exams))
    shown = fields(embed)
    assert shown["Streak"] == "1 day"
    assert shown["Retention"] == "–"
    assert shown["Exam: psychotherapy (server)"] == "2026-07-01 · readiness 100%"
    [hostile] = [name for name in shown if name.startswith("Exam: ") and "server" not in name]
    assert "@everyone" not in hostile
    assert "\\*\\*" in hostile
    assert shown[hostile] == "2026-06-15 · readiness 40%"
    within_limits(embed)


def test_the_leaderboard_keeps_the_ranking_it_is_given_and_says_when_it_is_empty() -> None:
    embed = leaderboard_embed([(7, 9, 10), (3, 9, 12), (5, 2, 2)])
    assert (embed.description or "").splitlines() == [
        "1. <@7>: 9 right of 10 (90%)",
        "2. <@3>: 9 right of 12 (75%)",
        "3. <@5>: 2 right of 2 (100%)",
    ]
    assert embed.footer.text == "Ranked by correct recalls, then accuracy"
    assert "Nobody has recalled a card" in (leaderboard_embed([]).description or "")
    within_limits(leaderboard_embed([(10**18 + n, 1000 - n, 1000) for n in range(500)]))


def test_a_reveal_of_a_huge_card_fits_in_one_discord_message(tmp_path: Path) -> None:
    # Discord refuses a message whose embeds add up to more than 6,000 characters: the reveal is one message.
    cites = " ".join(f"(Author{n} & Other{n}, {1950 + n})" for n in range(40))
    text = ("The working alliance predicts outcome in therapy. " * 80)[:3000] + " " + cites
    card = {
        "id": "huge",
        "text": text,
        "topics": [f"topic number {n} of a long list of topics" for n in range(30)],
        "source": {"article": ("A very long article title " * 40)[:1000], "type": "Journal"},
    }
    data = {"collection": {"id": "demo", "title": "Demo", "curator": "Ada"}, "cards": [card]}
    (tmp_path / "demo.yml").write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    service = CardService.load(tmp_path)
    assert not service.library.errors, service.library.errors
    detail = _detail(service, "huge")
    question = Question(
        card_id="huge", kind="cloze", prompt=text, answer="alliance", choices=(), accepted=(), term_kind="term"
    )
    session = _session(["huge"], mode="cloze")
    source = "Article: " + "A very long article title " * 40 + "\nDOI: " + "10.1/" * 300
    reveal = reveal_embeds(session, question, detail, source, session.reveal())
    assert sum(len(e) for e in reveal) <= embeds.EMBED_TOTAL_MAX
    for embed in reveal:
        within_limits(embed)
    assert "Source" in fields(reveal[1])
    assert (reveal[1].description or "").endswith("…")
    review = review_answer_embeds(question, detail, source)
    assert sum(len(e) for e in review) <= embeds.EMBED_TOTAL_MAX
