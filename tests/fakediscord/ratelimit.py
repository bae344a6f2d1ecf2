"""Discord's global rate limit: so many requests a second per bot token, a 429 past it.

Discord lets a bot make 50 requests a second across every route (interaction callbacks and the interaction
webhooks, which take no bot token, are not counted). Past it the answer is ``429`` with the headers
``X-RateLimit-Global: true``, ``X-RateLimit-Scope: global`` and ``Retry-After``, and the body
``{"message": "You are being rate limited.", "retry_after": 0.123, "global": true}``; discord.py then holds every
request of the client until ``retry_after`` has passed and sends the refused one again.

The window is a sliding second: a request is let through when fewer than ``rate`` were let through in the last
second; ``retry_after`` is how long until the oldest of them leaves the window.
"""

from __future__ import annotations

import collections
import math
import time
from collections.abc import Callable

__all__ = ["DISCORD_GLOBAL_RATE", "GlobalRateLimit"]

#: Requests a second a bot token may make on Discord.
DISCORD_GLOBAL_RATE = 50
#: The window the rate is counted over, in seconds.
WINDOW = 1.0


class GlobalRateLimit:
    """Counts the requests of one bot token; :meth:`take` says whether one more may go (None) or how long to wait."""

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("the global rate limit must be more than 0 requests a second")
        self.rate = rate
        self._capacity = max(1, round(rate * WINDOW))
        self._clock = clock
        self._passed: collections.deque[float] = collections.deque()
        #: Requests let through, and requests answered 429.
        self.passed = 0
        self.refused = 0

    def take(self) -> float | None:
        """Let one request through (None), or refuse it: the seconds until one more may go."""
        now = self._clock()
        while self._passed and self._passed[0] <= now - WINDOW:
            self._passed.popleft()
        if len(self._passed) < self._capacity:
            self._passed.append(now)
            self.passed += 1
            return None
        self.refused += 1
        return max(self._passed[0] + WINDOW - now, 0.001)

    @staticmethod
    def body(retry_after: float) -> dict[str, object]:
        """The JSON body Discord sends with a global 429."""
        return {"message": "You are being rate limited.", "retry_after": round(retry_after, 3), "global": True}

    @staticmethod
    def headers(retry_after: float) -> dict[str, str]:
        """The headers Discord sends with a global 429 (``Via``: discord.py takes a 429 without it for a ban by
        Cloudflare and gives up)."""
        return {
            "Content-Type": "application/json",
            "X-RateLimit-Global": "true",
            "X-RateLimit-Scope": "global",
            "Retry-After": str(math.ceil(retry_after)),
            "Via": "1.1 google",
        }
