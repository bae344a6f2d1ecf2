"""Values made once and kept for the keys asked for last: a bounded, thread-safe map, least recently used out."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

__all__ = ["Kept"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Kept(Generic[K, V]):
    """At most ``size`` values by key, the least recently used dropped first. Thread-safe (searches and
    completions run in worker threads); a value is made outside the lock, so two threads may both make it and the
    last one is kept."""

    __slots__ = ("_lock", "_size", "_values")

    def __init__(self, size: int, values: Iterable[tuple[K, V]] = ()) -> None:
        self._size = size
        self._values: OrderedDict[K, V] = OrderedDict(values)
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value kept for ``key`` (now the most recently used), or None."""
        with self._lock:
            found = self._values.get(key)
            if found is not None:
                self._values.move_to_end(key)
            return found

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` for ``key``, dropping the least recently used beyond ``size``."""
        with self._lock:
            self._values[key] = value
            self._values.move_to_end(key)
            while len(self._values) > self._size:
                self._values.popitem(last=False)

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        """The value kept for ``key``, else ``make()`` kept."""
        found = self.get(key)
        if found is None:
            found = make()
            self.put(key, found)
        return found

    def items(self) -> list[tuple[K, V]]:
        """What is kept, least recently used first (a copy)."""
        with self._lock:
            return list(self._values.items())

    def clear(self) -> None:
        """Keep nothing."""
        with self._lock:
            self._values.clear()

    def __len__(self) -> int:
        return len(self._values)
