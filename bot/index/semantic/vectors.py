"""Card vectors: what is embedded for a card, the on-disk cache keyed by its digest, and the brute-force index.

*What is embedded* for a card is its text, then its topics, then its article title (:func:`embed_text`); the
cache key is a digest of exactly that string, so a card whose words did not change is never embedded again, and
an edit to a topic re-embeds that one card.

*The cache* (:class:`VectorCache`) is one ``.npz`` file per model in the cache folder: the digests and the vectors
in float16, half the size of float32 at a measured cost of well under 0.001 in cosine similarity (see
docs/performance.md). It is written atomically, holding only the cards of the library it was saved for.

*The index* (:class:`SemanticIndex`) is immutable, like the search index: the card ids and one float32 matrix
(float16 would halve the memory but numpy multiplies float16 without BLAS, tens of times slower). A small index
scores every card exactly; a large one also keeps the compact first stage of :mod:`bot.index.semantic.scan` and
scores exactly only the cards that stage finds close to the question.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol, overload, runtime_checkable

import numpy as np
import numpy.typing as npt

from bot.index.search.model import SearchDoc
from bot.index.semantic import scan
from bot.util.files import write_cache

__all__ = ["SemanticIndex", "VectorCache", "embed_text", "text_digest"]

log = logging.getLogger(__name__)

_F32 = npt.NDArray[np.float32]
_Rows = npt.NDArray[np.intp]

#: Pools whose rows an index remembers (the shared library, a topic, a collection, a server's own cards...).
POOLS = 64
#: Pools of at most this many cards are looked up each time (a microsecond a card), not remembered.
POOL_REMEMBERED = 1000


def embed_text(doc: SearchDoc) -> str:
    """The text embedded for one card: its text, topics and article title, one per line."""
    parts = [doc.text.strip()]
    if doc.topics:
        parts.append(", ".join(doc.topics))
    if doc.article:
        parts.append(doc.article.strip())
    return "\n".join(parts)


def text_digest(text: str) -> str:
    """The cache key of an embedded text (128 bits of BLAKE2b)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


class VectorCache:
    """Vectors by digest of the embedded text, loaded from and saved to one file (best effort: a cache)."""

    def __init__(self, path: Path | None, dimension: int) -> None:
        self.path = path
        self.dimension = dimension
        self._vectors: dict[str, npt.NDArray[np.float16]] = {}
        if path is not None:
            self._read(path)

    def _read(self, path: Path) -> None:
        try:
            with np.load(path, allow_pickle=False) as data:
                digests, vectors = data["digests"], data["vectors"]
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring the unreadable vector cache %s (%s); cards will be embedded again", path, exc)
            return
        if vectors.ndim != 2 or vectors.shape[1] != self.dimension or len(digests) != len(vectors):
            log.warning("ignoring the vector cache %s: it was made for another model", path)
            return
        self._vectors = {str(d): v for d, v in zip(digests.tolist(), vectors.astype(np.float16), strict=True)}

    def __len__(self) -> int:
        return len(self._vectors)

    def __contains__(self, digest: object) -> bool:
        return digest in self._vectors

    def digests(self) -> list[str]:
        """Every digest held, in the order they were added."""
        return list(self._vectors)

    def get(self, digest: str) -> _F32 | None:
        """The cached vector for ``digest``, as float32, or None."""
        found = self._vectors.get(digest)
        return None if found is None else found.astype(np.float32)

    def put(self, digests: Sequence[str], vectors: _F32) -> None:
        """Remember freshly embedded vectors (rounded to float16)."""
        for digest, vector in zip(digests, vectors.astype(np.float16), strict=True):
            self._vectors[digest] = vector

    def save(self, keep: Iterable[str]) -> bool:
        """Write the vectors of ``keep`` (the library's digests) to the cache file; False when it could not."""
        if self.path is None:
            return False
        live = [d for d in dict.fromkeys(keep) if d in self._vectors]
        matrix = np.stack([self._vectors[d] for d in live]) if live else np.zeros((0, self.dimension), dtype=np.float16)
        buffer = io.BytesIO()
        np.savez(buffer, digests=np.array(live, dtype="U32"), vectors=matrix)
        return write_cache(self.path, buffer.getvalue())


@runtime_checkable
class _Parted(Protocol):
    """A pool read as several (the shared cards, then a server's own), e.g. :class:`bot.index.snapshot.Joined`."""

    @property
    def parts(self) -> tuple[Sequence[str], ...]: ...


class RowIds(Sequence[str]):
    """The card ids of some rows of an index, read on demand (a search reads a page of them, not thousands)."""

    __slots__ = ("_ids", "_rows")

    def __init__(self, ids: tuple[str, ...], rows: _Rows) -> None:
        self._ids, self._rows = ids, rows

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if isinstance(index, slice):
            return [self._ids[row] for row in self._rows[index].tolist()]
        return self._ids[int(self._rows[index])]


class SemanticIndex:
    """An immutable set of card vectors, searched by cosine similarity (the vectors are unit length).

    A large index also keeps the compact first stage of :mod:`bot.index.semantic.scan` (:meth:`nearest`)."""

    __slots__ = ("_basis", "_digests", "_ids", "_lock", "_matrix", "_pools", "_reduced", "_rows")

    def __init__(
        self,
        ids: Sequence[str],
        matrix: _F32,
        digests: Sequence[str],
        *,
        _stage: tuple[_F32, _F32] | None = None,
    ) -> None:
        if len(ids) != len(matrix) or len(ids) != len(digests):
            raise ValueError("one vector and one digest per card id")
        self._ids = tuple(ids)
        self._matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        self._matrix.setflags(write=False)
        self._basis: _F32 | None = None
        self._reduced: _F32 | None = None
        if len(self._ids) > scan.EXACT_ROWS:
            self._basis, self._reduced = _stage or _fit(self._matrix)
            self._reduced.setflags(write=False)
        self._digests = tuple(digests)
        self._rows = {card_id: row for row, card_id in enumerate(self._ids)}
        self._pools: OrderedDict[int, tuple[Sequence[str], _Rows]] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def empty(cls, dimension: int) -> SemanticIndex:
        """An index of no cards."""
        return cls((), np.zeros((0, dimension), dtype=np.float32), ())

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, card_id: object) -> bool:
        return card_id in self._rows

    @property
    def ids(self) -> tuple[str, ...]:
        """The cards indexed, in row order."""
        return self._ids

    @property
    def nbytes(self) -> int:
        """Memory held by the vectors and the scan's compact first stage."""
        return int(self._matrix.nbytes + (self._reduced.nbytes if self._reduced is not None else 0))

    def digest_of(self, card_id: str) -> str | None:
        """The digest of what was embedded for ``card_id`` (None when the card is not indexed)."""
        row = self._rows.get(card_id)
        return None if row is None else self._digests[row]

    def vector(self, card_id: str) -> _F32 | None:
        """The vector of one card."""
        row = self._rows.get(card_id)
        return None if row is None else self._matrix[row]

    def updated(self, remove: Iterable[str], add: Mapping[str, tuple[str, _F32]]) -> SemanticIndex:
        """A new index without ``remove`` and with ``add`` (card id -> (digest, vector)); this one is unchanged.

        A large index keeps its first-stage basis while the cards added since it was fitted are under a tenth of
        the library, and projects only the added cards."""
        drop = set(remove) | set(add)
        keep = np.fromiter((row for row, card_id in enumerate(self._ids) if card_id not in drop), dtype=np.intp)
        ids = [self._ids[row] for row in keep.tolist()] + list(add)
        digests = [self._digests[row] for row in keep.tolist()] + [d for d, _ in add.values()]
        fresh = (
            np.stack([v for _, v in add.values()]).astype(np.float32)
            if add
            else np.zeros((0, self._matrix.shape[1]), dtype=np.float32)
        )
        vectors = np.concatenate([self._matrix[keep], fresh])
        stage = None
        if self._basis is not None and self._reduced is not None and len(fresh) * 10 < len(ids):
            stage = (self._basis, np.concatenate([self._reduced[keep], scan.project(fresh, self._basis)]))
        return SemanticIndex(ids, vectors, digests, _stage=stage)

    def similarities(self, query: _F32, among: Sequence[str] | None = None) -> tuple[Sequence[str], _F32]:
        """Card ids and their exact cosine similarity to ``query``: every card, or only those of ``among`` indexed.

        (The exact scan of every card, for small libraries and for comparison: :meth:`nearest` is the search's.)"""
        if among is None:
            return self._ids, self._exact(None, query)
        rows = self._pool_rows(among)
        return RowIds(self._ids, rows), self._exact(rows, query)

    def nearest(
        self, query: _F32, among: Sequence[str] | None = None, *, floor: float, first: int
    ) -> tuple[Sequence[str], _F32]:
        """Card ids and their cosine similarity to ``query``, among every card or those of ``among``: every card
        that reaches ``floor`` or may rank in the first ``first`` is there (see :mod:`bot.index.semantic.scan`);
        a small index or pool gives them all, exactly, as :meth:`similarities` does. A card outside ``among``
        never is."""
        rows = None if among is None else self._pool_rows(among)
        size = len(self._ids) if rows is None else len(rows)
        if self._basis is None or self._reduced is None or size <= scan.EXACT_ROWS:  # as fast: every card
            return (self._ids if rows is None else RowIds(self._ids, rows)), self._exact(rows, query)
        chosen, sims = scan.pick(self._reduced, self._matrix, rows, query, self._basis, floor=floor, first=first)
        return RowIds(self._ids, chosen), sims

    def _exact(self, rows: _Rows | None, query: _F32) -> _F32:
        if rows is None:
            return self._matrix @ query
        if len(rows) * 4 > len(self._ids):
            return (self._matrix @ query)[rows]  # a broad filter: one product, then its rows (no copy)
        return scan.scores(self._matrix, rows, query)

    def _pool_rows(self, among: Sequence[str]) -> _Rows:
        """The rows of the cards of ``among`` this index holds, in its order; remembered for the pools a search
        asks again (a server's pool can hold every shared card: 100,000 look-ups, 10 ms, per question)."""
        parts = among.parts if isinstance(among, _Parted) else (among,)
        found = []
        for part in parts:
            if len(part) <= POOL_REMEMBERED:  # a few cards (the hits by words the strict pass reorders)
                found.append(scan.rows_of(self._rows, part))
                continue
            with self._lock:
                cached = self._pools.get(id(part))
            if cached is None or cached[0] is not part:
                cached = (part, scan.rows_of(self._rows, part))
                with self._lock:
                    self._pools[id(part)] = cached  # holding ``part``: its id is not reused meanwhile
                    while len(self._pools) > POOLS:
                        self._pools.popitem(last=False)
            found.append(cached[1])
        return found[0] if len(found) == 1 else np.concatenate(found)


def _fit(vectors: _F32) -> tuple[_F32, _F32]:
    basis = scan.fit(vectors)
    return basis, scan.project(vectors, basis)
