"""Card vectors: what is embedded for a card, the on-disk cache keyed by its digest, and the brute-force index.

*What is embedded* for a card is its text, then its topics, then its article title (:func:`embed_text`); the
cache key is a digest of exactly that string, so a card whose words did not change is never embedded again, and
an edit to a topic re-embeds that one card.

*The cache* (:class:`VectorCache`) is one ``.npz`` file per model in the cache folder: the digests and the vectors
in float16, half the size of float32 at a measured cost of well under 0.001 in cosine similarity (see
docs/performance.md). It is written atomically, holding only the cards of the library it was saved for.

*The index* (:class:`SemanticIndex`) is immutable, like the search index: the card ids and one float32 matrix
(float16 would halve the memory but numpy multiplies float16 without BLAS, tens of times slower). A query is one
matrix-vector product over the cards the filters allow; 100,000 cards cost a few milliseconds.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bot.index.search.model import SearchDoc
from bot.util.files import write_cache

__all__ = ["SemanticIndex", "VectorCache", "embed_text", "text_digest"]

log = logging.getLogger(__name__)

_F32 = npt.NDArray[np.float32]


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


class SemanticIndex:
    """An immutable set of card vectors, searched by cosine similarity (the vectors are unit length)."""

    __slots__ = ("_digests", "_ids", "_matrix", "_rows")

    def __init__(self, ids: Sequence[str], matrix: _F32, digests: Sequence[str]) -> None:
        if len(ids) != len(matrix) or len(ids) != len(digests):
            raise ValueError("one vector and one digest per card id")
        self._ids = tuple(ids)
        self._matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        self._matrix.setflags(write=False)
        self._digests = tuple(digests)
        self._rows = {card_id: row for row, card_id in enumerate(self._ids)}

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
        """Memory held by the vectors."""
        return int(self._matrix.nbytes)

    def digest_of(self, card_id: str) -> str | None:
        """The digest of what was embedded for ``card_id`` (None when the card is not indexed)."""
        row = self._rows.get(card_id)
        return None if row is None else self._digests[row]

    def vector(self, card_id: str) -> _F32 | None:
        """The vector of one card."""
        row = self._rows.get(card_id)
        return None if row is None else self._matrix[row]

    def updated(self, remove: Iterable[str], add: Mapping[str, tuple[str, _F32]]) -> SemanticIndex:
        """A new index without ``remove`` and with ``add`` (card id -> (digest, vector)); this one is unchanged."""
        drop = set(remove) | set(add)
        keep = [row for row, card_id in enumerate(self._ids) if card_id not in drop]
        ids = [self._ids[row] for row in keep] + list(add)
        digests = [self._digests[row] for row in keep] + [d for d, _ in add.values()]
        rows = [self._matrix[keep]]
        if add:
            rows.append(np.stack([v for _, v in add.values()]).astype(np.float32))
        return SemanticIndex(ids, np.concatenate(rows), digests)

    def similarities(self, query: _F32, among: Sequence[str] | None = None) -> tuple[Sequence[str], _F32]:
        """Card ids and their cosine similarity to ``query``: every card, or only those of ``among`` indexed."""
        if among is None:
            return self._ids, self._matrix @ query
        ids = [card_id for card_id in among if card_id in self._rows]
        rows = np.fromiter((self._rows[card_id] for card_id in ids), dtype=np.intp, count=len(ids))
        if len(rows) * 4 > len(self._ids):
            # a broad filter: one product over every card, then its rows; gathering the rows first copies a
            # matrix per query and cost twice the product (100,000 cards, half of them in the topic)
            return ids, (self._matrix @ query)[rows]
        return ids, self._matrix[rows] @ query
