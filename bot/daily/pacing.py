"""Keeping daily posts under Discord's global rate limit, instead of running into it.

Discord lets a bot token make 50 requests a second; past it every request is answered 429 and discord.py holds all
of them until the window ends. When thousands of servers are due at the same minute, sends that simply run into
that limit lose a round trip per refusal (so they stay below it) and pile up 429s, which Discord counts towards the
invalid requests that get an IP banned for an hour (10,000 in 10 minutes). So the poster paces its sends (right
before the request, so the card's rendering and database reads do not bunch them up again): one every
``1 / posts_per_second`` seconds, evenly, never more, while the bounded concurrency keeps enough of them in flight
to reach that rate however long Discord takes to answer (up to about a second each at the defaults,
``bot.daily.engine.DEFAULT_CONCURRENCY``).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable

__all__ = ["DEFAULT_POSTS_PER_SECOND", "Pacer"]

#: Daily posts sent a second at most: under Discord's global 50 requests a second, with room for the bot's other
#: requests and for the jitter between the pace and the request reaching Discord (``daily.posts_per_second``).
DEFAULT_POSTS_PER_SECOND = 45.0


class Pacer:
    """Lets one send go every ``1 / rate`` seconds. The slots are kept on a fixed beat, so the event loop waking a
    send a little late does not slow the pace (the next one catches up); a send woken later than a whole interval
    starts a new beat, so a busy loop never lets a bunch of overdue sends go together."""

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("the pace must be more than 0 posts a second")
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next = -math.inf
        self._turn = asyncio.Lock()

    async def wait(self) -> None:
        """Wait for the next free slot (at once when none was taken for a while)."""
        async with self._turn:
            now = self._clock()
            # On the beat; a slot overdue by more than an interval (a pause, a busy loop) starts a new beat from now.
            slot = self._next if self._next >= now - self.interval else now
            if slot > now:
                await self._sleep(slot - now)
            self._next = slot + self.interval
