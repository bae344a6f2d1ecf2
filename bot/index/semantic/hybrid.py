"""The hybrid rule: how a lexical page and semantic similarities become one ranking.

* When every query word matched (the lexical search's strict pass), the lexical ranking is kept and the semantic
  ranking fused in by reciprocal ranks (:func:`fuse`): a card ranked high by both rises, and a card only the
  meaning finds, above the similarity floor, joins below the cards both agree on.
* When the lexical search had to relax to "any word", or found nothing, its ranking is noise (the rarest
  incidental word wins), so the cards are ranked by similarity alone, above the floor (:func:`by_meaning`); a
  lexical hit only breaks a tie. The floor says when meaning beats the alternative: with no word found anywhere
  the alternative is "nothing found", and nonsense must find nothing, so the full floor holds; when some word
  matched, the alternative is the "any word" noise, and a card a little less close in meaning is still the better
  answer (:func:`floor_for`). Similarities are compared to :data:`DECIMALS` decimals: every card vector is
  rounded to float16 on the way in (fresh or from the cache, the same numbers), so only the last bits of the
  matrix product can differ with a card's row, and those never decide an order.

Equal scores are ordered by card id, so the same library always gives the same order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["DECIMALS", "FUSE_K", "RELAXED_MARGIN", "SEMANTIC_WEIGHT", "by_meaning", "floor_for", "fuse", "top"]

#: Similarities equal to this many decimals are a tie. Float32 products differ by about 1e-7 with a card's row in
#: the matrix; three decimals (the float16 cache's precision, before fresh vectors were rounded alike) made real
#: differences ties, settled by the "any word" ranking, whose noise then chose the first card.
DECIMALS = 5

#: The reciprocal-rank constant: 60, as in Cormack et al. (2009) and most hybrid search engines.
FUSE_K = 60
#: How much the semantic ranking weighs against the lexical one in the strict pass: below 1, so a card that every
#: word matched keeps its place unless meaning ranks another much higher (on benchmarks/semantic_eval.json, 1.0
#: lost a typo query's first place that 0.3 keeps, and 0.05 lost a keyword query's).
SEMANTIC_WEIGHT = 0.3
#: How far below the floor a card may rank by meaning when the only alternative is the "any word" ranking. On
#: benchmarks/semantic_eval.json (the tuning set, floor 0.42) every margin from 0.04 to 0.08 gives the same
#: results, 0.10 adds one more answer at 0.33, and 0.12 puts a typo's right "any word" card below cards of
#: similarity 0.30; 0.07 sits inside the plateau, clear of that edge. The held-out set was not consulted.
RELAXED_MARGIN = 0.07


def floor_for(floor: float, *, words_matched: bool) -> float:
    """The similarity floor of a search ranked by meaning: ``floor`` when no word of the query was found anywhere
    (nonsense then finds nothing), :data:`RELAXED_MARGIN` lower when some word was (the alternative is then the
    "any word" ranking, which a card this close in meaning beats)."""
    return floor - RELAXED_MARGIN if words_matched else floor


def fuse(lexical: Sequence[str], semantic: Sequence[str]) -> list[tuple[str, float]]:
    """Reciprocal-rank fusion of two rankings (best first), as (card id, score), best first, ties by id."""
    scores: dict[str, float] = {}
    for rank, card_id in enumerate(lexical):
        scores[card_id] = 1.0 / (FUSE_K + rank + 1)
    for rank, card_id in enumerate(semantic):
        scores[card_id] = scores.get(card_id, 0.0) + SEMANTIC_WEIGHT / (FUSE_K + rank + 1)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def by_meaning(
    ids: Sequence[str],
    similarities: npt.NDArray[np.float32],
    floor: float,
    lexical_rank: Mapping[str, int] | None = None,
    *,
    first: int | None = None,
) -> tuple[list[tuple[str, float]], int]:
    """The cards at or above ``floor``, most similar first, then by lexical rank (hits before the rest), then id;
    and how many there are. With ``first``, only that many are ordered and returned (the rest are only counted).
    """
    keep = np.flatnonzero(similarities >= floor)
    total = len(keep)
    if first is not None and total > first:
        # the best ``first`` and everything that ties with the last of them
        rounded = np.round(similarities[keep], DECIMALS)
        cut = -np.partition(-rounded, first - 1)[first - 1]
        keep = keep[rounded >= cut]
    ranks = lexical_rank or {}
    missing = len(ids) + 1
    found = [(ids[i], float(similarities[i])) for i in keep.tolist()]
    found.sort(key=lambda item: (-round(item[1], DECIMALS), ranks.get(item[0], missing), item[0]))
    return (found if first is None else found[:first]), total


def top(ids: Sequence[str], similarities: npt.NDArray[np.float32], floor: float, n: int) -> list[str]:
    """The ``n`` most similar cards at or above ``floor``, best first, ties by id (for fusion)."""
    if n <= 0 or not len(ids):
        return []
    part = np.argpartition(-similarities, n - 1)[:n] if len(ids) > n else np.arange(len(ids))
    chosen = [(ids[i], float(similarities[i])) for i in part.tolist() if similarities[i] >= floor]
    chosen.sort(key=lambda item: (-round(item[1], DECIMALS), item[0]))
    return [card_id for card_id, _ in chosen]
