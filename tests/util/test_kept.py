"""The bounded map the indexes and the library keep their lazily made values in (``bot.util.kept.Kept``)."""

from __future__ import annotations

import threading

from bot.util.kept import Kept


def test_the_least_recently_used_value_goes_first() -> None:
    kept: Kept[str, int] = Kept(2)
    kept.put("a", 1)
    kept.put("b", 2)
    assert kept.get("a") == 1  # "a" is now the most recently used
    kept.put("c", 3)
    assert kept.items() == [("a", 1), ("c", 3)]
    assert kept.get("b") is None


def test_a_value_is_made_once_and_an_empty_one_is_kept_too() -> None:
    made: list[str] = []

    def make(key: str) -> tuple[str, ...]:
        made.append(key)
        return ()

    kept: Kept[str, tuple[str, ...]] = Kept(4)
    assert kept.get_or_make("x", lambda: make("x")) == ()
    assert kept.get_or_make("x", lambda: make("x")) == ()
    assert made == ["x"]
    kept.clear()
    assert len(kept) == 0


def test_threads_making_values_at_once_keep_within_the_bound() -> None:
    kept: Kept[int, int] = Kept(50)

    def work(offset: int) -> None:
        for n in range(2_000):
            assert kept.get_or_make((n + offset) % 120, lambda n=n: n) is not None

    threads = [threading.Thread(target=work, args=(k * 7,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(kept) == 50
