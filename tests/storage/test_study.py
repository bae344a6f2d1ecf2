"""bot.storage.study: batched answers in order, the indexed due query, forgetting a member."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bot.storage import Storage
from bot.storage.study import Answer

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _answer(user: int, card: str, at: dt.datetime = T0, key: str = "k") -> Answer:
    return Answer(user, 1, card, 3, True, "session", key, at)


async def test_a_batch_applies_each_members_answers_in_order(db_target: str) -> None:
    seen: list[tuple[str, str | None]] = []

    def update(card_id: str, state: str | None, rating: int, at: dt.datetime) -> tuple[str, dt.datetime]:
        seen.append((card_id, state))
        return f"{card_id}@{at.isoformat()}", at + dt.timedelta(days=1)

    async with Storage.open(db_target) as storage:
        later = T0 + dt.timedelta(hours=1)
        await storage.study.write_batch([_answer(1, "a"), _answer(2, "a"), _answer(1, "a", later)], update)
        assert seen == [("a", None), ("a", None), ("a", f"a@{T0.isoformat()}")]
        [row] = await storage.study.states(1)
        assert row.state == f"a@{later.isoformat()}"
        assert await storage.db.fetchval("SELECT reviews FROM study_states WHERE user_id = 1") == 2
        seen.clear()
        await storage.study.write_batch([_answer(1, "a", later, key="other")], update)
        assert seen == [("a", None)]  # the answer changed: the old state is not built on


async def test_the_due_query_reads_one_member_through_its_index(tmp_path: Path) -> None:
    async with Storage.open(tmp_path / "s.db") as storage:  # SQLite's query plan
        plan = await storage.db.fetchall(
            "EXPLAIN QUERY PLAN SELECT card_id, state, due_ms, answer_key FROM study_states "
            "WHERE user_id = ? AND due_ms <= ? ORDER BY due_ms LIMIT ?",
            (1, 1, 50),
        )
        assert any("study_states_due" in str(tuple(r)) for r in plan)
        assert not any("TEMP B-TREE" in str(tuple(r)) for r in plan)  # no sort: rows come in due order


async def test_forget_deletes_every_row_of_one_member_only(db_target: str) -> None:
    def update(card_id: str, state: str | None, rating: int, at: dt.datetime) -> tuple[str, dt.datetime]:
        return "{}", at

    async with Storage.open(db_target) as storage:
        await storage.study.write_batch([_answer(1, "a"), _answer(1, "b"), _answer(2, "a")], update)
        await storage.study.set_streak(1, True, "Europe/Berlin")
        await storage.study.set_exam(1, "topic", T0.date())
        assert await storage.study.forget(1) == 2
        for table in ("study_states", "study_reviews", "study_members", "study_exams"):
            assert await storage.db.fetchval(f"SELECT COUNT(*) FROM {table} WHERE user_id = 1") == 0
        assert len(await storage.study.states(2)) == 1
