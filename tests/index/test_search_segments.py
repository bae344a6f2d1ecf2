"""Shared cards and servers' own cards in segments apart: a server's search filters cheaply, and every reader sees
exactly what a plain index (all cards mixed in one segment, in library order) shows them."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from pathlib import Path

import pytest
import tantivy

from benchmarks.bench_search_index import query_sets, synthetic_docs
from benchmarks.bench_segments import one_commit
from bot.cards.library import audience_of_key, qualify
from bot.index.search import SearchDoc, SearchIndex, SearchPage, audience_terms

SERVERS = (1001, 1002)
#: What a direct message, a server without a deck and each server with one search with.
AUDIENCES: tuple[tuple[str, ...] | None, ...] = (None, audience_terms(None), *(audience_terms(s) for s in SERVERS))


def server_docs(server: int, n: int, seed: int) -> list[SearchDoc]:
    """Server ``server``'s own cards: written from the shared cards' vocabulary, keyed as the library keys them."""
    return [
        dataclasses.replace(
            d,
            card_id=qualify(d.card_id, server),
            collection_id=qualify("course", server),
            collection_title="Course notes",
            audience=str(server),
        )
        for d in synthetic_docs(n, seed=seed, words_seed=7)
    ]


def library_order(shared: list[SearchDoc], *servers: list[SearchDoc]) -> list[SearchDoc]:
    """Shared and servers' cards interleaved, as a library's files may come."""
    out: list[SearchDoc] = []
    own = [d for ds in itertools.zip_longest(*servers) for d in ds if d is not None]
    for i, doc in enumerate(shared):
        out.append(doc)
        if i % 4 == 3 and own:
            out.append(own.pop())
    return out + own


@pytest.fixture(scope="module")
def docs() -> list[SearchDoc]:
    shared = synthetic_docs(480, seed=7)
    return library_order(shared, server_docs(SERVERS[0], 60, 21), server_docs(SERVERS[1], 40, 22))


def plain(docs: Sequence[SearchDoc]) -> SearchIndex:
    """The reference: every card in one segment, in library order (one writer thread, one commit)."""
    return one_commit(docs, threads=1)


def segment_kinds(search: SearchIndex) -> list[set[str]]:
    """For each segment of ``search``'s searcher: whose cards it holds ("shared", "servers")."""
    searcher = search._searcher
    kinds: dict[int, set[str]] = {}
    for _score, address in searcher.search(tantivy.Query.all_query(), searcher.num_docs + 1).hits:
        card_id = searcher.doc(address).get_first("card_id")
        assert isinstance(card_id, str)
        kinds.setdefault(address.segment_ord, set()).add("shared" if audience_of_key(card_id) is None else "servers")
    return list(kinds.values())


def changes(docs: Sequence[SearchDoc]) -> tuple[list[str], list[SearchDoc]]:
    """A moderator's edits in a reload: shared and server cards removed, changed and added."""
    shared = [d for d in docs if d.audience == "shared"]
    own = [d for d in docs if d.audience != "shared"]
    removed = [shared[3].card_id, own[5].card_id]
    changed = [
        dataclasses.replace(shared[10], text=shared[10].text + " Revised after review."),
        dataclasses.replace(own[7], text="Quasar lecture notes: the alliance predicts outcome."),
    ]
    added = [
        dataclasses.replace(own[0], card_id=qualify("new-1", SERVERS[1]), audience=str(SERVERS[1])),
        dataclasses.replace(shared[0], card_id="new-shared", text="Quasar alliance in a new shared card."),
    ]
    return removed + [d.card_id for d in changed], changed + added


def test_no_segment_holds_both_shared_and_servers_cards(docs: list[SearchDoc], tmp_path: Path) -> None:
    for built in (SearchIndex.build(docs), SearchIndex.build(docs, directory=tmp_path / "index")):
        kinds = segment_kinds(built)
        assert {"shared"} in kinds, kinds
        assert {"servers"} in kinds, kinds
        assert all(len(k) == 1 for k in kinds), kinds
        # A moderator's edits and a reload's changes (shared and servers' cards in one update) keep them apart.
        remove, add = changes(docs)
        updated = built.updated(remove, add)
        assert all(len(k) == 1 for k in segment_kinds(updated)), segment_kinds(updated)
        assert len(updated) == len(built) - 2 + 2
        # A server's moderator editing one card (servers' cards only: one commit).
        own = next(d for d in add if d.audience != "shared")
        edited = dataclasses.replace(own, text="Edited by the course's moderator.")
        again = updated.updated([edited.card_id], [edited])
        assert all(len(k) == 1 for k in segment_kinds(again)), segment_kinds(again)
        found = again.search("edited moderator", audiences=audience_terms(int(own.audience)))
        assert [h.card_id for h in found.hits] == [edited.card_id]


def audience_of(card_id: str) -> str:
    server = audience_of_key(card_id)
    return "shared" if server is None else str(server)


def queries(docs: Sequence[SearchDoc]) -> list[tuple[str, dict[str, str]]]:
    shared = [d for d in docs if d.audience == "shared"]
    texts = [q for qs in query_sets(shared, per_set=12).values() for q in qs]
    texts += ["quasar alliance", "quasar", "revised review", "course notes", "zzqx alliance"]
    found = [(q, {}) for q in texts]
    found += [(q, {"topic": shared[0].topics[0]}) for q in texts[:12]]
    found += [(q, {"collection": c}) for q in texts[12:24] for c in ("collection-001", qualify("course", SERVERS[0]))]
    return found


def groups(page: SearchPage) -> list[tuple[float, frozenset[str]]]:
    """The hits as groups of equal scores, best first: tantivy orders equal scores by where cards landed in its
    segments, which varies from build to build (see tests/index/test_incremental.py)."""
    return [
        (score, frozenset(h.card_id for h in hits)) for score, hits in itertools.groupby(page.hits, lambda h: h.score)
    ]


def assert_same(got: SearchIndex, want: SearchIndex, docs: Sequence[SearchDoc]) -> None:
    compared = 0
    for (query, filters), audiences in itertools.product(queries(docs), AUDIENCES):
        a = got.search(query, limit=100, audiences=audiences, **filters)
        b = want.search(query, limit=100, audiences=audiences, **filters)
        assert (a.total, a.message, a.query, len(a.hits)) == (b.total, b.message, b.query, len(b.hits)), query
        ga, gb = groups(a), groups(b)
        # A full page may cut its last group of equal scores at different cards.
        cut = 1 if a.total > len(a.hits) else 0
        assert ga[: len(ga) - cut] == gb[: len(gb) - cut], (query, filters, audiences)
        assert [s for s, _ in ga] == [s for s, _ in gb]
        snippets = {h.card_id: (h.snippet, h.highlights) for h in b.hits}
        assert all(snippets.get(h.card_id, (h.snippet, h.highlights)) == (h.snippet, h.highlights) for h in a.hits)
        assert audiences is None or all(audience_of(h.card_id) in audiences for h in a.hits)
        # Pages turned one by one give the first page's cards in the same order, and the same total.
        paged = [got.search(query, limit=7, offset=o, audiences=audiences, **filters) for o in range(0, 21, 7)]
        assert all(p.total == a.total for p in paged)
        assert [h.card_id for p in paged for h in p.hits] == [h.card_id for h in a.hits[:21]]
        compared += bool(a.total)
    assert compared > 200


def test_a_reader_sees_what_a_plain_index_shows(docs: list[SearchDoc]) -> None:
    built, reference = SearchIndex.build(docs), plain(docs)
    assert_same(built, reference, docs)
    for audiences in AUDIENCES:
        for prefix in ("alli", "quas", "outc", "the"):
            a = built.suggest(prefix, audiences=audiences)
            b = reference.suggest(prefix, audiences=audiences)
            assert len(a) == len(b)
            assert len(a) == 25 or sorted(a) == sorted(b)


def test_a_reader_sees_what_a_plain_index_shows_after_an_update(docs: list[SearchDoc]) -> None:
    remove, add = changes(docs)
    built, reference = SearchIndex.build(docs), plain(docs)
    assert_same(built.updated(remove, add), reference.updated(remove, add), docs)
