"""The limit ``bench_search`` measures Factdeck's search against: the bare tantivy query for the same words.

For a query, the words Factdeck's search requires (its non-stopwords, or all of them when there are only stopwords)
with the same analyzer (folded, English stems), each a term query on the card text, all required, top 10, on the
same tantivy searcher: no count of every match, no snippets, no typo or prefix expansion, no other fields, no card
details. What Factdeck adds on top of that is its own cost.
"""

from __future__ import annotations

import tantivy

from bot.index.search import SearchIndex
from bot.index.search.analysis import parse

#: How many hits the bare query collects.
TOP = 10


def bare_query(index: SearchIndex, query: str) -> tantivy.Query | None:
    """The bare tantivy query for ``query`` on ``index`` (None when it has no words)."""
    words = parse(query).words
    required = [w for w in words if not w.stopword] or list(words)
    if not required:
        return None
    schema = index._schema  # the same searcher the search uses
    terms = [tantivy.Query.term_query(schema, "text", stem) for stem in dict.fromkeys(w.stem for w in required)]
    if len(terms) == 1:
        return terms[0]
    return tantivy.Query.boolean_query([(tantivy.Occur.Must, term) for term in terms])


def bare_search(index: SearchIndex, query: str) -> list[tuple[float, tantivy.DocAddress]]:
    """Parse ``query``, build the bare query and run it: the top :data:`TOP` hits, uncounted."""
    built = bare_query(index, query)
    if built is None:
        return []
    searcher = index._searcher
    return list(searcher.search(built, TOP, count=False).hits)
