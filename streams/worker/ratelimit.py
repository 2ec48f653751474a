"""How often one client may call the worker's write endpoints: a token bucket per client address.

Each address has a bucket of ``limit`` tokens, refilled at ``limit / window_s`` a second up to
``limit``; a request takes one, and without one it is refused with the seconds until the next
(answered 429 with ``Retry-After``). Every request counts, one with a wrong admin token
included, so the limit also bounds guessing that token. Only the most recently seen ``max_clients``
addresses are remembered: a flood of addresses costs bounded memory, and an address
forgotten starts again with a full bucket.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

__all__ = ["MAX_CLIENTS", "RateLimiter"]

MAX_CLIENTS: Final = 10_000


class RateLimiter:
    """At most ``limit`` requests per ``window_s`` seconds from one client, in bursts of up to ``limit``."""

    def __init__(self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic,
                 max_clients: int = MAX_CLIENTS) -> None:
        if limit < 1 or window_s <= 0 or max_clients < 1:
            raise ValueError("limit and max_clients must be at least 1 and window_s above 0")
        self.limit = limit
        self.per_token_s = window_s / limit
        self._clock = clock
        self._max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, at)

    def take(self, client: str) -> float:
        """Take a token for ``client``: 0.0 when it had one, else the seconds until it will."""
        now = self._clock()
        tokens, at = self._buckets.pop(client, (float(self.limit), now))
        tokens = min(float(self.limit), tokens + (now - at) / self.per_token_s)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) * self.per_token_s
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > self._max_clients:
            self._buckets.popitem(last=False)
        return wait
