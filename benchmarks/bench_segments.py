"""Where servers' own cards sit in the search index, and what a server's search costs (issue 15, item 5).

Three search indexes in one process, every query asked of all three in turn (so a busy machine slows them alike):

* **today**: SHARED shared cards only (today's library), searched as a server without a deck sees it;
* **mixed, one commit**: the same shared cards plus SERVERS servers x PER_SERVER cards of their own, written as
  main wrote them before (every card in one commit, the writer's threads mixing both kinds in each segment);
* **mixed, apart**: the same cards written as ``SearchIndex.build`` writes them now (shared cards, then servers'
  cards, in segments apart: ``_write`` in ``bot/index/search/index.py``).

A mixed query is asked as a random one of the servers (its own cards and the shared ones: the audience filter of
two terms). Two levels are timed: **tantivy alone** (the prepared query, counted, top 5: what the layout changes)
and **the whole search** (``SearchIndex.search``, limit 5, as a first search: the index forgets its kept plans,
totals and pages first, as ``bench_decks`` does). Queries: ``bench_search``'s five kinds, drawn from the shared
cards.

Run: .venv/bin/python -m benchmarks.bench_segments [--shared N] [--servers N] [--per-server N] [--rounds N]
(default 20,000 shared cards plus 200 servers x 100 cards, 1/5 of the issue's size; about a minute).
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import statistics
import time
from collections.abc import Callable, Sequence

import tantivy

from benchmarks.bench_search_index import query_sets, synthetic_docs
from bot.cards.library import qualify
from bot.index.search import SearchDoc, SearchIndex, audience_terms
from bot.index.search import query as q
from bot.index.search.analysis import parse, register, schema
from bot.index.search.index import _WRITER_HEAP_PER_THREAD, _doc_json, _writer_threads


def docs(shared: int, servers: int, per_server: int) -> tuple[list[SearchDoc], list[SearchDoc], list[int]]:
    """The shared cards, the servers' own cards (as ``bench_decks`` writes them) and the servers' ids."""
    guilds = [10**17 + n for n in range(servers)]
    own = [
        dataclasses.replace(
            d,
            card_id=qualify(f"course-{i:05d}", guild),
            collection_id=qualify("course", guild),
            audience=str(guild),
        )
        for n, guild in enumerate(guilds)
        for i, d in enumerate(synthetic_docs(per_server, seed=1000 + n, words_seed=7))
    ]
    return synthetic_docs(shared, seed=7, words_seed=7), own, guilds


def one_commit(cards: Sequence[SearchDoc], threads: int | None = None) -> SearchIndex:
    """The index as main built it: every card in one commit, by the writer's threads (one thread: in one segment,
    in the order given)."""
    index = tantivy.Index(schema())
    register(index)
    threads = threads or _writer_threads()
    writer = index.writer(heap_size=_WRITER_HEAP_PER_THREAD * threads, num_threads=threads)
    for doc in cards:
        writer.add_json(_doc_json(doc))
    writer.commit()
    writer.wait_merging_threads()
    index.config_reader(reload_policy="Manual")
    index.reload()
    return SearchIndex(index, schema())


def _stats(samples: list[float]) -> tuple[float, float, float]:
    ms = sorted(samples)
    return statistics.median(ms), ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))], statistics.fmean(ms)


def _interleaved(calls: Sequence[Sequence[Callable[[], object]]], rounds: int) -> list[list[float]]:
    """``calls[i][k]``: the k-th query of index i; every query asked of each index in turn; ms per call."""
    clock = time.perf_counter_ns
    samples: list[list[float]] = [[] for _ in calls]
    for k in range(min(20, len(calls[0]))):  # warm-up
        for per_index in calls:
            per_index[k]()
    for _ in range(rounds):
        for k in range(len(calls[0])):
            for i, per_index in enumerate(calls):
                t0 = clock()
                per_index[k]()
                samples[i].append((clock() - t0) / 1e6)
    return samples


def main(args: argparse.Namespace) -> None:
    shared, own, guilds = docs(args.shared, args.servers, args.per_server)
    started = time.perf_counter()
    indexes = {"today": SearchIndex.build(shared)}
    built = {"today": time.perf_counter() - started}
    for name, make in (("mixed, one commit", one_commit), ("mixed, apart", SearchIndex.build)):
        started = time.perf_counter()
        indexes[name] = make(shared + own)
        built[name] = time.perf_counter() - started
    sets = query_sets(shared)
    texts = [text for kind in sets.values() for text in kind]
    rng = random.Random(5)
    viewers = [rng.choice(guilds) for _ in texts]
    # What the reader searches with: today's library has no server cards, so a server sees what a DM sees.
    audiences = {name: [audience_terms(None if name == "today" else v) for v in viewers] for name in indexes}

    def tantivy_calls(name: str) -> list[Callable[[], object]]:
        index = indexes[name]
        searcher, terms, sch = index._searcher, index._terms, index._schema
        out: list[Callable[[], object]] = []
        for text, aud in zip(texts, audiences[name], strict=True):
            plans = q.plans(parse(text), terms)
            if not plans:
                continue
            query = q.search_query(sch, plans, topic=None, collection=None, relaxed=False, audiences=aud)
            out.append(lambda query=query: searcher.search(query, 5, count=True))
        return out

    def search_calls(name: str) -> list[Callable[[], object]]:
        index = indexes[name]

        def call(text: str, aud: tuple[str, ...]) -> object:
            index.forget()
            return index.search(text, limit=5, audiences=aud)

        return [lambda t=t, a=a: call(t, a) for t, a in zip(texts, audiences[name], strict=True)]

    names = list(indexes)
    tantivy_samples = _interleaved([tantivy_calls(n) for n in names], args.rounds)
    search_samples = _interleaved([search_calls(n) for n in names], args.rounds)
    print(
        f"shared cards {args.shared:,}; servers {args.servers:,} x {args.per_server:,} cards; {len(texts):,} queries "
        f"x {args.rounds} rounds, each asked of the three indexes in turn\n"
    )
    print(f"{'':34}" + "".join(f"{n:>22}" for n in names))
    print(f"{'tantivy segments':34}" + "".join(f"{indexes[n]._searcher.num_segments:>22}" for n in names))
    print(f"{'index built (s)':34}" + "".join(f"{built[n]:>22.2f}" for n in names))
    for label, samples in (("tantivy alone", tantivy_samples), ("whole search", search_samples)):
        stats = [_stats(s) for s in samples]
        shown = [f"{p50:.3f} / {p99:.2f} / {mean:.3f}" for p50, p99, mean in stats]
        print(f"{label + ', p50 / p99 / mean (ms)':34}" + "".join(f"{s:>22}" for s in shown))
        ratios = [f"{s[0] / stats[0][0]:.2f}x / {s[1] / stats[0][1]:.2f}x" for s in stats]
        print(f"{'  x today (p50 / p99)':34}" + "".join(f"{r:>22}" for r in ratios))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=int, default=20_000, help="shared cards (default 20,000)")
    parser.add_argument("--servers", type=int, default=200, help="servers with cards of their own (default 200)")
    parser.add_argument("--per-server", type=int, default=100, help="cards of each server (default 100)")
    parser.add_argument("--rounds", type=int, default=3, help="times each query is asked (default 3)")
    main(parser.parse_args())
