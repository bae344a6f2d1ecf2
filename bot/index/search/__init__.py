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
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import msgspec
import tantivy
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from bot.cards.model import Card, Collection
from bot.util.files import atomic_write_bytes
from bot.util.text import fold, topic_key

__all__ = [
    "MAX_QUERY_CHARS",
    "MAX_QUERY_TERMS",
    "Hit",
    "SearchDoc",
    "SearchIndex",
    "SearchPage",
    "StaleIndexError",
    "Vocabulary",
    "card_label",
    "fold",
]

#: Characters of a query that are looked at; the rest is ignored.
MAX_QUERY_CHARS = 256
#: Distinct words of a query that are searched for; the rest are ignored.
MAX_QUERY_TERMS = 16
#: Most index terms a prefix expands to (the most frequent ones).
MAX_PREFIX_TERMS = 24
#: Longest token indexed (longer ones are dropped by the analyzers).
MAX_TOKEN_CHARS = 40
#: Longest query word that gets a typo-tolerant (fuzzy) query.
MAX_FUZZY_CHARS = 24
#: Snippet and label lengths, in characters.
SNIPPET_CHARS = 300
LABEL_CHARS = 100
MAX_LIMIT = 100

EMPTY_QUERY_MESSAGE = "Type a word or two to search for."
NO_WORDS_MESSAGE = "There is nothing to search for in that: type a word or two (letters or digits)."
RELAXED_MESSAGE = "No card matches all of those words; showing cards that match some of them."

#: Bump when the schema or the analyzers change: :meth:`SearchIndex.open` then refuses old indexes.
INDEX_FORMAT = 1
_META_FILE = "factdeck-search.json"
_STEM = "fd_stem"

#: Most index stems a misspelt word is corrected to.
MAX_CORRECTIONS = 4
#: Deepest result offset served.
MAX_OFFSET = 10_000

# Field weights: topics and article titles count a little more than body text.
_FIELD_BOOSTS = (("text", 1.0), ("topics", 1.5), ("article", 1.3), ("collection_title", 0.6))
_SEARCH_FIELDS = tuple(name for name, _ in _FIELD_BOOSTS)
# Constant scores that order match kinds (exact stem > completion > typo) before BM25 orders within them.
_EXACT_BONUS = 1.0
_PREFIX_BONUS = 0.5
_FUZZY_BONUS = 0.3
# BM25 weights of completions and corrections relative to exact matches.
_PREFIX_WEIGHT = 0.4
_CORRECTION_WEIGHT = 0.6
_FUZZY_MAX_DF = 3
_WRITER_HEAP_PER_THREAD = 200_000_000
#: Writer memory for an incremental update (a few documents; tantivy needs at least 15 MB per thread).
_UPDATE_HEAP = 50_000_000
_SHOULD = tantivy.Occur.Should

_STOPWORDS = frozenset(
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
# What tantivy's simple tokenizer calls a word: a run of alphanumeric characters.
_WORD_RE = re.compile(r"[^\W_]+")
_SPACE_RE = re.compile(r"\s+")


def _clean(query: str) -> str:
    """The part of a user query that is looked at: no control or format characters, capped in length."""
    text = _FORMAT_RE.sub("", _CONTROL_RE.sub(" ", query[: MAX_QUERY_CHARS * 4]))
    text = _SPACE_RE.sub(" ", text).lstrip()
    if len(text) > MAX_QUERY_CHARS:
        cut = text[:MAX_QUERY_CHARS]
        space = cut.rfind(" ")
        text = cut[:space] if space > MAX_QUERY_CHARS // 2 else cut
    return text


# ---------------------------------------------------------------------------------------------------------
# Analyzers and schema


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
_STEM_ANALYZER = _analyzer(stem=True)
#: Query words: the same without stemming (for typo and prefix matching).
_FOLD_ANALYZER = _analyzer(stem=False)
#: Stems of words that are already folded, one per whitespace-separated token.
_STEM_ONLY = (
    tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).filter(tantivy.Filter.stemmer("english")).build()
)


def _schema() -> tantivy.Schema:
    b = tantivy.SchemaBuilder()
    b.add_text_field("card_id", stored=True, tokenizer_name="raw", index_option="basic")
    b.add_text_field("text", stored=True, tokenizer_name=_STEM, index_option="freq")
    for name in _SEARCH_FIELDS[1:]:
        b.add_text_field(name, tokenizer_name=_STEM, index_option="freq")
    b.add_text_field("topic_key", tokenizer_name="raw", index_option="basic")
    b.add_text_field("collection_id", tokenizer_name="raw", index_option="basic")
    return b.build()


# ---------------------------------------------------------------------------------------------------------
# Public value types


@dataclass(frozen=True, slots=True)
class SearchDoc:
    """What gets indexed for one card."""

    card_id: str
    text: str
    topics: tuple[str, ...]
    article: str | None
    collection_id: str
    collection_title: str

    @classmethod
    def of(cls, card: Card, collection: Collection) -> SearchDoc:
        """The searchable parts of ``card``, found in ``collection``."""
        return cls(
            card_id=card.id,
            text=card.text,
            topics=tuple(card.topics),
            article=card.source.article,
            collection_id=collection.id,
            collection_title=collection.title,
        )


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result.

    ``snippet`` is a plain-text fragment of the card text around the matches (at most about 300 characters,
    cut at word boundaries, with "…" where cut); ``highlights`` are ``(start, end)`` character ranges in
    ``snippet`` to emphasise.
    """

    card_id: str
    score: float
    snippet: str
    highlights: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of results: ``total`` counts all matching cards, ``hits`` the ones from ``offset`` on.

    ``query`` is the query as searched (cleaned and capped); ``message`` explains an empty or relaxed
    search, and is None otherwise.
    """

    hits: tuple[Hit, ...]
    total: int
    offset: int
    limit: int
    query: str
    message: str | None = None


# ---------------------------------------------------------------------------------------------------------
# Query analysis


@dataclass(frozen=True, slots=True)
class _Word:
    folded: str
    stem: str
    stopword: bool


@dataclass(frozen=True, slots=True)
class _Parsed:
    text: str
    words: tuple[_Word, ...]
    prefix: str | None  # the folded last word when it may be unfinished


def _parse(query: str) -> _Parsed:
    text = _clean(query)
    folded = _FOLD_ANALYZER.analyze(text) if text else []
    unique = list(dict.fromkeys(folded))[:MAX_QUERY_TERMS]
    stems = _STEM_ONLY.analyze(" ".join(unique)) if unique else []
    if len(stems) != len(unique):  # a folded token contained whitespace: stem one by one
        stems = [(_STEM_ONLY.analyze(t) or [t])[0] for t in unique]
    words = tuple(_Word(f, s, f in _STOPWORDS) for f, s in zip(unique, stems, strict=True))
    prefix = None
    if folded and folded[-1] in unique and not query[-1:].isspace() and len(folded[-1]) >= 2:
        prefix = folded[-1]
    return _Parsed(text, words, prefix)


def _fuzzy_distance(word: str) -> int:
    """Edit distance allowed for a typed word: 1 for 4-7 characters, 2 from 8, none for others."""
    n = len(word)
    if n < 4 or n > MAX_FUZZY_CHARS or not word.isalpha():
        return 0
    return 1 if n < 8 else 2


@dataclass(frozen=True, slots=True)
class _Plan:
    """The terms one query word is searched by."""

    word: _Word
    exact: bool  # False for a stopword being typed: it only contributes its completions
    known: int  # number of cards with the stem
    fuzzy: int  # edit distance for the typo query (0: none)
    fuzzy_prefix: bool  # the typo query matches the starts of words (an unfinished last word)
    corrections: tuple[str, ...]  # index stems close to a word that is not in the index
    completions: tuple[str, ...]  # index stems the unfinished last word may become


# ---------------------------------------------------------------------------------------------------------
# Snippets


def _char_offsets(text: str, offsets: list[int]) -> list[int]:
    """Character offsets in ``text`` of UTF-8 byte ``offsets``."""
    if text.isascii():
        return offsets
    data = text.encode("utf-8")
    return [len(data[:o].decode("utf-8", "ignore")) for o in offsets]


def _match_spans(text: str, snippet: tantivy.Snippet) -> list[tuple[int, int]]:
    """Character ranges in ``text`` that the snippet generator highlighted."""
    ranges = snippet.highlighted()
    if not ranges:
        return []
    base = snippet.fragment_range().start
    flat = [base + o for r in ranges for o in (r.start, r.end)]
    chars = _char_offsets(text, flat)
    return list(zip(chars[::2], chars[1::2], strict=True))


def _snippet(text: str, spans: list[tuple[int, int]]) -> tuple[str, tuple[tuple[int, int], ...]]:
    """A fragment of ``text`` around the densest group of matches, with highlight ranges in it."""
    n = len(text)
    if n <= SNIPPET_CHARS:
        return text, tuple(spans)
    budget = SNIPPET_CHARS - 2  # room for the two ellipses
    window = budget - 40
    # Slide a window over the matches: most distinct words matched, then most matches, then earliest.
    keys = [text[a:b].lower() for a, b in spans]
    counts: dict[str, int] = {}
    best_start, best_score = 0, (-1, -1)
    j = 0
    for i, (a, _b) in enumerate(spans):
        j = max(j, i)
        while j < len(spans) and spans[j][1] - a <= window:
            counts[keys[j]] = counts.get(keys[j], 0) + 1
            j += 1
        score = (len(counts), j - i)
        if score > best_score:
            best_score, best_start = score, a
        if j > i:
            left = counts[keys[i]] - 1
            if left:
                counts[keys[i]] = left
            else:
                del counts[keys[i]]
    # Some context before the first match: back to a sentence start when near, else ~50 characters.
    start = 0
    if best_start > 60:
        sentence = max(text.rfind(". ", 0, best_start), text.rfind("? ", 0, best_start))
        if sentence != -1 and best_start - sentence <= 120:
            start = sentence + 2
        else:
            space = text.find(" ", best_start - 50, best_start)
            start = space + 1 if space != -1 else best_start
    end = start + budget
    if end >= n:  # the window reaches the end: use the budget to show more before it
        end = n
        start = max(0, min(start, n - budget))
        if start > 0 and not text[start - 1].isspace():
            space = text.find(" ", start, best_start + 1)
            start = space + 1 if space != -1 else start
    else:
        space = text.rfind(" ", start, end + 1)
        if space > start:
            end = space
    fragment = text[start:end]
    lead = start + len(fragment) - len(fragment.lstrip())
    fragment = fragment.strip()
    before = "…" if lead > 0 else ""
    after = "…" if lead + len(fragment) < n else ""
    shift = len(before) - lead
    stop = lead + len(fragment)
    highlights = tuple((a + shift, b + shift) for a, b in spans if a >= lead and b <= stop)
    return before + fragment + after, highlights


def card_label(text: str) -> str:
    """The first words of a card's text, at most :data:`LABEL_CHARS` characters: how a card is named in lists."""
    flat = _SPACE_RE.sub(" ", text[: LABEL_CHARS * 2]).strip()
    if len(flat) <= LABEL_CHARS and len(text) <= LABEL_CHARS * 2:
        return flat
    cut = flat[: LABEL_CHARS - 1]
    space = cut.rfind(" ")
    if space > LABEL_CHARS // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-(") + "…"


# ---------------------------------------------------------------------------------------------------------
# The index


class StaleIndexError(RuntimeError):
    """:meth:`SearchIndex.updated` was called on an index that is not the latest of its lineage."""


class _Lineage:
    """What the :class:`SearchIndex` objects derived from one tantivy index share: its writer's lock, which
    of them is the latest, and the directory it is persisted in (None in RAM)."""

    __slots__ = ("directory", "head", "id", "lock")

    def __init__(self, directory: Path | None, lineage_id: str | None = None) -> None:
        self.directory = directory
        self.id = lineage_id or uuid.uuid4().hex
        self.lock = threading.Lock()
        self.head: SearchIndex | None = None  # None once an update failed half-way: no more updates


def _doc_json(doc: SearchDoc, encode: object = msgspec.json.Encoder().encode) -> str:
    fields: dict[str, object] = {
        "card_id": doc.card_id,
        "text": doc.text,
        "collection_title": doc.collection_title,
        "collection_id": doc.collection_id,
    }
    if doc.topics:
        fields["topics"] = doc.topics
        fields["topic_key"] = [topic_key(t) for t in doc.topics]
    if doc.article:
        fields["article"] = doc.article
    return encode(fields).decode()  # type: ignore[operator]


def _write_meta(directory: Path, meta: dict[str, object]) -> None:
    """Replace the index's meta file atomically; durably, since it says which library the index reflects."""
    atomic_write_bytes(directory / _META_FILE, json.dumps(meta).encode("utf-8"))


def _read_meta(directory: Path) -> dict[str, object] | None:
    try:
        meta = json.loads((directory / _META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


class SearchIndex:
    """An immutable, thread-safe full-text index of cards."""

    __slots__ = ("_count", "_deleted", "_digest", "_index", "_lineage", "_live", "_schema", "_searcher")

    def __init__(
        self,
        index: tantivy.Index,
        schema: tantivy.Schema,
        *,
        lineage: _Lineage | None = None,
        deleted: int = 0,
        digest: str | None = None,
    ) -> None:
        """Wrap an index that is complete (use :meth:`build` or :meth:`open`)."""
        self._index = index
        self._schema = schema
        self._searcher = index.searcher()
        self._count = self._searcher.num_docs
        self._deleted = deleted
        self._digest = digest
        self._lineage = lineage if lineage is not None else _Lineage(None)
        self._live = tantivy.Query.all_query() if deleted else None
        if self._lineage.head is None and lineage is None:
            self._lineage.head = self

    @property
    def deleted(self) -> int:
        """Documents deleted by :meth:`updated` since the index was built (they still weigh in BM25 scores)."""
        return self._deleted

    @property
    def digest(self) -> str | None:
        """The library digest this index was built or updated for, when one was given."""
        return self._digest

    @property
    def directory(self) -> Path | None:
        """Where the index is persisted; None for an index in RAM."""
        return self._lineage.directory

    # -- building ----------------------------------------------------------------------------------------

    @staticmethod
    def _register(index: tantivy.Index) -> None:
        index.register_tokenizer(_STEM, _STEM_ANALYZER)

    @classmethod
    def build(
        cls, docs: Iterable[SearchDoc], *, directory: Path | None = None, digest: str | None = None
    ) -> SearchIndex:
        """Index ``docs``: in RAM when ``directory`` is None, else persisted there for :meth:`open`.

        A persisted index is written to a temporary sibling directory and moved into place when complete,
        replacing an earlier index in ``directory``. A non-empty ``directory`` that does not hold a search
        index is left alone (ValueError). ``digest`` (the library's) is recorded for :meth:`open` to check.
        """
        schema = _schema()
        target: Path | None = None
        staging: Path | None = None
        if directory is None:
            index = tantivy.Index(schema)
        else:
            target = Path(directory)
            if target.exists() and any(target.iterdir()) and not (target / _META_FILE).exists():
                raise ValueError(f"{target} is not empty and does not hold a search index")
            target.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
            index = tantivy.Index(schema, path=str(staging), reuse=False)
        cls._register(index)
        try:
            threads = _writer_threads()
            writer = index.writer(heap_size=_WRITER_HEAP_PER_THREAD * threads, num_threads=threads)
            add = writer.add_json
            count = 0
            for doc in docs:
                add(_doc_json(doc))
                count += 1
            writer.commit()
            writer.wait_merging_threads()
            lineage = _Lineage(target)
            if target is not None and staging is not None:
                _write_meta(staging, _meta(count, 0, digest, lineage.id))
                _swap(staging, target)
                staging = None
                index = tantivy.Index.open(str(target))
                cls._register(index)
        finally:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
        index.config_reader(reload_policy="Manual")
        index.reload()
        built = cls(index, schema, lineage=lineage, digest=digest)
        lineage.head = built
        return built

    @classmethod
    def open(cls, directory: Path, *, digest: str | None = None) -> SearchIndex | None:
        """Reopen an index persisted by :meth:`build` (and maybe :meth:`updated` since).

        None when it is missing, incompatible or corrupt, or when ``digest`` is given and the index does not
        record that it reflects that library digest (also while an update is half done).
        """
        path = Path(directory)
        try:
            meta = _read_meta(path)
            if meta is None or meta.get("format") != INDEX_FORMAT:
                return None
            if digest is not None and meta.get("digest") != digest:
                return None
            if not tantivy.Index.exists(str(path)) or not tantivy.Index.is_compatible(str(path)):
                return None
            index = tantivy.Index.open(str(path))
            cls._register(index)
            index.config_reader(reload_policy="Manual")
            index.reload()
            deleted = meta.get("deleted", 0)
            lineage = _Lineage(path, str(meta.get("lineage") or "") or None)
            opened = cls(
                index,
                _schema(),
                lineage=lineage,
                deleted=deleted if isinstance(deleted, int) and deleted >= 0 else 0,
                digest=meta.get("digest") if isinstance(meta.get("digest"), str) else None,
            )
            lineage.head = opened
            if opened._count != meta.get("docs"):
                return None
            # Probe every field the searches use: a schema mismatch raises here, not in a search.
            opened.search("factdeck index probe", topic="probe", collection="probe", limit=1)
            opened._searcher.search(tantivy.Query.all_query(), 1, count=False)
            return opened
        except Exception:  # noqa: BLE001 - any failure to read the index means "rebuild it"
            return None

    @classmethod
    def find(cls, parent: Path, digest: str) -> SearchIndex | None:
        """Reopen the index persisted in a folder of ``parent`` that reflects library ``digest``, if any.

        The folder named ``digest`` is tried first (an index built for it), then the others (an index updated
        to it since it was built for another library).
        """
        parent = Path(parent)
        first = parent / digest
        found = cls.open(first, digest=digest) if first.is_dir() else None
        if found is not None:
            return found
        try:
            children = sorted(p for p in parent.iterdir() if p.is_dir() and p != first and not p.name.startswith("."))
        except OSError:
            return None
        for child in children:
            meta = _read_meta(child)
            if meta is not None and meta.get("digest") == digest:
                found = cls.open(child, digest=digest)
                if found is not None:
                    return found
        return None

    # -- updating ----------------------------------------------------------------------------------------

    def updated(self, remove: Iterable[str], add: Iterable[SearchDoc], *, digest: str | None = None) -> SearchIndex:
        """A new index object without the cards ``remove`` and with ``add``; this one keeps answering as before.

        Give a changed card's id in ``remove`` and its new document in ``add``. The same tantivy index is
        updated (one commit), so only the latest index of a lineage can be updated: StaleIndexError otherwise,
        and after an update that failed half-way. A persisted index records ``digest`` as the library it now
        reflects; it is marked as reflecting none while the commit is in progress.
        """
        lineage = self._lineage
        remove = list(dict.fromkeys(remove))
        docs = list(add)
        with lineage.lock:
            if lineage.head is not self:
                raise StaleIndexError("this search index is not the latest of its lineage")
            directory = lineage.directory
            if directory is not None:
                meta = _read_meta(directory)
                if meta is None or meta.get("lineage") != lineage.id or meta.get("digest") != self._digest:
                    lineage.head = None
                    raise StaleIndexError(f"{directory} no longer holds this index")
            lineage.head = None  # until this update is complete
            if not remove and not docs:
                updated = SearchIndex(self._index, self._schema, lineage=lineage, deleted=self._deleted, digest=digest)
            else:
                if directory is not None:  # from here until the new meta is written, it reflects no library
                    _write_meta(directory, _meta(-1, self._deleted, None, lineage.id))
                writer = self._index.writer(heap_size=_UPDATE_HEAP, num_threads=1)
                for card_id in remove:
                    writer.delete_documents_by_term("card_id", card_id)
                for doc in docs:
                    writer.add_json(_doc_json(doc))
                writer.commit()
                writer.wait_merging_threads()
                self._index.reload()
                count = self._index.searcher().num_docs
                deleted = self._deleted + self._count + len(docs) - count
                updated = SearchIndex(self._index, self._schema, lineage=lineage, deleted=deleted, digest=digest)
            if directory is not None:
                _write_meta(directory, _meta(updated._count, updated._deleted, digest, lineage.id))
            lineage.head = updated
            return updated

    def __len__(self) -> int:
        """Number of cards indexed."""
        return self._count

    def _df(self, term: str) -> int:
        """Number of live cards with ``term`` in their text (tantivy's count includes deleted ones)."""
        if self._live is None:
            return self._searcher.doc_freq("text", term)
        query = tantivy.Query.term_query(self._schema, "text", term, index_option="basic")
        return int(self._searcher.search(query, 1, count=True).count or 0)

    def _prefixed(self, prefix: str, limit: int | None = None) -> list[tuple[str, int]]:
        """Index stems starting with ``prefix`` and their card counts, most used first (live cards only)."""
        if self._live is None:
            if limit is None:
                return self._searcher.terms_with_prefix("text", prefix)
            return self._searcher.terms_with_prefix("text", prefix, limit=limit)
        if limit is None:
            return self._searcher.terms_with_prefix("text", prefix, filter_query=self._live)
        return self._searcher.terms_with_prefix("text", prefix, filter_query=self._live, limit=limit)

    # -- planning ----------------------------------------------------------------------------------------

    def _plans(self, parsed: _Parsed, *, typo: bool = True) -> list[_Plan]:
        """What each query word is searched by; stopwords only when the query has nothing else."""
        words = parsed.words
        required = [w for w in words if not w.stopword] or list(words)
        last = words[-1] if parsed.prefix is not None else None
        df = self._df
        rare = max(_FUZZY_MAX_DF, self._count // 5000)
        plans = []
        for word in required:
            known = df(word.stem)
            completions = self._completions(word, known) if word is last else ()
            # Typo tolerance for words that are missing or rare (a common word is no typo) and for an
            # unfinished last word that no indexed word starts with.
            fuzzy = _fuzzy_distance(word.folded) if typo and known <= rare and not completions else 0
            as_prefix = word is last and not known
            corrections: tuple[str, ...] = ()
            if fuzzy and not known:
                corrections = self._corrections(word.stem, fuzzy, prefix=as_prefix)
            plans.append(_Plan(word, True, known, fuzzy, as_prefix, corrections, completions))
        if last is not None and last not in required:  # a stopword being typed: "the" may become "theory"
            completions = self._completions(last, df(last.stem))
            if completions:
                plans.append(_Plan(last, False, 0, 0, False, (), completions))
        return plans

    def _corrections(self, word: str, distance: int, *, prefix: bool) -> tuple[str, ...]:
        """Index stems within ``distance`` edits of ``word`` (or starting so, for a ``prefix``) that share its
        first letters: the closest ones, most used first."""
        if len(word) < 3:
            return ()
        head = word[: 2 if len(word) < 7 else 3]
        found = self._prefixed(head)
        if not found:
            return ()
        best: dict[int, int] = {}  # index in found -> distance
        # A prefix may match the start of a term of about its own length.
        for k in range(len(word) - distance, len(word) + distance + 1) if prefix else (0,):
            terms = [t[:k] for t, _ in found] if prefix else [t for t, _ in found]
            for _term, dist, i in process.extract(
                word, terms, scorer=OSA.distance, score_cutoff=distance, limit=None, processor=None
            ):
                best[i] = min(dist, best.get(i, dist))
        if not best:
            return ()
        nearest = min(best.values())
        ranked = sorted((-found[i][1], found[i][0]) for i, dist in best.items() if dist == nearest)
        return tuple(term for _count, term in ranked[:MAX_CORRECTIONS])

    def _completions(self, word: _Word, known: int) -> tuple[str, ...]:
        """Index stems the unfinished ``word`` may become; none when it is itself a common word."""
        if known * 20 > self._count:
            return ()
        prefix = word.folded
        found = [t for t, _ in self._prefixed(prefix, limit=MAX_PREFIX_TERMS)]
        # The typed prefix may run past the stem of the word it begins ("engagem" -> "engag").
        if len(prefix) >= 5:
            df = self._df
            for k in range(len(prefix) - 1, max(3, len(prefix) - 4), -1):
                if df(prefix[:k]):
                    found.append(prefix[:k])
                    break
        return tuple(t for t in found if t != word.stem)

    # -- queries -----------------------------------------------------------------------------------------

    def _terms(
        self, field_terms: Iterable[str], boost: float, fields: tuple[tuple[str, float], ...] = _FIELD_BOOSTS
    ) -> tantivy.Query:
        """BM25 for any of ``field_terms`` in ``fields`` (name, weight), the best field counting most."""
        Q, schema = tantivy.Query, self._schema
        per_term = []
        for term in field_terms:
            per_field = [
                Q.boost_query(Q.term_query(schema, name, term, index_option="freq"), weight) for name, weight in fields
            ]
            per_term.append(per_field[0] if len(per_field) == 1 else Q.disjunction_max_query(per_field, 0.2))
        query = per_term[0] if len(per_term) == 1 else Q.boolean_query([(_SHOULD, q) for q in per_term])
        return query if boost == 1.0 else Q.boost_query(query, boost)

    def _word_query(self, plan: _Plan) -> tantivy.Query:
        Q, schema = tantivy.Query, self._schema
        clauses = []
        stem = plan.word.stem
        if plan.exact and plan.known:
            clauses.append(self._terms([stem], 1.0))
            if plan.fuzzy or plan.completions:
                # A constant bonus for an exact (stemmed) match, so that it outranks typo and prefix matches
                # even for a word so common that its BM25 score is near zero.
                anywhere = [Q.term_query(schema, name, stem, index_option="basic") for name in _SEARCH_FIELDS]
                union = Q.boolean_query([(_SHOULD, q) for q in anywhere])
                clauses.append(Q.const_score_query(union, _EXACT_BONUS))
        elif plan.exact:  # in no card text: maybe in a topic, article or collection title
            clauses.append(self._terms([stem], 1.0, fields=_FIELD_BOOSTS[1:]))
        if plan.fuzzy:
            fuzzy = Q.fuzzy_term_query(schema, "text", stem, plan.fuzzy, True, plan.fuzzy_prefix)
            clauses.append(Q.const_score_query(fuzzy, _FUZZY_BONUS))
        if plan.corrections:
            clauses.append(self._terms(plan.corrections, _CORRECTION_WEIGHT, fields=_FIELD_BOOSTS[:1]))
        if plan.completions:
            clauses.append(self._terms(plan.completions, _PREFIX_WEIGHT, fields=_FIELD_BOOSTS[:1]))
        if not clauses:
            return Q.empty_query()
        return clauses[0] if len(clauses) == 1 else Q.boolean_query([(_SHOULD, q) for q in clauses])

    def _query(self, plans: list[_Plan], *, topic: str | None, collection: str | None, relaxed: bool) -> tantivy.Query:
        Q, Occur = tantivy.Query, tantivy.Occur
        occur = Occur.Should if relaxed else Occur.Must
        clauses = [(occur if p.exact else Occur.Should, self._word_query(p)) for p in plans]
        if topic is not None:
            key = topic_key(topic)
            clauses.append((Occur.Must, Q.const_score_query(Q.term_query(self._schema, "topic_key", key), 0.0)))
        if collection is not None:
            term = Q.term_query(self._schema, "collection_id", collection)
            clauses.append((Occur.Must, Q.const_score_query(term, 0.0)))
        return Q.boolean_query(clauses)

    def _run(
        self, parsed: _Parsed, *, topic: str | None, collection: str | None, limit: int, offset: int, count: bool
    ) -> tuple[list[_Plan], tantivy.SearchResult, bool]:
        """All words required first; when that finds nothing and there are several words, any word."""
        plans = self._plans(parsed)
        searcher = self._searcher
        query = self._query(plans, topic=topic, collection=collection, relaxed=False)
        result = searcher.search(query, max(limit, 1), count=count, offset=offset)
        if not result.hits and sum(p.exact for p in plans) > 1 and (not count or result.count == 0):
            query = self._query(plans, topic=topic, collection=collection, relaxed=True)
            relaxed = searcher.search(query, max(limit, 1), count=count, offset=offset)
            if relaxed.hits or (count and relaxed.count):
                return plans, relaxed, True
        return plans, result, False

    def search(
        self,
        query: str,
        *,
        topic: str | None = None,
        collection: str | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> SearchPage:
        """Cards matching ``query``, best first, from ``offset``, at most ``limit`` of them.

        ``topic`` keeps cards with that topic (exact, case-insensitive); ``collection`` keeps cards of
        that collection id. Never raises on user input: an empty query gives an empty page with a message.
        """
        limit = max(0, min(int(limit), MAX_LIMIT))
        offset = max(0, min(int(offset), MAX_OFFSET))
        parsed = _parse(query if isinstance(query, str) else "")
        if not parsed.words:
            message = NO_WORDS_MESSAGE if parsed.text.strip() else EMPTY_QUERY_MESSAGE
            return SearchPage((), 0, offset, limit, parsed.text, message)
        plans, result, relaxed = self._run(
            parsed, topic=topic, collection=collection, limit=limit, offset=offset, count=True
        )
        hits = self._hits(plans, result.hits[:limit])
        message = RELAXED_MESSAGE if relaxed else None
        return SearchPage(tuple(hits), int(result.count or 0), offset, limit, parsed.text, message)

    def _hits(self, plans: list[_Plan], found: list[tuple[float, tantivy.DocAddress]]) -> list[Hit]:
        if not found:
            return []
        Q, searcher, schema = tantivy.Query, self._searcher, self._schema
        terms: dict[str, None] = {}
        for p in plans:
            if p.exact:
                terms[p.word.stem] = None
            terms.update(dict.fromkeys(p.corrections))
            terms.update(dict.fromkeys(p.completions))
        marker = None
        if terms:
            query = Q.boolean_query([(_SHOULD, Q.term_query(schema, "text", t)) for t in terms])
            marker = tantivy.SnippetGenerator.create(searcher, query, schema, "text")
            marker.set_max_num_chars(1 << 16)
        hits = []
        for score, address in found:
            doc = searcher.doc(address)
            text = doc.get_first("text") or ""
            spans = _match_spans(text, marker.snippet_from_doc(doc)) if marker is not None else []
            snippet, highlights = _snippet(text, spans)
            hits.append(Hit(doc.get_first("card_id") or "", float(score), snippet, highlights))
        return hits

    def suggest(self, prefix: str, *, limit: int = 25) -> list[tuple[str, str]]:
        """Card autocomplete: ``(card_id, label)`` pairs, best first; the last word may be unfinished.

        The label is the start of the card text, at most 100 characters. Typo tolerant like :meth:`search`.
        """
        limit = max(0, min(int(limit), MAX_LIMIT))
        parsed = _parse(prefix if isinstance(prefix, str) else "")
        if not parsed.words or limit == 0:
            return []
        _plans, result, _relaxed = self._run(parsed, topic=None, collection=None, limit=limit, offset=0, count=False)
        out = []
        for _score, address in result.hits[:limit]:
            doc = self._searcher.doc(address)
            out.append((doc.get_first("card_id") or "", card_label(doc.get_first("text") or "")))
        return out


def _meta(docs: int, deleted: int, digest: str | None, lineage: str) -> dict[str, object]:
    return {
        "format": INDEX_FORMAT,
        "docs": docs,
        "deleted": deleted,
        "digest": digest,
        "lineage": lineage,
        "tantivy": tantivy.__version__,
    }


def _writer_threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _swap(staging: Path, target: Path) -> None:
    """Move the finished index ``staging`` to ``target``, replacing what was there."""
    old: Path | None = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
        old.rmdir()
        target.rename(old)
    try:
        staging.rename(target)
    except BaseException:
        if old is not None:
            with contextlib.suppress(OSError):
                old.rename(target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------
# Short vocabularies


class Vocabulary:
    """A small typo-tolerant completer for topics and collection names."""

    __slots__ = ("_folded", "_items", "_ranked")

    def __init__(self, items: Mapping[str, int]) -> None:
        """``items`` maps each item to its weight (e.g. how many cards have that topic)."""
        self._items = dict(items)
        self._ranked = sorted(self._items, key=lambda item: (-self._items[item], fold(item), item))
        self._folded = [" " + " ".join(_WORD_RE.findall(fold(item))) for item in self._ranked]

    def __len__(self) -> int:
        """Number of items."""
        return len(self._ranked)

    def updated(self, deltas: Mapping[str, int]) -> Vocabulary:
        """A new vocabulary with the weights changed by ``deltas``; items left at zero or below are dropped."""
        items = dict(self._items)
        for item, delta in deltas.items():
            weight = items.get(item, 0) + delta
            if weight > 0:
                items[item] = weight
            else:
                items.pop(item, None)
        return Vocabulary(items)

    def complete(self, prefix: str, limit: int = 25) -> list[str]:
        """Items for ``prefix``, best first, at most ``limit``.

        Items with a word that starts with the (accent- and case-folded) prefix come first, heaviest first;
        then, if there is room, fuzzy matches. An empty prefix gives the heaviest items.
        """
        limit = max(0, int(limit))
        words = _WORD_RE.findall(fold(_clean(prefix if isinstance(prefix, str) else "")))
        if not words:
            return self._ranked[:limit]
        needle = " " + " ".join(words)
        chosen = [i for i, f in enumerate(self._folded) if needle in f][:limit]
        if len(chosen) < limit and len(needle) > 3:
            taken = set(chosen)
            matches = process.extract(
                needle[1:],
                self._folded,
                scorer=fuzz.partial_ratio,
                processor=None,
                score_cutoff=75,
                limit=limit + len(taken),
            )
            extra = sorted(((-score, i) for _item, score, i in matches if i not in taken))
            chosen.extend(i for _score, i in extra[: limit - len(chosen)])
        return [self._ranked[i] for i in chosen]


def highlight(hit: Hit, *, start: str, end: str) -> str:
    """A hit's snippet with its highlighted ranges wrapped in ``start`` and ``end``."""
    out, last = [], 0
    for lo, hi in hit.highlights:
        out += [hit.snippet[last:lo], start, hit.snippet[lo:hi], end]
        last = hi
    out.append(hit.snippet[last:])
    return "".join(out)
