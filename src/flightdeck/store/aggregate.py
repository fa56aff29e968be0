"""What a rollup row holds, and how raw records and rollup rows add up into one.

A :class:`BucketAggregate` is the in-memory form of one ``rollups`` row: run counts per verdict,
the sum / min / max of ``duration_ms``, a :class:`~flightdeck.store.sketch.LatencySketch` of
``duration_ms`` and, per measurement name, ``{count, sum, min, max, last}``. Raw records and rows of
a finer resolution merge into it the same way, so a minute row, an hour row built from sixty minute
rows and an hour built straight from the raw records are identical (sketches merge exactly).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from pydantic import JsonValue

from flightdeck.evidence import Verdict
from flightdeck.store.sketch import LatencySketch

__all__ = [
    "DURATION",
    "VERDICT_COLUMNS",
    "BucketAggregate",
    "MeasurementAggregate",
    "Resolution",
    "floor_time",
]

DURATION: Final = "duration_ms"
"""The pseudo-measurement every record has: how long the check took."""

VERDICT_COLUMNS: Final[Mapping[Verdict, str]] = {
    Verdict.PASS: "pass_count",
    Verdict.WARN: "warn_count",
    Verdict.FAIL: "fail_count",
    Verdict.ERROR: "error_count",
    Verdict.UNKNOWN: "unknown_count",
}

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


class Resolution(enum.StrEnum):
    """Where figures are read from: raw records, or rollups per minute / hour / day (UTC)."""

    RAW = "raw"
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"

    @property
    def seconds(self) -> int:
        """Width of one bucket (0 for raw records, which are not bucketed)."""
        return _SECONDS[self]

    @property
    def finer(self) -> Resolution:
        """The resolution this one is rolled up from."""
        return _FINER[self]

    def floor(self, when: datetime) -> datetime:
        return floor_time(when, self.seconds) if self.seconds else when

    def ceil(self, when: datetime) -> datetime:
        low = self.floor(when)
        return low if low == when else low + timedelta(seconds=self.seconds)


_SECONDS = {Resolution.RAW: 0, Resolution.MINUTE: 60, Resolution.HOUR: 3600, Resolution.DAY: 86400}
_FINER = {
    Resolution.RAW: Resolution.RAW,
    Resolution.MINUTE: Resolution.RAW,
    Resolution.HOUR: Resolution.MINUTE,
    Resolution.DAY: Resolution.HOUR,
}


def floor_time(when: datetime, seconds: int) -> datetime:
    """The start of the ``seconds``-wide bucket (aligned to the Unix epoch, UTC) holding ``when``."""
    offset = (when - _EPOCH) // timedelta(seconds=seconds)
    return _EPOCH + timedelta(seconds=offset * seconds)


@dataclass
class MeasurementAggregate:
    """count / sum / min / max / last of one measurement's values in a bucket."""

    count: int = 0
    total: float = 0.0
    min: float | None = None
    max: float | None = None
    last: float | None = None

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.min = value if self.min is None else min(self.min, value)
        self.max = value if self.max is None else max(self.max, value)
        self.last = value

    def merge(self, other: MeasurementAggregate) -> None:
        """Add a later bucket's aggregate (its ``last`` wins)."""
        if other.count == 0:
            return
        self.count += other.count
        self.total += other.total
        if other.min is not None:
            self.min = other.min if self.min is None else min(self.min, other.min)
        if other.max is not None:
            self.max = other.max if self.max is None else max(self.max, other.max)
        self.last = other.last

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def to_json(self) -> dict[str, JsonValue]:
        return {"count": self.count, "sum": self.total, "min": self.min, "max": self.max, "last": self.last}

    @classmethod
    def from_json(cls, data: JsonValue) -> MeasurementAggregate:
        if not isinstance(data, Mapping):
            return cls()
        return cls(
            count=int(_num(data.get("count")) or 0),
            total=float(_num(data.get("sum")) or 0.0),
            min=_num(data.get("min")),
            max=_num(data.get("max")),
            last=_num(data.get("last")),
        )


def _num(value: JsonValue) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass
class BucketAggregate:
    """Everything a ``rollups`` row holds about one subject in one bucket."""

    verdicts: dict[Verdict, int] = field(default_factory=lambda: dict.fromkeys(Verdict, 0))
    duration: MeasurementAggregate = field(default_factory=MeasurementAggregate)
    sketch: LatencySketch = field(default_factory=LatencySketch)
    measurements: dict[str, MeasurementAggregate] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return sum(self.verdicts.values())

    # -- adding ----------------------------------------------------------------------------
    def add_record(self, verdict: Verdict, duration_ms: float, measurements: Iterable[JsonValue]) -> None:
        """Add one raw evidence record (``measurements`` as stored: ``[{name, value, unit}]``).
        Records must be added oldest first for ``last`` to be the latest value."""
        self.verdicts[verdict] += 1
        self.duration.add(duration_ms)
        self.sketch.add(duration_ms)
        for m in measurements:
            if not isinstance(m, Mapping):
                continue
            name, value = m.get("name"), _num(m.get("value"))
            if not isinstance(name, str) or value is None:
                continue
            agg = self.measurements.get(name)
            if agg is None:
                agg = self.measurements[name] = MeasurementAggregate()
            agg.add(value)

    def merge(self, other: BucketAggregate) -> None:
        """Add a later bucket (merge buckets oldest first)."""
        for v, n in other.verdicts.items():
            self.verdicts[v] += n
        self.duration.merge(other.duration)
        self.sketch.merge(other.sketch)
        for name, agg in other.measurements.items():
            mine = self.measurements.get(name)
            if mine is None:
                mine = self.measurements[name] = MeasurementAggregate()
            mine.merge(agg)

    def measurement(self, name: str) -> MeasurementAggregate | None:
        """The aggregate of one measurement (``duration_ms`` included)."""
        return self.duration if name == DURATION else self.measurements.get(name)

    # -- storage ---------------------------------------------------------------------------
    def to_row(self) -> dict[str, Any]:
        """Column values of a ``rollups`` row (without resolution, subject and bucket_start)."""
        row: dict[str, Any] = {col: self.verdicts[v] for v, col in VERDICT_COLUMNS.items()}
        row.update(
            count=self.count,
            duration_sum=self.duration.total,
            duration_min=self.duration.min,
            duration_max=self.duration.max,
            latency_sketch=self.sketch.to_json(),
            measurements={name: agg.to_json() for name, agg in sorted(self.measurements.items())},
        )
        return row

    @classmethod
    def from_row(cls, mapping: Mapping[Any, Any]) -> BucketAggregate:
        """Read a ``rollups`` row (as a mapping of its columns)."""
        verdicts = {v: int(mapping[col] or 0) for v, col in VERDICT_COLUMNS.items()}
        count = sum(verdicts.values())
        duration = MeasurementAggregate(
            count=count,
            total=float(mapping["duration_sum"] or 0.0),
            min=mapping["duration_min"],
            max=mapping["duration_max"],
        )
        raw = mapping["measurements"]
        measurements = (
            {str(k): MeasurementAggregate.from_json(v) for k, v in raw.items()}
            if isinstance(raw, Mapping)
            else {}
        )
        return cls(
            verdicts=verdicts,
            duration=duration,
            sketch=LatencySketch.from_json(mapping["latency_sketch"]),
            measurements=measurements,
        )
