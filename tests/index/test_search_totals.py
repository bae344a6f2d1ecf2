"""A search's total is counted once per index object: pages turned and searches repeated afterwards find only
their page (no count of every match), and must show exactly what a counted search shows."""

from __future__ import annotations

import pytest

from benchmarks.bench_search_index import synthetic_docs
from bot.index.search import SearchIndex


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    return SearchIndex.build(synthetic_docs(3000, seed=5))


def counted(index: SearchIndex) -> SearchIndex:
    """The same tantivy index behind a new object: nothing counted yet, so every search counts its matches."""
    return SearchIndex(index._index, index._schema)


QUERIES = [
    ("the", {}),  # a stopword alone: thousands of cards, most with equal scores
    ("therapy", {}),
    ("therapy client", {}),
    ("alliance zzqx", {}),  # no card has both: relaxed to "any word"
    ("thera", {}),  # an unfinished word: completions
    ("therpay", {}),  # a typo
    ("zzqxv", {}),  # nothing at all
    ("therapy", {"topic": "no such topic"}),
]


@pytest.mark.parametrize(("query", "filters"), QUERIES)
def test_every_page_shows_what_a_counted_search_shows(index: SearchIndex, query: str, filters: dict[str, str]) -> None:
    first = index.search(query, limit=5, **filters)
    pages = max(1, min(8, -(-first.total // 5)))
    for number in [*range(pages), 0, pages - 1]:  # forward, then back to the first and the last page again
        kept = index.search(query, limit=5, offset=number * 5, **filters)
        fresh = counted(index).search(query, limit=5, offset=number * 5, **filters)
        assert kept == fresh
        assert kept.total == first.total


def test_a_repeated_search_does_not_count_again(index: SearchIndex) -> None:
    fresh = counted(index)
    fresh.search("therapy", limit=5)
    assert len(fresh._totals) == 1
    fresh.search("therapy", limit=5, offset=5)
    fresh.search("therapy ", limit=5)  # a finished last word is another search (no completions)
    assert len(fresh._totals) == 2


@pytest.mark.parametrize(("query", "filters"), QUERIES)
def test_snippets_asked_for_afterwards_are_those_a_search_shows(
    index: SearchIndex, query: str, filters: dict[str, str]
) -> None:
    shown = index.search(query, limit=10, **filters)
    bare = index.search(query, limit=10, snippets=False, **filters)
    assert [(h.card_id, h.score) for h in bare.hits] == [(h.card_id, h.score) for h in shown.hits]
    assert {h.snippet for h in bare.hits} <= {""}
    later = index.snippets(query, [h.card_id for h in reversed(bare.hits)] + ["no-such-card"])
    assert later == {h.card_id: (h.snippet, h.highlights) for h in shown.hits}
