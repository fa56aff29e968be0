"""The ``ratelimit`` check against a real rate-limited server on loopback."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from aiohttp import web

from flightdeck.checks.ratelimit import MAX_DURATION, MAX_REQUESTS, RateLimitSpec, parse_retry_after
from flightdeck.config import load_config_text
from flightdeck.errors import ConfigError
from flightdeck.evidence import NewEvidence, Verdict
from tests.checks.servers import closed_port, http_target, run_yaml


def measurements(ev: NewEvidence) -> dict[str, float]:
    return {m.name: m.value for m in ev.measurements}


@dataclass
class Limiter:
    """Allows ``allow`` requests, then answers 429 with the given Retry-After (None: no header)."""

    allow: int | None
    retry_after: str | None = "30"
    delay: float = 0.0
    reset_after: int | None = None
    seen: int = 0

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        self.seen += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.reset_after is not None and self.seen > self.reset_after:
            assert request.transport is not None
            request.transport.abort()
            return web.Response()
        if self.allow is not None and self.seen > self.allow:
            headers = {"Retry-After": self.retry_after} if self.retry_after is not None else {}
            return web.Response(status=429, text="slow down", headers=headers)
        return web.Response(text="ok")


async def burst(limiter: Limiter, options: str) -> NewEvidence:
    async with http_target({"/login": limiter}) as t:
        return await run_yaml(f"- {{name: burst, kind: ratelimit, url: '{t.url('/login')}', {options}}}")


async def test_a_429_at_the_declared_limit_passes_and_the_burst_stops_there() -> None:
    limiter = Limiter(allow=5, retry_after="30")
    ev = await burst(limiter, "method: POST, limit: 5, require_retry_after: true")
    m = measurements(ev)
    assert ev.verdict is Verdict.PASS, ev.summary
    assert limiter.seen == 6
    assert (m["requests_sent"], m["first_429_at"], m["retry_after_s"]) == (6, 6, 30)
    assert m["burst_rps"] > 0
    assert ev.detail["statuses"] == {"200": 5, "429": 1}
    assert ev.summary.startswith("429 at request 6 (6 sent in ")


async def test_no_429_fails_after_exactly_the_allowed_requests() -> None:
    never = Limiter(allow=None)
    late = Limiter(allow=20)
    ev_never = await burst(never, "limit: 10")
    ev_late = await burst(late, "expect_429_within: 15")
    assert (ev_never.verdict, ev_never.summary) == (Verdict.FAIL, "no 429 within 11 requests")
    assert never.seen == 11
    assert "first_429_at" not in measurements(ev_never)
    assert (ev_late.verdict, ev_late.summary) == (Verdict.FAIL, "no 429 within 15 requests")
    assert late.seen == 15


async def test_an_early_429_warns() -> None:
    ev = await burst(Limiter(allow=2), "limit: 10")
    assert ev.verdict is Verdict.WARN
    assert measurements(ev)["first_429_at"] == 3
    assert ev.summary.startswith("429 at request 3, before the declared limit of 10")


@pytest.mark.parametrize(
    ("retry_after", "required", "verdict", "reason"),
    [
        (None, True, Verdict.FAIL, "the 429 has no Retry-After"),
        ("soon", True, Verdict.FAIL, "Retry-After 'soon' is not seconds or an HTTP date"),
        ("soon", False, Verdict.WARN, "Retry-After 'soon' is not seconds or an HTTP date"),
        (None, False, Verdict.PASS, None),
    ],
)
async def test_retry_after_is_validated(
    retry_after: str | None, required: bool, verdict: Verdict, reason: str | None
) -> None:
    ev = await burst(
        Limiter(allow=1, retry_after=retry_after), f"limit: 1, require_retry_after: {str(required).lower()}"
    )
    assert ev.verdict is verdict
    if reason:
        assert ev.summary == reason
    assert "retry_after_s" not in measurements(ev)


async def test_retry_after_as_an_http_date_is_read_against_the_servers_clock() -> None:
    server_now = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)  # a skewed server clock

    async def dated(request: web.Request) -> web.Response:
        return web.Response(
            status=429,
            headers={
                "Date": format_datetime(server_now, usegmt=True),
                "Retry-After": format_datetime(server_now + timedelta(seconds=90), usegmt=True),
            },
        )

    async with http_target({"/": dated}) as t:
        ev = await run_yaml(
            f"- {{name: b, kind: ratelimit, url: '{t.url('/')}', limit: 3, require_retry_after: true}}"
        )
    assert ev.verdict is Verdict.WARN  # a 429 at the first request is earlier than the limit of 3
    assert measurements(ev)["retry_after_s"] == 90


def test_retry_after_parsing() -> None:
    now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after(" 0 ", now) == 0
    assert parse_retry_after("Sat, 01 Mar 2025 12:02:00 GMT", now) == 120
    assert parse_retry_after("Sat, 01 Mar 2025 11:00:00 GMT", now) == 0  # already past
    for bad in ("-5", "1.5", "soon", "", "Sat, 01 Mar 2025 12:02:00", None):
        assert parse_retry_after(bad, now) is None, bad


async def test_concurrent_burst_still_finds_the_first_429() -> None:
    limiter = Limiter(allow=20)
    ev = await burst(limiter, "limit: 20, concurrency: 5")
    m = measurements(ev)
    assert ev.verdict is Verdict.PASS, ev.summary
    assert m["first_429_at"] == 21
    # Requests already in flight when the 429 arrived were sent, but no new ones were started.
    assert 21 <= m["requests_sent"] <= 25
    assert limiter.seen <= 25


async def test_the_burst_stops_at_its_time_limit() -> None:
    slow = Limiter(allow=None, delay=0.2)
    ev = await burst(slow, "expect_429_within: 1000, max_duration: 1s")
    m = measurements(ev)
    assert ev.verdict is Verdict.FAIL
    assert ev.summary.startswith("no 429 after ")
    assert ev.detail["failures"][0].endswith(" in 1s (the burst's time limit)")
    assert m["requests_sent"] < 20


async def test_limits_are_capped_in_code_whatever_the_config_says() -> None:
    spec = RateLimitSpec.model_construct(
        kind="ratelimit", url="http://127.0.0.1:1/", limit=None, expect_429_within=50_000, max_duration=3600.0
    )
    assert spec.within == MAX_REQUESTS
    limiter = Limiter(allow=1)
    ev = await burst(limiter, "limit: 1, max_duration: 1h, timeout: 10m")
    assert ev.detail["time_limit_s"] == MAX_DURATION
    ev = await burst(limiter, "limit: 1, max_duration: 1h")  # the default 10 s timeout bounds it too
    assert ev.detail["time_limit_s"] == 9.0


async def test_a_closed_port_is_an_error_and_a_mid_burst_reset_a_failure() -> None:
    with closed_port() as port:
        refused = await run_yaml(f"- {{name: b, kind: ratelimit, url: 'http://127.0.0.1:{port}/', limit: 5}}")
    assert (refused.verdict, refused.summary) == (
        Verdict.ERROR,
        f"http://127.0.0.1:{port}/: connection refused",
    )
    dropped = await burst(Limiter(allow=None, reset_after=3), "limit: 5")
    assert dropped.verdict is Verdict.FAIL
    assert dropped.summary.startswith("request 4 failed before any 429: ")
    assert measurements(dropped)["requests_sent"] == 4


async def test_credentials_are_sent_but_not_recorded() -> None:
    limiter = Limiter(allow=2)
    async with http_target({"/": limiter}) as t:
        ev = await run_yaml(
            f"- {{name: b, kind: ratelimit, url: '{t.url('/')}', limit: 2, bearer_token: '${{LOGIN_TOKEN}}'}}",
            env={"LOGIN_TOKEN": "tok-5d41402abc4b2a76"},
        )
    assert t.requests[0].headers["Authorization"] == "Bearer tok-5d41402abc4b2a76"
    assert "tok-5d41402abc4b2a76" not in ev.model_dump_json()
    assert ev.detail["request"]["header_names"] == ["Authorization"]


def test_config_requires_a_bound_and_rejects_excess() -> None:
    text = (
        "services:\n  web:\n    checks:\n"
        "      - name: a\n"
        "        kind: ratelimit\n"
        "        url: https://example.com/login\n"
        "      - name: b\n"
        "        kind: ratelimit\n"
        "        url: https://example.com/login\n"
        "        expect_429_within: 5000\n"
        "      - name: c\n"
        "        kind: ratelimit\n"
        "        url: https://example.com/login\n"
        "        limit: 10\n"
        "        expect_429_within: 10\n"
    )
    with pytest.raises(ConfigError) as exc:
        load_config_text(text, "flightdeck.yaml", env={})
    assert [str(i) for i in exc.value.issues] == [
        "flightdeck.yaml:4: services.web.checks[0]: give limit (requests allowed) or expect_429_within "
        "(requests until a 429)",
        "flightdeck.yaml:10: services.web.checks[1].expect_429_within: must be less than or equal to 1000",
        "flightdeck.yaml:11: services.web.checks[2]: expect_429_within must be greater than limit",
    ]


def test_the_field_descriptions_say_it_is_for_your_own_services() -> None:
    for name in ("url", "limit", "expect_429_within"):
        assert "services you operate" in (RateLimitSpec.model_fields[name].description or "")
