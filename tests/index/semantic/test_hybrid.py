"""The hybrid rule's two orders, on hand-made similarities: what a user sees first, and that it never depends on
the order the cards happen to come in."""

from __future__ import annotations

import numpy as np
import pytest

from bot.index.semantic import by_meaning, floor_for, fuse


def test_by_meaning_keeps_the_floor_and_breaks_ties_by_lexical_rank_then_id() -> None:
    ids = ["d", "c", "b", "a", "e"]
    sims = np.array([0.5, 0.7, 0.7, 0.7, 0.2], dtype=np.float32)
    ranked, total = by_meaning(ids, sims, 0.4, {"b": 0})
    assert [card_id for card_id, _ in ranked] == ["b", "a", "c", "d"]
    assert total == 4


def test_by_meaning_orders_only_the_first_page_but_counts_all() -> None:
    rng = np.random.default_rng(3)
    ids = [f"card-{i:04d}" for i in range(2000)]
    sims = np.round(rng.uniform(0, 1, len(ids)), 2).astype(np.float32)  # many ties
    whole, total = by_meaning(ids, sims, 0.5)
    first, counted = by_meaning(ids, sims, 0.5, first=15)
    assert counted == total == len(whole)
    assert first == whole[:15]


def test_fuse_keeps_the_word_ranking_unless_meaning_backs_another_card() -> None:
    assert [card_id for card_id, _ in fuse(["x", "y", "z"], ["z", "y", "x"])] == ["x", "y", "z"]
    assert [card_id for card_id, _ in fuse(["x", "y"], ["y"])] == ["y", "x"]


def test_a_closer_card_comes_first_even_when_only_the_third_decimal_differs() -> None:
    # "which book was first produced with a typing machine": the answer at 0.6124, a card with some of the words at
    # 0.6118; three decimals made them a tie that the "any word" ranking settled the wrong way
    ranked, _ = by_meaning(
        ["fact-4046", "fact-5007"], np.array([0.6118, 0.6124], dtype=np.float32), 0.4, {"fact-4046": 0}
    )
    assert [card_id for card_id, _ in ranked] == ["fact-5007", "fact-4046"]


def test_the_floor_is_lower_only_when_the_alternative_is_the_any_word_ranking() -> None:
    assert floor_for(0.42, words_matched=False) == 0.42
    assert floor_for(0.42, words_matched=True) == pytest.approx(0.35)
    ranked, total = by_meaning(["a", "b"], np.array([0.38, 0.2], dtype=np.float32), floor_for(0.42, words_matched=True))
    assert [card_id for card_id, _ in ranked] == ["a"]
    assert total == 1
