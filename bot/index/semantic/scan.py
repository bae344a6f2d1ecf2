"""The similarity scan of a large library: a compact first stage, then exact similarities for its candidates.

Scoring a question against every card vector reads them all: 100,000 cards of 384 float32 are 154 MB, 15 to 20 ms
of memory traffic per new question on the 2-core machine, more than the whole budget of a search beyond the
question's embedding (10 ms). Numpy multiplies float16 and int8 without BLAS (tens of times slower), so the
compact stage is float32 of fewer dimensions: the library's vectors projected on their first :data:`DIMENSIONS`
principal axes (:func:`fit`, a 384 x 64 basis from the uncentred second moment of a fixed sample of the library,
so the same library always gets the same basis). That scan reads a sixth of the bytes; its best
:data:`CANDIDATES` cards, and every card it puts within :data:`MARGIN` of the similarity floor, are then scored
exactly from the float32 vectors (rounded to float16 as the cache holds them, the numbers the service has always
compared), so the similarities shown, the floor, the order and the ties are those of the exact scan for every card
the first stage keeps. (Scoring them from float16 instead would save 77 MB at 100,000 cards but cost 1.5 ms per
question: converting 1,200 rows to float32 takes ten times as long as reading them.) What is lost is measured
(benchmarks/bench_semantic.py, docs/performance.md): a card the exact scan would rank in the first ten and the
first stage drops.

Up to :data:`EXACT_ROWS` cards (or a filter keeping that few), every card is scored exactly: it is as fast.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = [
    "CANDIDATES",
    "DIMENSIONS",
    "EXACT_ROWS",
    "GATHER",
    "MARGIN",
    "MOST",
    "fit",
    "pick",
    "project",
    "rows_of",
    "scores",
]

_F32 = npt.NDArray[np.float32]
_Rows = npt.NDArray[np.intp]

#: Up to this many cards in the scan (the library, or the cards a filter keeps), every one is scored exactly.
EXACT_ROWS = 20_000
#: Dimensions of the first stage (of the model's 384): 96 with 1,000 candidates found as many of the exact scan's
#: first ten at 100,000 cards (0.985 against 0.979) and took 7.3 ms against 4.7 under load (docs/performance.md).
DIMENSIONS = 64
#: Cards the first stage keeps at least, best first, for exact scoring (from float32: 3,000 rows cost 0.5 ms).
CANDIDATES = 3000
#: The first stage's similarity is within 0.12 of the exact one for 999 cards in 1,000; a card it puts this close
#: to the floor is scored exactly too, so the total of cards above the floor is the exact scan's.
MARGIN = 0.12
#: At most this many cards are scored exactly for one question; beyond them (a question close to a large part of
#: the library) the first stage's similarity stands in, for the count and for pages past the 8,192nd card.
MOST = 8192
#: Rows sampled to fit the basis (every n-th row): enough for a 384 x 384 moment, cheap at any size.
SAMPLE = 8192
#: Rows copied at once for exact scoring (:func:`scores`): 512 rows of 384 float32 (768 kB) are still in the cache
#: when they are multiplied, where one copy of 8,192 rows wrote 12.6 MB to memory and read it back (15 % slower).
GATHER = 512

_buffers = threading.local()  # one block per thread for :func:`scores` (a fresh 768 kB block costs page faults)


def fit(vectors: _F32, dimensions: int = DIMENSIONS) -> _F32:
    """The first ``dimensions`` principal axes of ``vectors`` (uncentred), as a (model dimension x dimensions)
    basis; the same vectors give the same basis."""
    sample = vectors[:: max(1, len(vectors) // SAMPLE)]
    moment = (sample.T @ sample).astype(np.float64)
    _values, axes = np.linalg.eigh(moment)  # ascending
    basis = axes[:, ::-1][:, :dimensions]
    # an axis's sign is arbitrary: fix it so the largest component is positive (the same basis on any BLAS)
    signs = np.sign(basis[np.abs(basis).argmax(axis=0), np.arange(basis.shape[1])])
    return np.ascontiguousarray(basis * signs, dtype=np.float32)


def project(vectors: _F32, basis: _F32) -> _F32:
    """``vectors`` in the reduced space of ``basis`` (a new, contiguous matrix)."""
    return np.ascontiguousarray(vectors @ basis, dtype=np.float32)


def pick(
    reduced: _F32,
    vectors: _F32,
    rows: _Rows | None,
    query: _F32,
    basis: _F32,
    *,
    floor: float,
    first: int,
) -> tuple[_Rows, _F32]:
    """Rows (of ``rows``, or of every card) that may reach ``floor`` or rank in the first ``first``, and their
    similarities to ``query``: exact for the first stage's best :data:`CANDIDATES` (at least ``2 * first``) and
    every card it puts within :data:`MARGIN` of the floor, up to :data:`MOST`; the first stage's beyond those."""
    small = query @ basis
    if rows is None:
        rough = reduced @ small
    elif len(rows) * 4 > len(reduced):
        rough = (reduced @ small)[rows]  # a broad filter: one product, then its rows (no copy of the matrix)
    else:
        rough = reduced[rows] @ small
    keep = max(CANDIDATES, 2 * first)
    if keep < len(rough):
        chosen = np.flatnonzero(rough >= min(_cut(rough, keep), floor - MARGIN))
    else:
        chosen = np.arange(len(rough))
    if len(chosen) > MOST:
        order = chosen[np.argsort(-rough[chosen], kind="stable")]
        sure, rest = np.sort(order[:MOST]), order[MOST:]  # read in memory order, not by similarity: faster
        rest = rest[rough[rest] >= floor]  # counted, and ranked, by the first stage's similarity
    else:
        sure, rest = chosen, chosen[:0]
    exact = np.concatenate([scores(vectors, sure if rows is None else rows[sure], query), rough[rest]])
    chosen = np.concatenate([sure, rest])
    return (chosen if rows is None else rows[chosen]), exact


def scores(vectors: _F32, rows: _Rows, query: _F32) -> _F32:
    """``vectors[rows] @ query`` (the same numbers but for the last bit of float32, which a row's place in any
    product changes), copying :data:`GATHER` rows at a time into a block that stays in the cache instead of all of
    them into a new matrix."""
    out = np.empty(len(rows), dtype=np.float32)
    if not len(rows):
        return out
    block: _F32 | None = getattr(_buffers, "block", None)
    if block is None or block.shape[1] != vectors.shape[1] or block.dtype != vectors.dtype:
        block = _buffers.block = np.empty((GATHER, vectors.shape[1]), dtype=vectors.dtype)
    for start in range(0, len(rows), GATHER):
        part = rows[start : start + GATHER]
        copied = np.take(vectors, part, axis=0, out=block[: len(part)])
        np.matmul(copied, query, out=out[start : start + len(part)])
    return out


def _cut(rough: _F32, keep: int) -> float:
    """A similarity that about ``keep`` of ``rough`` reach, and never fewer: read from every 16th (a partition of
    all of them costs 1 ms at 100,000 cards, of a sixteenth 0.03 ms), checked, and partitioned in full when the
    sample misjudged."""
    sample = rough[::16]
    want = min(len(sample), keep // 16 + 8)  # a few more than a sixteenth: seldom fewer than ``keep`` in all
    cut = float(np.partition(sample, len(sample) - want)[len(sample) - want])
    if np.count_nonzero(rough >= cut) >= keep:
        return cut
    return float(np.partition(rough, len(rough) - keep)[len(rough) - keep])


def rows_of(index: dict[str, int], among: Sequence[str]) -> _Rows:
    """The rows of the ids of ``among`` that ``index`` holds, in the order of ``among``."""
    found = [index[card_id] for card_id in among if card_id in index]
    return np.asarray(found, dtype=np.intp)
