"""Discord's global rate limit: so many requests a second per bot token, a 429 past it.

Discord lets a bot make 50 requests a second across every route (interaction callbacks and the interaction
webhooks, which take no bot token, are not counted). Past it the answer is ``429`` with the headers
``X-RateLimit-Global: true``, ``X-RateLimit-Scope: global`` and ``Retry-After``, and the body
``{"message": "You are being rate limited.", "retry_after": 0.123, "global": true}``; discord.py then holds every
request of the client until ``retry_after`` has passed and sends the refused one again.

Discord does not document how it counts; the fake counts as its per-route buckets do (a count that resets after
``reset_after``): a window opens with the first request and lets ``rate`` requests through in its second; past
that, ``retry_after`` is the time until the window ends, when a fresh one opens. (A sliding second, where one slot
frees at a time, makes every refused request wake at once for one slot: discord.py gives up a request after five
429s, which Discord's documented behaviour gives no reason to expect.)
"""

from __future__ import annotations

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
        self._window_end = -math.inf
        self._used = 0
        #: Requests let through, and requests answered 429.
        self.passed = 0
        self.refused = 0

    def take(self) -> float | None:
        """Let one request through (None), or refuse it: the seconds until one more may go."""
        now = self._clock()
        if now >= self._window_end:
            self._window_end, self._used = now + WINDOW, 0
        if self._used < self._capacity:
            self._used += 1
            self.passed += 1
            return None
        self.refused += 1
        return max(self._window_end - now, 0.001)

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
