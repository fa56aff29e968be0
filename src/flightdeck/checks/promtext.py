"""Prometheus exposition, read the way Prometheus reads it: selectors, parsing, series math.

- :func:`parse_selector` reads a PromQL instant-vector selector such as
  ``http_requests_total{status=~"5..", route!="/health"}``: a metric name and label matchers with
  ``=``, ``!=``, ``=~`` and ``!~`` (regular expressions match the whole value, as in PromQL; a label a
  series does not carry counts as the empty string).
- :func:`parse_exposition` reads the Prometheus text format (0.0.4) or OpenMetrics with
  ``prometheus_client``'s parsers into an :class:`Exposition`: every sample by name and label set.
- :func:`counter_increase` is the increase of counters between two scrapes, per series, with
  Prometheus's counter-reset rule (a value that went down restarted from zero).
- :func:`bucket_quantile` is PromQL's ``histogram_quantile`` over classic ``le`` buckets: linear
  interpolation within the bucket, the highest finite bound when the rank falls in ``+Inf``.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text
from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

__all__ = [
    "Exposition",
    "ExpositionFormat",
    "Increase",
    "LabelSet",
    "MatchOp",
    "Matcher",
    "MetricType",
    "Selector",
    "bucket_quantile",
    "counter_increase",
    "label_key",
    "parse_exposition",
    "parse_selector",
]

LabelSet = tuple[tuple[str, str], ...]
"""A series' labels, sorted by name: the identity of a series within one metric name."""

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_ESCAPES = {
    "\\": "\\",
    '"': '"',
    "'": "'",
    "`": "`",
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
}


class MatchOp(enum.StrEnum):
    EQ = "="
    NE = "!="
    RE = "=~"
    NRE = "!~"


def _quote(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        value = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{value}"'


@dataclass(frozen=True)
class Matcher:
    """``label <op> "value"``; a label the series does not carry is matched as ``""``."""

    label: str
    op: MatchOp
    value: str
    pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.label, "")
        if self.op is MatchOp.EQ:
            return actual == self.value
        if self.op is MatchOp.NE:
            return actual != self.value
        assert self.pattern is not None
        found = self.pattern.fullmatch(actual) is not None
        return found if self.op is MatchOp.RE else not found

    def __str__(self) -> str:
        return f"{self.label}{self.op.value}{_quote(self.value)}"


@dataclass(frozen=True)
class Selector:
    """A metric name and label matchers; the series it selects are summed by whoever uses it."""

    metric: str
    matchers: tuple[Matcher, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(m.matches(labels) for m in self.matchers)

    def with_metric(self, metric: str) -> Selector:
        return Selector(metric, self.matchers)

    @property
    def label_names(self) -> frozenset[str]:
        return frozenset(m.label for m in self.matchers)

    def __str__(self) -> str:
        if not self.matchers:
            return self.metric
        return self.metric + "{" + ",".join(str(m) for m in self.matchers) + "}"

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def coerce(value: Any) -> Selector:
            if isinstance(value, Selector):
                return value
            if not isinstance(value, str):
                raise ValueError('must be a selector such as http_requests_total{status=~"5.."}')
            return parse_selector(value)

        return core_schema.no_info_plain_validator_function(
            coerce,
            serialization=core_schema.plain_serializer_function_ser_schema(str),
            json_schema_input_schema=core_schema.str_schema(),
        )


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, what: str) -> ValueError:
        return ValueError(f"cannot read selector {self.text!r}: {what} at position {self.pos + 1}")

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self, token: str) -> bool:
        self.skip_space()
        return self.text.startswith(token, self.pos)

    def take(self, token: str) -> bool:
        if self.peek(token):
            self.pos += len(token)
            return True
        return False

    def name(self, pattern: re.Pattern[str], what: str) -> str:
        self.skip_space()
        m = pattern.match(self.text, self.pos)
        if not m:
            raise self.fail(f"expected {what}")
        self.pos = m.end()
        return m.group(0)

    def string(self) -> str:
        self.skip_space()
        if self.pos >= len(self.text) or self.text[self.pos] not in "\"'`":
            raise self.fail('expected a quoted value such as "500"')
        quote = self.text[self.pos]
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            self.pos += 1
            if ch == quote:
                return "".join(out)
            if ch == "\\" and quote != "`":
                out.append(self._escape())
            elif ch == "\n" and quote != "`":
                raise self.fail("line break inside a quoted value")
            else:
                out.append(ch)
        raise self.fail(f"missing closing {quote}")

    def _escape(self) -> str:
        if self.pos >= len(self.text):
            raise self.fail("unfinished escape")
        ch = self.text[self.pos]
        self.pos += 1
        if ch in _ESCAPES:
            return _ESCAPES[ch]
        width = {"x": 2, "u": 4, "U": 8}.get(ch)
        digits = self.text[self.pos : self.pos + width] if width else ""
        if width and len(digits) == width and all(c in "0123456789abcdefABCDEF" for c in digits):
            self.pos += width
            return chr(int(digits, 16))
        self.pos -= 1
        raise self.fail(f"unknown escape \\{ch}")

    def op(self) -> MatchOp:
        for token in ("=~", "!~", "!=", "="):
            if self.take(token):
                return MatchOp(token)
        raise self.fail("expected one of = != =~ !~")


def parse_selector(text: str) -> Selector:
    """``metric{label="v", other=~"re"}`` → :class:`Selector`; raises ``ValueError`` saying where."""
    s = _Scanner(text)
    if s.peek("{"):
        raise ValueError(
            f"cannot read selector {text!r}: start with the metric name, "
            'e.g. http_requests_total{status=~"5.."}'
        )
    metric = s.name(_METRIC_NAME, "a metric name")
    matchers: list[Matcher] = []
    if s.take("{"):
        while not s.take("}"):
            label = s.name(_LABEL_NAME, "a label name")
            if label == "__name__":
                raise s.fail("give the metric name before the braces, not as __name__")
            op = s.op()
            value = s.string()
            pattern = None
            if op in (MatchOp.RE, MatchOp.NRE):
                try:
                    pattern = re.compile(value)
                except re.error as exc:
                    raise ValueError(
                        f"cannot read selector {text!r}: invalid regular expression {value!r} ({exc})"
                    ) from None
            matchers.append(Matcher(label, op, value, pattern))
            if not s.take(",") and not s.peek("}"):
                raise s.fail("expected ',' or '}'")
    s.skip_space()
    if s.pos != len(text):
        raise s.fail("unexpected text")
    return Selector(metric, tuple(matchers))


class ExpositionFormat(enum.StrEnum):
    PROMETHEUS_TEXT = "prometheus-text"
    OPENMETRICS = "openmetrics"


class MetricType(enum.StrEnum):
    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"
    GAUGE_HISTOGRAM = "gaugehistogram"
    SUMMARY = "summary"
    INFO = "info"
    STATESET = "stateset"
    UNKNOWN = "unknown"

    @classmethod
    def of(cls, name: str) -> MetricType:
        try:
            return cls(name)
        except ValueError:
            return cls.UNKNOWN  # "untyped" in the text format


_SUFFIXES: dict[MetricType, tuple[str, ...]] = {
    MetricType.COUNTER: ("", "_total", "_created"),
    MetricType.HISTOGRAM: ("_bucket", "_count", "_sum", "_created"),
    MetricType.GAUGE_HISTOGRAM: ("_bucket", "_gcount", "_gsum"),
    MetricType.SUMMARY: ("", "_count", "_sum", "_created"),
    MetricType.INFO: ("_info",),
}


def label_key(labels: LabelSet) -> str:
    """A series' label set as text (``method="GET",status="200"``), for keeping it in a memo."""
    return ",".join(f"{k}={_quote(v)}" for k, v in labels)


@dataclass
class Exposition:
    """Every sample of one scrape, by sample name (``http_requests_total``, ``x_bucket``) and labels."""

    format: ExpositionFormat
    series: dict[str, dict[LabelSet, float]] = field(default_factory=dict)
    types: dict[str, MetricType] = field(default_factory=dict)
    _keys: dict[LabelSet, str] = field(default_factory=dict, repr=False, compare=False)
    _label_names: dict[str, frozenset[str]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def sample_count(self) -> int:
        return sum(len(s) for s in self.series.values())

    def declared(self, name: str) -> bool:
        """Whether the target exposes ``name``, even with no series yet (a labelled counter that has
        not been incremented is declared by its ``# TYPE`` line alone)."""
        return name in self.series or name in self.types

    def select(self, selector: Selector) -> dict[LabelSet, float]:
        series = self.series.get(selector.metric, {})
        if not selector.matchers:
            return dict(series)
        return {labels: value for labels, value in series.items() if selector.matches(dict(labels))}

    def label_names(self, name: str) -> frozenset[str]:
        """Every label name some series of ``name`` carries."""
        found = self._label_names.get(name)
        if found is None:
            found = frozenset(k for labels in self.series.get(name, {}) for k, _ in labels)
            self._label_names[name] = found
        return found

    def created(self, name: str, labels: LabelSet) -> float | None:
        """When the target says the series ``name{labels}`` started counting (its ``_created``
        sample, seconds since the epoch), if it says so."""
        base = name
        for suffix in ("_total", "_bucket", "_count", "_sum"):
            if name.endswith(suffix):
                base = name.removesuffix(suffix)
                break
        created = self.series.get(base + "_created")
        if not created:
            return None
        return created.get(tuple(kv for kv in labels if kv[0] != "le"))

    def key_of(self, labels: LabelSet) -> str:
        """:func:`label_key`, computed once per label set and scrape."""
        key = self._keys.get(labels)
        if key is None:
            key = self._keys[labels] = label_key(labels)
        return key


def parse_exposition(body: str, content_type: str = "") -> Exposition:
    """Read a scrape; raises ``ValueError`` with the parser's reason when it is not an exposition."""
    fmt = (
        ExpositionFormat.OPENMETRICS
        if content_type.split(";")[0].strip().lower() == "application/openmetrics-text"
        else ExpositionFormat.PROMETHEUS_TEXT
    )
    parser = parse_openmetrics if fmt is ExpositionFormat.OPENMETRICS else parse_text
    out = Exposition(format=fmt)
    try:
        for family in parser(body):
            mtype = MetricType.of(family.type)
            for suffix in _SUFFIXES.get(mtype, ("",)):
                out.types.setdefault(family.name + suffix, mtype)
            for sample in family.samples:
                labels: LabelSet = tuple(sorted(sample.labels.items()))
                out.series.setdefault(sample.name, {})[labels] = float(sample.value)
                out.types[sample.name] = mtype
    except Exception as exc:  # the parsers raise ValueError, and sometimes worse, on garbage
        raise ValueError(str(exc) or type(exc).__name__) from None
    return out


@dataclass(frozen=True)
class Increase:
    """How much the selected counters grew between two scrapes, summed over series.

    ``series`` were counted; ``resets`` of them had been reset; ``unseen`` appeared since the previous
    scrape and were not counted (nothing shows they started from zero since then)."""

    value: float
    series: int
    resets: int
    unseen: int = 0


def counter_increase(
    previous: Mapping[str, float],
    current: Iterable[tuple[LabelSet, float]],
    key: Callable[[LabelSet], str] = label_key,
    born_since: Callable[[LabelSet], bool] | None = None,
) -> Increase:
    """Sum over series of ``current - previous``, like PromQL sums per-series ``increase``.

    ``previous`` maps :func:`label_key` to the value at the previous scrape. A value that went down
    is a counter reset (the target restarted): its increase is its whole current value, as in
    Prometheus. A series absent from the previous scrape counts from zero only when ``born_since``
    says it was created since then (its ``_created`` timestamp); otherwise, as in Prometheus, its
    first sample only starts its rate.
    """
    total, n, resets, unseen = 0.0, 0, 0, 0
    for labels, value in current:
        if not math.isfinite(value):
            continue
        before = previous.get(key(labels))
        if before is None:
            if born_since is None or not born_since(labels):
                unseen += 1
                continue
            before = 0.0
        if value < before:
            resets += 1
            total += value
        else:
            total += value - before
        n += 1
    return Increase(total, n, resets, unseen)


def bucket_quantile(q: float, buckets: Iterable[tuple[float, float]]) -> float:
    """PromQL ``histogram_quantile(q, ...)`` over ``(upper_bound, cumulative_count)`` pairs.

    NaN when there is no ``+Inf`` bucket, fewer than two buckets, or no observations. When the rank
    falls in the ``+Inf`` bucket the highest finite upper bound is returned; when it falls in a lowest
    bucket whose upper bound is ≤ 0, that bound; otherwise linear interpolation within the bucket,
    from 0 for the lowest bucket.
    """
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    ordered = sorted(buckets)
    if not ordered or not math.isinf(ordered[-1][0]):
        return math.nan
    merged: list[list[float]] = []
    for upper, count in ordered:  # buckets with the same bound (from several series) add up
        if merged and merged[-1][0] == upper:
            merged[-1][1] += count
        else:
            merged.append([upper, count])
    _correct_precision(merged, 1e-12)
    highest = merged[0][1]
    for bucket in merged[1:]:  # counts must not decrease with the bound; force the envelope
        highest = max(highest, bucket[1])
        bucket[1] = highest
    if len(merged) < 2:
        return math.nan
    observations = merged[-1][1]
    if observations == 0:
        return math.nan
    rank = q * observations
    b = next((i for i in range(len(merged) - 1) if merged[i][1] >= rank), len(merged) - 1)
    if b == len(merged) - 1:
        return merged[-2][0]
    if b == 0 and merged[0][0] <= 0:
        return merged[0][0]
    start, end, count = 0.0, merged[b][0], merged[b][1]
    if b > 0:
        start = merged[b - 1][0]
        count -= merged[b - 1][1]
        rank -= merged[b - 1][1]
    return start + (end - start) * (rank / count)


def _correct_precision(buckets: list[list[float]], tolerance: float) -> None:
    """Counts that differ from the previous bucket's by a relative ``tolerance`` are float noise."""
    prev = buckets[0][1]
    for bucket in buckets[1:]:
        delta = abs(bucket[1] - prev)
        if delta == 0:
            continue
        if bucket[1] != 0 and delta / bucket[1] <= tolerance:
            bucket[1] = prev
        else:
            prev = bucket[1]
