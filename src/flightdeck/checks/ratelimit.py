"""``ratelimit``: does an endpoint of **your own service** refuse a burst with 429 where it should?

This check deliberately sends a burst of requests. Point it only at services you operate (or are
authorised to test): against anyone else's it is abuse. The burst is bounded in code whatever the
configuration says: at most :data:`MAX_REQUESTS` requests and :data:`MAX_DURATION` seconds, and it
stops at the first 429.

Measurements: ``requests_sent``, ``first_429_at`` (1-based request number), ``retry_after_s``,
``burst_rps``, ``responses_5xx``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, JsonValue, model_validator

from flightdeck.checks.base import Check, Observation, register
from flightdeck.checks.httpclient import HttpResponse, fetch, shared_ssl_context
from flightdeck.checks.request import RequestSpec
from flightdeck.config.types import Duration, format_duration
from flightdeck.errors import CheckError

__all__ = ["MAX_DURATION", "MAX_REQUESTS", "RateLimitCheck", "RateLimitSpec", "parse_retry_after"]

MAX_REQUESTS = 1000
"""No burst sends more requests than this, whatever the configuration says."""
MAX_DURATION = 60.0
"""No burst lasts longer than this many seconds, whatever the configuration says."""

_OWN_SERVICES = "Only point this at services you operate or are authorised to test."


class RateLimitSpec(RequestSpec):
    """A bounded burst to one endpoint of your own service, expecting a 429 within the limit."""

    kind: Literal["ratelimit"]
    url: str = Field(description=f"http:// or https:// URL to send the burst to. {_OWN_SERVICES}")
    limit: int | None = Field(
        default=None,
        ge=1,
        lt=MAX_REQUESTS,
        description="Requests the endpoint allows in its window; request limit+1 must get a 429. "
        + _OWN_SERVICES,
    )
    expect_429_within: int | None = Field(
        default=None,
        ge=1,
        le=MAX_REQUESTS,
        description=f"A 429 must arrive within this many requests (default: limit + 1). {_OWN_SERVICES}",
    )
    require_retry_after: bool = Field(
        default=False, description="Fail when the 429 has no valid Retry-After (seconds or HTTP date)"
    )
    concurrency: int = Field(default=1, ge=1, le=50, description="Requests in flight at once")
    max_duration: Duration = Field(
        default=30.0, description=f"Stop the burst after this long (never more than {MAX_DURATION:g} s)"
    )

    @model_validator(mode="after")
    def _bound(self) -> RateLimitSpec:
        if self.limit is None and self.expect_429_within is None:
            raise ValueError("give limit (requests allowed) or expect_429_within (requests until a 429)")
        if (
            self.limit is not None
            and self.expect_429_within is not None
            and self.expect_429_within <= self.limit
        ):
            raise ValueError("expect_429_within must be greater than limit")
        if self.max_duration <= 0:
            raise ValueError("max_duration must be positive")
        return self

    @property
    def within(self) -> int:
        """How many requests may be sent, at most, before a 429 must have arrived."""
        if self.expect_429_within is not None:
            return min(self.expect_429_within, MAX_REQUESTS)
        assert self.limit is not None
        return min(self.limit + 1, MAX_REQUESTS)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds: ``120`` or an HTTP date (relative to ``now``); ``None`` if invalid."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None  # an HTTP date is always in GMT; a zone-less date is not one
    return max(0.0, (when - now).total_seconds())


@dataclass
class _Burst:
    budget: int
    next_index: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    first_429: int | None = None
    limited: HttpResponse | None = None
    error: tuple[int, str] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def take(self) -> int | None:
        if self.done.is_set() or self.next_index >= self.budget:
            return None
        self.next_index += 1
        return self.next_index


@register
class RateLimitCheck(Check[RateLimitSpec]):
    spec_type = RateLimitSpec

    def _deadline(self) -> float:
        timeout = self.timeout
        # Leave room to report before the runner's own timeout would discard the burst's findings.
        return min(self.spec.max_duration, MAX_DURATION, max(timeout * 0.9, timeout - 1.0))

    async def _send(self, burst: _Burst) -> None:
        spec = self.spec
        ssl_ctx = None
        if urlsplit(spec.url).scheme == "https":
            ssl_ctx = shared_ssl_context(self.context, spec.verify_tls, spec.ca_file)
        headers, body = spec.request_headers(), spec.request_body()
        while (index := burst.take()) is not None:
            try:
                resp = await fetch(
                    self.context,
                    spec.url,
                    spec.method.value,
                    headers=headers,
                    data=body,
                    ssl_ctx=ssl_ctx,
                    follow_redirects=False,
                    max_body=16_384,
                )
            except CheckError as exc:
                if burst.error is None or index < burst.error[0]:
                    burst.error = (index, exc.reason)
                burst.done.set()
                return
            burst.statuses[index] = resp.status
            if resp.status == 429 and (burst.first_429 is None or index < burst.first_429):
                burst.first_429, burst.limited = index, resp
                burst.done.set()

    async def observe(self, memo: JsonValue) -> Observation:
        spec = self.spec
        burst = _Burst(budget=spec.within)
        deadline = self._deadline()
        timed_out = False
        t0 = time.perf_counter()
        workers = [asyncio.create_task(self._send(burst)) for _ in range(spec.concurrency)]
        try:
            async with asyncio.timeout(deadline):
                await asyncio.gather(*workers)
        except TimeoutError:
            timed_out = True
        finally:
            for w in workers:
                w.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*workers, return_exceptions=True)
        elapsed = time.perf_counter() - t0
        sent = burst.next_index
        if burst.error is not None and burst.error[0] == 1 and not burst.statuses:
            raise CheckError(burst.error[1])

        obs = Observation()
        obs.measure("requests_sent", sent)
        obs.measure("burst_rps", round(sent / elapsed, 3) if elapsed > 0 else None, "req/s")
        obs.measure("first_429_at", burst.first_429)
        histogram = Counter(burst.statuses.values())
        errors_5xx = sum(n for status, n in histogram.items() if status >= 500)
        obs.measure("responses_5xx", errors_5xx)
        obs.detail.update(
            {
                "request": spec.request_detail(),
                "expect_429_within": spec.within,
                "limit": spec.limit,
                "concurrency": spec.concurrency,
                "time_limit_s": deadline,
                "statuses": {str(s): n for s, n in sorted(histogram.items())},
                "duration_ms": round(elapsed * 1000, 3),
            }
        )
        self._judge(obs, burst, sent, elapsed, timed_out, deadline, errors_5xx)
        return obs

    def _judge(
        self,
        obs: Observation,
        burst: _Burst,
        sent: int,
        elapsed: float,
        timed_out: bool,
        deadline: float,
        errors_5xx: int,
    ) -> None:
        spec = self.spec
        if burst.first_429 is None:
            if burst.error is not None:
                index, reason = burst.error
                obs.failures.append(f"request {index} failed before any 429: {reason}")
            elif timed_out:
                obs.failures.append(
                    f"no 429 after {sent} requests in {format_duration(deadline)} (the burst's time limit)"
                )
            else:
                obs.failures.append(f"no 429 within {spec.within} requests")
            obs.summary = f"no 429 after {sent} requests"
        else:
            obs.summary = f"429 at request {burst.first_429} ({sent} sent in {elapsed * 1000:.0f} ms)"
            if spec.limit is not None and burst.first_429 <= spec.limit:
                obs.warnings.append(
                    f"429 at request {burst.first_429}, before the declared limit of {spec.limit} "
                    "(a stricter limit, or a window still counting an earlier burst)"
                )
            self._retry_after(obs, burst.limited)
        if errors_5xx:
            obs.warnings.append(f"{errors_5xx} responses were 5xx during the burst")

    def _retry_after(self, obs: Observation, resp: HttpResponse | None) -> None:
        assert resp is not None
        raw = resp.header("Retry-After")
        now = _server_now(resp) or self.context.clock.now()
        seconds = parse_retry_after(raw, now)
        obs.measure("retry_after_s", None if seconds is None else round(seconds, 3), "s")
        obs.detail["retry_after"] = raw
        if seconds is None:
            problem = (
                "the 429 has no Retry-After"
                if raw is None
                else f"Retry-After {raw!r} is not seconds or an HTTP date"
            )
            if self.spec.require_retry_after:
                obs.failures.append(problem)
            elif raw is not None:
                obs.warnings.append(problem)


def _server_now(resp: HttpResponse) -> datetime | None:
    """The server's clock from its ``Date`` header, so an HTTP-date Retry-After ignores clock skew."""
    raw = resp.header("Date")
    if raw is None:
        return None
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
