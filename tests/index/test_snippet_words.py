"""Highlights found without tantivy's snippet generator (bot.index.search.snippets ``_word_spans``) must be exactly
the generator's, on texts of every script a card may be written in: what a reader sees highlighted in a result,
and the snippet's window chosen from those highlights, stay as they were."""

from __future__ import annotations

import random

import pytest
import tantivy

from bot.index.search import SearchDoc, SearchIndex
from bot.index.search import snippets as sn
from bot.index.search.analysis import STEM_ANALYZER

# Word pieces: English, accented Latin, Greek, Cyrillic, CJK, digits, decomposed accents, punctuation inside
# words, a word too long to be indexed, and the odd ones where Python's and tantivy's ideas of a word character
# differ (Devanagari vowel signs, a circled letter, an emoji beyond the Basic Multilingual Plane).
_WORDS = (
    "study studies Studied running runner effect effects THERAPY therapist alliance café naïve Ærø Łódź Şişli "
    "straße élan ﬁnal e\u0301te\u0301 μάθηση Μάθηση учёба Учёба 学习 研究 2004 x2 ½ ² mid_word o'clock co-operate"
)
PIECES = [*_WORDS.split(" "), "a" * 45]
ODD = ["नमस्ते", "Ⓐlpha", "😀fun"]
SEPARATORS = [" ", " ", " ", ", ", ". ", " (", ") ", "; ", "\n", " — ", "/", "…"]


def _text(rng: random.Random) -> str:
    words = (rng.choice(ODD if rng.random() < 0.05 else PIECES) for _ in range(rng.randint(1, 120)))
    return "".join(word + rng.choice(SEPARATORS) for word in words).strip()


@pytest.fixture(scope="module")
def corpus() -> tuple[SearchIndex, list[str]]:
    rng = random.Random(16)
    texts = [_text(rng) for _ in range(400)]
    index = SearchIndex.build(SearchDoc(f"c-{i}", t, (), None, "lab", "Lab") for i, t in enumerate(texts))
    return index, texts


def _generator_snippet(index: SearchIndex, terms: list[str], doc: tantivy.Document, text: str) -> sn.Snippet:
    """The snippet as it was made before: tantivy's generator over the whole stored text."""
    Q, schema = tantivy.Query, index._schema
    query = Q.boolean_query([(tantivy.Occur.Should, Q.term_query(schema, "text", t)) for t in terms])
    generator = tantivy.SnippetGenerator.create(index._searcher, query, schema, "text")
    generator.set_max_num_chars(1 << 16)
    return sn.snippet(text, sn._match_spans(text, generator.snippet_from_doc(doc)))


def test_highlights_are_the_snippet_generators_on_texts_of_every_script(corpus: tuple[SearchIndex, list[str]]) -> None:
    index, texts = corpus
    rng = random.Random(7)
    searcher = index._searcher
    fast = 0
    for _score, address in searcher.search(tantivy.Query.all_query(), len(texts)).hits:
        doc = searcher.doc(address)
        text = doc.get_first("text")
        assert isinstance(text, str)
        stems = sorted(set(STEM_ANALYZER.analyze(text)))
        for _ in range(3):
            terms = [*rng.sample(stems, min(len(stems), rng.randint(1, 4))), "zzqx"]
            expected = _generator_snippet(index, terms, doc, text)
            assert sn.Highlighter(searcher, index._schema, terms).snippet(doc, text) == expected, (text, terms)
            fast += sn._word_spans(text, frozenset(terms)) is not None
    assert fast == 3 * len(texts)  # none needed the generator


def test_a_text_beyond_the_generators_window_goes_to_the_generator() -> None:
    assert sn._word_spans("study " * 10_000, frozenset({"studi"})) is not None
    assert sn._word_spans("study " * 11_000, frozenset({"studi"})) is None  # 66,000 bytes: highlighted in part


def test_search_results_highlight_as_before(corpus: tuple[SearchIndex, list[str]]) -> None:
    index, _texts = corpus
    for query in ["study", "café", "effects therapy", "учёба", "run", "Łódź 2004", "etes", "studi"]:
        for hit in index.search(query, limit=20).hits:
            doc = index._searcher.search(tantivy.Query.term_query(index._schema, "card_id", hit.card_id), 1).hits[0]
            stored = index._searcher.doc(doc[1])
            text = stored.get_first("text")
            assert isinstance(text, str)
            terms = sorted(index._prepare(query).highlighter(index._searcher, index._schema)._terms)
            assert (hit.snippet, hit.highlights) == _generator_snippet(index, terms, stored, text)
