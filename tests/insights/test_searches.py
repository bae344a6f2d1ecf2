"""bot.insights.searches: the form a failed query is counted under, and what counts as found nothing."""

from __future__ import annotations

import pytest

from bot.insights import MISS_SCORE, SearchMisses, is_miss, normalise_query


@pytest.mark.parametrize(
    ("typed", "counted"),
    [
        ("  Hippo-potamus, WEIGHT? ", "hippo potamus weight"),
        ("Rønnestad   Ørsted", "ronnestad orsted"),
        ("Café  CAFÉ cafe", "cafe cafe cafe"),
        ("what_is\tthis\n", "what is this"),
        ("?!…", ""),
        ("x" * 300, "x" * 100),
    ],
)
def test_queries_are_folded_stripped_and_capped(typed: str, counted: str) -> None:
    assert normalise_query(typed) == counted


def test_a_search_misses_with_no_hit_or_a_best_hit_below_the_threshold() -> None:
    assert is_miss([])
    assert is_miss([0.3, 0.31])  # typo corrections only
    assert not is_miss([0.3, MISS_SCORE + 2.5])
    assert not is_miss([0.5], threshold=0.4)


class Counter:
    def __init__(self) -> None:
        self.seen: list[tuple[str, int | None, str]] = []

    def record(self, query: str, guild_id: int | None, kind: str = "search", *, at: float | None = None) -> None:
        self.seen.append((query, guild_id, kind))


def test_only_misses_are_counted_under_their_normal_form_with_no_user() -> None:
    counter = Counter()
    misses = SearchMisses(counter)
    assert misses.search("Hippo WEIGHT", [], 7)
    assert not misses.search("alliance", [4.2], 7)
    assert misses.cite("Nobody 1999", 0, None)
    assert not misses.cite("Horvath", 3, None)
    assert not misses.search("???", [], 7)  # nothing a curator could add a card for
    assert counter.seen == [("hippo weight", 7, "search"), ("nobody 1999", None, "cite")]
