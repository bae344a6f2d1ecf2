"""Each index object keeps the words, plans and queries of the texts searched last (bot.index.search.index
``_Prepared``) and the pages of results it found: a search typed again must show exactly what a first search
shows, with any filters, and an index updated with new cards plans afresh (its typo and prefix terms come from its
own words)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from benchmarks.bench_search_index import synthetic_docs
from bot.index.search import SearchDoc, SearchIndex
from bot.index.search.model import audience_terms


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    return SearchIndex.build(synthetic_docs(2000, seed=11))


def _queries() -> list[str]:
    rng = random.Random(4)
    words = sorted({w.strip(".,()").lower() for d in synthetic_docs(200, seed=11) for w in d.text.split()})
    words = [w for w in words if len(w) > 3]
    out = []
    for _ in range(60):
        a, b = rng.sample(words, 2)
        typo = a[:2] + a[3] + a[2] + a[4:] if len(a) > 4 else a
        out += [a, f"{a} {b}", a[: max(2, len(a) - 2)], typo, f"{a} ", f"the {b}"]
    return out


@pytest.mark.parametrize("filters", [{}, {"topic": "no such topic"}, {"audiences": audience_terms(42)}])
def test_a_search_typed_again_shows_what_a_first_search_shows(index: SearchIndex, filters: dict[str, Any]) -> None:
    for query in _queries():
        for _ in range(2):  # the second time, the pages kept are shown
            again = [index.search(query, limit=5, offset=o, **filters) for o in (0, 5)]
        first = SearchIndex(index._index, index._schema)  # the same tantivy index, nothing kept yet
        assert again == [first.search(query, limit=5, offset=o, **filters) for o in (0, 5)]


def test_an_updated_index_plans_with_its_own_words() -> None:
    docs = synthetic_docs(300, seed=3)
    old = SearchIndex.build(docs)
    assert old.search("quixotrope").hits == ()  # planned and kept: the old index has no such word to correct to
    new_card = SearchDoc("new-card", "A quixotropes field study.", (), None, "lab", "Lab")
    new = old.updated([], [new_card])
    assert [h.card_id for h in new.search("quixotrope").hits] == ["new-card"]
    assert [h.card_id for h in new.search("quixotrop").hits] == ["new-card"]  # an unfinished word: completed
    assert [h.card_id for h in new.search("quixotorpe").hits] == ["new-card"]  # a typo: corrected
