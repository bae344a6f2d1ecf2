"""Short vocabularies (topics, collection names): typo-tolerant completion over a few thousand items."""

from __future__ import annotations

from collections.abc import Mapping

from rapidfuzz import fuzz, process

from bot.index.search.analysis import WORD_RE, clean
from bot.util.text import fold


class Vocabulary:
    """A small typo-tolerant completer for topics and collection names."""

    __slots__ = ("_folded", "_items", "_ranked")

    def __init__(self, items: Mapping[str, int]) -> None:
        """``items`` maps each item to its weight (e.g. how many cards have that topic)."""
        self._items = dict(items)
        self._ranked = sorted(self._items, key=lambda item: (-self._items[item], fold(item), item))
        self._folded = [" " + " ".join(WORD_RE.findall(fold(item))) for item in self._ranked]

    def __len__(self) -> int:
        """Number of items."""
        return len(self._ranked)

    def updated(self, deltas: Mapping[str, int]) -> Vocabulary:
        """A new vocabulary with the weights changed by ``deltas``; items left at zero or below are dropped."""
        items = dict(self._items)
        for item, delta in deltas.items():
            weight = items.get(item, 0) + delta
            if weight > 0:
                items[item] = weight
            else:
                items.pop(item, None)
        return Vocabulary(items)

    def complete(self, prefix: str, limit: int = 25) -> list[str]:
        """Items for ``prefix``, best first, at most ``limit``.

        Items with a word that starts with the (accent- and case-folded) prefix come first, heaviest first;
        then, if there is room, fuzzy matches. An empty prefix gives the heaviest items.
        """
        limit = max(0, int(limit))
        words = WORD_RE.findall(fold(clean(prefix if isinstance(prefix, str) else "")))
        if not words:
            return self._ranked[:limit]
        needle = " " + " ".join(words)
        chosen = [i for i, f in enumerate(self._folded) if needle in f][:limit]
        if len(chosen) < limit and len(needle) > 3:
            taken = set(chosen)
            matches = process.extract(
                needle[1:],
                self._folded,
                scorer=fuzz.partial_ratio,
                processor=None,
                score_cutoff=75,
                limit=limit + len(taken),
            )
            extra = sorted(((-score, i) for _item, score, i in matches if i not in taken))
            chosen.extend(i for _score, i in extra[: limit - len(chosen)])
        return [self._ranked[i] for i in chosen]
