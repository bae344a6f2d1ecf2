"""/study end to end: the real discord.py client, the bot as started in production (``run()``, a real SQLite file)
and the fake Discord. Expected answers are derived at run time from the question module, never written here."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.discord.checks import NOT_MODERATOR
from bot.discord.cogs.study import ANSWER_REPLIES, ONLY_STARTER, StudyCog
from bot.discord.embeds import safe
from bot.study.questions import Question
from bot.study.session import MAX_ANSWER, Session
from bot.util.text import fold
from tests.e2e.conftest import Running, assert_quiet, start_bot
from tests.fakediscord import FakeChannel, FakeMember, FakeMessage
from tests.storage.engines import query

pytestmark = pytest.mark.e2e


def _cog(r: Running) -> StudyCog:
    cog = r.bot.get_cog("StudyCog")
    assert isinstance(cog, StudyCog)
    return cog


def _session(r: Running, chan: FakeChannel | None = None) -> Session:
    return _cog(r).desk.sessions[(chan or r.chan).id]


def _question(r: Running, session: Session) -> Question:
    found = _cog(r).desk.question(session.card_id, session.mode)
    assert found is not None
    return found[1]


async def _study(r: Running, command: str, user: FakeMember | None = None, chan: FakeChannel | None = None, **o: Any):
    return await r.fake.slash(r.guild, chan or r.chan, user or r.alice, f"study {command}", **o)


async def _question_message(chan: FakeChannel, number: int) -> FakeMessage:
    return await chan.wait_for_message(
        lambda m: bool(m.embed) and (m.embed.get("title") or "").startswith(f"Question {number} of")
    )


async def _pick(r: Running, msg: FakeMessage, user: FakeMember, choice: str) -> FakeMessage:
    session = _session(r)
    question = _question(r, session)
    index = question.choices.index(choice)
    it = await r.fake.click(msg, f"factdeck:study:{session.token}:{session.index}:{index}", user=user)
    return await it.wait_message()


def _rows(db: Any, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    return query(db, sql, params)


async def test_a_group_session_with_three_members_reveal_summary_and_schedules(running: Running) -> None:
    r = running
    carol = r.guild.add_member("carol")
    started = await (await _study(r, "start", questions=2, mode="choice", seconds=300)).wait_message()
    assert "Study session started" in started.content
    assert_quiet(started.allowed_mentions)
    q1 = await _question_message(r.chan, 1)
    session = _session(r)
    question = _question(r, session)
    wrong = next(c for c in question.choices if c != question.answer)
    assert len(q1.buttons) == 4

    assert "is in" in (await _pick(r, q1, r.alice, question.answer)).content
    assert "is in" in (await _pick(r, q1, r.bob, wrong)).content
    assert "is in" in (await _pick(r, q1, carol, question.answer)).content
    assert (await _pick(r, q1, r.bob, question.answer)).content == ANSWER_REPLIES["twice"]

    refused = await (await _study(r, "reveal", user=r.bob)).wait_message()
    assert refused.content == ONLY_STARTER
    await (await _study(r, "reveal")).wait_message()
    reveal = await r.chan.wait_for_message(lambda m: bool(m.embed) and m.embed.get("title") == "Question 1: revealed")
    assert question.answer in reveal.embeds[0]["description"]
    assert "2 of 3 got it right" in reveal.embeds[0]["description"]
    card = _cog(r).service.detail(session.card_ids[0])
    assert card is not None
    assert reveal.embeds[1]["footer"]["text"].startswith(f"card {card.card.id}")
    assert {"Article", "Source type"} <= {f["name"] for f in reveal.embeds[1]["fields"]}
    await r.fake.wait_for(lambda: q1.components == [], what="the first question's buttons to go")
    late = await r.fake.forge_component(
        q1, {"custom_id": f"factdeck:study:{session.token}:0:0", "component_type": 2}, user=carol
    )
    assert (await late.wait_message()).content == ANSWER_REPLIES["stale"]

    q2 = await _question_message(r.chan, 2)
    second = _question(r, session)
    await _pick(r, q2, r.alice, second.answer)
    await _pick(r, q2, r.bob, second.answer)
    await _pick(r, q2, carol, next(c for c in second.choices if c != second.answer))  # everyone answered: reveal
    summary = await r.chan.wait_for_message(lambda m: bool(m.embed) and "Study session over" in m.embed["title"])
    text = summary.embed["description"]
    assert text.index(f"<@{r.alice.id}>: 2 of 2 right") < text.index(f"<@{r.bob.id}>: 1 of 2 right")
    assert f"<@{carol.id}>: 1 of 2 right" in text
    assert "Hardest card" in text
    assert_quiet(summary.allowed_mentions)
    assert r.chan.id not in _cog(r).desk.sessions

    await r.stop()
    db = r.settings.database_target
    assert _rows(db, "SELECT COUNT(*) FROM study_states")[0][0] == 6  # three members, two cards
    ratings = dict(_rows(db, "SELECT user_id, SUM(correct) FROM study_reviews GROUP BY user_id"))
    assert ratings == {r.alice.id: 2, r.bob.id: 1, carol.id: 1}
    assert _rows(db, "SELECT COUNT(*) FROM study_sessions")[0][0] == 0
    due = dict(_rows(db, "SELECT user_id, MIN(due_ms) FROM study_states GROUP BY user_id"))
    assert set(due) == {r.alice.id, r.bob.id, carol.id}
    r.fake.assert_no_errors()
    assert not r.errors.records


async def test_cloze_answers_in_a_modal_forgiving_and_safe(running: Running) -> None:
    r = running
    await (await _study(r, "start", questions=1, mode="cloze", seconds=300)).wait_message()
    q1 = await _question_message(r.chan, 1)
    session = _session(r)
    question = _question(r, session)
    assert question.kind == "cloze"
    assert "\\_" * 5 in q1.embed["description"]  # the blank, escaped so Discord shows it as typed

    opened = await r.fake.click(q1, "Answer", user=r.bob)
    modal = await opened.wait_modal()
    [[field]] = [row["components"] for row in modal.components]
    assert field["label"] == f"The missing {'term' if question.term_kind == 'topic' else question.term_kind}"
    ack = await (await r.fake.submit_modal(modal, {"answer": question.answer.upper()})).wait_message()
    assert "is in" in ack.content

    forged = await r.fake.submit_modal(
        modal.custom_id, {"answer": "x" * 4000}, user=r.alice, guild=r.guild, channel=r.chan
    )
    assert (await forged.wait_message()).content == ANSWER_REPLIES["too_long"]
    hostile = "@everyone <@" + str(r.bob.id) + "> **bold**"
    opened = await r.fake.click(q1, "Answer", user=r.alice)
    ack = await (await r.fake.submit_modal(await opened.wait_modal(), {"answer": hostile})).wait_message()
    assert_quiet(ack.allowed_mentions)
    assert "@everyone" not in ack.content.replace("@\u200beveryone", "")
    assert "\\*\\*bold\\*\\*" in ack.content
    assert len(hostile) <= MAX_ANSWER

    await (await _study(r, "reveal")).wait_message()
    summary = await r.chan.wait_for_message(lambda m: bool(m.embed) and "Study session over" in m.embed["title"])
    assert f"<@{r.bob.id}>: 1 of 1 right" in summary.embed["description"]
    assert f"<@{r.alice.id}>: 0 of 1 right" in summary.embed["description"]


async def test_stop_permissions_one_session_per_channel_and_a_starter_who_leaves(running: Running) -> None:
    r = running
    await (await _study(r, "start", questions=3, mode="choice", seconds=300)).wait_message()
    again = await (await _study(r, "start", user=r.bob)).wait_message()
    assert "already running" in again.content
    q1 = await _question_message(r.chan, 1)
    await _pick(r, q1, r.bob, _question(r, _session(r)).answer)
    assert (await (await _study(r, "stop", user=r.bob)).wait_message()).content == ONLY_STARTER
    r.guild.remove_member(r.alice)
    stopped = await (await _study(r, "stop", user=r.bob)).wait_message()
    assert stopped.content == "Session stopped."
    # Bob answered the open question: stopping shows him its answer and card before the summary.
    reveal = await r.chan.wait_for_message(lambda m: bool(m.embed) and m.embed.get("title") == "Question 1: revealed")
    assert "1 of 1 got it right" in reveal.embeds[0]["description"]
    summary = await r.chan.wait_for_message(lambda m: bool(m.embed) and "Study session over" in m.embed["title"])
    assert r.chan.messages.index(reveal) < r.chan.messages.index(summary)
    assert f"Stopped by <@{r.bob.id}>" in summary.embed["description"]
    nothing = await (await _study(r, "stop", user=r.bob)).wait_message()
    assert "No study session" in nothing.content


async def test_a_moderator_stops_any_session_and_a_deleted_channel_ends_its_own(running: Running) -> None:
    r = running
    mods = r.guild.add_role("Mods", permissions=0x2000)  # Manage Messages
    maria = r.guild.add_member("maria", roles=[mods])
    other = r.guild.add_channel("quiz")
    await (await _study(r, "start", chan=other, questions=2)).wait_message()
    await _question_message(other, 1)
    await (await _study(r, "start", questions=2, user=r.bob)).wait_message()
    await _question_message(r.chan, 1)
    stopped = await (await _study(r, "stop", user=maria)).wait_message()
    assert stopped.content == "Session stopped."
    other.delete()
    await r.fake.wait_for(lambda: other.id not in _cog(r).desk.sessions, what="the deleted channel's session to end")
    await r.stop()
    assert _rows(r.settings.database_target, "SELECT COUNT(*) FROM study_sessions")[0][0] == 0
    assert not r.errors.records


async def test_a_personal_review_progress_chart_and_forget(running: Running) -> None:
    r = running
    service = _cog(r).service
    topic = next(t for c in service.library.cards.values() for t in c.topics if _cog(r).desk.question(c.id, "cloze"))
    it = await _study(r, "review", user=r.bob, topic=topic)
    first = await it.wait_followup()
    assert first.ephemeral
    card_id = first.buttons[0]["custom_id"].rsplit(":", 1)[1]
    question = _cog(r).desk.question(card_id, "cloze")
    assert question is not None
    shown = await r.fake.click(first, "Show answer", user=r.bob)
    answer = await shown.wait_message()
    assert question[1].answer in answer.embeds[0]["description"]
    assert [b["label"] for b in answer.buttons] == ["Again", "Hard", "Good", "Easy"]
    rated = await r.fake.click(answer, "Good", user=r.bob)
    await rated.wait_response()
    states = await _cog(r).desk.store.states(r.bob.id)
    assert [s.card_id for s in states] == [card_id]
    assert await _cog(r).desk.store.states(r.alice.id) == []  # never studied, never tracked

    progress = await (await _study(r, "progress", user=r.bob)).wait_followup()
    assert progress.ephemeral
    [attachment] = progress.attachments
    image = Image.open(io.BytesIO(attachment.data))
    assert image.format == "PNG"
    assert image.size[0] > 100
    assert progress.embed["fields"][0]["value"] == "1"  # cards studied

    ask = await (await _study(r, "forget", user=r.bob)).wait_message()
    forged = {"custom_id": f"factdeck:study:forget:{r.bob.id}", "component_type": 2}
    own = await (await _study(r, "forget", user=r.alice)).wait_message()
    other = await r.fake.forge_component(own, forged, user=r.alice)  # bob's button, forged on alice's message
    assert (await other.wait_message()).content == ANSWER_REPLIES["stale"]
    assert await _cog(r).desk.store.states(r.bob.id) != []
    done = await r.fake.click(ask, "Delete my study data", user=r.bob)
    assert "deleted (1 answer)" in (await done.wait_message()).content
    assert await _cog(r).desk.store.states(r.bob.id) == []


async def test_streak_leaderboard_and_exam(running: Running) -> None:
    r = running
    bad = await (await _study(r, "streak", state="on", timezone="Mars/Olympus")).wait_message()
    assert "not a time zone" in bad.content
    ok = await (await _study(r, "streak", state="on", timezone="Europe/Berlin")).wait_message()
    assert "Streaks on" in ok.content
    await (await _study(r, "start", questions=1, mode="choice", seconds=300)).wait_message()
    q1 = await _question_message(r.chan, 1)
    await _pick(r, q1, r.alice, _question(r, _session(r)).answer)
    await (await _study(r, "reveal")).wait_message()
    await r.chan.wait_for_message(lambda m: bool(m.embed) and "Study session over" in m.embed["title"])
    board = await (await _study(r, "leaderboard", user=r.bob)).wait_message()
    assert f"<@{r.alice.id}>: 1 right of 1" in board.embed["description"]
    topic = next(iter(_cog(r).service.library.cards.values())).topics[0]
    wrong_date = await (await _study(r, "exam", topic=topic, date="next tuesday")).wait_message()
    assert "YYYY-MM-DD" in wrong_date.content
    planned = await (await _study(r, "exam", topic=topic, date="2099-01-01")).wait_message()
    assert "Exam on 2099-01-01" in planned.content
    progress = await (await _study(r, "progress")).wait_followup()
    names = [f["name"] for f in progress.embed["fields"]]
    assert "Streak" in names
    assert any(n.startswith("Exam:") for n in names)
    refused = await (await _study(r, "exam", user=r.bob, topic=topic, date="2099-01-01", server=True)).wait_message()
    assert refused.content == NOT_MODERATOR
    mods = r.guild.add_role("Mods", permissions=0x2000)  # Manage Messages
    maria = r.guild.add_member("maria", roles=[mods])
    server = await (await _study(r, "exam", user=maria, topic=topic, date="2098-06-01", server=True)).wait_message()
    assert "for this server" in server.content
    assert "1 member who" in server.content  # alice studied here; bob and maria have not
    progress = await (await _study(r, "progress", user=r.bob)).wait_followup()
    assert any(f["name"].endswith("(server)") for f in progress.embed["fields"])


async def test_a_session_survives_a_restart(launch: Any) -> None:
    async with launch() as r:
        await (await _study(r, "start", questions=2, mode="choice", seconds=300)).wait_message()
        q1 = await _question_message(r.chan, 1)
        session = _session(r)
        question = _question(r, session)
        await _pick(r, q1, r.alice, question.answer)
        config, fake = r.settings.source, r.fake
    async with start_bot(fake, config) as (_settings, bot, _task):
        cog = bot.get_cog("StudyCog")
        assert isinstance(cog, StudyCog)
        await fake.wait_for(cog.resumed.is_set, what="the sessions to resume")
        await r.chan.wait_for_message("The bot restarted")
        back = cog.desk.sessions[r.chan.id]
        assert back.token == session.token
        assert back.answers.keys() == {r.alice.id}
        again = await fake.click(q1, f"factdeck:study:{session.token}:0:0", user=r.alice)
        assert (await again.wait_message()).content == ANSWER_REPLIES["twice"]
        index = question.choices.index(question.answer)
        bob = await fake.click(q1, f"factdeck:study:{session.token}:0:{index}", user=r.bob)
        assert "is in" in (await bob.wait_message()).content
        await (await fake.slash(r.guild, r.chan, r.alice, "study stop")).wait_message()
        summary = await r.chan.wait_for_message(lambda m: bool(m.embed) and "Study session over" in m.embed["title"])
        assert f"<@{r.alice.id}>: 1 of 1 right" in summary.embed["description"]
        assert f"<@{r.bob.id}>: 1 of 1 right" in summary.embed["description"]


async def test_time_up_reveals_and_asks_the_next_question(running: Running) -> None:
    r = running
    await (await _study(r, "start", questions=2, mode="choice", seconds=30)).wait_message()
    q1 = await _question_message(r.chan, 1)
    session = _session(r)
    await _pick(r, q1, r.bob, _question(r, session).answer)
    cog = _cog(r)
    deadline = session.deadline()
    assert deadline is not None
    cog.clock = lambda: deadline  # the question's time is up: re-arming the timer fires it at once
    cog._arm(session)
    reveal = await r.chan.wait_for_message(lambda m: bool(m.embed) and m.embed.get("title") == "Question 1: revealed")
    assert "1 of 1 got it right" in reveal.embeds[0]["description"]
    await _question_message(r.chan, 2)


async def test_a_channel_the_bot_can_no_longer_post_in_ends_the_session_cleanly(running: Running) -> None:
    r = running
    await (await _study(r, "start", questions=2, mode="choice", seconds=300)).wait_message()
    await _question_message(r.chan, 1)
    r.chan.forbid_bot()
    await (await _study(r, "reveal")).wait_message()
    await r.fake.wait_for(lambda: r.chan.id not in _cog(r).desk.sessions, what="the session to end")
    again = await (await _study(r, "reveal")).wait_message()
    assert "No study session" in again.content
    assert not r.errors.records


async def test_forged_answers_from_another_channel_a_stale_question_or_typed_to_a_choice_change_nothing(
    running: Running,
) -> None:
    r = running
    quiz = r.guild.add_channel("quiz")
    await (await _study(r, "start", chan=quiz, questions=2, mode="cloze", seconds=300)).wait_message()
    await _question_message(quiz, 1)
    await (await _study(r, "start", questions=2, mode="choice", seconds=300)).wait_message()
    q1 = await _question_message(r.chan, 1)
    cloze, choice = _session(r, quiz), _session(r)
    right = _question(r, cloze).answer

    # The quiz channel's cloze form, submitted in this channel (whose session is another one): refused.
    elsewhere = await r.fake.submit_modal(
        f"factdeck:study:m:{cloze.token}:0", {"answer": right}, user=r.bob, guild=r.guild, channel=r.chan
    )
    assert (await elsewhere.wait_message()).content == "This study session is over."
    # A typed answer to a choice question (a cloze form forged with its token): only the four choices count.
    typed = await r.fake.submit_modal(
        f"factdeck:study:m:{choice.token}:0",
        {"answer": _question(r, choice).answer},
        user=r.bob,
        guild=r.guild,
        channel=r.chan,
    )
    assert (await typed.wait_message()).content == ANSWER_REPLIES["buttons"]
    assert choice.answers == {}
    assert cloze.answers == {}

    # The first question's form, submitted once the second is asked: stale.
    await _pick(r, q1, r.alice, _question(r, choice).answer)
    await (await _study(r, "reveal")).wait_message()
    await _question_message(r.chan, 2)
    await (await _study(r, "stop", chan=quiz)).wait_message()
    opened = await r.fake.click(await _question_message(r.chan, 2), "1. " + _question(r, choice).choices[0], user=r.bob)
    assert "is in" in (await opened.wait_message()).content
    stale = await r.fake.submit_modal(
        f"factdeck:study:m:{choice.token}:0", {"answer": "x"}, user=r.alice, guild=r.guild, channel=r.chan
    )
    assert (await stale.wait_message()).content == ANSWER_REPLIES["stale"]
    assert set(choice.answers) == {r.bob.id}
    assert not r.errors.records


async def test_a_forged_review_rating_for_a_card_not_shown_stores_nothing(running: Running) -> None:
    r = running
    desk = _cog(r).desk
    topic = next(t for c in _cog(r).service.library.cards.values() for t in c.topics if desk.question(c.id, "cloze"))
    first = await (await _study(r, "review", user=r.bob, topic=topic)).wait_followup()
    card_id = first.buttons[0]["custom_id"].rsplit(":", 1)[1]
    shown = await (await r.fake.click(first, "Show answer", user=r.bob)).wait_message()
    other = next(c for c in _cog(r).service.library.cards if c != card_id)
    for forged_card in (other, "no-such-card"):  # a card the review is not on, and one not in the library
        forged = await r.fake.forge_component(
            shown, {"custom_id": f"factdeck:study:r:4:{forged_card}", "component_type": 2}, user=r.bob
        )
        assert (await forged.wait_message()).content == ANSWER_REPLIES["stale"]
    assert await desk.store.states(r.bob.id) == []
    await (await r.fake.click(shown, "Good", user=r.bob)).wait_response()
    assert [s.card_id for s in await desk.store.states(r.bob.id)] == [card_id]
    assert not r.errors.records


SHIPPED = Path(__file__).resolve().parents[2] / "cards"


async def test_a_default_session_on_the_shipped_cards_reads_well_from_start_to_progress(launch: Any) -> None:
    """``/study start`` with no options on the ten shipped cards, as a study group sees it: every question has one
    blank and four distinct choices of which only one fits, every reveal shows the answer and the whole card, the
    summary scores both members, and /study progress answers with a chart drawn for the dark theme."""
    async with launch(cards=SHIPPED) as r:
        service = _cog(r).service
        started = await (await _study(r, "start")).wait_message()
        assert "5 choice questions, 30 seconds each" in started.content
        assert "/study reveal" in started.content
        session = _session(r)
        for n in range(1, 6):
            message = await _question_message(r.chan, n)
            question = _question(r, session)
            assert message.embed["title"] == f"Question {n} of 5"
            assert "\\_" * 5 in message.embed["description"]
            labels = [b["label"] for b in message.buttons]
            assert labels == [f"{i}. {c}" for i, c in enumerate(question.choices, start=1)]
            assert len(set(question.choices)) == 4
            for other in question.choices:  # no second choice that reads right in the blank
                if other != question.answer:
                    assert fold(question.answer) not in fold(other)
                    assert fold(other) not in fold(question.answer)
            await _pick(r, message, r.alice, question.answer)
            await _pick(r, message, r.bob, next(c for c in question.choices if c != question.answer))
            if n == 1:  # nobody had joined before the first question: the starter reveals it
                await (await _study(r, "reveal")).wait_message()
            reveal = await r.chan.wait_for_message(
                lambda m, n=n: bool(m.embed) and m.embed.get("title") == f"Question {n}: revealed"
            )
            head, card = reveal.embeds
            assert head["description"] == f"The answer: **{question.answer}**\n1 of 2 got it right."
            detail = service.detail(question.card_id)
            assert detail is not None
            assert card["description"] == safe(detail.card.text)
            names = [f["name"] for f in card["fields"]]
            assert {"Article", "Source type"} <= set(names)
            assert len(names) == len(set(names))
            if detail.references:
                assert "Cites" in names
        summary = await r.chan.wait_for_message(lambda m: bool(m.embed) and "Study session over" in m.embed["title"])
        lines = summary.embed["description"].splitlines()
        assert summary.embed["title"] == "Study session over: 5 questions"
        assert lines[:2] == [f"1. <@{r.alice.id}>: 5 of 5 right", f"2. <@{r.bob.id}>: 0 of 5 right"]
        assert lines[3].startswith("Hardest card: `therapeutic-alliance-")
        assert "(answer: **" in lines[3]
        assert lines[3].endswith("1 of 2 got it right.")

        progress = await (await _study(r, "progress")).wait_followup()
        figures = {f["name"]: f["value"] for f in progress.embed["fields"]}
        assert figures["Cards studied"] == "5"
        assert figures["Retention"] == "100%"
        image = Image.open(io.BytesIO(progress.attachments[0].data)).convert("RGB")
        corner = image.getpixel((2, 2))
        assert isinstance(corner, tuple)
        assert sum(corner) < 3 * 60  # a dark picture, like the embed it sits in
        r.fake.assert_no_errors()
        assert not r.errors.records


async def test_a_review_of_a_topic_goes_on_to_its_next_card_after_a_rating(launch: Any) -> None:
    async with launch(cards=SHIPPED) as r:
        first = await (await _study(r, "review", user=r.bob, topic="psychotherapy")).wait_followup()
        assert first.embed["footer"]["text"].startswith("2 cards to review")
        card_id = first.buttons[0]["custom_id"].rsplit(":", 1)[1]
        shown = await (await r.fake.click(first, "Show answer", user=r.bob)).wait_message()
        rated = await (await r.fake.click(shown, "Good", user=r.bob)).wait_response()
        assert rated.data["embeds"][0]["footer"]["text"].startswith("1 card to review")
        [button] = rated.data["components"][0]["components"]
        assert button["label"] == "Show answer"
        assert not button["custom_id"].endswith(card_id)
