"""The daily posts' pace: sends spaced evenly at the configured rate, at once after a pause."""

from __future__ import annotations

import asyncio

import pytest

from bot.daily.pacing import Pacer


class FakeTime:
    """A clock that moves only when the pacer sleeps."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def test_sends_due_together_go_out_one_interval_apart() -> None:
    time = FakeTime()
    pacer = Pacer(50, clock=time, sleep=time.sleep)
    sent: list[float] = []

    async def send() -> None:
        await pacer.wait()
        sent.append(time.now)

    await asyncio.gather(*(send() for _ in range(5)))
    assert sent == pytest.approx([100.0, 100.02, 100.04, 100.06, 100.08])


async def test_after_a_pause_the_next_send_goes_at_once() -> None:
    time = FakeTime()
    pacer = Pacer(10, clock=time, sleep=time.sleep)
    await pacer.wait()
    time.now += 5
    before = time.now
    await pacer.wait()
    assert time.now == before


def test_a_pace_of_zero_is_refused() -> None:
    with pytest.raises(ValueError, match="more than 0"):
        Pacer(0)


async def test_a_busy_loop_does_not_let_overdue_sends_go_together() -> None:
    time = FakeTime()
    pacer = Pacer(10, clock=time, sleep=time.sleep)
    await pacer.wait()
    time.now += 0.55  # the loop was busy: five slots went by
    sent = []
    for _ in range(4):
        await pacer.wait()
        sent.append(time.now)
    assert sent == pytest.approx([100.55, 100.65, 100.75, 100.85])  # a new beat, one interval apart
