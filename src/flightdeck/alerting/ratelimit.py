"""Per-channel sending limits inside one process: a token bucket (``rate_limit`` messages per minute)
and a hold until a time the provider named (``Retry-After`` on a 429). Time is always passed in, so
tests drive it with a fake clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["ChannelLimits", "TokenBucket"]


@dataclass
class TokenBucket:
    """``per_minute`` tokens a minute, at most ``per_minute`` saved up (a burst of one minute)."""

    per_minute: int
    tokens: float = field(init=False)
    updated: datetime | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.tokens = float(self.per_minute)

    def _refill(self, now: datetime) -> None:
        if self.updated is not None and now > self.updated:
            elapsed = (now - self.updated).total_seconds()
            self.tokens = min(float(self.per_minute), self.tokens + elapsed * self.per_minute / 60.0)
        if self.updated is None or now > self.updated:
            self.updated = now

    def available(self, now: datetime) -> int:
        self._refill(now)
        return int(self.tokens)

    def take(self, now: datetime) -> bool:
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def give_back(self) -> None:
        self.tokens = min(float(self.per_minute), self.tokens + 1.0)


class ChannelLimits:
    """Token buckets and 429 holds, per channel name."""

    def __init__(self) -> None:
        self._buckets: dict[str, TokenBucket] = {}
        self._held_until: dict[str, datetime] = {}

    def _bucket(self, channel: str, per_minute: int | None) -> TokenBucket | None:
        if per_minute is None:
            self._buckets.pop(channel, None)
            return None
        bucket = self._buckets.get(channel)
        if bucket is None or bucket.per_minute != per_minute:
            bucket = self._buckets[channel] = TokenBucket(per_minute)
        return bucket

    def hold(self, channel: str, until: datetime) -> None:
        """Send nothing on ``channel`` before ``until`` (the later of two holds wins)."""
        current = self._held_until.get(channel)
        if current is None or until > current:
            self._held_until[channel] = until

    def held_until(self, channel: str, now: datetime) -> datetime | None:
        until = self._held_until.get(channel)
        if until is not None and until <= now:
            del self._held_until[channel]
            return None
        return until

    def blocked(self, channel: str, per_minute: int | None, now: datetime) -> bool:
        """True while the channel is held or its bucket is empty."""
        if self.held_until(channel, now) is not None:
            return True
        bucket = self._bucket(channel, per_minute)
        return bucket is not None and bucket.available(now) < 1

    def take(self, channel: str, per_minute: int | None, now: datetime) -> bool:
        """Use one send on ``channel`` now; False (nothing used) when held or out of tokens."""
        if self.held_until(channel, now) is not None:
            return False
        bucket = self._bucket(channel, per_minute)
        return bucket is None or bucket.take(now)

    def give_back(self, channel: str) -> None:
        """Return a token taken for a send that did not happen (the claim was lost)."""
        bucket = self._buckets.get(channel)
        if bucket is not None:
            bucket.give_back()
