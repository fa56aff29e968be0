"""A mergeable latency sketch: quantiles of many durations from a few hundred counters.

Values are counted in logarithmically spaced buckets, as in DDSketch (Masson, Rim and Lee, 2019):
bucket ``i`` holds the values in ``(γ^(i-1), γ^i]`` with ``γ = 1.02``, and a quantile is answered
with the bucket's midpoint ``2·γ^i / (γ + 1)``. Whatever the distribution, the answer is within
``α = (γ - 1) / (γ + 1) ≈ 0.99 %`` of the exact value (relative error). Two sketches merge by
adding their counters, so minute sketches add up to hour and day sketches without losing accuracy.

Values at or below :data:`MIN_VALUE` (1 µs, in milliseconds) are counted apart and answered as 0.

Stored sparse as JSON: ``{"g": 1.02, "z": <count of tiny values>, "b": {"<index>": <count>}}``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from pydantic import JsonValue

__all__ = [
    "GAMMA",
    "MIN_VALUE",
    "RELATIVE_ACCURACY",
    "LatencySketch",
    "bucket_index",
    "bucket_value",
]

GAMMA: Final = 1.02
RELATIVE_ACCURACY: Final = (GAMMA - 1) / (GAMMA + 1)
MIN_VALUE: Final = 1e-3
_LOG_GAMMA: Final = math.log(GAMMA)


def bucket_index(value: float) -> int:
    """The bucket a value above :data:`MIN_VALUE` falls in: ``ceil(log_γ(value))``."""
    return math.ceil(math.log(value) / _LOG_GAMMA)


def bucket_value(index: int) -> float:
    """The value a bucket answers with: within α of every value the bucket holds."""
    return 2.0 * GAMMA**index / (GAMMA + 1.0)


@dataclass
class LatencySketch:
    """Counts of values per log-spaced bucket. ``count`` is the number of values added."""

    buckets: dict[int, int] = field(default_factory=dict)
    zero_count: int = 0

    @property
    def count(self) -> int:
        return self.zero_count + sum(self.buckets.values())

    def __bool__(self) -> bool:
        return self.zero_count > 0 or bool(self.buckets)

    def add(self, value: float, count: int = 1) -> None:
        if value != value:  # NaN: nothing to count
            return
        if value <= MIN_VALUE:
            self.zero_count += count
            return
        i = bucket_index(value)
        self.buckets[i] = self.buckets.get(i, 0) + count

    def extend(self, values: Iterable[float]) -> None:
        for v in values:
            self.add(v)

    def merge(self, other: LatencySketch) -> None:
        """Add ``other``'s counts to this sketch."""
        self.zero_count += other.zero_count
        for i, n in other.buckets.items():
            self.buckets[i] = self.buckets.get(i, 0) + n

    def add_bucket_counts(self, counts: Mapping[int, int]) -> None:
        """Add counters read elsewhere (e.g. summed by the database)."""
        for i, n in counts.items():
            self.buckets[i] = self.buckets.get(i, 0) + n

    def quantile(self, q: float) -> float | None:
        """The ``q``-quantile (0 ≤ q ≤ 1) as the value of rank ``floor(q·(n-1))`` (0-based) among
        the n values added, within :data:`RELATIVE_ACCURACY`; None when the sketch is empty."""
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile must be between 0 and 1, not {q}")
        total = self.count
        if total == 0:
            return None
        rank = math.floor(q * (total - 1))
        seen = self.zero_count
        if rank < seen:
            return 0.0
        for i in sorted(self.buckets):
            seen += self.buckets[i]
            if rank < seen:
                return bucket_value(i)
        return bucket_value(max(self.buckets))  # unreachable: rank < total

    def quantiles(self, qs: Iterable[float]) -> list[float | None]:
        """Several quantiles in one pass over the sorted buckets."""
        wanted = list(qs)
        total = self.count
        if total == 0:
            return [None for _ in wanted]
        order = sorted(range(len(wanted)), key=lambda k: wanted[k])
        answers: list[float | None] = [None] * len(wanted)
        keys = sorted(self.buckets)
        pos, seen = 0, self.zero_count
        for k in order:
            q = wanted[k]
            if not 0.0 <= q <= 1.0:
                raise ValueError(f"quantile must be between 0 and 1, not {q}")
            rank = math.floor(q * (total - 1))
            if rank < self.zero_count:
                answers[k] = 0.0
                continue
            while pos < len(keys) and seen + self.buckets[keys[pos]] <= rank:
                seen += self.buckets[keys[pos]]
                pos += 1
            answers[k] = bucket_value(keys[min(pos, len(keys) - 1)])
        return answers

    # -- storage -------------------------------------------------------------------------------
    def to_json(self) -> dict[str, JsonValue]:
        return {
            "g": GAMMA,
            "z": self.zero_count,
            "b": {str(i): n for i, n in sorted(self.buckets.items())},
        }

    @classmethod
    def from_json(cls, data: JsonValue) -> LatencySketch:
        """Read a stored sketch; an empty or missing one reads as an empty sketch."""
        if not isinstance(data, Mapping) or not data:
            return cls()
        gamma = data.get("g", GAMMA)
        if gamma != GAMMA:
            raise ValueError(f"sketch with γ={gamma} cannot be read with γ={GAMMA}")
        raw = data.get("b") or {}
        buckets: dict[int, int] = {}
        if isinstance(raw, Mapping):
            for key, n in raw.items():
                if isinstance(n, int | float) and n:
                    buckets[int(key)] = int(n)
        zero = data.get("z", 0)
        return cls(buckets=buckets, zero_count=int(zero) if isinstance(zero, int | float) else 0)
