"""Throttling repeated failed logins.

Failures are counted per user name and per client address over a sliding window. When a name has
``per_user`` failures (default 5) or an address ``per_address`` failures (default 20) within
``window`` (default 15 min), further attempts for it are refused — without checking the password —
until the oldest of those failures leaves the window. A successful login clears the name's count.

The counts live in the process's memory (bounded to ``max_keys`` names and addresses): a restart
forgets them, and two flightdeck processes count separately.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict, deque

from flightdeck.access.errors import LoginThrottledError
from flightdeck.clock import Clock, SystemClock

__all__ = ["LoginThrottle"]


class LoginThrottle:
    def __init__(
        self,
        clock: Clock | None = None,
        *,
        per_user: int = 5,
        per_address: int = 20,
        window: float = 900.0,
        max_keys: int = 10_000,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.per_user = per_user
        self.per_address = per_address
        self.window = window
        self.max_keys = max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _keys(username: str, address: str | None) -> list[tuple[str, str]]:
        keys = [("user", "u:" + username.strip().lower())]
        if address:
            keys.append(("address", "a:" + address))
        return keys

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def check(self, username: str, address: str | None) -> None:
        """Raise :class:`LoginThrottledError` when this name or address is locked out."""
        now = self.clock.monotonic()
        wait = 0.0
        with self._lock:
            for kind, key in self._keys(username, address):
                limit = self.per_user if kind == "user" else self.per_address
                times = self._recent(key, now)
                if len(times) >= limit:
                    wait = max(wait, times[-limit] + self.window - now)
        if wait > 0:
            raise LoginThrottledError(max(1, math.ceil(wait)))

    def failed(self, username: str, address: str | None) -> None:
        now = self.clock.monotonic()
        with self._lock:
            for _, key in self._keys(username, address):
                times = self._recent(key, now)
                times.append(now)
                while len(times) > max(self.per_user, self.per_address):
                    times.popleft()
                self._failures[key] = times
                self._failures.move_to_end(key)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop("u:" + username.strip().lower(), None)
