"""``metrics``: scrape a Prometheus exposition endpoint and turn its series into measurements.

Counters become rates between two scrapes (requests/s, 5xx ratio), histograms become quantiles
computed like PromQL's ``histogram_quantile(q, rate(x_bucket[...]))`` over the bucket increases
between two scrapes, gauges are read as they are. Presets name the measurements of common metric
names (``http_requests_total``, ``http_request_duration_seconds``, ``process_cpu_seconds_total``, …).

The previous scrape's counters and time travel in the check's memo. The first scrape (or the first
after a configuration change or a long gap) has no rates: those measurements are absent and the
detail says why, so conditions on them are ``unknown``, never a made-up zero.

Measurements: ``scrape_ms``, ``scrape_samples``, plus the presets' and your own.
"""

from __future__ import annotations

import asyncio
import difflib
import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, JsonValue, field_validator, model_validator

from flightdeck.checks.base import Check, Observation, register
from flightdeck.checks.httpclient import fetch, shared_ssl_context
from flightdeck.checks.metrics_eval import (
    MEASURE_NAME,
    Absent,
    MetricDef,
    Preset,
    Window,
    counter_names,
    evaluate,
    preset_items,
    problem,
)
from flightdeck.checks.promtext import Exposition, parse_exposition
from flightdeck.checks.request import Headers, check_auth_and_tls, credential_values, public_url
from flightdeck.config.check_spec import CheckSpec
from flightdeck.config.types import Duration, ReadableFile, format_duration
from flightdeck.errors import CheckError
from flightdeck.secret import Secret

__all__ = ["BUILTIN_MEASUREMENTS", "MetricsCheck", "MetricsSpec", "Planned"]

BUILTIN_MEASUREMENTS = ("scrape_ms", "scrape_samples")
_ACCEPT = "text/plain;version=0.0.4;q=1,application/openmetrics-text;version=1.0.0;q=0.5,*/*;q=0.1"
_MEMO_VERSION = 1
_PARSE_INLINE_BYTES = 256_000  # larger expositions are read off the event loop
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Planned:
    """One measurement to take: its name, the definitions that may answer it (the first one the
    exposition can answer is used), and whether you configured it (rather than a preset)."""

    name: str
    candidates: tuple[MetricDef, ...]
    explicit: bool


class MetricsSpec(CheckSpec):
    """Scrape one Prometheus exposition endpoint and measure what its series say."""

    kind: Literal["metrics"]
    url: str = Field(description="The exposition endpoint, e.g. http://127.0.0.1:8081/metrics")
    presets: list[Preset] = Field(
        default_factory=list, description="Standard measurements for common metric names"
    )
    measurements: dict[str, MetricDef] = Field(
        default_factory=dict, description="Your own measurements, by name"
    )
    headers: Headers = Field(default_factory=dict, description="Request headers; sent, never recorded")
    bearer_token: Secret | None = Field(
        default=None, description="Sent as 'Authorization: Bearer <token>'; or bearer_token_file"
    )
    verify_tls: bool = Field(default=True, description="Verify the endpoint's certificate (https only)")
    ca_file: ReadableFile | None = Field(default=None, description="PEM file of CA certificates to trust")
    max_window: Duration = Field(
        default=3600.0, description="Longest gap between two scrapes that still yields rates"
    )
    max_bytes: int = Field(
        default=10_000_000, ge=1_000, le=200_000_000, description="Largest exposition read, in bytes"
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"must be an http:// or https:// URL (got {public_url(value)!r})")
        return value

    @field_validator("presets")
    @classmethod
    def _unique_presets(cls, value: list[Preset]) -> list[Preset]:
        return list(dict.fromkeys(value))

    @field_validator("measurements")
    @classmethod
    def _names(cls, value: dict[str, MetricDef]) -> dict[str, MetricDef]:
        for name in value:
            if not MEASURE_NAME.fullmatch(name):
                raise ValueError(
                    f"measurement name {name!r}: use lowercase letters, digits and '_', "
                    "starting with a letter (e.g. latency_p95_ms)"
                )
            if name in BUILTIN_MEASUREMENTS:
                raise ValueError(f"measurement name {name!r} is taken by a built-in measurement")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> MetricsSpec:
        check_auth_and_tls(self.headers, self.bearer_token, self.ca_file, self.verify_tls)
        if self.interval is not None and self.interval > self.max_window:
            raise ValueError(
                f"max_window ({format_duration(self.max_window)}) must be at least the interval "
                f"({format_duration(self.interval)}), or no rate could ever be measured"
            )
        produced = self.measurement_names()
        for condition in self.conditions:
            if condition.measurement not in produced:
                close = difflib.get_close_matches(condition.measurement, sorted(produced), n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise ValueError(
                    f"condition '{condition}' names {condition.measurement!r}, which this check does "
                    f"not measure ({hint}it measures: {', '.join(sorted(produced))})"
                )
        return self

    def measurement_names(self) -> set[str]:
        return {p.name for p in self.plan()} | set(BUILTIN_MEASUREMENTS)

    def plan(self) -> list[Planned]:
        """What to measure, in order; your own definitions win over a preset's of the same name."""
        out: dict[str, Planned] = {}
        for preset in self.presets:
            for item in preset_items(preset):
                out.setdefault(item.name, Planned(item.name, item.candidates, explicit=False))
        for name, definition in self.measurements.items():
            out[name] = Planned(name, (definition,), explicit=True)
        return list(out.values())

    def request_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if not any(h.lower() == "accept" for h in headers):
            headers["Accept"] = _ACCEPT
        if self.bearer_token is not None:
            headers["Authorization"] = f"Bearer {self.bearer_token.reveal()}"
        return headers

    def secret_values(self) -> list[str]:
        """Bearer token, credential-like header and query values, and a password in the URL."""
        return [*super().secret_values(), *credential_values(self.headers, self.url)]


@register
class MetricsCheck(Check[MetricsSpec]):
    spec_type = MetricsSpec

    async def observe(self, memo: JsonValue) -> Observation:
        shown_url = public_url(self.spec.url)
        now_us = _epoch_us(self.context.clock.now())  # like Prometheus: the time the scrape started
        body, content_type, scrape_ms = await self._scrape(shown_url)
        scrape = _Scrape(body, content_type, shown_url, now_us, scrape_ms)
        if len(body) > _PARSE_INLINE_BYTES:  # pure-Python parsing of a large body: off the event loop
            return await asyncio.to_thread(self._measure, scrape, memo)
        return self._measure(scrape, memo)

    def _measure(self, scrape: _Scrape, memo: JsonValue) -> Observation:
        spec = self.spec
        expo = _parse(scrape.body, scrape.content_type, scrape.shown_url)
        now_us, scrape_ms, shown_url = scrape.now_us, scrape.scrape_ms, scrape.shown_url
        plan = spec.plan()
        counters = sorted({n for p in plan for d in p.candidates for n in counter_names(d)})
        digest = hashlib.sha256("\n".join([shown_url, *counters]).encode()).hexdigest()[:16]
        notes: list[str] = []
        previous, seconds = self._previous(memo, digest, now_us, notes)
        previous_at = (now_us / 1_000_000 - seconds) if seconds is not None else None
        window = Window(current=expo, previous=previous, seconds=seconds, previous_at=previous_at)

        obs = Observation()
        obs.measure("scrape_ms", round(scrape_ms, 3), "ms")
        obs.measure("scrape_samples", expo.sample_count)
        absent: dict[str, JsonValue] = {}
        for planned in plan:
            chosen, reason = _choose(planned.candidates, expo)
            if chosen is None:
                absent[planned.name] = reason
                if planned.explicit:
                    obs.warnings.append(f"{planned.name} not measured: {reason}")
                continue
            outcome = evaluate(chosen, window)
            if isinstance(outcome, Absent):
                absent[planned.name] = outcome.reason
            else:
                obs.measure(planned.name, outcome * chosen.scale, chosen.effective_unit)

        notes.extend(window.notes)
        if window.unseen:
            notes.append(
                "new series since the previous scrape in "
                + ", ".join(sorted(window.unseen))
                + " without a _created time: they count from the next scrape on, as in Prometheus"
            )
        if window.resets:
            notes.append(
                "counter reset (a value went down: did the target restart?) in "
                + ", ".join(sorted(window.resets))
                + "; counted from zero, as Prometheus does"
            )
        obs.detail = {
            "url": shown_url,
            "format": expo.format.value,
            "samples": expo.sample_count,
            "window_s": seconds,
        }
        if absent:
            obs.detail["absent"] = absent
        if notes:
            obs.detail["notes"] = list(notes)
        obs.memo = {
            "v": _MEMO_VERSION,
            "plan": digest,
            "at_us": now_us,
            "series": {
                name: {expo.key_of(k): v for k, v in expo.series.get(name, {}).items() if math.isfinite(v)}
                for name in counters
            },
        }
        taken = f"{len(obs.measurements) - len(BUILTIN_MEASUREMENTS)} of {len(plan)} measurements"
        if previous is None and counters:
            obs.summary = f"first scrape, rates need a second one: {taken} from {expo.sample_count} samples"
        elif seconds is not None:
            obs.summary = f"{taken} from {expo.sample_count} samples over {_span(seconds)}"
        else:
            obs.summary = f"{taken} from {expo.sample_count} samples"
        return obs

    async def _scrape(self, shown_url: str) -> tuple[str, str, float]:
        spec = self.spec
        ssl_ctx = None
        if urlsplit(spec.url).scheme == "https":
            ssl_ctx = shared_ssl_context(self.context, spec.verify_tls, spec.ca_file)
        try:
            resp = await fetch(
                self.context,
                spec.url,
                headers=spec.request_headers(),
                ssl_ctx=ssl_ctx,
                max_body=spec.max_bytes,
            )
        except CheckError as exc:
            raise CheckError(exc.reason.replace(spec.url, shown_url)) from None
        if resp.status != 200:
            raise CheckError(f"{shown_url}: HTTP {resp.status} {resp.reason}".rstrip() + " (expected 200)")
        declared = resp.header("Content-Length")
        if (
            declared is not None
            and declared.isdigit()
            and len(resp.body) < int(declared)
            and not resp.body_truncated
        ):
            raise CheckError(f"{shown_url}: response cut short: {len(resp.body)} of {declared} bytes read")
        if resp.body_truncated:
            raise CheckError(
                f"{shown_url}: exposition larger than {spec.max_bytes} bytes (raise max_bytes to read it)"
            )
        return resp.text(), resp.header("Content-Type") or "", resp.timings.total_ms

    def _previous(
        self, memo: JsonValue, digest: str, now_us: int, notes: list[str]
    ) -> tuple[dict[str, dict[str, float]] | None, float | None]:
        """The previous scrape's counters and the seconds since, when they can yield rates."""
        if not isinstance(memo, dict) or memo.get("v") != _MEMO_VERSION:
            return None, None
        at_us, series = memo.get("at_us"), memo.get("series")
        if not isinstance(at_us, int) or not isinstance(series, dict):
            return None, None
        if memo.get("plan") != digest:
            notes.append("the measured metrics changed since the previous scrape: rates start again")
            return None, None
        seconds = (now_us - at_us) / 1_000_000
        if seconds <= 0:
            notes.append("the clock went backwards since the previous scrape: rates start again")
            return None, None
        if seconds > self.spec.max_window:
            notes.append(
                f"the previous scrape was {format_duration(round(seconds))} ago, longer than max_window "
                f"({format_duration(self.spec.max_window)}): rates start again"
            )
            return None, None
        previous: dict[str, dict[str, float]] = {}
        for name, values in series.items():
            if isinstance(values, dict):
                previous[str(name)] = {
                    str(k): float(v) for k, v in values.items() if isinstance(v, int | float)
                }
        return previous, seconds


def _choose(candidates: tuple[MetricDef, ...], expo: Exposition) -> tuple[MetricDef | None, str]:
    first_reason = ""
    for candidate in candidates:
        reason = problem(candidate, expo)
        if reason is None:
            return candidate, ""
        first_reason = first_reason or reason
    return None, first_reason


@dataclass(frozen=True)
class _Scrape:
    body: str
    content_type: str
    shown_url: str
    now_us: int
    scrape_ms: float


def _parse(body: str, content_type: str, shown_url: str) -> Exposition:
    try:
        expo = parse_exposition(body, content_type)
    except ValueError as exc:
        text = body.strip()
        first = text.splitlines()[0][:60] if text else ""
        ctype = content_type.split(";")[0].strip() or "no content type"
        raise CheckError(f"{shown_url}: not a Prometheus exposition ({ctype}; {exc}): {first!r}") from None
    if not expo.series and not expo.types:
        raise CheckError(f"{shown_url}: empty response, not a Prometheus exposition")
    return expo


def _span(seconds: float) -> str:
    return format_duration(round(seconds, 1) if seconds >= 1 else round(seconds, 3))


def _epoch_us(when: datetime) -> int:
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
