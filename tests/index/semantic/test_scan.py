"""The two-stage scan of a large library (bot/index/semantic/scan.py through SemanticIndex.nearest): the right
card still comes first, the pages and totals of a search by meaning are those of the exact scan, a filter is exact,
the same library gives the same order, and an edit is found at once. The library is generated (no model): 30,000
unit vectors whose variance falls off over the dimensions, as sentence embeddings' does."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import pytest
from threadpoolctl import threadpool_limits

from bot.index.semantic import SemanticIndex, by_meaning, scan
from bot.index.snapshot import Joined

DIM = 384
CARDS = 24_000  # over scan.EXACT_ROWS: the first stage is used
FLOOR = 0.42


def library(seed: int = 7, cards: int = CARDS) -> tuple[list[str], npt.NDArray[np.float32]]:
    rng = np.random.default_rng(seed)
    spread = ((1.0 + np.arange(DIM)) ** -0.6).astype(np.float32)  # a falling spectrum
    axes = np.linalg.qr(rng.standard_normal((DIM, DIM), dtype=np.float32))[0]
    vectors = (rng.standard_normal((cards, DIM), dtype=np.float32) * spread) @ axes.T
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    # rounded as the cache rounds every card vector
    return [f"card-{i:05d}" for i in range(cards)], vectors.astype(np.float16).astype(np.float32)


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread() -> Iterator[None]:
    """As the service runs the scan (the encoder limits BLAS to one thread for the process): spinning BLAS threads
    on a busy machine stall each product."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def built() -> tuple[list[str], npt.NDArray[np.float32], SemanticIndex]:
    ids, vectors = library()
    return ids, vectors, SemanticIndex(ids, vectors, ids)


def questions(vectors: npt.NDArray[np.float32], n: int = 40, seed: int = 3) -> list[tuple[int, np.ndarray]]:
    """A card each, and a question close to it (the card, moved by noise of a third of its length)."""
    rng = np.random.default_rng(seed)
    out = []
    for row in rng.choice(len(vectors), n, replace=False).tolist():
        query = vectors[row] + rng.normal(size=DIM).astype(np.float32) * (0.33 / np.sqrt(DIM))
        out.append((row, (query / np.linalg.norm(query)).astype(np.float32)))
    return out


def page(ids: object, sims: np.ndarray, first: int = 10, floor: float = FLOOR) -> tuple[list[str], int]:
    ranked, total = by_meaning(ids, sims, floor, first=first)  # type: ignore[arg-type]
    return [card_id for card_id, _ in ranked], total


def test_the_card_a_question_is_about_comes_first(built: tuple[list[str], np.ndarray, SemanticIndex]) -> None:
    ids, vectors, index = built
    for row, query in questions(vectors):
        found, sims = index.nearest(query, floor=FLOOR, first=10)
        assert page(found, sims)[0][0] == ids[row]


def test_pages_and_totals_are_those_of_the_exact_scan(built: tuple[list[str], np.ndarray, SemanticIndex]) -> None:
    """The first 10 and 30 cards (and the count above the floor) of the two-stage scan against every vector
    multiplied out, in the same order: nine in ten of the first 10, eight in ten of the first 30 on this library
    (random directions: a card's 30 nearest are nearly equally close; on the 7,193 real facts, 999 in 1,000)."""
    _ids, vectors, index = built
    agree10 = agree30 = 0.0
    for _row, query in questions(vectors, n=20, seed=11):
        exact_ids, exact_sims = index.similarities(query)
        found, sims = index.nearest(query, floor=FLOOR, first=30)
        want, want_total = page(exact_ids, exact_sims, 30)
        got, total = page(found, sims, 30)
        assert total == want_total
        assert [c for c in got if c in want] == [c for c in want if c in got]  # no two swapped
        agree10 += len(set(got[:10]) & set(want[:10])) / 10
        agree30 += len(set(got) & set(want)) / 30
    assert agree10 / 20 >= 0.9
    assert agree30 / 20 >= 0.8


def test_a_card_outside_the_pool_is_never_a_candidate(built: tuple[list[str], np.ndarray, SemanticIndex]) -> None:
    """Another server's cards are the closest to the question; the server's pool (the shared cards, then its
    own, as the picker joins them) never gets them back, for a broad pool and a narrow one."""
    ids, vectors, index = built
    for row, query in questions(vectors, n=5):
        others = {ids[r] for r in np.argsort(-(vectors @ query))[:50].tolist()} | {ids[row]}
        shared = tuple(c for c in ids[: CARDS - 2000] if c not in others)
        own = tuple(c for c in ids[CARDS - 2000 :] if c not in others)
        for pool in (Joined(shared, own), own, shared[:100]):
            found, sims = index.nearest(query, pool, floor=FLOOR, first=10)
            assert others.isdisjoint(found)
            assert set(found) <= set(pool)
            assert len(found) == len(sims)
            got = page(found, sims)[0]
            exact_ids, exact_sims = index.similarities(query, pool)
            assert got[:3] == page(exact_ids, exact_sims)[0][:3]


def test_the_same_library_gives_the_same_order(built: tuple[list[str], np.ndarray, SemanticIndex]) -> None:
    ids, vectors, one = built
    two = SemanticIndex(list(ids), vectors.copy(), list(ids))  # the library loaded again
    for _row, query in questions(vectors, n=10):
        assert page(*one.nearest(query, floor=FLOOR, first=30), 30) == page(
            *two.nearest(query, floor=FLOOR, first=30), 30
        )


def test_an_edited_card_is_found_by_its_new_words_and_a_removed_one_never(
    built: tuple[list[str], np.ndarray, SemanticIndex],
) -> None:
    ids, vectors, index = built
    (row, query), (gone_row, gone_query) = questions(vectors, n=2, seed=5)
    edited = ids[CARDS // 2]
    after = index.updated([ids[gone_row]], {edited: ("new digest", query)})  # the edit now says what is asked
    assert page(*after.nearest(query, floor=FLOOR, first=10))[0][:1] == [edited]
    assert ids[gone_row] not in page(*after.nearest(gone_query, floor=FLOOR, first=10))[0]
    assert ids[gone_row] not in after
    assert len(after) == CARDS - 1
    assert page(*index.nearest(query, floor=FLOOR, first=10))[0][0] == ids[row]  # the old index is unchanged


def test_a_deep_page_is_scored_as_deep_as_it_asks(built: tuple[list[str], np.ndarray, SemanticIndex]) -> None:
    """Page 51 of 20 (cards 1,000 to 1,020) comes from exact similarities too, in the exact scan's order."""
    _ids, vectors, index = built
    query = vectors[:50].mean(axis=0)
    query /= np.linalg.norm(query)
    found, sims = index.nearest(query, floor=-1.0, first=scan.CANDIDATES + 20)
    exact_ids, exact_sims = index.similarities(query)
    got, total = page(found, sims, scan.CANDIDATES + 20, -1.0)
    want, want_total = page(exact_ids, exact_sims, scan.CANDIDATES + 20, -1.0)
    assert total == want_total == CARDS
    tail = set(want[-20:])
    assert len(tail & set(got[-20:])) >= 15


@pytest.mark.parametrize("count", [0, 1, scan.GATHER, scan.GATHER + 1, 3 * scan.GATHER + 7])
def test_exact_scores_in_blocks_are_the_plain_product(count: int) -> None:
    """Scoring the first stage's rows a block at a time gives the numbers of one product over all of them (to the
    last bit of float32, which a row's place in a product changes anyway) and so the same page and total, in any
    order of rows, however many."""
    ids, vectors = library(cards=4000)
    rng = np.random.default_rng(count)
    for rows in (
        rng.choice(len(vectors), count, replace=False),
        np.sort(rng.choice(len(vectors), count, replace=False)),
    ):
        query = vectors[int(rows[0])] if count else vectors[0]
        got, want = scan.scores(vectors, rows, query), vectors[rows] @ query
        assert got.shape == want.shape == (count,)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
        chosen = [ids[row] for row in rows.tolist()]
        assert page(chosen, got, 30, 0.0) == page(chosen, want, 30, 0.0)


def test_exact_scores_of_float16_vectors_are_their_product() -> None:
    """The benchmark scores the cache's float16 vectors the same way (a block of their own type)."""
    _ids, vectors = library(cards=2000)
    halves = vectors.astype(np.float16)
    rows = np.arange(0, 2000, 3)
    got = scan.scores(halves, rows, vectors[5])
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, halves[rows] @ vectors[5], rtol=0, atol=1e-6)
