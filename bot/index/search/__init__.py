"""Ranked topic search over cards, backed by tantivy.

The module is pure: no Discord, no I/O except the index directory passed to :meth:`SearchIndex.build` and
:meth:`SearchIndex.open`. A :class:`SearchIndex` object is immutable: it answers from one tantivy searcher for
its whole life, so it can be shared between threads without locks. :meth:`SearchIndex.updated` derives a new
object for a few changed cards (deletes and adds on the same tantivy index, then a new searcher); the old
object keeps answering from its own searcher, so a search sees the old cards or the new ones, never a mix.

A persisted index lives in one directory per *lineage* (a full build and the updates derived from it). The
small JSON file next to tantivy's records the library digest the committed index reflects; it is rewritten
atomically after each commit, and marked as reflecting nothing just before, so a crash in between leaves an
index that :meth:`SearchIndex.open` refuses (and the service rebuilds), never one that claims the wrong cards.

Deleted documents stay in tantivy's segments until merged and still count in its BM25 statistics (document
frequencies, average field lengths), so after updates that delete, scores drift slightly from a fresh build's;
the service rebuilds from scratch once too many deleted documents accumulate. Where the count of a term
decides *how* a word is searched (typo tolerance, completions, corrections), live documents are counted.

User text never reaches tantivy's query parser. A query is cleaned (control and format characters removed,
capped at :data:`MAX_QUERY_CHARS` characters and :data:`MAX_QUERY_TERMS` words), tokenized with the same
tantivy analyzers the index uses, and turned into term, fuzzy and prefix queries built from those tokens.

Query construction, per query word (lower-cased and accent-folded; ``w`` as typed, ``s`` its English stem).
One analyzer (words, lower-case, ASCII folding, English stemmer) indexes every field, so there is one copy of
the text to index, which keeps a 100k-card build at about 2-2.5 s on two cores.

* *exact*: ``s`` in the card text, topics, article title and collection title, as a disjunction-max of BM25
  scores (topics x1.5 and article x1.3 above the text, collection title x0.6). When the word also gets typo or
  prefix clauses, a constant bonus for an exact match in any field makes every exact match outrank them, even
  for a word so common that its BM25 score is near zero.
* *typo* (only for words in at most a few cards: a common word is no typo): a Levenshtein query for ``s``
  (distance 1 for words of 4-7 characters, 2 from 8, transpositions cost one) with a small constant score.
  When the word is in no card, the closest index stems sharing its first letters are found with rapidfuzz
  and searched with BM25 too, so typo results are ranked and highlighted, not just matched.
* *prefix* (the last word, unless the query ends with a space, and unless it is itself a common word): up to
  :data:`MAX_PREFIX_TERMS` of the most frequent index stems starting with ``w``, BM25-scored and down-weighted;
  an unfinished word no stem starts with gets a typo-tolerant prefix (Levenshtein) query instead.

Every non-stopword must match (stopwords are dropped unless the query has nothing else); when that finds
nothing, the query is relaxed to "any word" and the page says so. Filters (topic, collection) are required
clauses that add no score. Snippets come from tantivy's snippet generator over the stored text (with the exact
stems, corrections and completions as terms), windowed in Python to ~300 characters around the densest matches.

Where each part lives: ``analysis`` (analyzers, schema, user text into words), ``query`` (what each word is
searched by, and the tantivy query), ``snippets`` (snippets, highlights, card labels), ``store`` (the folder on
disk and its meta file), ``index`` (:class:`SearchIndex`), ``vocabulary`` (topic and collection completion) and
``model`` (the values going in and out). This module is the public API: import from here.
"""

from bot.index.search.analysis import MAX_QUERY_CHARS, MAX_QUERY_TERMS
from bot.index.search.index import (
    EMPTY_QUERY_MESSAGE,
    MAX_LIMIT,
    MAX_OFFSET,
    NO_WORDS_MESSAGE,
    RELAXED_MESSAGE,
    SearchIndex,
    StaleIndexError,
)
from bot.index.search.model import SHARED_AUDIENCE, Hit, SearchDoc, SearchPage, audience_terms
from bot.index.search.query import MAX_PREFIX_TERMS
from bot.index.search.snippets import LABEL_CHARS, SNIPPET_CHARS, card_label, highlight
from bot.index.search.vocabulary import Vocabulary
from bot.util.text import fold

__all__ = [
    "EMPTY_QUERY_MESSAGE",
    "LABEL_CHARS",
    "MAX_LIMIT",
    "MAX_OFFSET",
    "MAX_PREFIX_TERMS",
    "MAX_QUERY_CHARS",
    "MAX_QUERY_TERMS",
    "NO_WORDS_MESSAGE",
    "RELAXED_MESSAGE",
    "SHARED_AUDIENCE",
    "SNIPPET_CHARS",
    "Hit",
    "SearchDoc",
    "SearchIndex",
    "SearchPage",
    "StaleIndexError",
    "Vocabulary",
    "audience_terms",
    "card_label",
    "fold",
    "highlight",
]
