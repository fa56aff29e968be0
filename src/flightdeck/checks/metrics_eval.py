"""What a ``metrics`` check measures: the measurement definitions, the presets, and their evaluation
over two scrapes.

A definition is one of six kinds (:class:`MeasureKind`)::

    rate         per-second increase of the selected counters between the two scrapes
    ratio        increase of numerator counters / increase of denominator counters
    quantile     histogram_quantile(q) over the bucket increases between the two scrapes
    mean         increase of <histogram>_sum / increase of <histogram>_count
    gauge        current value of the selected series
    gauge_ratio  current value of numerator series / current value of denominator series

The selected series are always summed, like PromQL's ``sum(...)``; counters are differenced per
series first, so a reset of one series (a restarted target) never makes a sum go backwards.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from pydantic import Field, field_validator, model_validator

from flightdeck.checks.promtext import (
    Exposition,
    Increase,
    LabelSet,
    MetricType,
    Selector,
    bucket_quantile,
    counter_increase,
)
from flightdeck.config.base import ConfigModel

__all__ = [
    "CLOCK_SKEW_S",
    "MEASURE_NAME",
    "Absent",
    "Fraction",
    "MeasureKind",
    "MetricDef",
    "Preset",
    "PresetItem",
    "Window",
    "counter_names",
    "evaluate",
    "preset_items",
    "problem",
]

MEASURE_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
CLOCK_SKEW_S = 60.0


class MeasureKind(enum.StrEnum):
    RATE = "rate"
    RATIO = "ratio"
    QUANTILE = "quantile"
    MEAN = "mean"
    GAUGE = "gauge"
    GAUGE_RATIO = "gauge_ratio"


_DEFAULT_UNIT = {MeasureKind.RATE: "/s"}


class Fraction(ConfigModel):
    numerator: Selector
    denominator: Selector


class MetricDef(ConfigModel):
    """One measurement: exactly one of ``rate``, ``ratio``, ``histogram`` (with ``quantile``),
    ``mean``, ``gauge`` or ``gauge_ratio``; the result is multiplied by ``scale``."""

    rate: Selector | None = Field(default=None, description="Counters → per-second rate")
    ratio: Fraction | None = Field(default=None, description="Rate of numerator / rate of denominator")
    histogram: Selector | None = Field(default=None, description="Histogram (base name) for quantile")
    quantile: float | None = Field(default=None, ge=0.0, le=1.0, description="0.95 for p95")
    mean: Selector | None = Field(default=None, description="Histogram or summary → mean observation")
    gauge: Selector | None = Field(default=None, description="Current value, summed over series")
    gauge_ratio: Fraction | None = Field(default=None, description="Gauge numerator / gauge denominator")
    scale: float = Field(default=1.0, description="Multiply the result, e.g. 1000 for seconds → ms")
    unit: str | None = Field(default=None, description="Unit recorded with the value")

    @field_validator("histogram")
    @classmethod
    def _histogram_base(cls, value: Selector | None) -> Selector | None:
        if value is None:
            return None
        if "le" in value.label_names:
            raise ValueError("do not match on le: the quantile is computed over all buckets")
        if value.metric.endswith("_bucket"):
            value = value.with_metric(value.metric.removesuffix("_bucket"))
        return value

    @field_validator("mean")
    @classmethod
    def _mean_base(cls, value: Selector | None) -> Selector | None:
        if value is None:
            return None
        for suffix in ("_sum", "_count", "_bucket"):
            if value.metric.endswith(suffix):
                return value.with_metric(value.metric.removesuffix(suffix))
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> MetricDef:
        given = [
            k for k in ("rate", "ratio", "histogram", "mean", "gauge", "gauge_ratio") if getattr(self, k)
        ]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of rate, ratio, histogram (with quantile), mean, gauge or gauge_ratio"
                + (f" (got {', '.join(given)})" if given else "")
            )
        if (self.histogram is None) != (self.quantile is None):
            raise ValueError("quantile and histogram go together: {quantile: 0.95, histogram: <name>}")
        return self

    @property
    def kind(self) -> MeasureKind:
        if self.rate is not None:
            return MeasureKind.RATE
        if self.ratio is not None:
            return MeasureKind.RATIO
        if self.histogram is not None:
            return MeasureKind.QUANTILE
        if self.mean is not None:
            return MeasureKind.MEAN
        if self.gauge is not None:
            return MeasureKind.GAUGE
        return MeasureKind.GAUGE_RATIO

    @property
    def effective_unit(self) -> str:
        return self.unit if self.unit is not None else _DEFAULT_UNIT.get(self.kind, "")

    def selectors(self) -> Iterator[Selector]:
        """Every selector, on the sample names actually read (``x_bucket``, ``x_sum``, …)."""
        for value in (self.rate, self.gauge):
            if value is not None:
                yield value
        for frac in (self.ratio, self.gauge_ratio):
            if frac is not None:
                yield frac.numerator
                yield frac.denominator
        if self.histogram is not None:
            yield self.histogram.with_metric(self.histogram.metric + "_bucket")
        if self.mean is not None:
            yield self.mean.with_metric(self.mean.metric + "_sum")
            yield self.mean.with_metric(self.mean.metric + "_count")


def counter_names(definition: MetricDef) -> list[str]:
    """The sample names whose previous values a definition needs (empty for gauges)."""
    if definition.kind in (MeasureKind.GAUGE, MeasureKind.GAUGE_RATIO):
        return []
    return [s.metric for s in definition.selectors()]


@dataclass(frozen=True)
class Absent:
    """Why a measurement was not taken; it is recorded in the detail, never as a zero."""

    reason: str


def problem(definition: MetricDef, expo: Exposition) -> str | None:
    """Why ``definition`` cannot be measured from this exposition at all, or ``None``.

    A metric the target does not expose, and a label matcher that needs a label no series of the
    metric carries (a typo, or the target names it differently), are problems: summing nothing
    would report a false zero.
    """
    for sel in definition.selectors():
        if not expo.declared(sel.metric):
            hint = ""
            if sel.metric.endswith("_bucket") and expo.declared(sel.metric.removesuffix("_bucket")):
                base = sel.metric.removesuffix("_bucket")
                hint = f" ({base} is a {expo.types.get(base, MetricType.UNKNOWN).value}, not a histogram)"
            return f"{sel.metric} is not in the exposition{hint}"
        carried = expo.label_names(sel.metric)
        if not carried:
            continue
        for m in sel.matchers:
            if m.label in carried or m.label == "le":
                continue
            if not m.matches({}):  # needs the label to be present with a value
                labels = ", ".join(sorted(carried))
                return f"no {sel.metric} series has a {m.label!r} label (its labels: {labels})"
    return None


@dataclass
class Window:
    """The current scrape and, when there is one, the previous scrape's counters."""

    current: Exposition
    previous: dict[str, dict[str, float]] | None
    seconds: float | None
    previous_at: float | None = None  # seconds since the epoch
    resets: set[str] = field(default_factory=set)
    unseen: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    _increases: dict[str, Increase] = field(default_factory=dict, repr=False)
    _buckets: dict[str, dict[float, float]] = field(default_factory=dict, repr=False)

    def increase(self, sel: Selector) -> Increase:
        """Increase of the selected counters since the previous scrape (computed once per selector)."""
        assert self.previous is not None
        cached = self._increases.get(str(sel))
        if cached is not None:
            return cached
        previous = self.previous.get(sel.metric, {})
        born = self._born_since(sel.metric)
        inc = counter_increase(previous, self.current.select(sel).items(), self.current.key_of, born)
        if inc.resets:
            self.resets.add(sel.metric)
        if inc.unseen:
            self.unseen.add(sel.metric)
        note = f"{sel.metric} is a gauge: a rate of it counts every drop as a reset"
        if self.current.types.get(sel.metric) is MetricType.GAUGE and note not in self.notes:
            self.notes.append(note)
        self._increases[str(sel)] = inc
        return inc

    def bucket_increases(self, bucket_sel: Selector) -> dict[float, float]:
        """Increase of each selected bucket since the previous scrape, summed by upper bound."""
        assert self.previous is not None
        cached = self._buckets.get(str(bucket_sel))
        if cached is not None:
            return cached
        by_bound: dict[float, list[tuple[LabelSet, float]]] = {}
        for labels, value in self.current.select(bucket_sel).items():
            bound = _bound(labels)
            if bound is not None:
                by_bound.setdefault(bound, []).append((labels, value))
        previous = self.previous.get(bucket_sel.metric, {})
        born = self._born_since(bucket_sel.metric)
        out: dict[float, float] = {}
        for bound, series in by_bound.items():
            inc = counter_increase(previous, series, self.current.key_of, born)
            if inc.resets:
                self.resets.add(bucket_sel.metric)
            if inc.unseen:
                self.unseen.add(bucket_sel.metric)
            out[bound] = inc.value
        self._buckets[str(bucket_sel)] = out
        return out

    def _born_since(self, name: str) -> Callable[[LabelSet], bool]:
        """Whether a series absent from the previous scrape was created after it, by the target's
        own ``_created`` timestamp (allowing for clocks a minute apart)."""
        since = (math.inf if self.previous_at is None else self.previous_at) - CLOCK_SKEW_S

        def born(labels: LabelSet) -> bool:
            created = self.current.created(name, labels)
            return created is not None and created >= since

        return born


def _bound(labels: LabelSet) -> float | None:
    for name, value in labels:
        if name == "le":
            try:
                bound = float(value)
            except ValueError:
                return None
            return None if math.isnan(bound) else bound
    return None


_NEEDS_TWO = Absent("first scrape: a rate needs two scrapes")


def evaluate(definition: MetricDef, w: Window) -> float | Absent:
    """The value of one definition (before ``scale``), or why there is none."""
    kind = definition.kind
    if kind is MeasureKind.GAUGE:
        assert definition.gauge is not None
        return _gauge(definition.gauge, w.current)
    if kind is MeasureKind.GAUGE_RATIO:
        assert definition.gauge_ratio is not None
        num = _gauge(definition.gauge_ratio.numerator, w.current)
        den = _gauge(definition.gauge_ratio.denominator, w.current)
        if isinstance(num, Absent):
            return num
        if isinstance(den, Absent):
            return den
        if den == 0:
            return Absent(f"{definition.gauge_ratio.denominator} is 0: the ratio is undefined")
        return num / den
    if w.previous is None or w.seconds is None:
        return _NEEDS_TWO
    if kind is MeasureKind.RATE:
        assert definition.rate is not None
        return w.increase(definition.rate).value / w.seconds
    if kind is MeasureKind.RATIO:
        assert definition.ratio is not None
        den_inc = w.increase(definition.ratio.denominator)
        num_inc = w.increase(definition.ratio.numerator)
        if den_inc.value == 0:
            return Absent(
                f"{definition.ratio.denominator} did not increase between scrapes (no traffic): "
                "the ratio is undefined"
            )
        return num_inc.value / den_inc.value
    if kind is MeasureKind.MEAN:
        assert definition.mean is not None
        base = definition.mean
        total = w.increase(base.with_metric(base.metric + "_sum"))
        count = w.increase(base.with_metric(base.metric + "_count"))
        if count.value == 0:
            return Absent(f"no observations of {base} between scrapes")
        return total.value / count.value
    assert definition.histogram is not None
    assert definition.quantile is not None
    return _quantile(definition.quantile, definition.histogram, w)


def _gauge(sel: Selector, expo: Exposition) -> float | Absent:
    values = [v for v in expo.select(sel).values() if not math.isnan(v)]
    if not values:
        return Absent(f"no series match {sel}")
    return math.fsum(values)


def _quantile(q: float, histogram: Selector, w: Window) -> float | Absent:
    bucket_sel = histogram.with_metric(histogram.metric + "_bucket")
    increases = w.bucket_increases(bucket_sel)
    if not increases:
        return Absent(f"no {bucket_sel.metric} series match {histogram}")
    if math.inf not in increases:
        return Absent(f'{histogram} has no le="+Inf" bucket')
    if increases[math.inf] == 0:
        return Absent(f"no observations of {histogram} between scrapes")
    buckets = list(increases.items())
    value = bucket_quantile(q, buckets)
    if math.isnan(value):
        return Absent(f"{histogram} has too few buckets for a quantile")
    finite = sorted(b for b in increases if not math.isinf(b))
    if finite and value == finite[-1] and _rank_in_inf_bucket(q, buckets):
        w.notes.append(
            f"the {q:g} quantile of {histogram} lies above its highest bucket bound ({finite[-1]:g}): "
            "reported as that bound, as PromQL does"
        )
    return value


def _rank_in_inf_bucket(q: float, buckets: list[tuple[float, float]]) -> bool:
    ordered = sorted(buckets)
    total = ordered[-1][1]
    below_inf = max((c for b, c in ordered if not math.isinf(b)), default=0.0)
    return q * total > below_inf


@dataclass(frozen=True)
class PresetItem:
    """One standard measurement; the first candidate the exposition can answer is used."""

    name: str
    candidates: tuple[MetricDef, ...]


class Preset(enum.StrEnum):
    HTTP = "http"
    PROCESS = "process"
    DB = "db"


def _def(**kwargs: object) -> MetricDef:
    return MetricDef.model_validate(kwargs)


def _quantiles(prefix: str, histogram: str) -> list[PresetItem]:
    return [
        PresetItem(f"{prefix}_p{p}_ms", (_def(quantile=p / 100, histogram=histogram, scale=1000, unit="ms"),))
        for p in (50, 95, 99)
    ]


def _error_ratio() -> PresetItem:
    return PresetItem(
        "error_ratio",
        tuple(
            _def(
                ratio={
                    "numerator": f'http_requests_total{{{label}=~"5.."}}',
                    "denominator": "http_requests_total",
                }
            )
            for label in ("status", "code", "status_code")
        ),
    )


_PRESETS: dict[Preset, tuple[PresetItem, ...]] = {
    Preset.HTTP: (
        PresetItem("requests_per_s", (_def(rate="http_requests_total"),)),
        _error_ratio(),
        *_quantiles("latency", "http_request_duration_seconds"),
    ),
    Preset.PROCESS: (
        PresetItem("cpu_pct", (_def(rate="process_cpu_seconds_total", scale=100, unit="%"),)),
        PresetItem("memory_rss_bytes", (_def(gauge="process_resident_memory_bytes", unit="bytes"),)),
        PresetItem("open_fds", (_def(gauge="process_open_fds"),)),
    ),
    Preset.DB: (
        PresetItem("db_pool_in_use", (_def(gauge="db_pool_in_use_connections"),)),
        PresetItem(
            "db_pool_used_pct",
            tuple(
                _def(
                    gauge_ratio={"numerator": "db_pool_in_use_connections", "denominator": size},
                    scale=100,
                    unit="%",
                )
                for size in ("db_pool_size_connections", "db_pool_max_connections")
            ),
        ),
        *_quantiles("db_query", "db_query_duration_seconds"),
    ),
}


def preset_items(preset: Preset) -> tuple[PresetItem, ...]:
    return _PRESETS[preset]
