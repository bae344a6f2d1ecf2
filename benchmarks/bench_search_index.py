"""Benchmark of :mod:`bot.index.search`: index build time, search and suggest latency, and a naive baseline.

The project's benchmark imports :func:`synthetic_docs` and :func:`measure`; run this file to print a table
at 10k and 100k cards::

    .venv/bin/python benchmarks/bench_search_index.py            # 10k and 100k
    .venv/bin/python benchmarks/bench_search_index.py 20000      # other sizes

Cards are generated with a fixed seed: sentences of academic-sounding English drawn with Zipf frequencies from
a vocabulary of a few hundred real words and a few thousand made-up but English-shaped ones (with the usual
suffixes, so stemming has work to do), with citations (some with accented names) and topic lists.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml

from bot.index.search import SearchDoc, SearchIndex


def _words(text: str) -> list[str]:
    return text.split()


STOPWORDS = _words("""the of and to in a is that for as with by be are on this was which or from an it at have
their has been not can more between these also they its were such than other may both but into how when
between""")

CORE = _words("""therapeutic alliance therapy therapist client patient relationship treatment outcome research
study studies evidence effect effects model models process change behaviour behavior mental health care
clinical psychology psychotherapy counselling counseling session sessions adolescent adolescents child
children adult adults family couple couples group groups individual individuals social support quality
measure measures measurement assessment analysis analyses data results findings theory theories approach
approaches intervention interventions practice practitioners professional professionals service services
learning memory attention cognition cognitive emotional emotion emotions motivation engagement engaging
empathy regard congruence collaboration agreement goals tasks bond bonds trust communication feedback
development developmental identity personality anxiety depression stress trauma recovery resilience
wellbeing satisfaction perception perceptions experience experiences participants sample samples survey
interview interviews qualitative quantitative longitudinal experimental randomized controlled trial trials
significant significantly associated association predictor predictors predict predicted prediction variance
correlation correlations factor factors scale scales validity reliability construct constructs framework
concept concepts dimension dimensions context contexts culture cultural community communities school
schools teacher teachers student students education educational university knowledge skills training
competence performance organisation organization management leadership policy policies public population
risk risks prevention protective early initial later phase phases stage stages level levels higher lower
strong strongly weak positive negative direct indirect mutual shared active passive dynamic static
important importance essential effective effectiveness efficacy improved improvement improving increased
increasing decreased reduction reduce reduced rupture repair resistance transference psychoanalytic
humanistic behavioural systemic integrative brief long term short outcomes drug substance abuse addiction
alcohol medication medical nursing nurse nurses physician physicians hospital primary provider providers
compliance adherence negotiation partnership conflict conflicts distress marital partners gender power
loyalty splits symptoms focus foundation agent agents techniques technique curative clinician clinicians
youth caregiver caregivers parent parents peer peers referral agencies voluntary voluntarily involvement
""")

NAMES = _words("""Horvath Symonds Luborsky Bordin Rogers Martin Garske Davis Safran Muran Orlinsky Rønnestad
Willutzki Greenson Freud Clarkson Beck Raue Goldfried Johnson Talitman Quinn Simpson Barber Connors Bell
Atkinson Gomes-Schwartz Howard Bedi Bourgeois Sabourin Wright Brown Jacobson Whisman Hirsch Epstein Müller
Gödel Søndergaard Ærø Núñez François Łukasz Dvořák Šimůnek Böhm Þórsson""")

ONSETS = _words("b c d f g h j k l m n p r s t v w bl br cl cr dr fl fr gl gr pl pr sc sk sl sp st tr th sh ch ph")
NUCLEI = _words("a e i o u ai ea ee ie oa ou au io")
CODAS = ["", "", "n", "r", "l", "s", "t", "m", "nd", "st", "rt", "ct", "nt", "ld", "ng"]
SUFFIXES = ["", "", "", "ic", "al", "ity", "ation", "ment", "ness", "ive", "ism", "ist", "ing", "ed", "s", "ology"]


def _pseudo_words(rng: random.Random, n: int) -> list[str]:
    seen = set(CORE) | set(STOPWORDS)
    out: list[str] = []
    while len(out) < n:
        word = "".join(
            rng.choice(ONSETS) + rng.choice(NUCLEI) + rng.choice(CODAS) for _ in range(rng.choice((1, 2, 2, 3)))
        )
        word += rng.choice(SUFFIXES)
        if 3 <= len(word) <= 16 and word not in seen:
            seen.add(word)
            out.append(word)
    return out


def vocabulary(seed: int = 7, size: int = 4000) -> list[str]:
    """The word list, most frequent first: stopwords, then the core words and made-up ones interleaved."""
    rng = random.Random(seed)
    core = CORE[:]
    rng.shuffle(core)
    pseudo = _pseudo_words(rng, size - len(STOPWORDS) - len(core))
    words = STOPWORDS[:]
    # Real words are spread over the top ranks; made-up ones fill the long tail.
    pi = 0
    for i, word in enumerate(core):
        words.append(word)
        if i % 2:
            words.append(pseudo[pi])
            pi += 1
    words.extend(pseudo[pi:])
    return words


def _cum_weights(n: int, s: float = 1.05) -> list[float]:
    total, out = 0.0, []
    for rank in range(1, n + 1):
        total += 1.0 / rank**s
        out.append(total)
    return out


def synthetic_docs(n: int, seed: int = 7, *, words_seed: int | None = None) -> list[SearchDoc]:
    """``n`` synthetic cards of 400-700 characters, with topics, articles and collections (deterministic): the
    words of ``vocabulary(words_seed)`` (default: ``seed``), drawn with ``seed``."""
    rng = random.Random(seed)
    words = vocabulary(seed if words_seed is None else words_seed)
    cw = _cum_weights(len(words))
    content = [w for w in words if w not in STOPWORDS]
    topic_pool = sorted({f"{rng.choice(content[:300])} {rng.choice(content[:600])}" for _ in range(400)})
    topic_cw = _cum_weights(len(topic_pool), 0.9)
    collections = []
    for i in range(max(1, min(200, n // 50))):
        title = " ".join(w.capitalize() for w in rng.sample(content[:400], rng.randint(2, 4)))
        collections.append((f"collection-{i:03d}", title))
    choices = rng.choices
    docs = []
    for i in range(n):
        target = rng.randint(400, 700)
        parts: list[str] = []
        length = 0
        while length < target:
            sentence = choices(words, cum_weights=cw, k=rng.randint(10, 24))
            sentence[0] = sentence[0].capitalize()
            if rng.random() < 0.3:
                sentence.insert(rng.randrange(2, len(sentence)), ",")
            if rng.random() < 0.25:
                sentence.append(f"({rng.choice(NAMES)} & {rng.choice(NAMES)}, {rng.randint(1950, 2024)})")
            text = " ".join(sentence).replace(" ,", ",") + "."
            parts.append(text)
            length += len(text) + 1
        body = " ".join(parts)
        if len(body) > 700:
            body = body[:700].rsplit(" ", 1)[0] + "."
        topics = tuple(dict.fromkeys(choices(topic_pool, cum_weights=topic_cw, k=rng.randint(1, 3))))
        article = None
        if rng.random() < 0.8:
            article = " ".join(choices(words[20:], cum_weights=cw[: len(words) - 20], k=rng.randint(3, 7)))
            article = article.capitalize()
        cid, title = collections[i % len(collections)]
        docs.append(SearchDoc(f"card-{i:06d}", body, topics, article, cid, title))
    return docs


def write_docs_library(folder: Path, cards: int, *, seed: int = 7, collection: str | None = None) -> None:
    """Write a library of ``cards`` synthetic cards as YAML card files, one per collection (or all in one file of
    ``collection``, its cards ``<collection>-NNNNN``).

    The cards are :func:`synthetic_docs`' (words drawn from a 4,000-word Zipf vocabulary, with citations), the
    library the query kinds of :func:`query_sets` are drawn for: a "rare" word is in a few cards, a "common" one
    in many, a typo or a prefix is of a word the cards use."""
    by_collection: dict[str, list[SearchDoc]] = {}
    # one language: every library's cards use the same words
    for n, doc in enumerate(synthetic_docs(cards, seed=seed, words_seed=7)):
        if collection is not None:
            doc = dataclasses.replace(doc, card_id=f"{collection}-{n:05d}", collection_id=collection)
        by_collection.setdefault(doc.collection_id, []).append(doc)
    folder.mkdir(parents=True, exist_ok=True)
    for collection, docs in by_collection.items():
        data = {
            "collection": {"id": collection, "title": docs[0].collection_title, "curator": "Benchmark"},
            "cards": [
                {
                    "id": doc.card_id,
                    "text": doc.text,
                    "topics": list(doc.topics),
                    "source": {"article": doc.article or f"Article {doc.card_id}", "type": "Offline Book/Journal"},
                }
                for doc in docs
            ],
        }
        text = yaml.dump(data, Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=True, width=100)
        (folder / f"{collection}.yml").write_text(text, encoding="utf-8")


# ---------------------------------------------------------------------------------------------------------
# Queries


def _typo(rng: random.Random, word: str) -> str:
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(3)
    if kind == 0:  # transposition
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:  # deletion
        return word[:i] + word[i + 1 :]
    return word[:i] + rng.choice("aeioulnrst") + word[i + 1 :]  # substitution


def query_sets(docs: Sequence[SearchDoc], seed: int = 11, per_set: int = 200) -> dict[str, list[str]]:
    """Queries by kind: one common word, one rare word, two/three words, a prefix, a typo."""
    rng = random.Random(seed)
    words = vocabulary()
    content = [w for w in words if w not in STOPWORDS]
    common = STOPWORDS[:10] + content[:40]
    rare = content[800:3000]
    mid = [w for w in content[5:1500] if len(w) >= 5]
    sets: dict[str, list[str]] = {
        "one word, common": [rng.choice(common) for _ in range(per_set)],
        "one word, rare": [rng.choice(rare) for _ in range(per_set)],
        "prefix": [(w := rng.choice(mid))[: rng.randint(3, min(6, len(w)))] for _ in range(per_set)],
        "typo": [_typo(rng, rng.choice(mid)) for _ in range(per_set)],
    }
    multi = []
    for _ in range(per_set):
        if rng.random() < 0.7:  # words that occur together in some card
            doc_words = [w for w in rng.choice(docs).text.lower().split() if w.isalpha() and len(w) > 3]
            multi.append(" ".join(rng.sample(doc_words, min(len(doc_words), rng.randint(2, 3)))))
        else:
            multi.append(" ".join(rng.sample(content[:1500], rng.randint(2, 3))))
    sets["two/three words"] = multi
    return sets


def naive_search(docs: Sequence[SearchDoc], query: str, limit: int = 10) -> tuple[list[str], int]:
    """The baseline: lower-case every card and keep those containing every query word as a substring."""
    words = query.lower().split()
    found = [d.card_id for d in docs if all(w in d.text.lower() for w in words)]
    return found[:limit], len(found)


# ---------------------------------------------------------------------------------------------------------
# Measurement


def _percentiles(samples_ns: list[int]) -> tuple[float, float]:
    ms = sorted(s / 1e6 for s in samples_ns)
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    return statistics.median(ms), p99


def _time_calls(fn: Callable[[str], object], queries: Sequence[str], rounds: int = 1) -> list[int]:
    for q in queries[:20]:  # warm-up
        fn(q)
    samples = []
    clock = time.perf_counter_ns
    for _ in range(rounds):
        for q in queries:
            t0 = clock()
            fn(q)
            samples.append(clock() - t0)
    return samples


def _busy(_query: str) -> int:
    """A fixed ~0.5 ms of pure Python: its p99 shows how much scheduling noise the machine adds."""
    total = 0
    for i in range(12_000):
        total += i
    return total


def measure(docs: Sequence[SearchDoc], *, directory: Path | None = None, naive_queries: int = 30) -> dict:
    """Build an index of ``docs`` and time searches and suggestions; figures in seconds and milliseconds.

    Keys: ``docs``, ``build_s``, ``search`` (kind -> {"p50_ms", "p99_ms"}), ``search_all`` (all kinds
    together), ``suggest``, ``naive`` and ``speedup_p50`` / ``speedup_p99`` (naive over indexed search, on
    the same queries, in the same run), and ``noise_floor`` (p50/p99 of a fixed ~0.5 ms pure-Python loop
    timed in the same way: on a shared machine its p99 shows the preemption spikes every p99 here includes).
    """
    t0 = time.perf_counter()
    index = SearchIndex.build(docs, directory=directory)
    build_s = time.perf_counter() - t0
    sets = query_sets(docs)
    result: dict = {"docs": len(docs), "build_s": build_s, "search": {}}
    everything: list[int] = []
    for kind, queries in sets.items():
        samples = _time_calls(index.search, queries)
        everything.extend(samples)
        p50, p99 = _percentiles(samples)
        result["search"][kind] = {"p50_ms": p50, "p99_ms": p99}
    p50, p99 = _percentiles(everything)
    result["search_all"] = {"p50_ms": p50, "p99_ms": p99}
    rng = random.Random(5)
    pairs = zip(sets["two/three words"], sets["prefix"], strict=True)
    suggest_queries = sets["prefix"] + [f"{m.rsplit(' ', 1)[0]} {p}" for m, p in pairs]
    rng.shuffle(suggest_queries)
    p50, p99 = _percentiles(_time_calls(index.suggest, suggest_queries))
    result["suggest"] = {"p50_ms": p50, "p99_ms": p99}
    # The baseline and the index on the same queries (a sample of every kind: the scan is slow).
    sample = [q for queries in sets.values() for q in queries[: max(1, naive_queries // len(sets))]]
    naive = _time_calls(lambda q: naive_search(docs, q), sample)
    indexed = _time_calls(index.search, sample, rounds=5)
    n50, n99 = _percentiles(naive)
    i50, i99 = _percentiles(indexed)
    result["naive"] = {"p50_ms": n50, "p99_ms": n99}
    result["indexed_same_queries"] = {"p50_ms": i50, "p99_ms": i99}
    result["speedup_p50"] = n50 / i50 if i50 else float("inf")
    result["speedup_p99"] = n99 / i99 if i99 else float("inf")
    p50, p99 = _percentiles(_time_calls(_busy, [""] * 1000))
    result["noise_floor"] = {"p50_ms": p50, "p99_ms": p99}
    return result


def format_table(results: Sequence[dict]) -> str:
    """The results of :func:`measure` for several sizes, side by side."""
    rows: list[tuple[str, ...]] = [("", *(f"{r['docs']:,} cards" for r in results))]
    rows.append(("index build", *(f"{r['build_s']:.2f} s" for r in results)))

    def pair(d: dict) -> str:
        return f"{d['p50_ms']:.2f} / {d['p99_ms']:.2f} ms"

    for kind in results[0]["search"]:
        rows.append((f"search {kind} p50/p99", *(pair(r["search"][kind]) for r in results)))
    rows.append(("search, all kinds p50/p99", *(pair(r["search_all"]) for r in results)))
    rows.append(("suggest p50/p99", *(pair(r["suggest"]) for r in results)))
    rows.append(("naive scan p50/p99", *(pair(r["naive"]) for r in results)))
    rows.append(("index, same queries p50/p99", *(pair(r["indexed_same_queries"]) for r in results)))
    rows.append(("noise floor (0.5 ms loop) p50/p99", *(pair(r["noise_floor"]) for r in results)))
    rows.append(("speed-up p50 / p99", *(f"{r['speedup_p50']:.0f}x / {r['speedup_p99']:.0f}x" for r in results)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)


def main(sizes: Sequence[int] = (10_000, 100_000)) -> None:
    """Generate, measure and print a table for each size."""
    results = []
    for n in sizes:
        t0 = time.perf_counter()
        docs = synthetic_docs(n)
        print(f"generated {n:,} cards in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        results.append(measure(docs))
        del docs
    print(format_table(results))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", nargs="*", type=int, default=[10_000, 100_000], help="library sizes in cards")
    main(parser.parse_args().sizes)
