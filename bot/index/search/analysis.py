"""How text becomes words: the tantivy analyzers and schema the index is built with, and user text cleaned and
split into the words a query searches for.

User text never reaches tantivy's query parser. A query is cleaned (control and format characters removed,
capped at :data:`MAX_QUERY_CHARS` characters and :data:`MAX_QUERY_TERMS` words) and tokenized with the same
tantivy analyzers the index uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import tantivy

#: Characters of a query that are looked at; the rest is ignored.
MAX_QUERY_CHARS = 256
#: Distinct words of a query that are searched for; the rest are ignored.
MAX_QUERY_TERMS = 16
#: Longest token indexed (longer ones are dropped by the analyzers).
MAX_TOKEN_CHARS = 40

#: Name the index analyzer is registered under in every tantivy index.
STEM = "fd_stem"
# Field weights: topics and article titles count a little more than body text.
FIELD_BOOSTS = (("text", 1.0), ("topics", 1.5), ("article", 1.3), ("collection_title", 0.6))
SEARCH_FIELDS = tuple(name for name, _ in FIELD_BOOSTS)

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "he",
        "her",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "may",
        "me",
        "might",
        "must",
        "my",
        "no",
        "nor",
        "not",
        "of",
        "on",
        "or",
        "our",
        "she",
        "should",
        "so",
        "such",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "to",
        "too",
        "us",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
    ]
)

# Control characters become spaces; invisible format characters (bidi controls, zero-width joiners, BOM) go.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_FORMAT_RE = re.compile(r"[\u00ad\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]")
# Unpaired surrogates: how Python carries bytes that were not UTF-8 (tantivy refuses them).
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
#: What tantivy's simple tokenizer calls a word: a run of alphanumeric characters.
WORD_RE = re.compile(r"[^\W_]+")
SPACE_RE = re.compile(r"\s+")


def valid_text(text: str) -> str:
    """``text`` with each unpaired surrogate replaced by U+FFFD, so that it can be encoded as UTF-8."""
    return _SURROGATE_RE.sub("\ufffd", text)


def clean(query: str) -> str:
    """The part of a user query that is looked at: no control or format characters, capped in length."""
    text = _FORMAT_RE.sub("", _CONTROL_RE.sub(" ", valid_text(query[: MAX_QUERY_CHARS * 4])))
    text = SPACE_RE.sub(" ", text).lstrip()
    if len(text) > MAX_QUERY_CHARS:
        cut = text[:MAX_QUERY_CHARS]
        space = cut.rfind(" ")
        text = cut[:space] if space > MAX_QUERY_CHARS // 2 else cut
    return text


def _analyzer(*, stem: bool) -> tantivy.TextAnalyzer:
    builder = (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(MAX_TOKEN_CHARS))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
    )
    if stem:
        builder = builder.filter(tantivy.Filter.stemmer("english"))
    return builder.build()


#: Index analyzer of every searchable field: words, lower-cased, accents folded, English stems.
STEM_ANALYZER = _analyzer(stem=True)
#: Query words: the same without stemming (for typo and prefix matching).
_FOLD_ANALYZER = _analyzer(stem=False)
#: Stems of words that are already folded, one per whitespace-separated token.
_STEM_ONLY = (
    tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).filter(tantivy.Filter.stemmer("english")).build()
)


def schema() -> tantivy.Schema:
    """The fields of a search index: the stored card id and text, the other searchable fields, the filters."""
    b = tantivy.SchemaBuilder()
    b.add_text_field("card_id", stored=True, tokenizer_name="raw", index_option="basic")
    b.add_text_field("text", stored=True, tokenizer_name=STEM, index_option="freq")
    for name in SEARCH_FIELDS[1:]:
        b.add_text_field(name, tokenizer_name=STEM, index_option="freq")
    b.add_text_field("topic_key", tokenizer_name="raw", index_option="basic")
    b.add_text_field("collection_id", tokenizer_name="raw", index_option="basic")
    b.add_text_field("audience", tokenizer_name="raw", index_option="basic")  # visibility: see SearchDoc.audience
    return b.build()


def register(index: tantivy.Index) -> None:
    """Make the index analyzer known to ``index`` (tantivy does not persist custom analyzers)."""
    index.register_tokenizer(STEM, STEM_ANALYZER)


@dataclass(frozen=True, slots=True)
class Word:
    """One query word: lower-cased and accent-folded as typed, and its English stem."""

    folded: str
    stem: str
    stopword: bool


@dataclass(frozen=True, slots=True)
class Parsed:
    """A query as searched: the cleaned text, its distinct words, and the last word when it may be unfinished."""

    text: str
    words: tuple[Word, ...]
    prefix: str | None  # the folded last word when it may be unfinished


def _stems(unique: list[str]) -> list[str]:
    """The stem of each folded word, in order."""
    stems = _STEM_ONLY.analyze(" ".join(unique)) if unique else []
    if len(stems) != len(unique):  # a folded token contained whitespace: stem one by one
        stems = [(_STEM_ONLY.analyze(t) or [t])[0] for t in unique]
    return stems


def parse(query: str) -> Parsed:
    """The words ``query`` searches for (at most :data:`MAX_QUERY_TERMS` distinct ones)."""
    text = clean(query)
    folded = _FOLD_ANALYZER.analyze(text) if text else []
    unique = list(dict.fromkeys(folded))[:MAX_QUERY_TERMS]
    words = tuple(Word(f, s, f in STOPWORDS) for f, s in zip(unique, _stems(unique), strict=True))
    prefix = None
    if folded and folded[-1] in unique and not query[-1:].isspace() and len(folded[-1]) >= 2:
        prefix = folded[-1]
    return Parsed(text, words, prefix)
