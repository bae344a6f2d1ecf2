"""The search index: cards in a tantivy index, searched by the plans of :mod:`bot.index.search.query`.

A :class:`SearchIndex` object is immutable: it answers from one tantivy searcher for its whole life, so it can be
shared between threads without locks. :meth:`SearchIndex.updated` derives a new object for a few changed cards
(deletes and adds on the same tantivy index, then a new searcher); the old object keeps answering from its own
searcher, so a search sees the old cards or the new ones, never a mix.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import msgspec
import tantivy

from bot.index.search import query as q
from bot.index.search import store
from bot.index.search.analysis import Parsed, Word, parse, register, schema
from bot.index.search.model import SHARED_AUDIENCE, Hit, SearchDoc, SearchPage
from bot.index.search.snippets import Highlighter, Snippet, card_label
from bot.util.text import topic_key

log = logging.getLogger(__name__)

MAX_LIMIT = 100
#: Searches whose number of matching cards each index object keeps (see :meth:`SearchIndex.search`).
MAX_KEPT_TOTALS = 4096
#: Query texts whose words and plans each index object keeps (see :class:`_Prepared`).
MAX_KEPT_PLANS = 2048
#: Pages of results each index object keeps (see :meth:`SearchIndex.search`).
MAX_KEPT_PAGES = 1024
#: Longest query text kept so (longer ones are planned every time: :func:`parse` reads at most 1,024 characters).
_MAX_KEPT_QUERY = 1100
_K = TypeVar("_K")
_V = TypeVar("_V")
#: Deepest result offset served.
MAX_OFFSET = 10_000

EMPTY_QUERY_MESSAGE = "Type a word or two to search for."
NO_WORDS_MESSAGE = "There is nothing to search for in that: type a word or two (letters or digits)."
RELAXED_MESSAGE = "No card matches all of those words; showing cards that match some of them."

_WRITER_HEAP_PER_THREAD = 200_000_000
#: Writer memory for an incremental update (a few documents; tantivy needs at least 15 MB per thread).
_UPDATE_HEAP = 50_000_000


#: What decides which cards a search matches: its words, its unfinished last word and its filters.
_TotalKey = tuple[tuple[Word, ...], str | None, str | None, str | None, tuple[str, ...] | None]


_QueryKey = tuple[str | None, str | None, tuple[str, ...] | None, bool]
#: A page of results: the query text, its filters, the page's size and place, with or without snippets.
_PageKey = tuple[str, str | None, str | None, tuple[str, ...] | None, int, int, bool]


class _Prepared:
    """A query text as one index object searches it: its words, their plans (typo and prefix terms looked up in
    this searcher's term dictionary), the tantivy queries built from them per filter, and the snippet highlighter.

    They depend only on the text and the searcher, which never changes for an index object, so each object keeps
    them for its last :data:`MAX_KEPT_PLANS` query texts: a search typed again, a page turn or an autocomplete
    keystroke repeated skips parsing, planning (the typo and prefix lookups) and building the query."""

    __slots__ = ("_highlighter", "parsed", "plans", "queries")

    def __init__(self, parsed: Parsed, plans: list[q.Plan]) -> None:
        self.parsed = parsed
        self.plans = plans
        self.queries: dict[_QueryKey, tantivy.Query] = {}
        self._highlighter: Highlighter | None = None

    def highlighter(self, searcher: tantivy.Searcher, schema: tantivy.Schema) -> Highlighter:
        found = self._highlighter
        if found is None:
            found = self._highlighter = Highlighter(searcher, schema, q.snippet_terms(self.plans))
        return found


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


_encode: Callable[[object], bytes] = msgspec.json.Encoder().encode


def _doc_json(doc: SearchDoc) -> str:
    fields: dict[str, object] = {
        "card_id": doc.card_id,
        "text": doc.text,
        "collection_title": doc.collection_title,
        "collection_id": doc.collection_id,
        "audience": doc.audience,
    }
    if doc.topics:
        fields["topics"] = doc.topics
        fields["topic_key"] = [topic_key(t) for t in doc.topics]
    if doc.article:
        fields["article"] = doc.article
    return _encode(fields).decode()


def _writer_threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _fill(index: tantivy.Index, docs: Iterable[SearchDoc]) -> int:
    """Add ``docs`` to a new ``index`` and commit; the number of documents added (see :func:`_write`)."""
    threads = _writer_threads()
    return _write(index, docs, threads=threads, heap=_WRITER_HEAP_PER_THREAD * threads)


def _write(
    index: tantivy.Index, docs: Iterable[SearchDoc], *, threads: int, heap: int, remove: Iterable[str] = ()
) -> int:
    """Delete the cards ``remove`` and add ``docs``; the number of documents added.

    The shared library's cards are committed first, the servers' own cards after them by a writer of their own
    (one commit when there are only servers' cards), so that no tantivy segment holds both. A search as a server
    with a deck of its own requires its audience filter (``shared`` or the server) beside the query, a union
    tantivy checks document by document: in a segment of shared cards only the server's term has no postings,
    and the filter is the one ``shared`` term of today's library; in a segment of servers' cards, ``shared`` has
    none and the filter is the server's own few cards, which lead the intersection. Mixed in the same segments,
    every server's search paid for every other server's cards (docs/performance.md, "Every server its own
    decks"). Scores do not change: tantivy's BM25 statistics are the whole searcher's. The servers' writer has
    half the threads (so half the segments): the segments of a first build stay fewer than the 8 of one size that
    tantivy's merge policy would merge into one again (4 + 2 at most).
    """
    writer = index.writer(heap_size=heap, num_threads=threads)
    for card_id in remove:
        writer.delete_documents_by_term("card_id", card_id)
    servers: list[str] = []
    shared = 0
    for doc in docs:
        if doc.audience == SHARED_AUDIENCE:
            writer.add_json(_doc_json(doc))
            shared += 1
        else:
            servers.append(_doc_json(doc))
    count = shared + len(servers)
    if not shared:  # servers' cards only (a server's moderator's edit): one commit, as before
        for doc_json in servers:
            writer.add_json(doc_json)
        servers = []
    writer.commit()
    writer.wait_merging_threads()
    if servers:
        threads = max(1, threads // 2)
        writer = index.writer(heap_size=max(heap // 2, _UPDATE_HEAP), num_threads=threads)
        for doc_json in servers:
            writer.add_json(doc_json)
        writer.commit()
        writer.wait_merging_threads()
    return count


def _ready(index: tantivy.Index) -> tantivy.Index:
    """``index`` set to answer from the searcher of its last commit until told to reload."""
    index.config_reader(reload_policy="Manual")
    index.reload()
    return index


class SearchIndex:
    """An immutable, thread-safe full-text index of cards."""

    __slots__ = (
        "_count",
        "_deleted",
        "_digest",
        "_index",
        "_lineage",
        "_pages",
        "_prepared",
        "_schema",
        "_searcher",
        "_terms",
        "_totals",
        "_totals_lock",
    )

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
        live = tantivy.Query.all_query() if deleted else None
        self._terms = q.TermCounts(self._searcher, schema, self._count, live)
        # How many cards each recent search matched, and whether it had to relax to "any word": this object's
        # searcher never changes, so a count stays true for its whole life (see :meth:`search`).
        self._totals: dict[_TotalKey, tuple[int, bool]] = {}
        self._totals_lock = threading.Lock()
        self._prepared: dict[str, _Prepared] = {}
        self._pages: dict[_PageKey, SearchPage] = {}
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

    @classmethod
    def build(
        cls, docs: Iterable[SearchDoc], *, directory: Path | None = None, digest: str | None = None
    ) -> SearchIndex:
        """Index ``docs``: in RAM when ``directory`` is None, else persisted there for :meth:`open`.

        A persisted index is written to a temporary sibling directory and moved into place when complete,
        replacing an earlier index in ``directory``. A non-empty ``directory`` that does not hold a search
        index is left alone (ValueError). ``digest`` (the library's) is recorded for :meth:`open` to check.
        When ``directory`` cannot be written (a read-only or full disk, a path under a file), the index is
        built in RAM instead, and says so in a warning.
        """
        if directory is None:
            return cls._in_ram(docs, digest)
        target = Path(directory)
        try:
            foreign = store.holds_other_files(target)
        except OSError as exc:
            return cls._in_ram_instead(target, exc, docs, digest)
        if foreign:
            raise ValueError(f"{target} is not empty and does not hold a search index")
        docs = list(docs)  # kept for a build in RAM, should writing fail half-way
        try:
            return cls._persisted(docs, target, digest)
        except (OSError, ValueError) as exc:  # tantivy reports its I/O errors as ValueError
            return cls._in_ram_instead(target, exc, docs, digest)

    @classmethod
    def _in_ram(cls, docs: Iterable[SearchDoc], digest: str | None) -> SearchIndex:
        index = tantivy.Index(schema())
        register(index)
        _fill(index, docs)
        return cls._head(_ready(index), _Lineage(None), digest)

    @classmethod
    def _in_ram_instead(
        cls, target: Path, exc: Exception, docs: Iterable[SearchDoc], digest: str | None
    ) -> SearchIndex:
        log.warning("cannot write the search index to %s (%s); keeping it in memory instead", target, exc)
        return cls._in_ram(docs, digest)

    @classmethod
    def _persisted(cls, docs: Iterable[SearchDoc], target: Path, digest: str | None) -> SearchIndex:
        """Build in a staging folder beside ``target``, record the meta, then move it into place."""
        staging = store.staging_for(target)
        moved = False
        try:
            index = tantivy.Index(schema(), path=str(staging), reuse=False)
            register(index)
            count = _fill(index, docs)
            lineage = _Lineage(target)
            store.write_meta(staging, store.meta(count, 0, digest, lineage.id))
            store.swap(staging, target)
            moved = True
        finally:
            if not moved:
                shutil.rmtree(staging, ignore_errors=True)
        index = tantivy.Index.open(str(target))
        register(index)
        return cls._head(_ready(index), lineage, digest)

    @classmethod
    def _head(cls, index: tantivy.Index, lineage: _Lineage, digest: str | None) -> SearchIndex:
        built = cls(index, schema(), lineage=lineage, digest=digest)
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
            meta = store.read_meta(path)
            if meta is None or meta.get("format") != store.INDEX_FORMAT:
                return None
            if digest is not None and meta.get("digest") != digest:
                return None
            if not store.is_index(path):
                return None
            index = tantivy.Index.open(str(path))
            register(index)
            lineage = _Lineage(path, str(meta.get("lineage") or "") or None)
            opened = cls(
                _ready(index),
                schema(),
                lineage=lineage,
                deleted=store.meta_deleted(meta),
                digest=store.meta_digest(meta),
            )
            lineage.head = opened
            if opened._count != meta.get("docs"):
                return None
            opened._probe()
            return opened
        except Exception:  # noqa: BLE001 - any failure to read the index means "rebuild it"
            return None

    def _probe(self) -> None:
        """Search every field the searches use: a schema mismatch raises here, not in a search."""
        self.search("factdeck index probe", topic="probe", collection="probe", limit=1, audiences=("probe",))
        self._searcher.search(tantivy.Query.all_query(), 1, count=False)

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
            meta = store.read_meta(child)
            if meta is not None and meta.get("digest") == digest:
                found = cls.open(child, digest=digest)
                if found is not None:
                    return found
        return None

    # -- updating ----------------------------------------------------------------------------------------

    def updated(self, remove: Iterable[str], add: Iterable[SearchDoc], *, digest: str | None = None) -> SearchIndex:
        """A new index object without the cards ``remove`` and with ``add``; this one keeps answering as before.

        Give a changed card's id in ``remove`` and its new document in ``add``. The same tantivy index is
        updated (one commit, two when both shared and servers' cards are added), so only the latest index of a
        lineage can be updated: StaleIndexError otherwise,
        and after an update that failed half-way. A persisted index records ``digest`` as the library it now
        reflects; it is marked as reflecting none while the commit is in progress.
        """
        lineage = self._lineage
        remove = list(dict.fromkeys(remove))
        docs = list(add)
        with lineage.lock:
            self._check_head()
            directory = lineage.directory
            lineage.head = None  # until this update is complete
            updated = self._committed(remove, docs, digest) if remove or docs else self._relabelled(digest)
            if directory is not None:
                store.write_meta(directory, store.meta(updated._count, updated._deleted, digest, lineage.id))
            lineage.head = updated
            return updated

    def _check_head(self) -> None:
        """StaleIndexError unless this is the latest index of its lineage, and its folder still holds it."""
        lineage = self._lineage
        if lineage.head is not self:
            raise StaleIndexError("this search index is not the latest of its lineage")
        directory = lineage.directory
        if directory is not None:
            meta = store.read_meta(directory)
            if meta is None or meta.get("lineage") != lineage.id or meta.get("digest") != self._digest:
                lineage.head = None
                raise StaleIndexError(f"{directory} no longer holds this index")

    def _relabelled(self, digest: str | None) -> SearchIndex:
        """The same documents, recorded as reflecting library ``digest``."""
        return SearchIndex(self._index, self._schema, lineage=self._lineage, deleted=self._deleted, digest=digest)

    def _committed(self, remove: list[str], docs: list[SearchDoc], digest: str | None) -> SearchIndex:
        """Delete ``remove`` and add ``docs``; a persisted index reflects no library meanwhile."""
        lineage = self._lineage
        if lineage.directory is not None:
            store.write_meta(lineage.directory, store.meta(-1, self._deleted, None, lineage.id))
        # In two commits (shared cards, then servers' cards: see _write); this object's searcher sees neither,
        # and a persisted index reflects no library until both are done.
        _write(self._index, docs, threads=1, heap=_UPDATE_HEAP, remove=remove)
        self._index.reload()
        count = self._index.searcher().num_docs
        deleted = self._deleted + self._count + len(docs) - count
        return SearchIndex(self._index, self._schema, lineage=lineage, deleted=deleted, digest=digest)

    def __len__(self) -> int:
        """Number of cards indexed."""
        return self._count

    # -- searching ---------------------------------------------------------------------------------------

    def _prepare(self, query: str) -> _Prepared:
        """``query``'s words and plans in this index (kept for the query texts searched last)."""
        text = query if isinstance(query, str) else ""
        found = self._prepared.get(text)
        if found is None:
            parsed = parse(text)
            found = _Prepared(parsed, q.plans(parsed, self._terms) if parsed.words else [])
            if len(text) <= _MAX_KEPT_QUERY:
                self._keep(self._prepared, text, found, MAX_KEPT_PLANS)
        return found

    def forget(self) -> None:
        """Forget the kept totals, plans and pages: the next search of any text runs as if it were the first."""
        with self._totals_lock:
            self._totals.clear()
            self._prepared.clear()
            self._pages.clear()

    def _run(
        self,
        prepared: _Prepared,
        *,
        topic: str | None,
        collection: str | None,
        limit: int,
        offset: int,
        count: bool,
        audiences: tuple[str, ...] | None = None,
        relax: bool | None = None,
    ) -> tuple[list[q.Plan], tantivy.SearchResult, bool]:
        """All words required first; when that finds nothing and there are several words, any word (``relax``:
        already known from an earlier count of the same search, so only that query runs)."""
        plans = prepared.plans

        def run(relaxed: bool) -> tantivy.SearchResult:
            key = (topic, collection, audiences, relaxed)
            query = prepared.queries.get(key)
            if query is None:
                query = q.search_query(
                    self._schema, plans, topic=topic, collection=collection, relaxed=relaxed, audiences=audiences
                )
                if len(prepared.queries) < 16:  # a few filters per query text; more are built each time
                    prepared.queries[key] = query
            return self._searcher.search(query, max(limit, 1), count=count, offset=offset)

        if relax is not None:
            return plans, run(relax), relax
        result = run(False)
        if not result.hits and sum(p.exact for p in plans) > 1 and (not count or q.result_count(result) == 0):
            relaxed = run(True)
            if relaxed.hits or (count and q.result_count(relaxed)):
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
        audiences: tuple[str, ...] | None = None,
        snippets: bool = True,
    ) -> SearchPage:
        """Cards matching ``query``, best first, from ``offset``, at most ``limit`` of them.

        ``topic`` keeps cards with that topic (exact, case-insensitive); ``collection`` keeps cards of
        that collection id; ``audiences`` (see :func:`bot.index.search.model.audience_terms`) keeps only the cards
        a reader may see, inside the query, so totals count only those. Never raises on user input: an empty
        query gives an empty page with a message. Without ``snippets`` every hit's snippet is "" with no highlights
        (a caller that shows only some of the hits asks :meth:`snippets` for those).
        """
        limit = max(0, min(int(limit), MAX_LIMIT))
        offset = max(0, min(int(offset), MAX_OFFSET))
        # A page once found is kept as it is (this object's searcher never changes): the same search again, by
        # anyone, or the same page turned to again, is answered without tantivy, snippets or planning.
        page_key: _PageKey | None = None
        if isinstance(query, str) and len(query) <= _MAX_KEPT_QUERY:
            page_key = (query, topic, collection, audiences, limit, offset, snippets)
            kept = self._pages.get(page_key)
            if kept is not None:
                return kept
        page = self._search(
            query,
            topic=topic,
            collection=collection,
            limit=limit,
            offset=offset,
            audiences=audiences,
            snippets=snippets,
        )
        if page_key is not None:
            self._keep(self._pages, page_key, page, MAX_KEPT_PAGES)
        return page

    def _search(
        self,
        query: str,
        *,
        topic: str | None,
        collection: str | None,
        limit: int,
        offset: int,
        audiences: tuple[str, ...] | None,
        snippets: bool,
    ) -> SearchPage:
        prepared = self._prepare(query)
        parsed = prepared.parsed
        if not parsed.words:
            message = NO_WORDS_MESSAGE if parsed.text.strip() else EMPTY_QUERY_MESSAGE
            return SearchPage((), 0, offset, limit, parsed.text, message)
        # Counting every match scores every matching card; tantivy's top-k alone skips most of them. The count is
        # kept per search (words, unfinished last word, filters), so turning a page of results, or the same
        # search again, only finds its page; the hits are the same either way (same order, ties included).
        key: _TotalKey = (parsed.words, parsed.prefix, topic, collection, audiences)
        known = self._totals.get(key)
        if known is not None and not known[0]:
            return SearchPage((), 0, offset, limit, parsed.text, None)
        _plans, result, relaxed = self._run(
            prepared,
            topic=topic,
            collection=collection,
            limit=limit,
            offset=offset,
            count=known is None,
            relax=None if known is None else known[1],
            audiences=audiences,
        )
        if known is None:
            total = q.result_count(result)
            self._remember(key, (total, relaxed))
        else:
            total = known[0]
        hits = self._hits(prepared, result.hits[:limit], snippets=snippets)
        explained = RELAXED_MESSAGE if relaxed else None
        return SearchPage(tuple(hits), total, offset, limit, parsed.text, explained)

    def _remember(self, key: _TotalKey, counted: tuple[int, bool]) -> None:
        self._keep(self._totals, key, counted, MAX_KEPT_TOTALS)

    def _keep(self, kept: dict[_K, _V], key: _K, value: _V, most: int) -> None:
        """Keep ``value`` under ``key`` in one of this index's bounded dicts, the oldest entry going at ``most``."""
        with self._totals_lock:
            if len(kept) >= most:
                del kept[next(iter(kept))]  # the oldest
            kept[key] = value

    def _hits(
        self, prepared: _Prepared, found: list[tuple[float, tantivy.DocAddress]], *, snippets: bool = True
    ) -> list[Hit]:
        if not found:
            return []
        searcher = self._searcher
        if not snippets:
            return [Hit(_stored(searcher.doc(address), "card_id"), float(score), "", ()) for score, address in found]
        highlighter = prepared.highlighter(searcher, self._schema)
        hits = []
        for score, address in found:
            doc = searcher.doc(address)
            snippet, highlights = highlighter.snippet(doc, _stored(doc, "text"))
            hits.append(Hit(_stored(doc, "card_id"), float(score), snippet, highlights))
        return hits

    def snippets(self, query: str, card_ids: Iterable[str]) -> dict[str, Snippet]:
        """The snippet and highlights that :meth:`search` gives each of ``card_ids`` (those indexed) for ``query``.

        Tantivy's snippet generator tokenises and stems a hit's whole text (about 27 µs a card): a caller that
        searches deeper than it shows (search by meaning reorders the first 30 hits and shows 5) searches without
        snippets and asks here for the ones it shows."""
        wanted = list(dict.fromkeys(card_ids))
        prepared = self._prepare(query)
        if not wanted or not prepared.parsed.words:
            return {}
        searcher, schema = self._searcher, self._schema
        highlighter = prepared.highlighter(searcher, schema)
        Q = tantivy.Query
        by_id = Q.boolean_query([(tantivy.Occur.Should, Q.term_query(schema, "card_id", c)) for c in wanted])
        out: dict[str, Snippet] = {}
        for _score, address in searcher.search(by_id, len(wanted)).hits:
            doc = searcher.doc(address)
            out[_stored(doc, "card_id")] = highlighter.snippet(doc, _stored(doc, "text"))
        return out

    def suggest(
        self, prefix: str, *, limit: int = 25, audiences: tuple[str, ...] | None = None
    ) -> list[tuple[str, str]]:
        """Card autocomplete: ``(card_id, label)`` pairs, best first; the last word may be unfinished.

        The label is the start of the card text, at most 100 characters. Typo tolerant like :meth:`search`.
        """
        limit = max(0, min(int(limit), MAX_LIMIT))
        prepared = self._prepare(prefix)
        if not prepared.parsed.words or limit == 0:
            return []
        _plans, result, _relaxed = self._run(
            prepared, topic=None, collection=None, limit=limit, offset=0, count=False, audiences=audiences
        )
        out = []
        for _score, address in result.hits[:limit]:
            doc = self._searcher.doc(address)
            out.append((_stored(doc, "card_id"), card_label(_stored(doc, "text"))))
        return out


def _stored(doc: tantivy.Document, field: str) -> str:
    """The stored text of ``field`` in ``doc`` ("" when it has none)."""
    value: object = doc.get_first(field)
    return value if isinstance(value, str) else ""
