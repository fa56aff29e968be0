"""The ``http`` check against real servers on loopback, well-behaved and not."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from aiohttp import web

from flightdeck.checks.health import ComponentState, HealthFormat, parse_health
from flightdeck.checks.jsonassert import parse_json_assertion
from flightdeck.config import load_config_text
from flightdeck.errors import ConfigError
from flightdeck.evidence import NewEvidence, Verdict
from tests.checks.servers import (
    closed_port,
    garbage,
    hang,
    http_target,
    make_pki,
    raw_server,
    reset,
    run_yaml,
)


def measurements(ev: NewEvidence) -> dict[str, float]:
    return {m.name: m.value for m in ev.measurements}


async def ok_json(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "version": "1.4.2", "items": [{"ms": 3}, {"ms": 7}]})


# -- the happy path and its measurements ---------------------------------------------------------


async def test_a_good_answer_passes_with_every_timing_measured() -> None:
    async with http_target({"/": ok_json}, host="localhost") as t:
        ev = await run_yaml(f"- {{name: home, kind: http, url: '{t.url('/')}'}}")
    m = measurements(ev)
    assert ev.verdict is Verdict.PASS, ev.summary
    assert m["status_code"] == 200
    assert m["redirects"] == 0
    assert m["body_bytes"] == len(
        json.dumps({"status": "ok", "version": "1.4.2", "items": [{"ms": 3}, {"ms": 7}]})
    )
    for name in ("latency_ms", "dns_ms", "connect_ms", "ttfb_ms"):
        assert name in m, name
    # Phases are parts of the whole.
    assert m["ttfb_ms"] <= m["latency_ms"]
    assert m["dns_ms"] + m["connect_ms"] <= m["ttfb_ms"]
    assert ev.summary.startswith("200 OK in ")
    assert ev.detail["response"]["headers"]["content-type"].startswith("application/json")
    assert "body_excerpt" not in ev.detail


async def test_an_address_literal_needs_no_lookup() -> None:
    async with http_target({"/": ok_json}) as t:
        ev = await run_yaml(f"- {{name: home, kind: http, url: '{t.url('/')}'}}")
    assert measurements(ev)["dns_ms"] == 0


async def test_unexpected_status_fails_with_the_body_excerpt() -> None:
    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=503, text="upstream db unavailable")

    async with http_target({"/": broken}) as t:
        ev = await run_yaml(f"- {{name: home, kind: http, url: '{t.url('/')}'}}")
    assert ev.verdict is Verdict.FAIL
    assert ev.summary == "status 503 not in [2xx]"
    assert measurements(ev)["status_code"] == 503
    assert ev.detail["body_excerpt"] == "upstream db unavailable"


async def test_status_set_accepts_codes_and_classes() -> None:
    async def teapot(request: web.Request) -> web.Response:
        return web.Response(status=418)

    async with http_target({"/": teapot}) as t:
        yes = await run_yaml(
            f"- {{name: a, kind: http, url: '{t.url('/')}', expect: {{status: [200, 4xx]}}}}"
        )
        no = await run_yaml(f"- {{name: b, kind: http, url: '{t.url('/')}', expect: {{status: [200, 5xx]}}}}")
    assert yes.verdict is Verdict.PASS
    assert (no.verdict, no.summary) == (Verdict.FAIL, "status 418 not in [200, 5xx]")


async def test_method_headers_and_json_body_are_sent() -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"got": await request.json()}, status=201)

    async with http_target({"POST /orders": echo}) as t:
        ev = await run_yaml(
            f"""\
            - name: create
              kind: http
              method: post
              url: '{t.url("/orders")}'
              headers: {{X-Request-Id: probe-1}}
              body_json: {{amount: 100, currency: ETB}}
              expect:
                status: 201
                json: ["$.got.amount == 100", "$.got.currency == 'ETB'"]
            """
        )
    assert ev.verdict is Verdict.PASS, ev.summary
    (req,) = t.requests
    assert req.method == "POST"
    assert req.headers["X-Request-Id"] == "probe-1"
    assert req.headers["Content-Type"] == "application/json"
    assert json.loads(req.body) == {"amount": 100, "currency": "ETB"}
    assert ev.detail["request"] == {
        "method": "POST",
        "url": t.url("/orders"),
        "header_names": ["Content-Type", "X-Request-Id"],
        "body_bytes": len(req.body),
    }


# -- expectations on the response ----------------------------------------------------------------


async def test_body_and_header_expectations() -> None:
    async def page(request: web.Request) -> web.Response:
        return web.Response(
            text="<h1>Welcome</h1> build 2024.07",
            content_type="text/html",
            headers={"Cache-Control": "no-store", "X-Powered-By": "PHP/5.4"},
        )

    async with http_target({"/": page}) as t:
        good = await run_yaml(
            f"""\
            - name: good
              kind: http
              url: '{t.url("/")}'
              expect:
                body_contains: Welcome
                body_not_contains: [Traceback]
                body_matches: ['build \\d{{4}}\\.\\d\\d']
                headers:
                  Cache-Control: no-store
                  Content-Type: {{contains: text/html}}
                  Strict-Transport-Security: {{present: false}}
            """
        )
        bad = await run_yaml(
            f"""\
            - name: bad
              kind: http
              url: '{t.url("/")}'
              expect:
                body_contains: [Goodbye]
                body_not_contains: Welcome
                body_matches: '^\\{{'
                headers:
                  X-Powered-By: {{present: false}}
                  Cache-Control: {{matches: 'max-age=\\d+'}}
                  Strict-Transport-Security: {{contains: max-age}}
            """
        )
    assert good.verdict is Verdict.PASS, good.summary
    assert bad.verdict is Verdict.FAIL
    assert sorted(bad.detail["failures"]) == sorted(
        [
            "body does not contain 'Goodbye'",
            "body contains 'Welcome'",
            "body does not match '^\\\\{'",
            "header X-Powered-By is present",
            "header Cache-Control is 'no-store', expected it to match 'max-age=\\\\d+'",
            "header Strict-Transport-Security is missing",
        ]
    )


async def test_json_assertions_report_each_outcome() -> None:
    async with http_target({"/": ok_json}) as t:
        ev = await run_yaml(
            f"""\
            - name: api
              kind: http
              url: '{t.url("/")}'
              expect:
                json:
                  - "$.status == 'ok'"
                  - "$.items[*].ms < 5"
                  - "$.version matches '^1\\\\.'"
                  - "$.error not exists"
                  - "$.uptime exists"
            """
        )
    assert ev.verdict is Verdict.FAIL
    outcomes = {r["assertion"]: (r["ok"], r.get("reason")) for r in ev.detail["json_assertions"]}
    assert outcomes == {
        "$.status == 'ok'": (True, None),
        "$.items[*].ms < 5": (False, "$.items[*].ms is 7"),
        "$.version matches '^1\\.'": (True, None),
        "$.error not exists": (True, None),
        "$.uptime exists": (False, "nothing at $.uptime"),
    }
    assert set(ev.detail["failures"]) == {
        "$.items[*].ms < 5: $.items[*].ms is 7",
        "$.uptime exists: nothing at $.uptime",
    }


async def test_non_json_answer_fails_json_assertions_with_the_reason() -> None:
    async def html(request: web.Request) -> web.Response:
        return web.Response(text="<html>maintenance</html>", content_type="text/html")

    async with http_target({"/": html}) as t:
        ev = await run_yaml(
            f"- {{name: api, kind: http, url: '{t.url('/')}', expect: {{json: ['$.status exists']}}}}"
        )
    assert ev.verdict is Verdict.FAIL
    assert ev.summary == "response is not JSON (text/html; charset=utf-8): '<html>maintenance</html>'"


async def test_latency_expectation_and_conditions() -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.2)
        return web.Response(text="done")

    async with http_target({"/": slow}) as t:
        too_slow = await run_yaml(
            f"- {{name: a, kind: http, url: '{t.url('/')}', expect: {{max_latency: 50ms}}}}"
        )
        generous = await run_yaml(
            f"- {{name: b, kind: http, url: '{t.url('/')}', expect: {{max_latency: 1m}}, "
            "conditions: ['latency_ms >= 200', {warn: 'latency_ms < 100'}]}"
        )
    assert too_slow.verdict is Verdict.FAIL
    assert too_slow.summary.startswith("latency ")
    assert too_slow.summary.endswith(" ms above max_latency 50ms")
    assert generous.verdict is Verdict.WARN
    assert generous.summary.startswith("condition failed: latency_ms < 100 (observed ")


# -- redirects -----------------------------------------------------------------------------------


def redirect_to(location: str) -> object:
    async def handler(request: web.Request) -> web.Response:
        raise web.HTTPFound(location)

    return handler


async def test_redirects_are_followed_and_recorded() -> None:
    async with http_target({"/a": redirect_to("/b"), "/b": redirect_to("/c"), "/c": ok_json}) as t:
        followed = await run_yaml(f"- {{name: a, kind: http, url: '{t.url('/a')}'}}")
        not_followed = await run_yaml(
            f"- {{name: b, kind: http, url: '{t.url('/a')}', follow_redirects: false, expect: {{status: 302}}}}"
        )
        limited = await run_yaml(f"- {{name: c, kind: http, url: '{t.url('/a')}', max_redirects: 1}}")
    assert followed.verdict is Verdict.PASS
    assert measurements(followed)["redirects"] == 2
    assert [h["location"] for h in followed.detail["redirects"]] == ["/b", "/c"]
    assert followed.detail["response"]["url"] == t.url("/c")
    assert not_followed.verdict is Verdict.PASS
    assert measurements(not_followed)["redirects"] == 0
    assert limited.verdict is Verdict.ERROR
    assert "too many redirects" in limited.summary


async def test_redirect_loop_is_an_error_naming_the_loop() -> None:
    async with http_target({"/loop": redirect_to("/loop")}) as t:
        ev = await run_yaml(f"- {{name: a, kind: http, url: '{t.url('/loop')}', max_redirects: 5}}")
    assert ev.verdict is Verdict.ERROR
    assert ev.summary == f"{t.url('/loop')}: too many redirects (5 followed: … /loop → /loop → /loop → /loop)"


# -- misbehaving targets -------------------------------------------------------------------------


async def test_a_target_that_never_answers_times_out() -> None:
    async with raw_server(hang) as port:
        ev = await run_yaml(f"- {{name: a, kind: http, url: 'http://127.0.0.1:{port}/', timeout: 300ms}}")
    assert (ev.verdict, ev.summary) == (Verdict.ERROR, "timed out after 300ms")


async def test_a_connection_reset_is_an_error_with_the_reason() -> None:
    async with raw_server(reset) as port:
        ev = await run_yaml(f"- {{name: a, kind: http, url: 'http://127.0.0.1:{port}/'}}")
    assert ev.verdict is Verdict.ERROR
    assert ev.summary in (
        f"http://127.0.0.1:{port}/: connection reset by peer",
        f"http://127.0.0.1:{port}/: server closed the connection without a response",
    )


async def test_garbage_instead_of_http_is_an_error() -> None:
    async with raw_server(garbage) as port:
        ev = await run_yaml(f"- {{name: a, kind: http, url: 'http://127.0.0.1:{port}/'}}")
    assert ev.verdict is Verdict.ERROR
    assert ev.summary.startswith(f"http://127.0.0.1:{port}/: malformed response (Bad status line")
    assert "\n" not in ev.summary


async def test_an_unknown_charset_does_not_break_the_excerpt() -> None:
    async def odd(request: web.Request) -> web.Response:
        return web.Response(
            status=500, body="failure ü".encode(), headers={"Content-Type": "text/plain; charset=x-martian"}
        )

    async with http_target({"/": odd}) as t:
        ev = await run_yaml(f"- {{name: a, kind: http, url: '{t.url('/')}', expect: {{body_contains: ok}}}}")
    assert ev.verdict is Verdict.FAIL
    assert ev.detail["body_excerpt"] == "failure ü"


async def test_a_closed_port_is_refused() -> None:
    with closed_port() as port:
        ev = await run_yaml(f"- {{name: a, kind: http, url: 'http://127.0.0.1:{port}/'}}")
    assert (ev.verdict, ev.summary) == (Verdict.ERROR, f"http://127.0.0.1:{port}/: connection refused")
    assert ev.measurements == ()


# -- TLS -----------------------------------------------------------------------------------------


async def test_https_with_a_private_ca(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    async with http_target({"/": ok_json}, ssl_context=pki.server_context(), host="localhost") as t:
        trusted = await run_yaml(f"- {{name: a, kind: http, url: '{t.url('/')}', ca_file: {pki.ca_file}}}")
        untrusted = await run_yaml(f"- {{name: b, kind: http, url: '{t.url('/')}'}}")
        unverified = await run_yaml(f"- {{name: c, kind: http, url: '{t.url('/')}', verify_tls: false}}")
    assert trusted.verdict is Verdict.PASS, trusted.summary
    assert measurements(trusted)["tls_version"] == 1.3
    assert trusted.detail["response"]["tls_version"] == "TLSv1.3"
    assert untrusted.verdict is Verdict.ERROR
    assert untrusted.summary.startswith(f"TLS certificate verification failed for {t.url('/')}")
    assert "unable to get local issuer certificate" in untrusted.summary
    assert unverified.verdict is Verdict.PASS


async def test_https_host_name_mismatch_is_an_error(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    other = pki.ca.issue_cert("elsewhere.example")
    async with http_target({"/": ok_json}, ssl_context=pki.server_context(other), host="localhost") as t:
        ev = await run_yaml(f"- {{name: a, kind: http, url: '{t.url('/')}', ca_file: {pki.ca_file}}}")
    assert ev.verdict is Verdict.ERROR
    assert "Hostname mismatch" in ev.summary


# -- health endpoints ----------------------------------------------------------------------------


def json_answer(document: object, status: int = 200, content_type: str = "application/json") -> object:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=json.dumps(document), status=status, content_type=content_type)

    return handler


SPRING_DOWN = {
    "status": "DOWN",
    "components": {
        "db": {
            "status": "DOWN",
            "details": {"error": "org.postgresql.util.PSQLException: Connection refused"},
        },
        "diskSpace": {"status": "UP", "details": {"free": 1000}},
        "redis": {"status": "UP"},
    },
}
IETF_WARN = {
    "status": "warn",
    "checks": {
        "database:responseTime": [{"status": "pass", "observedValue": 3}],
        "cache:hitRatio": [{"status": "warn", "output": "hit ratio 0.2"}],
    },
}


async def test_spring_actuator_components_are_recorded_and_down_ones_named() -> None:
    async with http_target({"/actuator/health": json_answer(SPRING_DOWN)}) as t:
        ev = await run_yaml(f"- {{name: h, kind: http, url: '{t.url('/actuator/health')}'}}")
    m = measurements(ev)
    assert ev.verdict is Verdict.FAIL
    assert ev.summary == "components down: db (org.postgresql.util.PSQLException: Connection refused)"
    assert (m["component_up.db"], m["component_up.diskSpace"], m["component_up.redis"]) == (0, 1, 1)
    assert (m["health_up"], m["components_down"]) == (0, 1)
    assert ev.detail["health"]["format"] == "spring"
    assert ev.detail["health"]["components"]["db"]["state"] == "down"


async def test_ietf_health_json_warns_on_degraded_components() -> None:
    handler = json_answer(IETF_WARN, content_type="application/health+json")
    async with http_target({"/ready": handler}) as t:
        ev = await run_yaml(f"- {{name: h, kind: http, url: '{t.url('/ready')}'}}")
    m = measurements(ev)
    assert ev.verdict is Verdict.WARN
    assert ev.summary == "components degraded: cache:hitRatio"
    assert m["component_up.database:responseTime"] == 1
    assert m["component_up.cache:hitRatio"] == 1
    assert m["components_down"] == 0


async def test_flat_health_map_and_required_components() -> None:
    flat = {"db": "ok", "redis": "down", "version": "2.1.0"}
    async with http_target({"/healthz": json_answer(flat, status=503)}) as t:
        ev = await run_yaml(
            f"- {{name: h, kind: http, url: '{t.url('/healthz')}', expect: {{status: [200, 503], components: [db, queue]}}}}"
        )
    m = measurements(ev)
    assert ev.verdict is Verdict.FAIL
    assert set(ev.detail["failures"]) == {"components not reported: queue", "components down: redis"}
    assert (m["component_up.db"], m["component_up.redis"]) == (1, 0)
    assert "component_up.version" not in m


async def test_components_can_be_recorded_without_failing() -> None:
    async with http_target({"/health": json_answer(SPRING_DOWN, status=503)}) as t:
        ev = await run_yaml(
            f"- {{name: h, kind: http, url: '{t.url('/health')}', expect: {{status: [2xx, 503], components_up: false}}}}"
        )
    assert ev.verdict is Verdict.PASS
    assert measurements(ev)["component_up.db"] == 0


async def test_ordinary_api_answers_are_not_read_as_health() -> None:
    async with http_target({"/api/flags": json_answer({"new_checkout": False, "status": "draft"})}) as t:
        ev = await run_yaml(f"- {{name: h, kind: http, url: '{t.url('/api/flags')}'}}")
    assert ev.verdict is Verdict.PASS
    assert "health" not in ev.detail
    assert not any(m.name.startswith("component_up.") for m in ev.measurements)


async def test_an_explicit_health_format_is_applied_anywhere_and_must_fit() -> None:
    async with http_target({"/api/state": json_answer({"db": "ok", "queue": "failing"})}) as t:
        url = t.url("/api/state")
        flat = await run_yaml(f"- {{name: a, kind: http, url: '{url}', health: flat}}")
        spring = await run_yaml(f"- {{name: b, kind: http, url: '{url}', health: spring}}")
        auto = await run_yaml(f"- {{name: c, kind: http, url: '{url}', expect: {{components: [db]}}}}")
    assert (flat.verdict, flat.summary) == (Verdict.FAIL, "components down: queue")
    assert (spring.verdict, spring.summary) == (
        Verdict.FAIL,
        "the response is not a spring health document (no status)",
    )
    assert (
        auto.summary == "the response is not a recognised health document (set health: spring, ietf or flat)"
    )


def test_health_parsers_read_nested_and_boolean_forms() -> None:
    nested = {
        "status": "UP",
        "components": {
            "db": {
                "status": "UP",
                "components": {"primary": {"status": "UP"}, "replica": {"status": "OUT_OF_SERVICE"}},
            }
        },
    }
    report = parse_health(nested, HealthFormat.AUTO)
    assert report is not None
    assert {(c.name, c.state) for c in report.components} == {
        ("db.primary", ComponentState.UP),
        ("db.replica", ComponentState.DOWN),
    }
    flat = parse_health(
        {"status": "ok", "components": {"queue": False, "db": {"healthy": True}}}, HealthFormat.FLAT
    )
    assert flat is not None
    assert {(c.name, c.state) for c in flat.components} == {
        ("queue", ComponentState.DOWN),
        ("db", ComponentState.UP),
    }
    with pytest.raises(ValueError, match="not a spring health document"):
        parse_health([1, 2], HealthFormat.SPRING)


# -- secrets -------------------------------------------------------------------------------------


async def test_request_header_values_never_reach_evidence(tmp_path: Path) -> None:
    """The target echoes everything it receives, in its body and headers, and fails: still nothing."""

    async def echo(request: web.Request) -> web.Response:
        echoed = "; ".join(f"{k}={v}" for k, v in request.headers.items())
        return web.Response(
            status=500,
            text=f"bad request, you sent: {echoed} to {request.path_qs}",
            headers={
                "X-Echo": request.headers.get("X-Api-Key", ""),
                "Location": f"/?token={request.query.get('token')}",
            },
        )

    token_file = tmp_path / "token"
    token_file.write_text("file-token-7f3a9c2e\n")
    async with http_target({"/": echo}) as t:
        ev = await run_yaml(
            f"""\
            - name: api
              kind: http
              url: '{t.url("/")}?token=query-secret-5521&page=2'
              headers:
                X-Api-Key: ${{PAYMENTS_API_KEY}}
                Cookie: session=cookie-secret-8812
                X-Custom-Signature: sig-secret-0042
              bearer_token_file: {token_file}
            """,
            env={"PAYMENTS_API_KEY": "env-key-31337abc"},
        )
    received = t.requests[0].headers
    assert received["X-Api-Key"] == "env-key-31337abc"
    assert received["Authorization"] == "Bearer file-token-7f3a9c2e"
    assert received["Cookie"] == "session=cookie-secret-8812"
    assert ev.verdict is Verdict.FAIL
    stored = ev.model_dump_json()
    for secret in (
        "env-key-31337abc",
        "file-token-7f3a9c2e",
        "cookie-secret-8812",
        "sig-secret-0042",
        "query-secret-5521",
    ):
        assert secret not in stored, secret
    # What was sent is still described, by name.
    assert ev.detail["request"]["header_names"] == [
        "Authorization",
        "Cookie",
        "X-Api-Key",
        "X-Custom-Signature",
    ]
    assert ev.detail["request"]["url"] == f"{t.url('/')}?token=**********&page=2"
    assert "you sent" in ev.detail["body_excerpt"]


# -- configuration errors ------------------------------------------------------------------------


def config_issues(check_yaml: str) -> list[str]:
    text = "services:\n  payments:\n    checks:\n" + check_yaml
    with pytest.raises(ConfigError) as exc:
        load_config_text(text, "flightdeck.yaml", env={})
    return [str(i) for i in exc.value.issues]


def test_status_out_of_range_names_the_line() -> None:
    issues = config_issues(
        "      - name: ok\n"
        "        kind: http\n"
        "        url: https://pay.example.com/\n"
        "      - name: health\n"
        "        kind: http\n"
        "        url: https://pay.example.com/health\n"
        "        expect:\n"
        "          max_latency: 500ms\n"
        "          status: 700\n"
    )
    assert issues == ["flightdeck.yaml:12: services.payments.checks[1].expect.status: must be 100–599"]


def test_status_list_errors_and_classes() -> None:
    issues = config_issues(
        "      - name: health\n"
        "        kind: http\n"
        "        url: https://pay.example.com/health\n"
        "        expect:\n"
        "          status: [200, 99]\n"
        "      - name: other\n"
        "        kind: http\n"
        "        url: https://pay.example.com/\n"
        "        expect: {status: 6xx}\n"
    )
    assert issues == [
        "flightdeck.yaml:8: services.payments.checks[0].expect.status: must be 100–599",
        "flightdeck.yaml:12: services.payments.checks[1].expect.status: "
        "must be a status code (100–599) or a class such as 2xx (got '6xx')",
    ]


def test_unparsable_json_assertions_name_their_line() -> None:
    issues = config_issues(
        "      - name: health\n"
        "        kind: http\n"
        "        url: https://pay.example.com/health\n"
        "        expect:\n"
        "          json:\n"
        "            - \"$.status == 'ok'\"\n"
        '            - "$.status == ok"\n'
        '            - "$.items[ > 3"\n'
        '            - "status exists"\n'
        '            - "$.version"\n'
    )
    assert issues == [
        "flightdeck.yaml:10: services.payments.checks[0].expect.json[1]: "
        "cannot read JSON assertion '$.status == ok': 'ok' is not a JSON value (quote strings: 'ok')",
        "flightdeck.yaml:11: services.payments.checks[0].expect.json[2]: "
        "cannot read JSON assertion '$.items[ > 3': invalid JSONPath '$.items[': unexpected end of query",
        "flightdeck.yaml:12: services.payments.checks[0].expect.json[3]: "
        "cannot read JSON assertion 'status exists': the path 'status' must start with $",
        "flightdeck.yaml:13: services.payments.checks[0].expect.json[4]: "
        "cannot read JSON assertion '$.version': write '<path> <op> <value>' with op one of "
        "== != < <= > >= contains matches (e.g. \"$.status == 'ok'\"), or '<path> exists' / '<path> not exists'",
    ]


def test_request_fields_are_validated() -> None:
    issues = config_issues(
        "      - name: a\n"
        "        kind: http\n"
        "        url: ftp://pay.example.com/\n"
        "        body: x\n"
        "        body_json: {a: 1}\n"
        "        ca_file: /nonexistent/ca.pem\n"
        "        expect:\n"
        "          headers:\n"
        "            X-Frame-Options: {equals: DENY, contains: DENY}\n"
        "          body_matches: '(unclosed'\n"
    )
    assert issues == [
        "flightdeck.yaml:6: services.payments.checks[0].url: must be an http:// or https:// URL (got 'ftp://pay.example.com/')",
        "flightdeck.yaml:9: services.payments.checks[0].ca_file: cannot read /nonexistent/ca.pem: no such file",
        "flightdeck.yaml:12: services.payments.checks[0].expect.headers.X-Frame-Options: "
        "give exactly one of equals, contains, matches or present",
        "flightdeck.yaml:13: services.payments.checks[0].expect.body_matches[0]: "
        "not a valid regular expression: missing ), unterminated subpattern at position 0",
    ]


def test_json_assertion_semantics() -> None:
    doc = {"a": 1, "flag": True, "tags": ["x", "y"], "name": "a == b", "rows": [{"s": "up"}, {"s": "down"}]}
    cases = {
        "$.a == 1.0": True,
        "$.flag == 1": False,
        "$.flag == true": True,
        "$.tags contains 'y'": True,
        "$.tags contains 'z'": False,
        "$.name == 'a == b'": True,
        "$.rows[?@.s == 'down'] exists": True,
        "$.rows[*].s != 'down'": False,
        "$.a > 'x'": False,
        "$.missing < 3": False,
        "$.missing not exists": True,
    }
    assert {text: parse_json_assertion(text).evaluate(doc).ok for text in cases} == cases
