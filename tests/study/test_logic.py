"""Study mode without Discord: FSRS through the wrapper (fuzzing off, a hand-moved clock), the session state
machine, the exam plan, and the desk over the shipped cards and a real SQLite database."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from fsrs import Card as FsrsCard

from bot.service import CardService
from bot.storage import Storage
from bot.study.desk import ReviewItem, StudyDesk, StudyError
from bot.study.exam import RECALLS, exam_start, plan_exam
from bot.study.questions import questions_for
from bot.study.recorder import StudyRecorder
from bot.study.session import MAX_ANSWER, Session, new_session
from bot.study.srs import Rating, Srs, rating_for
from bot.util.text import topic_key

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SHIPPED = Path(__file__).resolve().parents[2] / "cards"


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


# -- FSRS ------------------------------------------------------------------------------------------------
def test_reviews_follow_fsrs_and_good_answers_push_the_card_out() -> None:
    clock = Clock(T0)
    srs = Srs(clock=clock, fuzzing=False)
    first = srs.review("card-1", None, Rating.Good)
    assert first.at == T0
    assert first.due > T0
    clock.now = first.due
    second = srs.review("card-1", first.state_json, Rating.Good)
    clock.now = second.due
    third = srs.review("card-1", second.state_json, Rating.Good)
    assert third.due - third.at > second.due - second.at  # each good recall waits longer
    # the stored JSON is py-fsrs's own
    assert FsrsCard.from_json(third.state_json).due == third.due
    again = srs.review("card-1", third.state_json, Rating.Again, third.due)
    assert again.due - again.at < third.due - third.at


def test_no_fuzz_means_the_same_answers_give_the_same_schedule() -> None:
    a = Srs(clock=lambda: T0, fuzzing=False)
    b = Srs(clock=lambda: T0, fuzzing=False)
    s1 = a.review("x", None, Rating.Good)
    s2 = b.review("x", None, Rating.Good)
    assert s1.due == s2.due
    far = s1.due + dt.timedelta(days=30)
    assert a.review("x", s1.state_json, Rating.Good, far).due == b.review("x", s2.state_json, Rating.Good, far).due


def test_non_utc_times_are_converted_and_naive_ones_refused() -> None:
    srs = Srs(clock=lambda: T0, fuzzing=False)
    berlin = dt.timezone(dt.timedelta(hours=1))
    assert srs.review("x", None, Rating.Good, T0.astimezone(berlin)).at == T0
    with pytest.raises(ValueError, match="aware"):
        srs.review("x", None, Rating.Good, T0.replace(tzinfo=None))


def test_quiz_answers_rate_by_correctness_and_speed() -> None:
    assert rating_for(False) == Rating.Again
    assert rating_for(True) == Rating.Good
    assert rating_for(True, seconds=2, limit=30) == Rating.Easy
    assert rating_for(True, seconds=29, limit=30) == Rating.Hard


# -- the session state machine ---------------------------------------------------------------------------
def _session(cards: int = 3) -> Session:
    s = new_session(
        guild_id=1, channel_id=2, starter_id=10, card_ids=[f"c{i}" for i in range(cards)], mode="choice", seconds=30
    )
    s.ask(T0, message_id=99)
    return s


def test_one_answer_per_member_and_none_after_the_reveal() -> None:
    s = _session()
    assert s.answer(11, 0, "x", True, T0) == "recorded"
    assert s.answer(11, 0, "y", False, T0) == "twice"
    assert s.answers[11].text == "x"
    s.reveal()
    assert s.answer(12, 0, "x", True, T0) == "closed"
    assert s.answer(12, 5, "x", True, T0) == "stale"
    assert s.answer(12, 0, "z" * (MAX_ANSWER + 1), True, T0) == "closed"


def test_long_and_empty_answers_are_refused() -> None:
    s = _session()
    assert s.answer(11, 0, "z" * 4000, True, T0) == "too_long"
    assert s.answer(11, 0, "   ", True, T0) == "empty"
    assert 11 not in s.joined


def test_reveal_when_everyone_who_joined_answered_and_on_time_up() -> None:
    s = _session()
    s.answer(11, 0, "a", True, T0)
    s.answer(12, 0, "b", False, T0)
    assert not s.everyone_answered()  # nobody had joined before the first question
    assert not s.expired(T0 + dt.timedelta(seconds=29))
    assert s.expired(T0 + dt.timedelta(seconds=30))
    result = s.reveal()
    assert (result.right, result.total) == (1, 2)
    assert s.advance()
    s.ask(T0 + dt.timedelta(minutes=1))
    s.answer(11, 1, "a", True, T0)
    assert not s.everyone_answered()
    s.answer(12, 1, "a", True, T0)
    assert s.everyone_answered()


def test_summary_scores_members_and_names_the_hardest_card() -> None:
    s = _session(2)
    s.answer(11, 0, "a", True, T0)
    s.answer(12, 0, "a", True, T0)
    s.reveal()
    s.advance()
    s.ask(T0)
    s.answer(11, 1, "a", True, T0)
    s.answer(12, 1, "a", False, T0)
    s.reveal()
    assert not s.advance()
    assert s.phase == "ended"
    summary = s.summary()
    assert summary.ranking == [(11, 2), (12, 1)]
    assert summary.hardest is not None
    assert summary.hardest.card_id == "c1"


def test_a_session_everyone_got_right_has_no_hardest_card() -> None:
    s = _session(1)
    s.answer(11, 0, "a", True, T0)
    s.answer(12, 0, "a", True, T0)
    s.reveal()
    assert s.summary().hardest is None  # "hardest: 2 of 2 right" would name a card nobody found hard


def test_who_may_reveal_or_stop_a_session() -> None:
    s = _session()
    s.answer(11, 0, "x", True, T0)
    assert s.may_lead(10, moderator=False, starter_left=False) == "ok"  # the starter
    assert s.may_lead(12, moderator=True, starter_left=False) == "ok"
    assert s.may_lead(11, moderator=False, starter_left=False) == "starter_only"
    assert s.may_lead(11, moderator=False, starter_left=True) == "ok"  # answered, and the starter has gone
    assert s.may_lead(12, moderator=False, starter_left=True) == "starter_left"  # never answered


def test_state_round_trips_through_json() -> None:
    s = _session()
    s.answer(11, 0, "a", True, T0)
    again = Session.from_json(s.to_json())
    assert again == s
    assert again.answer(11, 0, "a", True, T0) == "twice"


# -- the exam plan ---------------------------------------------------------------------------------------
def test_exam_plan_brings_every_card_before_the_day_until_recalled_twice() -> None:
    srs = Srs(clock=lambda: T0, fuzzing=False)
    day = (T0 + dt.timedelta(days=10)).date()
    reviewed = srs.review("a", None, Rating.Easy, T0)
    far = srs.review("b", reviewed.state_json, Rating.Easy, T0 + dt.timedelta(days=200))
    states = {"a": (reviewed.state_json, reviewed.due), "b": (far.state_json, far.due)}
    assert far.due > exam_start(day)  # FSRS alone would not show it again before the exam
    plan = plan_exam(srs, ["a", "b", "c"], states, {"a": RECALLS}, day, T0)
    assert "a" not in plan.due  # already recalled twice: its FSRS date stands
    assert T0 < plan.due["b"] < exam_start(day)
    assert plan.due["c"] == T0  # never studied: now
    assert 0 < plan.readiness < 2 / 3 + 1e-9


# -- the desk over the shipped cards and real storage ----------------------------------------------------
@pytest.fixture
async def desk(tmp_path: Path):
    service = CardService.load(SHIPPED)
    async with Storage.open(tmp_path / "s.db") as storage:
        clock = Clock(T0)
        srs = Srs(clock=clock, fuzzing=False)
        recorder = StudyRecorder(storage.study, srs)
        d = StudyDesk(service, storage.study, recorder, srs, rng=random.Random(1))
        d.clock = clock  # type: ignore[attr-defined]
        yield d
        await recorder.close()


async def test_answers_update_each_members_state_and_forget_deletes_it(desk: StudyDesk) -> None:
    s = desk.start(
        guild_id=1, channel_id=2, starter_id=10, topic=None, collection=None, count=3, mode="choice", seconds=30
    )
    s.ask(T0, 5)
    detail, question = desk.current(s) or (None, None)
    assert question is not None
    assert question.kind == "choice"
    assert question == next(q for q in questions_for(detail.card, desk.service.library) if q.kind == "choice")
    wrong = next(c for c in question.choices if c != question.answer)
    assert desk.answer(s, 13, 0, question.answer, T0) == ("buttons", False)  # a forged typed answer to a choice
    assert desk.choose(s, 11, 0, question.choices.index(question.answer), T0) == ("recorded", True)
    assert desk.choose(s, 12, 0, question.choices.index(wrong), T0) == ("recorded", False)
    assert desk.choose(s, 12, 0, question.choices.index(question.answer), T0) == ("twice", False)
    assert desk.choose(s, 14, 0, 4, T0) == ("stale", False)  # a fifth choice, from a forged button
    assert desk.choose(s, 14, 1, 0, T0) == ("stale", False)  # the next question's button, before it is asked
    await desk.recorder.flush()
    assert [r.card_id for r in await desk.store.states(11)] == [detail.card.id]
    assert await desk.store.states(13) == []  # never studied: never tracked
    right_due = (await desk.store.states(11))[0].due
    wrong_due = (await desk.store.states(12))[0].due
    assert wrong_due <= right_due
    assert [(u, c) for u, c, _n in await desk.leaderboard(1, T0)] == [(11, 1)]
    assert await desk.forget(11) == 1
    assert await desk.store.states(11) == []
    assert (await desk.progress(11, T0)).studied == 0


async def test_one_session_per_channel_and_bad_filters_are_explained(desk: StudyDesk) -> None:
    desk.start(guild_id=1, channel_id=2, starter_id=10, topic=None, collection=None, count=3, mode="cloze", seconds=30)
    with pytest.raises(StudyError, match="already running"):
        desk.start(
            guild_id=1, channel_id=2, starter_id=10, topic=None, collection=None, count=3, mode="cloze", seconds=30
        )
    with pytest.raises(StudyError, match="no-such"):
        desk.start(
            guild_id=1, channel_id=3, starter_id=10, topic=None, collection="no-such", count=3, mode="cloze", seconds=30
        )


async def test_a_session_resumes_from_the_database(desk: StudyDesk) -> None:
    s = desk.start(
        guild_id=1, channel_id=2, starter_id=10, topic=None, collection=None, count=2, mode="cloze", seconds=30
    )
    s.ask(T0, 5)
    desk.save(s)
    await desk.recorder.flush()
    desk.sessions.clear()
    [back] = await desk.resume()
    assert back == s


async def test_review_returns_due_cards_and_rating_moves_them_out(desk: StudyDesk) -> None:
    topic = next(iter(desk.service.library.cards.values())).topics[0]
    items = await desk.due(11, topic, T0)
    assert items, "a topic offers new cards to a member who asks"
    first = items[0]
    await desk.rate(11, 1, first.detail.card.id, Rating.Good, T0)
    states = await desk.store.states(11)
    assert [r.card_id for r in states] == [first.detail.card.id]
    assert states[0].due > T0
    assert first.detail.card.id not in [i.detail.card.id for i in await desk.due(11, None, T0)]
    assert first.detail.card.id in [i.detail.card.id for i in await desk.due(11, None, states[0].due)]


async def test_a_review_of_a_topic_goes_on_through_its_new_cards_after_each_rating(desk: StudyDesk) -> None:
    items = await desk.review(11, "psychotherapy", T0)
    topic_cards = set(desk.service.pool(topic="psychotherapy"))
    assert len(items) >= 2
    assert {i.detail.card.id for i in items} <= topic_cards
    await desk.rate(11, 1, items[0].detail.card.id, Rating.Good, T0)
    after = await desk.next_review(11, T0)  # the member is still reviewing "psychotherapy"
    assert [i.detail.card.id for i in after] == [i.detail.card.id for i in items[1:]]
    assert await desk.next_review(12, T0) == []  # another member's review has no topic, and nothing is due


async def test_due_today_is_counted_in_the_members_own_time_zone(desk: StudyDesk) -> None:
    card_id = next(iter(desk.service.library.cards))
    await desk.rate(11, 1, card_id, Rating.Good, T0)
    soon = T0 + dt.timedelta(hours=4)  # 13:00 UTC on 2 March: 02:00 on 3 March in Auckland
    await desk.store.reschedule(11, {card_id: soon})
    utc = await desk.progress(11, T0)
    assert (utc.due_today, dict(utc.coming)[T0.date()]) == (1, 1)
    await desk.set_streak(11, True, "Pacific/Auckland")  # 22:00 there: the card is due tomorrow
    local = await desk.progress(11, T0)
    assert local.due_today == 0
    assert local.due_week == 1
    assert dict(local.coming)[T0.date() + dt.timedelta(days=1)] == 1
    assert T0.date() in dict(local.coming)  # the chart starts on the member's today


async def test_exam_brings_the_topics_cards_forward(desk: StudyDesk) -> None:
    topic = next(iter(desk.service.library.cards.values())).topics[0]
    items = await desk.due(11, topic, T0)
    for item in items:
        await desk.rate(11, 1, item.detail.card.id, Rating.Easy, T0)
    day = (T0 + dt.timedelta(days=5)).date()
    before = {r.card_id: r.due for r in await desk.store.states(11)}
    assert all(due > exam_start(day) for due in before.values())
    plan = await desk.set_exam(11, topic, day, T0)
    after = {r.card_id: r.due for r in await desk.store.states(11)}
    assert all(due < exam_start(day) for due in after.values())
    assert 0 < plan.readiness <= 1
    progress = await desk.progress(11, T0)
    assert progress.exams
    assert progress.exams[0][1] == day


# -- edited and removed cards ----------------------------------------------------------------------------
@pytest.fixture
async def copy_desk(cards_copy: Path, tmp_path: Path):
    service = await asyncio.to_thread(CardService.load, cards_copy)
    async with Storage.open(tmp_path / "s.db") as storage:
        srs = Srs(clock=lambda: T0, fuzzing=False)
        recorder = StudyRecorder(storage.study, srs)
        yield StudyDesk(service, storage.study, recorder, srs, rng=random.Random(1)), cards_copy
        await recorder.close()


def _rewrite(folder: Path, card_id: str, change: Callable[[dict[str, Any]], None]) -> None:
    for path in folder.glob("*.yml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for card in data["cards"]:
            if card["id"] == card_id:
                change(card)
                path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
                return
    raise AssertionError(card_id)


async def test_an_edit_keeps_the_schedule_unless_the_answer_changed(copy_desk) -> None:
    desk, folder = copy_desk
    found = [f for f in (desk.question(c, "cloze") for c in desk.service.library.cards) if f is not None]
    assert len(found) >= 2
    kept, changed = (ReviewItem(*f) for f in found[:2])
    for item in (kept, changed):
        await desk.rate(11, 1, item.detail.card.id, Rating.Again, T0)
    later = T0 + dt.timedelta(days=2)
    assert {kept.detail.card.id, changed.detail.card.id} <= {i.detail.card.id for i in await desk.due(11, None, later)}

    _rewrite(folder, kept.detail.card.id, lambda card: card.update(source={"article": "Corrected", "type": "Website"}))
    answer = changed.question.answer
    _rewrite(
        folder,
        changed.detail.card.id,
        lambda card: card.update(text=re.sub(re.escape(answer), "something", card["text"], flags=re.I)),
    )
    await asyncio.to_thread(desk.service.reload)
    again = desk.question(kept.detail.card.id, "cloze")
    assert again is not None
    assert again[1].answer == kept.question.answer  # the derivation still blanks the same term
    after = {i.detail.card.id for i in await desk.due(11, None, later)}
    assert kept.detail.card.id in after
    assert changed.detail.card.id not in after  # its answer changed: the old schedule no longer applies


async def test_removed_cards_drop_out_of_reviews_and_progress(copy_desk) -> None:
    desk, folder = copy_desk
    topic = next(iter(desk.service.library.cards.values())).topics[0]
    [first, *_] = await desk.due(11, topic, T0)
    await desk.rate(11, 1, first.detail.card.id, Rating.Again, T0)
    assert (await desk.progress(11, T0)).studied == 1
    for path in folder.glob("*.yml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        data["cards"] = [c for c in data["cards"] if c["id"] != first.detail.card.id]
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    await asyncio.to_thread(desk.service.reload)
    later = T0 + dt.timedelta(days=2)
    assert first.detail.card.id not in {i.detail.card.id for i in await desk.due(11, None, later)}
    assert (await desk.progress(11, later)).studied == 0


async def test_a_session_skips_a_card_removed_mid_session(copy_desk) -> None:
    desk, folder = copy_desk
    s = desk.start(
        guild_id=1, channel_id=2, starter_id=10, topic=None, collection=None, count=3, mode="cloze", seconds=30
    )
    gone, following = s.card_ids[0], s.card_ids[1]
    for path in folder.glob("*.yml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        data["cards"] = [c for c in data["cards"] if c["id"] != gone]
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    await asyncio.to_thread(desk.service.reload)
    found = desk.current(s)
    assert found is not None
    assert found[0].card.id == following
    assert s.number == 2


async def test_a_server_exam_plans_every_member_who_studies_there(desk: StudyDesk) -> None:
    topic = next(iter(desk.service.library.cards.values())).topics[0]
    item = (await desk.due(11, topic, T0))[0]
    for user, guild in ((11, 1), (12, 1), (13, 2)):
        await desk.rate(user, guild, item.detail.card.id, Rating.Easy, T0)
    day = (T0 + dt.timedelta(days=5)).date()
    for user in (11, 12, 13):
        assert all(r.due > exam_start(day) for r in await desk.store.states(user))
    assert await desk.set_server_exam(1, topic, day, T0) == 2
    for user in (11, 12):
        assert all(r.due < exam_start(day) for r in await desk.store.states(user))
    assert all(r.due > exam_start(day) for r in await desk.store.states(13))  # another server's member
    here = await desk.progress(11, T0, guild_id=1)
    assert [label for label, _d, _r in here.exams] == [f"{topic_key(topic)} (server)"]
    assert (await desk.progress(11, T0, guild_id=2)).exams == []


async def test_two_hundred_answers_are_written_in_one_batch(desk: StudyDesk) -> None:
    batches: list[int] = []
    write = desk.store.write_batch

    async def counting(answers, update, sessions=None):  # type: ignore[no-untyped-def]
        batches.append(len(answers))
        await write(answers, update, sessions or {})

    desk.store.write_batch = counting  # type: ignore[method-assign]
    s = desk.start(
        guild_id=1, channel_id=2, starter_id=10, topic=None, collection=None, count=1, mode="choice", seconds=30
    )
    s.ask(T0, 5)
    found = desk.current(s)
    assert found is not None
    for user in range(200):
        assert desk.choose(s, 1000 + user, 0, found[1].choices.index(found[1].answer), T0)[0] == "recorded"
    assert batches == []  # nothing written while the members click
    await desk.recorder.flush()
    assert batches == [200]
    assert len(await desk.leaderboard(1, T0)) == 10  # the top ten of the 200, all right
