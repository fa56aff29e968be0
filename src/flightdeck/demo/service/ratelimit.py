"""A sliding-window rate limiter: at most ``limit`` hits per ``window`` seconds for each key."""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Callable

__all__ = ["SlidingWindowLimiter"]


class SlidingWindowLimiter:
    """In-memory, per process. ``hit(key)`` records an attempt and says how long to wait when refused.

    Refused attempts are not recorded, so a client that keeps hammering is let in again as soon as
    its oldest accepted attempt leaves the window. At most ``max_keys`` keys are tracked (the least
    recently used are forgotten), so a flood of distinct keys cannot exhaust memory.
    """

    def __init__(
        self, limit: int, window: float, monotonic: Callable[[], float], max_keys: int = 10_000
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be at least 1 and window positive")
        self.limit = limit
        self.window = window
        self._now = monotonic
        self._max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def hit(self, key: str) -> int | None:
        """``None`` when allowed (and counted); otherwise whole seconds until an attempt is allowed."""
        now = self._now()
        hits = self._hits.get(key)
        if hits is None:
            hits = deque()
            self._hits[key] = hits
            while len(self._hits) > self._max_keys:
                self._hits.popitem(last=False)
        else:
            self._hits.move_to_end(key)
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return max(1, math.ceil(hits[0] + self.window - now))
        hits.append(now)
        return None
