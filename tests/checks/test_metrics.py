"""The ``metrics`` check against a real ``prometheus_client`` registry served over HTTP on loopback.

Known values are put into the registry between two scrapes and the measurements are compared with
what can be computed by hand: rates over the FakeClock's interval, ratios, and quantiles interpolated
within the buckets the way PromQL's ``histogram_quantile`` does.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import trustme
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary
from prometheus_client.exposition import choose_encoder
from pydantic import JsonValue

from flightdeck.checks.base import CheckContext
from flightdeck.checks.promtext import (
    MatchOp,
    Selector,
    bucket_quantile,
    counter_increase,
    label_key,
    parse_exposition,
    parse_selector,
)
from flightdeck.clock import FakeClock
from flightdeck.config import load_config_text
from flightdeck.engine.runner import PreparedCheck, prepare_checks, run_check
from flightdeck.errors import ConfigError
from flightdeck.evidence import NewEvidence, Verdict
from tests.conftest import REQUIRE_SERVICES

# -- a target: a prometheus_client registry behind aiohttp on 127.0.0.1, port 0 -----------------


@dataclass
class Exporter:
    """Serves ``registry`` (swap it to simulate a restart), or a fixed body/status when set."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    format: str | None = None  # "text" / "openmetrics" forces one; None negotiates like a real client
    body: bytes | None = None
    content_type: str = "text/plain; charset=utf-8"
    status: int = 200
    requests: list[dict[str, str]] = field(default_factory=list)
    port: int = 0

    def url(self, path: str = "/metrics", userinfo: str = "", query: str = "") -> str:
        return f"http://{userinfo}127.0.0.1:{self.port}{path}" + (f"?{query}" if query else "")

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(dict(request.headers))
        if self.body is not None or self.status != 200:
            return web.Response(
                body=self.body or b"", status=self.status, headers={"Content-Type": self.content_type}
            )
        accept = {"text": "text/plain", "openmetrics": "application/openmetrics-text; version=1.0.0"}.get(
            self.format or "", request.headers.get("Accept", "")
        )
        encoder, content_type = choose_encoder(accept)
        return web.Response(body=encoder(self.registry), headers={"Content-Type": content_type})


@pytest.fixture
async def exporter() -> AsyncIterator[Exporter]:
    target = Exporter()
    app = web.Application()
    app.router.add_get("/metrics", target.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    target.port = runner.addresses[0][1]
    yield target
    await runner.cleanup()


class Scraper:
    """One configured metrics check, run through the real runner; the memo is kept as the store
    keeps it (JSON), and time moves only when the test says so."""

    def __init__(self, check_yaml: str, clock: FakeClock) -> None:
        lines = check_yaml.strip().splitlines()
        item = "\n".join(("      - " if i == 0 else "        ") + line for i, line in enumerate(lines))
        config = load_config_text("services:\n  svc:\n    checks:\n" + item + "\n", "t.yaml", env={})
        self.context = CheckContext(config=config, clock=clock)
        (self.prepared,) = prepare_checks(config, self.context)
        self.memo: JsonValue = None

    async def run(self) -> NewEvidence:
        result = await run_check(self.prepared, memo=self.memo)
        self.memo = json.loads(json.dumps(result.memo, allow_nan=False))
        return result.evidence

    @property
    def check(self) -> PreparedCheck:
        return self.prepared


@pytest.fixture
async def scrapers(clock: FakeClock) -> AsyncIterator[list[Scraper]]:
    made: list[Scraper] = []
    yield made
    for s in made:
        await s.context.aclose()


def scraper(made: list[Scraper], clock: FakeClock, check_yaml: str) -> Scraper:
    s = Scraper(check_yaml, clock)
    made.append(s)
    return s


def values(ev: NewEvidence) -> dict[str, float]:
    return {m.name: m.value for m in ev.measurements}


def units(ev: NewEvidence) -> dict[str, str]:
    return {m.name: m.unit for m in ev.measurements}


def absent(ev: NewEvidence) -> dict[str, str]:
    found = ev.detail.get("absent", {})
    assert isinstance(found, dict)
    return {k: str(v) for k, v in found.items()}


def notes(ev: NewEvidence) -> str:
    found = ev.detail.get("notes", [])
    assert isinstance(found, list)
    return " | ".join(str(n) for n in found)


def warnings(ev: NewEvidence) -> list[str]:
    found = ev.detail.get("warnings", [])
    assert isinstance(found, list)
    return [str(w) for w in found]


def exact(value: float) -> object:
    return pytest.approx(value, rel=1e-12, abs=1e-12)


DEFAULT_BUCKETS = Histogram.DEFAULT_BUCKETS  # .005 .01 .025 .05 .075 .1 .25 .5 .75 1 2.5 5 7.5 10 +Inf


@dataclass
class Service:
    """The metric names the seeds use, in one registry."""

    registry: CollectorRegistry
    requests: Counter
    duration: Histogram
    payments: Counter
    pool: Gauge
    pool_size: Gauge


def service(registry: CollectorRegistry | None = None) -> Service:
    r = registry or CollectorRegistry()
    return Service(
        registry=r,
        requests=Counter("http_requests_total", "requests", ["method", "route", "status"], registry=r),
        duration=Histogram("http_request_duration_seconds", "latency", ["method", "route"], registry=r),
        payments=Counter("payments_total", "payments", ["status"], registry=r),
        pool=Gauge("db_pool_in_use_connections", "pool in use", registry=r),
        pool_size=Gauge("db_pool_size_connections", "pool size", registry=r),
    )


TRAFFIC_CHECK = """
name: traffic
kind: metrics
url: {url}
presets: [http, db]
measurements:
  pay_error_ratio: {{ratio: {{numerator: 'http_requests_total{{route="/api/pay",status=~"5.."}}', denominator: 'http_requests_total{{route="/api/pay"}}'}}}}
  failed_payments_per_s: {{rate: 'payments_total{{status="failed"}}'}}
  pay_p50_ms: {{quantile: 0.5, histogram: 'http_request_duration_seconds{{route="/api/pay"}}', scale: 1000, unit: ms}}
  pay_p90_ms: {{quantile: 0.9, histogram: 'http_request_duration_seconds{{route="/api/pay"}}', scale: 1000, unit: ms}}
  pay_p95_ms: {{quantile: 0.95, histogram: 'http_request_duration_seconds_bucket{{route="/api/pay"}}', scale: 1000, unit: ms}}
  pay_p99_ms: {{quantile: 0.99, histogram: 'http_request_duration_seconds{{route="/api/pay"}}', scale: 1000, unit: ms}}
  pay_mean_ms: {{mean: 'http_request_duration_seconds{{route="/api/pay"}}', scale: 1000, unit: ms}}
conditions: ["error_ratio < 0.05", {{warn: "pay_p95_ms < 500"}}]
"""


# -- two scrapes, known values ------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["text", "openmetrics"])
async def test_rates_ratios_and_quantiles_between_two_scrapes_are_exact(
    exporter: Exporter, clock: FakeClock, scrapers: list[Scraper], fmt: str
) -> None:
    exporter.format = fmt
    svc = service()
    exporter.registry = svc.registry
    # History before the first scrape: it must not leak into rates or quantiles.
    svc.requests.labels("GET", "/api/pay", "200").inc(500)
    svc.requests.labels("GET", "/api/pay", "500").inc(20)
    svc.requests.labels("GET", "/api/wallet", "200").inc(70)
    for _ in range(1000):
        svc.duration.labels("GET", "/api/pay").observe(3.0)
    svc.payments.labels("ok").inc(9)
    svc.pool.set(3)
    svc.pool_size.set(10)

    s = scraper(scrapers, clock, TRAFFIC_CHECK.format(url=exporter.url()))
    first = await s.run()

    # First scrape: gauges only. Rates are absent (never zero) and the detail says why.
    m = values(first)
    assert m["db_pool_in_use"] == 3
    assert m["db_pool_used_pct"] == exact(30.0)
    for name in ("requests_per_s", "error_ratio", "latency_p95_ms", "pay_p95_ms", "failed_payments_per_s"):
        assert name not in m
        assert "two scrapes" in absent(first)[name]
    assert first.verdict is Verdict.UNKNOWN  # conditions on rates: no data is not a pass
    assert first.detail["format"] == ("openmetrics" if fmt == "openmetrics" else "prometheus-text")
    assert first.detail["window_s"] is None

    # Ten seconds of traffic.
    svc.requests.labels("GET", "/api/pay", "200").inc(30)
    svc.requests.labels("GET", "/api/pay", "500").inc(10)
    svc.requests.labels("GET", "/api/wallet", "200").inc(60)
    pay = svc.duration.labels("GET", "/api/pay")
    for value, times in ((0.02, 50), (0.2, 40), (0.7, 10)):
        for _ in range(times):
            pay.observe(value)
    for _ in range(60):
        svc.duration.labels("GET", "/api/wallet").observe(4.0)
    svc.payments.labels("failed").inc(3)
    svc.payments.labels("ok").inc(20)
    svc.pool.set(7)
    clock.advance(10)

    second = await s.run()
    m = values(second)
    assert second.detail["window_s"] == 10.0
    # Counters: (30 + 10 + 60) requests in 10 s; 10 of them 5xx; 3 failed payments.
    assert m["requests_per_s"] == exact(10.0)
    assert m["error_ratio"] == exact(0.1)
    assert m["pay_error_ratio"] == exact(10 / 40)
    assert m["failed_payments_per_s"] == exact(0.3)
    # /api/pay: 50 × 20 ms (bucket ≤ .025), 40 × 200 ms (≤ .25), 10 × 700 ms (≤ .75), 100 in all.
    #   p50: rank 50 → bucket (.01, .025], all 50 of its observations → .025
    #   p90: rank 90 → bucket (.1, .25], 40 of 40 → .25
    #   p95: rank 95 → bucket (.5, .75], 5 of its 10 → .5 + .25 × 5/10 = .625
    #   p99: rank 99 → bucket (.5, .75], 9 of 10 → .5 + .25 × 9/10 = .725
    assert m["pay_p50_ms"] == exact(25.0)
    assert m["pay_p90_ms"] == exact(250.0)
    assert m["pay_p95_ms"] == exact(625.0)
    assert m["pay_p99_ms"] == exact(725.0)
    assert m["pay_mean_ms"] == exact((50 * 0.02 + 40 * 0.2 + 10 * 0.7) / 100 * 1000)
    # All routes (the http preset): 60 more observations of 4 s (bucket (2.5, 5]), 160 in all.
    #   p50: rank 80 → (.1, .25], 30 of 40 → .1 + .15 × 30/40 = .2125
    #   p95: rank 152 → (2.5, 5], 52 of 60 → 2.5 + 2.5 × 52/60
    #   p99: rank 158.4 → (2.5, 5], 58.4 of 60
    assert m["latency_p50_ms"] == exact(212.5)
    assert m["latency_p95_ms"] == exact((2.5 + 2.5 * 52 / 60) * 1000)
    assert m["latency_p99_ms"] == exact((2.5 + 2.5 * 58.4 / 60) * 1000)
    assert m["db_pool_in_use"] == 7
    assert m["db_pool_used_pct"] == exact(70.0)
    assert m["scrape_samples"] == second.detail["samples"]
    assert units(second)["requests_per_s"] == "/s"
    assert units(second)["pay_p95_ms"] == "ms"
    assert units(second)["db_pool_used_pct"] == "%"
    # error_ratio 0.1 ≥ 0.05 fails; the warn condition on p95 is violated too, fail wins.
    assert second.verdict is Verdict.FAIL
    assert "error_ratio < 0.05 (observed 0.1)" in second.summary


async def test_a_ratio_without_traffic_and_a_quantile_without_observations_are_absent(
    exporter: Exporter, clock: FakeClock, scrapers: list[Scraper]
) -> None:
    svc = service()
    exporter.registry = svc.registry
    svc.requests.labels("GET", "/", "200").inc(5)
    svc.duration.labels("GET", "/").observe(0.1)
    s = scraper(scrapers, clock, f"{{name: t, kind: metrics, url: '{exporter.url()}', presets: [http]}}")
    await s.run()
    clock.advance(15)
    ev = await s.run()
    m = values(ev)
    assert m["requests_per_s"] == 0.0  # a rate of zero is a measurement: no requests came
    assert "error_ratio" not in m  # 0 of 0 is not a ratio
    assert "no traffic" in absent(ev)["error_ratio"]
    assert "no observations" in absent(ev)["latency_p95_ms"]
    assert ev.verdict is Verdict.PASS


async def test_a_counter_reset_counts_from_zero_per_series(
    exporter: Exporter, clock: FakeClock, scrapers: list[Scraper]
) -> None:
    before = service()
    exporter.registry = before.registry
    before.requests.labels("GET", "/a", "200").inc(1000)
    before.requests.labels("GET", "/b", "200").inc(50)
    for _ in range(100):
        before.duration.labels("GET", "/a").observe(0.3)
    s = scraper(
        scrapers,
        clock,
        f"{{name: t, kind: metrics, url: '{exporter.url()}', presets: [http],"
        " measurements: {b_per_s: {rate: 'http_requests_total{route=\"/b\"}'}}}",
    )
    await s.run()

    # The target restarted: /a starts again from zero and has counted 5 since; /b (say, another
    # worker that kept running) went from 50 to 80. Per series: 5 + 30 = 35 in 10 s.
    after = service()
    after.requests.labels("GET", "/a", "200").inc(5)
    after.requests.labels("GET", "/b", "200").inc(80)
    for _ in range(7):
        after.duration.labels("GET", "/a").observe(0.02)
    exporter.registry = after.registry
    clock.advance(10)
    ev = await s.run()
    m = values(ev)
    assert m["requests_per_s"] == exact(3.5)
    assert m["b_per_s"] == exact(3.0)
    # 7 observations since the restart, all in (.01, .025]: p50 at rank 3.5 → .01 + .015 × 3.5/7.
    assert m["latency_p50_ms"] == exact(17.5)
    said = notes(ev)
    assert "counter reset" in said
    assert "http_requests_total" in said
    assert "http_request_duration_seconds_bucket" in said


async def test_a_series_born_between_scrapes_counts_from_zero(
    exporter: Exporter, clock: FakeClock, scrapers: list[Scraper]
) -> None:
    """prometheus_client says when each series was created (``_created``): a series created since
    the previous scrape has counted from zero, so its first 5xx are not lost."""
    svc = service()
    exporter.registry = svc.registry
    svc.requests.labels("GET", "/", "200").inc(100)
    s = scraper(scrapers, clock, f"{{name: t, kind: metrics, url: '{exporter.url()}', presets: [http]}}")
    await s.run()
    # The first 5xx of the process appear: the series did not exist at the previous scrape.
    svc.requests.labels("GET", "/", "200").inc(16)
    svc.requests.labels("GET", "/", "503").inc(4)
    clock.advance(20)
    m = values(await s.run())
    assert m["requests_per_s"] == exact(1.0)
    assert m["error_ratio"] == exact(0.2)


async def test_a_new_series_without_a_created_time_starts_its_rate_at_the_next_scrape(
    exporter: Exporter, clock: FakeClock, scrapers: list[Scraper]
) -> None:
    """Without ``_created``, nothing shows a new series started from zero (it may have been missing
    from one scrape): as in Prometheus, its first sample only starts its rate, and the record says so."""
    exporter.body = b'http_requests_total{status="200"} 100\n'
    s = scraper(scrapers, clock, f"{{name: t, kind: metrics, url: '{exporter.url()}', presets: [http]}}")
    await s.run()
    exporter.body = b'http_requests_total{status="200"} 116\nhttp_requests_total{status="503"} 4\n'
    clock.advance(10)
    ev = await s.run()
    assert values(ev)["requests_per_s"] == exact(1.6)
    assert values(ev)["error_ratio"] == 0.0
    assert "new series since the previous scrape in http_requests_total" in notes(ev)
    exporter.body = b'http_requests_total{status="200"} 126\nhttp_requests_total{status="503"} 14\n'
    clock.advance(10)
    ev = await s.run()
    assert values(ev)["requests_per_s"] == exact(2.0)
    assert values(ev)["error_ratio"] == exact(0.5)


async def test_a_series_missing_from_one_scrape_is_not_a_spike(
    exporter: Exporter, clock: FakeClock, scrapers: list[Scraper]
) -> None:
    created = 1_700_000_000  # long before these scrapes

    def exposition(**queues: int) -> bytes:
        lines = ["# TYPE jobs counter"]
        for queue, count in queues.items():
            lines += [f'jobs_total{{queue="{queue}"}} {count}', f'jobs_created{{queue="{queue}"}} {created}']
        return ("\n".join(lines) + "\n").encode()

    s = scraper(
        scrapers,
        clock,
        f"{{name: t, kind: metrics, url: '{exporter.url()}', measurements: {{jobs_per_s: {{rate: jobs_total}}}}}}",
    )
    exporter.body = exposition(a=5000, b=10)
    await s.run()
    # Queue a's series is missing from one scrape (a collector failed), then comes back.
    exporter.body = exposition(b=20)
    clock.advance(10)
    assert values(await s.run())["jobs_per_s"] == exact(1.0)
    exporter.body = exposition(a=5010, b=30)
    clock.advance(10)
    ev = await s.run()
    assert values(ev)["jobs_per_s"] == exact(1.0)  # b: +10 in 10 s; a is not +5010 at once
    assert "new series since the previous scrape in jobs_total" in notes(ev)


async def test_a_declared_counter_without_series_is_a_zero_rate(
    exporter: Exporter, clock: FakeClock, scrapers: list[Scraper]
) -> None:
    svc = service()  # payments_total{status} is declared (# TYPE) but never incremented
    exporter.registry = svc.registry
    s = scraper(
        scrapers,
        clock,
        f"{{name: t, kind: metrics, url: '{exporter.url()}',"
        " measurements: {failed_per_s: {rate: 'payments_total{status=\"failed\"}'}}}",
    )
    await s.run()
    clock.advance(10)
    ev = await s.run()
    assert values(ev)["failed_per_s"] == 0.0
    assert ev.verdict is Verdict.PASS


async def test_process_preset_cpu_is_a_rate_and_memory_a_gauge(
    exporter: Exporter, clock: FakeClock, scrapers: list[Scraper]
) -> None:
    r = CollectorRegistry()
    cpu = Counter("process_cpu_seconds", "cpu", registry=r)  # exposed as process_cpu_seconds_total
    rss = Gauge("process_resident_memory_bytes", "rss", registry=r)
    fds = Gauge("process_open_fds", "fds", registry=r)
    cpu.inc(120.0)
    rss.set(52_428_800)
    fds.set(31)
    exporter.registry = r
    s = scraper(
        scrapers,
        clock,
        f"{{name: t, kind: metrics, url: '{exporter.url()}', presets: [process], conditions: ['cpu_pct < 80']}}",
    )
    first = await s.run()
    assert values(first)["memory_rss_bytes"] == 52_428_800
    assert "cpu_pct" not in values(first)
    cpu.inc(1.5)  # 1.5 CPU-seconds in 5 s: 30 % of one core
    clock.advance(5)
    ev = await s.run()
    m = values(ev)
    assert m["cpu_pct"] == exact(30.0)
    assert units(ev)["cpu_pct"] == "%"
    assert m["open_fds"] == 31
    assert ev.verdict is Verdict.PASS


async def test_a_large_exposition_is_read_off_the_event_loop_with_the_same_result(
    exporter: Exporter, clock: FakeClock, scrapers: list[Scraper]
) -> None:
    svc = service()
    exporter.registry = svc.registry
    routes = [f"/api/items/{i}" for i in range(3000)]
    for route in routes:
        svc.requests.labels("GET", route, "200").inc(7)
    s = scraper(scrapers, clock, f"{{name: t, kind: metrics, url: '{exporter.url()}', presets: [http]}}")
    first = await s.run()
    assert first.verdict is Verdict.PASS, first.summary
    # each counter and its _created gauge, plus the two pool gauges
    assert first.detail["samples"] == 2 * len(routes) + 2
    for route in routes[::3]:
        svc.requests.labels("GET", route, "500").inc()
    clock.advance(20)
    ev = await s.run()
    assert values(ev)["requests_per_s"] == exact(1000 / 20)
    assert values(ev)["error_ratio"] == exact(1.0)


# -- what is missing is said, never zero ------------------------------------------------------


async def test_a_preset_whose_metrics_are_absent_measures_nothing_and_says_so(
    exporter: Exporter, clock: FakeClock, scrapers: list[Scraper]
) -> None:
    r = CollectorRegistry()
    Gauge("process_resident_memory_bytes", "rss", registry=r).set(1024)
    exporter.registry = r
    s = scraper(
        scrapers, clock, f"{{name: t, kind: metrics, url: '{exporter.url()}', presets: [http, db, process]}}"
    )
    await s.run()
    clock.advance(10)
    ev = await s.run()
    m = values(ev)
    assert set(m) == {"scrape_ms", "scrape_samples", "memory_rss_bytes"}
    missing = absent(ev)
    assert missing["requests_per_s"] == "http_requests_total is not in the exposition"
    assert missing["latency_p99_ms"] == "http_request_duration_seconds_bucket is not in the exposition"
    assert missing["db_pool_in_use"] == "db_pool_in_use_connections is not in the exposition"
    assert missing["cpu_pct"] == "process_cpu_seconds_total is not in the exposition"
    assert ev.verdict is Verdict.PASS  # presets are best effort: nothing configured was missed


async def test_a_configured_measurement_whose_metric_is_missing_warns_and_its_condition_is_unknown(
    exporter: Exporter, clock: FakeClock, scrapers: list[Scraper]
) -> None:
    svc = service()
    exporter.registry = svc.registry
    svc.requests.labels("GET", "/", "200").inc()
    s = scraper(
        scrapers,
        clock,
        f"""
name: t
kind: metrics
url: {exporter.url()}
measurements:
  queue_depth: {{gauge: jobs_queue_depth}}
  typo_per_s: {{rate: 'http_requests_total{{stauts="500"}}'}}
  rpc_p95_ms: {{quantile: 0.95, histogram: rpc_duration_seconds, scale: 1000, unit: ms}}
""",
    )
    ev = await s.run()
    assert ev.verdict is Verdict.WARN
    said = warnings(ev)
    assert "queue_depth not measured: jobs_queue_depth is not in the exposition" in said
    assert (
        "typo_per_s not measured: no http_requests_total series has a 'stauts' label"
        " (its labels: method, route, status)" in said
    )

    s2 = scraper(
        scrapers,
        clock,
        f"{{name: u, kind: metrics, url: '{exporter.url()}',"
        " measurements: {queue_depth: {gauge: jobs_queue_depth}}, conditions: ['queue_depth < 100']}",
    )
    ev2 = await s2.run()
    assert ev2.verdict is Verdict.UNKNOWN
    assert ev2.summary == "condition unknown: queue_depth < 100: no measurement"


async def test_a_summary_is_not_a_histogram_but_has_a_mean(
    exporter: Exporter, clock: FakeClock, scrapers: list[Scraper]
) -> None:
    r = CollectorRegistry()
    rpc = Summary("rpc_duration_seconds", "rpc", registry=r)
    exporter.registry = r
    s = scraper(
        scrapers,
        clock,
        f"""
name: t
kind: metrics
url: {exporter.url()}
measurements:
  rpc_p95_ms: {{quantile: 0.95, histogram: rpc_duration_seconds, scale: 1000, unit: ms}}
  rpc_mean_ms: {{mean: rpc_duration_seconds, scale: 1000, unit: ms}}
""",
    )
    await s.run()
    rpc.observe(0.1)
    rpc.observe(0.3)
    clock.advance(10)
    ev = await s.run()
    assert values(ev)["rpc_mean_ms"] == exact(200.0)
    assert absent(ev)["rpc_p95_ms"] == (
        "rpc_duration_seconds_bucket is not in the exposition (rpc_duration_seconds is a summary, not a histogram)"
    )


async def test_a_quantile_above_the_highest_bucket_is_that_bound_and_says_so(
    exporter: Exporter, clock: FakeClock, scrapers: list[Scraper]
) -> None:
    r = CollectorRegistry()
    h = Histogram("job_duration_seconds", "jobs", buckets=(1, 5), registry=r)
    exporter.registry = r
    s = scraper(
        scrapers,
        clock,
        f"{{name: t, kind: metrics, url: '{exporter.url()}',"
        " measurements: {job_p99_s: {quantile: 0.99, histogram: job_duration_seconds, unit: s}}}",
    )
    await s.run()
    for v in (0.5, 2, 30, 40):
        h.observe(v)
    clock.advance(60)
    ev = await s.run()
    assert values(ev)["job_p99_s"] == 5.0
    assert "above its highest bucket bound (5)" in notes(ev)


async def test_a_stale_memo_starts_rates_again(
    exporter: Exporter, clock: FakeClock, scrapers: list[Scraper]
) -> None:
    svc = service()
    exporter.registry = svc.registry
    svc.requests.labels("GET", "/", "200").inc(10)
    s = scraper(scrapers, clock, f"{{name: t, kind: metrics, url: '{exporter.url()}', presets: [http]}}")
    await s.run()
    clock.advance(2 * 3600)  # flightdeck was down for two hours
    ev = await s.run()
    assert "requests_per_s" not in values(ev)
    assert "longer than max_window (1h)" in notes(ev)
    clock.advance(30)
    svc.requests.labels("GET", "/", "200").inc(60)
    assert values(await s.run())["requests_per_s"] == exact(2.0)


async def test_a_memo_from_other_measurements_is_not_used(
    exporter: Exporter, clock: FakeClock, scrapers: list[Scraper]
) -> None:
    svc = service()
    exporter.registry = svc.registry
    svc.requests.labels("GET", "/", "200").inc(10)
    svc.payments.labels("failed").inc(1000)
    old = scraper(scrapers, clock, f"{{name: t, kind: metrics, url: '{exporter.url()}', presets: [http]}}")
    await old.run()
    # The configuration now also measures payments, which the memo does not hold: a rate from
    # "nothing" to 1000 would be a lie.
    new = scraper(
        scrapers,
        clock,
        f"{{name: t, kind: metrics, url: '{exporter.url()}', presets: [http],"
        " measurements: {failed_per_s: {rate: 'payments_total{status=\"failed\"}'}}}",
    )
    new.memo = old.memo
    clock.advance(10)
    ev = await new.run()
    assert "failed_per_s" not in values(ev)
    assert "the measured metrics changed" in notes(ev)


# -- garbage, errors and secrets ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (
            b"<html><body>Welcome to nginx!</body></html>",
            "text/html",
            "not a Prometheus exposition (text/html; invalid metric name:<html><body>Welcome to nginx!</body></html>)",
        ),
        (b'{"status": "ok"}', "application/json", "not a Prometheus exposition (application/json; "),
        (b"", "text/plain", "empty response, not a Prometheus exposition"),
        (
            b"# TYPE x counter\nx_total 1\n",
            "application/openmetrics-text; version=1.0.0",
            "not a Prometheus exposition (application/openmetrics-text; ",
        ),
    ],
    ids=["html", "json", "empty", "openmetrics-without-eof"],
)
async def test_garbage_instead_of_an_exposition_is_an_error_with_the_reason(
    exporter: Exporter,
    clock: FakeClock,
    scrapers: list[Scraper],
    body: bytes,
    content_type: str,
    reason: str,
) -> None:
    exporter.body, exporter.content_type = body, content_type
    s = scraper(scrapers, clock, f"{{name: t, kind: metrics, url: '{exporter.url()}', presets: [http]}}")
    ev = await s.run()
    assert ev.verdict is Verdict.ERROR
    assert ev.summary.startswith(f"{exporter.url()}: {reason}")
    assert s.memo is None  # nothing learnt: the next run is not a "second scrape"


async def test_an_http_error_status_is_an_error(
    exporter: Exporter, clock: FakeClock, scrapers: list[Scraper]
) -> None:
    exporter.status, exporter.body = 503, b"busy"
    s = scraper(scrapers, clock, f"{{name: t, kind: metrics, url: '{exporter.url()}'}}")
    ev = await s.run()
    assert (ev.verdict, ev.summary) == (
        Verdict.ERROR,
        f"{exporter.url()}: HTTP 503 Service Unavailable (expected 200)",
    )


async def test_an_exposition_larger_than_max_bytes_is_an_error(
    exporter: Exporter, clock: FakeClock, scrapers: list[Scraper]
) -> None:
    svc = service()
    for i in range(200):
        svc.requests.labels("GET", f"/r/{i}", "200").inc()
    exporter.registry = svc.registry
    s = scraper(scrapers, clock, f"{{name: t, kind: metrics, url: '{exporter.url()}', max_bytes: 2000}}")
    ev = await s.run()
    assert ev.verdict is Verdict.ERROR
    assert "exposition larger than 2000 bytes (raise max_bytes to read it)" in ev.summary


async def test_credentials_are_sent_and_never_recorded(
    exporter: Exporter, clock: FakeClock, scrapers: list[Scraper]
) -> None:
    svc = service()
    exporter.registry = svc.registry
    token = "s3cr3t-bearer-token-value"
    s = scraper(
        scrapers,
        clock,
        f"{{name: t, kind: metrics, url: '{exporter.url(query='auth_key=qk-123456')}',"
        f" bearer_token: '{token}', presets: [http]}}",
    )
    ev = await s.run()
    assert exporter.requests[-1]["Authorization"] == f"Bearer {token}"
    assert "text/plain;version=0.0.4" in exporter.requests[-1]["Accept"]
    dumped = ev.model_dump_json()
    assert token not in dumped
    assert "qk-123456" not in dumped
    assert ev.detail["url"] == exporter.url(query="auth_key=**********")

    # A password in the URL is used for basic auth, and masked in the record, errors included.
    exporter.status = 500
    s2 = scraper(
        scrapers, clock, f"{{name: u, kind: metrics, url: '{exporter.url(userinfo='ops:pa55word@')}'}}"
    )
    ev2 = await s2.run()
    assert exporter.requests[-1]["Authorization"].startswith("Basic ")
    assert ev2.verdict is Verdict.ERROR
    assert "pa55word" not in ev2.model_dump_json()
    assert ev2.summary.startswith("http://ops:**********@127.0.0.1:")


async def test_an_https_endpoint_is_verified_against_the_given_ca(
    tmp_path: Path, clock: FakeClock, scrapers: list[Scraper]
) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    target = Exporter()
    svc = service()
    target.registry = svc.registry
    svc.pool.set(5)
    app = web.Application()
    app.router.add_get("/metrics", target.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx).start()
    url = f"https://127.0.0.1:{runner.addresses[0][1]}/metrics"
    try:
        trusted = scraper(
            scrapers, clock, f"{{name: t, kind: metrics, url: '{url}', ca_file: '{ca_file}', presets: [db]}}"
        )
        ev = await trusted.run()
        assert ev.verdict is Verdict.PASS, ev.summary
        assert values(ev)["db_pool_in_use"] == 5
        untrusted = scraper(scrapers, clock, f"{{name: u, kind: metrics, url: '{url}', presets: [db]}}")
        ev = await untrusted.run()
        assert ev.verdict is Verdict.ERROR
        assert "certificate" in ev.summary
    finally:
        await runner.cleanup()


# -- configuration: every mistake is caught when the file is read, with its line -----------------


def config_errors(check_yaml: str) -> list[str]:
    indented = "\n".join("      " + line for line in check_yaml.strip().splitlines())
    with pytest.raises(ConfigError) as info:
        load_config_text("services:\n  svc:\n    checks:\n" + indented + "\n", "t.yaml", env={})
    return [str(i) for i in info.value.issues]


def test_a_bad_selector_is_a_config_error_naming_the_line() -> None:
    errors = config_errors(
        """
- name: t
  kind: metrics
  url: http://127.0.0.1:9/metrics
  measurements:
    ok_per_s: {rate: http_requests_total}
    unclosed: {rate: 'http_requests_total{status="500"'}
    bad_regex: {rate: 'http_requests_total{status=~"5(0"}'}
    no_name: {gauge: '{job="api"}'}
    bad_op: {gauge: 'up{job=="api"}'}
"""
    )
    assert errors == [
        "t.yaml:9: services.svc.checks[0].measurements.unclosed.rate: cannot read selector "
        "'http_requests_total{status=\"500\"': expected ',' or '}' at position 33",
        "t.yaml:10: services.svc.checks[0].measurements.bad_regex.rate: cannot read selector "
        "'http_requests_total{status=~\"5(0\"}': invalid regular expression '5(0' "
        "(missing ), unterminated subpattern at position 1)",
        "t.yaml:11: services.svc.checks[0].measurements.no_name.gauge: cannot read selector "
        '\'{job="api"}\': start with the metric name, e.g. http_requests_total{status=~"5.."}',
        "t.yaml:12: services.svc.checks[0].measurements.bad_op.gauge: cannot read selector "
        '\'up{job=="api"}\': expected a quoted value such as "500" at position 8',
    ]


@pytest.mark.parametrize(
    ("measurement", "message"),
    [
        (
            "{rate: a_total, gauge: b}",
            "give exactly one of rate, ratio, histogram (with quantile), mean, gauge or gauge_ratio (got rate, gauge)",
        ),
        (
            "{scale: 1000}",
            "give exactly one of rate, ratio, histogram (with quantile), mean, gauge or gauge_ratio",
        ),
        ("{histogram: h_seconds}", "quantile and histogram go together"),
        ("{quantile: 1.5, histogram: h_seconds}", "quantile: must be less than or equal to 1"),
        ("{quantile: 0.5, histogram: 'h_seconds_bucket{le=\"0.1\"}'}", "histogram: do not match on le"),
        ("{ratio: {numerator: a_total}}", "ratio.denominator: required key is missing"),
        ("{rate: a_total, unitt: ms}", "unitt: unknown key (did you mean 'unit'?)"),
    ],
)
def test_a_malformed_measurement_is_a_config_error(measurement: str, message: str) -> None:
    errors = config_errors(
        f"""
- name: t
  kind: metrics
  url: http://127.0.0.1:9/metrics
  measurements:
    m: {measurement}
"""
    )
    assert len(errors) == 1
    assert errors[0].startswith("t.yaml:8: services.svc.checks[0].measurements.m")
    assert message in errors[0]


def test_a_condition_on_a_measurement_the_check_does_not_take_is_a_config_error() -> None:
    (error,) = config_errors(
        """
- name: t
  kind: metrics
  url: http://127.0.0.1:9/metrics
  presets: [http]
  conditions: ["latency_p95 < 250"]
"""
    )
    assert error.startswith(
        "t.yaml:4: services.svc.checks[0]: condition 'latency_p95 < 250' names 'latency_p95', which this "
        "check does not measure (did you mean 'latency_p95_ms'? it measures: error_ratio, "
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("url: ftp://example.com/metrics", "url: must be an http:// or https:// URL"),
        (
            "url: http://127.0.0.1:9/metrics\n  presets: [htp]",
            "presets[0]: must be 'http', 'process' or 'db'",
        ),
        (
            "url: http://127.0.0.1:9/metrics\n  interval: 2h",
            "max_window (1h) must be at least the interval (2h)",
        ),
        (
            "url: http://127.0.0.1:9/metrics\n  measurements: {Bad-Name: {gauge: up}}",
            "measurement name 'Bad-Name'",
        ),
        ("url: http://127.0.0.1:9/metrics\n  measurements: {scrape_ms: {gauge: up}}", "taken by a built-in"),
    ],
)
def test_other_config_mistakes(fields: str, message: str) -> None:
    (error,) = config_errors(f"- name: t\n  kind: metrics\n  {fields}\n")
    assert message in error


# -- the parts: selectors, parsing, counter increase, PromQL's bucket quantile -------------------


def test_selectors_match_like_promql() -> None:
    sel = parse_selector('http_requests_total{status=~"5..", route!="/health", method=`GET`,}')
    assert sel.metric == "http_requests_total"
    assert [m.op for m in sel.matchers] == [MatchOp.RE, MatchOp.NE, MatchOp.EQ]
    assert sel.matches({"status": "503", "route": "/pay", "method": "GET"})
    assert not sel.matches({"status": "5030", "route": "/pay", "method": "GET"})  # regexes match whole values
    assert not sel.matches({"status": "200", "route": "/pay", "method": "GET"})
    assert not sel.matches({"status": "500", "route": "/health", "method": "GET"})
    # A missing label is the empty string.
    assert parse_selector('up{job=""}').matches({})
    assert not parse_selector('up{job!=""}').matches({})
    assert parse_selector('up{job!~"api|web"}').matches({"job": "db"})
    assert parse_selector(r'x{path="a\"b\\c\n"}').matchers[0].value == 'a"b\\c\n'
    # Canonical text reads back to the same selector.
    assert parse_selector(str(sel)) == sel
    assert str(parse_selector("  up  ")) == "up"
    assert parse_selector("up") == Selector("up")


def test_exposition_parsing_keeps_declared_metrics_without_series() -> None:
    text = (
        "# HELP payments_total payments\n# TYPE payments_total counter\n"
        '# TYPE h histogram\nh_bucket{le="0.1"} 1\nh_bucket{le="+Inf"} 2\nh_count 2\nh_sum 0.5\n'
        "untyped_thing 4\n"
    )
    expo = parse_exposition(text, "text/plain; version=0.0.4")
    assert expo.declared("payments_total")
    assert not expo.declared("payments_failed_total")
    assert expo.select(Selector("h_bucket")) == {(("le", "0.1"),): 1.0, (("le", "+Inf"),): 2.0}
    assert expo.sample_count == 5
    assert expo.types["h_bucket"].value == "histogram"


def test_counter_increase_handles_resets_and_new_series() -> None:
    a, b, c = (("s", "a"),), (("s", "b"),), (("s", "c"),)
    previous = {label_key(a): 100.0, label_key(b): 10.0}
    current = [(a, 130.0), (b, 4.0), (c, 2.0)]
    # Like Prometheus: b was reset and counts 4; c is new and only starts its rate.
    inc = counter_increase(previous, current)
    assert (inc.value, inc.series, inc.resets, inc.unseen) == (30.0 + 4.0, 2, 1, 1)
    # Known to be born since the previous scrape: c counts from zero.
    inc = counter_increase(previous, current, born_since=lambda labels: labels == c)
    assert (inc.value, inc.series, inc.resets, inc.unseen) == (30.0 + 4.0 + 2.0, 3, 1, 0)


def test_bucket_quantile_is_promql_histogram_quantile() -> None:
    inf = math.inf
    buckets = [(0.1, 10.0), (0.5, 30.0), (1.0, 40.0), (inf, 40.0)]
    assert bucket_quantile(0.5, buckets) == exact(0.1 + 0.4 * (10 / 20))
    assert bucket_quantile(0.25, buckets) == exact(0.1)
    assert bucket_quantile(0.1, buckets) == exact(0.04)  # the lowest bucket interpolates from 0
    assert bucket_quantile(1.0, [(1.0, 5.0), (inf, 6.0)]) == 1.0  # in +Inf: the highest finite bound
    assert bucket_quantile(0.5, [(-1.0, 4.0), (0.0, 5.0), (inf, 5.0)]) == -1.0  # lowest bound ≤ 0
    assert math.isnan(bucket_quantile(0.5, [(0.1, 1.0), (1.0, 2.0)]))  # no +Inf
    assert math.isnan(bucket_quantile(0.5, [(0.1, 0.0), (inf, 0.0)]))  # no observations
    assert math.isnan(bucket_quantile(0.5, [(inf, 3.0)]))  # a single bucket
    assert bucket_quantile(-0.1, buckets) == -inf
    assert bucket_quantile(1.1, buckets) == inf
    # Buckets with the same bound (several series) add up; a non-monotonic count is evened out.
    assert bucket_quantile(0.5, [(0.1, 5.0), (0.1, 5.0), (1.0, 9.0), (inf, 20.0)]) == exact(
        bucket_quantile(0.5, [(0.1, 10.0), (1.0, 10.0), (inf, 20.0)])
    )


# -- cross-check against Prometheus itself ------------------------------------------------------

PROMETHEUS = Path("/usr/bin/prometheus")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# The same measurement, as flightdeck is configured and as PromQL asks Prometheus for it. Between two
# consecutive scrapes, ``irate`` is exactly the per-second increase between them (with the same
# counter-reset rule as ``rate``), so the two must agree to floating-point precision.
CROSS_CHECK = {
    "requests_per_s": "sum(irate(http_requests_total[1m]))",
    "error_ratio": 'sum(irate(http_requests_total{status=~"5.."}[1m])) / sum(irate(http_requests_total[1m]))',
    "latency_p50_ms": "histogram_quantile(0.5, sum by (le) (irate(http_request_duration_seconds_bucket[1m]))) * 1000",
    "latency_p95_ms": "histogram_quantile(0.95, sum by (le) (irate(http_request_duration_seconds_bucket[1m]))) * 1000",
    "latency_p99_ms": "histogram_quantile(0.99, sum by (le) (irate(http_request_duration_seconds_bucket[1m]))) * 1000",
    "pay_p90_ms": 'histogram_quantile(0.9, sum by (le) (irate(http_request_duration_seconds_bucket{route="/api/pay"}[1m]))) * 1000',
    "pay_mean_ms": 'sum(irate(http_request_duration_seconds_sum{route="/api/pay"}[1m]))'
    ' / sum(irate(http_request_duration_seconds_count{route="/api/pay"}[1m])) * 1000',
    "failed_per_s": 'sum(irate(payments_total{status="failed"}[1m]))',
    "db_pool_in_use": "sum(db_pool_in_use_connections)",
}
CROSS_CHECK_YAML = """
name: traffic
kind: metrics
url: {url}
presets: [http, db]
measurements:
  pay_p90_ms: {{quantile: 0.9, histogram: 'http_request_duration_seconds{{route="/api/pay"}}', scale: 1000, unit: ms}}
  pay_mean_ms: {{mean: 'http_request_duration_seconds{{route="/api/pay"}}', scale: 1000, unit: ms}}
  failed_per_s: {{rate: 'payments_total{{status="failed"}}'}}
"""


def cross_check_state(phase: int, scale: int, pool: int) -> CollectorRegistry:
    """One state of the target. Every series exists in every state (Prometheus's rate ignores a
    series' first sample, flightdeck counts it from zero: that difference is not under test here)."""
    svc = service()
    Gauge("test_phase", "which state is served", registry=svc.registry).set(phase)
    for route, status, count in (("/api/pay", "200", 40), ("/api/pay", "502", 7), ("/api/wallet", "200", 90)):
        svc.requests.labels("GET", route, status).inc(count * scale)
    for route, spread in (
        ("/api/pay", (0.004, 0.03, 0.2, 0.2, 0.6, 1.7)),
        ("/api/wallet", (0.01, 0.08, 3.0)),
    ):
        for i in range(30 * scale):
            svc.duration.labels("GET", route).observe(spread[i % len(spread)] * (1 + (i % 7) / 10))
    svc.payments.labels("failed").inc(3 * scale)
    svc.payments.labels("ok").inc(50 * scale)
    svc.pool.set(pool)
    svc.pool_size.set(20)
    return svc.registry


@dataclass
class TwoViews:
    """Serves one sequence of states to Prometheus (``/prom``) and to flightdeck (``/metrics``),
    each view moved to the next state separately, so both see the same values at the same times."""

    states: list[CollectorRegistry]
    prom: int = 0
    ours: int = 0
    port: int = 0

    async def serve(self, request: web.Request) -> web.Response:
        index = self.prom if request.path == "/prom" else self.ours
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encoder(self.states[index]), headers={"Content-Type": content_type})


@dataclass
class PrometheusServer:
    base: str
    session: aiohttp.ClientSession
    log: Path

    async def api(self, path: str, **params: str) -> Any:
        async with self.session.get(f"{self.base}/api/v1/{path}", params=params) as resp:
            body = await resp.json()
        assert body["status"] == "success", body
        return body["data"]

    async def query(self, expr: str, at_ms: int) -> float:
        data = await self.api("query", query=expr, time=f"{at_ms / 1000:.3f}")
        assert len(data["result"]) == 1, (expr, data)
        return float(data["result"][0]["value"][1])

    async def phases(self) -> list[tuple[int, int]]:
        """Every sample Prometheus took: (timestamp in ms, phase)."""
        data = await self.api("query", query="test_phase[10m]")
        if not data["result"]:
            return []
        return [(round(float(t) * 1000), int(float(v))) for t, v in data["result"][0]["values"]]

    async def wait_for(self, phase: int, samples: int = 1) -> list[tuple[int, int]]:
        for _ in range(400):
            taken = await self.phases()
            if sum(1 for _, p in taken if p == phase) >= samples:
                return taken
            await asyncio.sleep(0.05)
        raise AssertionError(f"Prometheus took no sample of phase {phase}:\n{self.log.read_text()[-2000:]}")


@pytest.fixture
async def prometheus(tmp_path: Path) -> AsyncIterator[Callable[[int], Awaitable[PrometheusServer]]]:
    if not PROMETHEUS.exists():
        if REQUIRE_SERVICES:
            pytest.fail(
                f"{PROMETHEUS} is missing and FLIGHTDECK_REQUIRE_SERVICES=1 (apt-get install prometheus)"
            )
        pytest.skip(f"{PROMETHEUS} is missing (apt-get install prometheus)")
    procs: list[asyncio.subprocess.Process] = []
    session = aiohttp.ClientSession()

    async def ready(base: str) -> bool:
        """Prometheus listens before its storage is open; it answers 503 until then."""
        try:
            async with session.get(f"{base}/-/ready") as resp:
                return resp.status == 200
        except aiohttp.ClientError:
            return False

    async def start(target_port: int) -> PrometheusServer:
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 250ms, scrape_timeout: 250ms}\n"
            "scrape_configs:\n"
            "  - job_name: target\n"
            "    metrics_path: /prom\n"
            f"    static_configs: [{{targets: ['127.0.0.1:{target_port}']}}]\n"
        )
        log = tmp_path / "prometheus.log"
        with log.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                str(PROMETHEUS),
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                "--web.listen-address=127.0.0.1:0",
                stdout=out,
                stderr=out,
            )
        procs.append(proc)
        for _ in range(400):
            found = re.search(r'msg="Listening on" address=127\.0\.0\.1:(\d+)', log.read_text())
            if found and await ready(f"http://127.0.0.1:{found.group(1)}"):
                return PrometheusServer(f"http://127.0.0.1:{found.group(1)}", session, log)
            if proc.returncode is not None:
                break
            await asyncio.sleep(0.05)
        raise AssertionError(f"Prometheus did not start:\n{log.read_text()[-2000:]}")

    yield start
    await session.close()
    for proc in procs:
        proc.terminate()
        await proc.wait()


@pytest.mark.services
async def test_measurements_agree_with_prometheus_irate_and_histogram_quantile(
    prometheus: Callable[[int], Awaitable[PrometheusServer]], clock: FakeClock, scrapers: list[Scraper]
) -> None:
    # A, then B with more traffic, then C: the target restarted (every counter lower than in B).
    target = TwoViews([cross_check_state(1, 2, 4), cross_check_state(2, 5, 9), cross_check_state(3, 1, 2)])
    app = web.Application()
    app.router.add_get("/prom", target.serve)
    app.router.add_get("/metrics", target.serve)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    target.port = runner.addresses[0][1]
    try:
        prom = await prometheus(target.port)
        await prom.wait_for(1)
        target.prom = 1
        await prom.wait_for(2, samples=2)
        target.prom = 2
        taken = await prom.wait_for(3)
        last_a = max(t for t, p in taken if p == 1)
        first_b, last_b = min(t for t, p in taken if p == 2), max(t for t, p in taken if p == 2)
        first_c = min(t for t, p in taken if p == 3)

        # flightdeck scrapes the same states, at the times Prometheus did.
        s = scraper(scrapers, clock, CROSS_CHECK_YAML.format(url=f"http://127.0.0.1:{target.port}/metrics"))
        results: dict[str, tuple[int, NewEvidence]] = {}
        for name, state, at_ms in (("a", 0, last_a), ("b", 1, first_b), ("b2", 1, last_b), ("c", 2, first_c)):
            clock.set(_EPOCH + timedelta(milliseconds=at_ms))
            target.ours = state
            results[name] = (at_ms, await s.run())
    finally:
        await runner.cleanup()

    compared: list[str] = []
    for step in ("b", "c"):  # B after A: traffic; C after B: a counter reset
        at_ms, ev = results[step]
        ours = values(ev)
        assert set(CROSS_CHECK) <= set(ours), absent(ev)
        for name, expr in CROSS_CHECK.items():
            theirs = await prom.query(expr, at_ms)
            compared.append(f"{step} {name}: flightdeck {ours[name]!r}, Prometheus {theirs!r}")
            assert ours[name] == pytest.approx(theirs, rel=1e-9), (
                f"{step}: {name}: {ours[name]} vs {theirs} ({expr})"
            )
    assert "counter reset" in notes(results["c"][1])
    assert values(results["c"][1])["requests_per_s"] > 0
    print("\n".join(compared))


def test_the_documented_example_is_a_valid_configuration() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "checks" / "metrics.md").read_text()
    example = re.search(r"```yaml\n(.*?)```", doc, re.S)
    assert example is not None
    body = "\n".join("      " + line for line in example.group(1).splitlines())
    config = load_config_text("services:\n  payments:\n    checks:\n" + body + "\n", "doc.yaml", env={})
    (spec,) = config.services["payments"].checks
    assert spec.kind == "metrics"
