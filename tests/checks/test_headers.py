"""The ``headers`` check against real HTTPS servers on loopback.

Each site serves a known header set; the expected result identifiers, scores and grades are worked
out by hand from the Observatory's published methodology (docs/checks/headers.md: start at 100,
penalties, bonuses only while the penalised score is at least 90, five-point grade buckets), not
read back from the implementation.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest
from aiohttp import web
from multidict import CIMultiDict

from flightdeck.evidence import NewEvidence, Verdict
from tests.checks.servers import HttpTarget, Pki, closed_port, http_target, make_pki, run_yaml

PAGE = "<!doctype html><html><head><title>shop</title></head><body>hello</body></html>"

# Every header the Observatory rewards, at its best value.
STRONG: list[tuple[str, str]] = [
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; form-action 'none'"),
    ("Strict-Transport-Security", "max-age=63072000; includeSubDomains"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Embedder-Policy", "require-corp"),
    ("Set-Cookie", "session=s3cr3t-session-token; Secure; HttpOnly; SameSite=Strict"),
]


def replace(headers: list[tuple[str, str]], **changes: str | None) -> list[tuple[str, str]]:
    """``STRONG`` with some headers changed (``Content_Security_Policy="..."``) or removed (None)."""
    names = {k.replace("_", "-").lower(): v for k, v in changes.items()}
    out = [(k, v) for k, v in headers if k.lower() not in names]
    out += [(k.replace("_", "-"), v) for k, v in changes.items() if v is not None]
    return out


HttpMode = Literal["redirect", "plain", "closed", "off-host"]


@dataclass
class Site:
    https: HttpTarget
    http_url: str
    ca_file: Path

    def yaml(self, extra: str = "") -> str:
        return (
            f"- name: grade\n  kind: headers\n  url: {self.https.url('/')}\n  http_url: {self.http_url}\n"
            f"  ca_file: {self.ca_file}\n" + extra
        )


@contextlib.asynccontextmanager
async def site(
    pki: Pki,
    headers: list[tuple[str, str]],
    *,
    http: HttpMode = "redirect",
    body: str = PAGE,
    content_type: str = "text/html",
    reflect_cors: bool = False,
    status: int = 200,
) -> AsyncIterator[Site]:
    async def page(request: web.Request) -> web.StreamResponse:
        out = CIMultiDict(headers)
        if reflect_cors and "Origin" in request.headers:
            out["Access-Control-Allow-Origin"] = request.headers["Origin"]
            out["Access-Control-Allow-Credentials"] = "true"
        return web.Response(text=body, content_type=content_type, headers=out, status=status)

    async with http_target({"/": page}, ssl_context=pki.server_context()) as https:
        port = https.base.rsplit(":", 1)[1]
        target = f"https://localhost:{port}/" if http == "off-host" else https.url("/")

        async def redirect(request: web.Request) -> web.StreamResponse:
            raise web.HTTPMovedPermanently(target)

        async def plain(request: web.Request) -> web.StreamResponse:
            return web.Response(text="plain http", content_type="text/html")

        if http == "closed":
            with closed_port() as free:
                yield Site(https, f"http://127.0.0.1:{free}/", pki.ca_file)
        else:
            async with http_target({"/": plain if http == "plain" else redirect}) as plain_http:
                yield Site(https, plain_http.url("/"), pki.ca_file)


def results(evidence: NewEvidence) -> dict[str, tuple[str, int, bool]]:
    tests = evidence.detail["tests"]
    assert isinstance(tests, list)
    out = {}
    for t in tests:
        assert isinstance(t, dict)
        out[str(t["test"])] = (str(t["result"]), int(t["score_modifier"]), bool(t["pass"]))  # type: ignore[arg-type]
    return out


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path)


async def test_no_security_headers_at_all_grades_d(pki: Pki) -> None:
    async with site(pki, [], http="closed", content_type="text/plain", body="ok") as s:
        ev = await run_yaml(s.yaml())
    # 100 - 25 (no CSP) - 20 (no HSTS) - 5 (no X-Content-Type-Options) - 20 (no X-Frame-Options) = 30
    assert (ev.verdict, ev.detail["grade"], ev.measurement("score")) == (Verdict.PASS, "D", 30)
    r = results(ev)
    assert r["content-security-policy"] == ("csp-not-implemented", -25, False)
    assert r["strict-transport-security"] == ("hsts-not-implemented", -20, False)
    assert r["x-content-type-options"] == ("x-content-type-options-not-implemented", -5, False)
    assert r["x-frame-options"] == ("x-frame-options-not-implemented", -20, False)
    assert r["redirection"] == ("redirection-not-needed-no-http", 0, True)
    assert r["subresource-integrity"] == ("sri-not-implemented-response-not-html", 0, True)
    assert r["cookies"] == ("cookies-not-found", 0, True)
    assert r["cross-origin-opener-policy"] == ("coop-not-implemented", 0, True)
    assert (ev.measurement("tests_passed"), ev.measurement("tests_failed")) == (8, 4)
    assert "csp-not-implemented (-25)" in ev.summary


async def test_strong_configuration_grades_a_plus_with_every_bonus(pki: Pki) -> None:
    async with site(pki, STRONG) as s:
        ev = await run_yaml(s.yaml("  min_grade: A+\n"))
    # 100 + CSP default-src 'none' 10 + cookies 5 + referrer 5 + frame-ancestors 5 + CORP 10 + COOP 10 + COEP 10
    assert (ev.verdict, ev.detail["grade"], ev.measurement("score")) == (Verdict.PASS, "A+", 155)
    r = results(ev)
    assert r["content-security-policy"] == ("csp-implemented-with-no-unsafe-default-src-none", 10, True)
    assert r["cookies"] == ("cookies-secure-with-httponly-sessions-and-samesite", 5, True)
    assert r["redirection"] == ("redirection-to-https", 0, True)
    assert r["strict-transport-security"] == ("hsts-implemented-max-age-at-least-six-months", 0, True)
    assert r["x-frame-options"] == ("x-frame-options-implemented-via-csp", 5, True)
    assert r["cross-origin-embedder-policy"] == ("coep-implemented-with-require-corp", 10, True)
    assert ev.measurement("tests_failed") == 0
    assert ev.detail["certificate_verified"] is True


async def test_scoring_version_4_has_ten_tests_and_no_coop_coep(pki: Pki) -> None:
    async with site(pki, STRONG) as s:
        ev = await run_yaml(s.yaml("  scoring: 4\n"))
    assert ev.measurement("score") == 135  # 155 without the COOP and COEP bonuses
    assert len(results(ev)) == 10
    assert "cross-origin-opener-policy" not in results(ev)


async def test_unsafe_inline_csp_loses_the_bonuses(pki: Pki) -> None:
    csp = "default-src 'self'; script-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
    async with site(pki, replace(STRONG, Content_Security_Policy=csp)) as s:
        ev = await run_yaml(s.yaml())
    # 100 - 20 = 80 is below 90, so none of the bonuses count: B+
    assert (ev.detail["grade"], ev.measurement("score")) == ("B+", 80)
    assert results(ev)["content-security-policy"] == ("csp-implemented-with-unsafe-inline", -20, False)


async def test_nonce_neutralises_unsafe_inline(pki: Pki) -> None:
    csp = "default-src 'none'; script-src 'nonce-r4nd0m' 'unsafe-inline' 'strict-dynamic'; frame-ancestors 'none'"
    async with site(pki, replace(STRONG, Content_Security_Policy=csp)) as s:
        ev = await run_yaml(s.yaml())
    assert results(ev)["content-security-policy"] == (
        "csp-implemented-with-no-unsafe-default-src-none",
        10,
        True,
    )


async def test_session_cookie_without_secure_under_hsts(pki: Pki) -> None:
    cookie = "sessionid=abc; HttpOnly; SameSite=Lax"
    async with site(pki, replace(STRONG, Set_Cookie=cookie)) as s:
        ev = await run_yaml(s.yaml())
    assert results(ev)["cookies"] == ("cookies-session-without-secure-flag-but-protected-by-hsts", -10, False)
    # 100 - 10 = 90 keeps the other bonuses: 90 + 10 + 5 + 5 + 10 + 10 + 10
    assert (ev.detail["grade"], ev.measurement("score")) == ("A+", 140)


async def test_cookie_without_secure_and_without_hsts(pki: Pki) -> None:
    headers = replace(STRONG, Set_Cookie="theme=dark; SameSite=Lax", Strict_Transport_Security=None)
    async with site(pki, headers) as s:
        ev = await run_yaml(s.yaml())
    r = results(ev)
    assert r["cookies"] == ("cookies-without-secure-flag", -20, False)
    assert r["strict-transport-security"] == ("hsts-not-implemented", -20, False)
    assert (ev.detail["grade"], ev.measurement("score")) == ("C+", 60)


async def test_cors_reflecting_any_origin_with_credentials(pki: Pki) -> None:
    async with site(pki, STRONG, reflect_cors=True) as s:
        ev = await run_yaml(s.yaml("  cors_origin: https://evil.example\n"))
        preflights = [req for req in s.https.requests if req.method == "OPTIONS"]
    assert preflights
    assert preflights[0].headers["Origin"] == "https://evil.example"
    assert preflights[0].headers["Access-Control-Request-Method"] == "GET"
    assert results(ev)["cross-origin-resource-sharing"] == (
        "cross-origin-resource-sharing-implemented-with-universal-access",
        -50,
        False,
    )
    assert (ev.detail["grade"], ev.measurement("score")) == ("C", 50)


async def test_missing_redirect_from_http(pki: Pki) -> None:
    async with site(pki, STRONG, http="plain") as s:
        ev = await run_yaml(s.yaml())
    assert results(ev)["redirection"] == ("redirection-missing", -20, False)
    assert (ev.detail["grade"], ev.measurement("score")) == ("B+", 80)


async def test_redirect_to_another_host_first(pki: Pki) -> None:
    async with site(pki, STRONG, http="off-host") as s:
        ev = await run_yaml(s.yaml())
    assert results(ev)["redirection"] == ("redirection-off-host-from-http", -5, False)
    assert ev.measurement("score") == 150


async def test_min_grade_turns_the_verdict_to_fail(pki: Pki) -> None:
    csp = "default-src 'self'; script-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
    async with site(pki, replace(STRONG, Content_Security_Policy=csp)) as s:
        failing = await run_yaml(s.yaml("  min_grade: A-\n"))
        passing = await run_yaml(s.yaml("  min_grade: b+\n"))
    assert failing.verdict is Verdict.FAIL
    assert failing.summary.startswith("grade B+ is below the minimum A-")
    assert "csp-implemented-with-unsafe-inline (-20)" in failing.summary
    assert passing.verdict is Verdict.PASS
    assert failing.detail["grade"] == passing.detail["grade"] == "B+"


async def test_score_condition_can_warn(pki: Pki) -> None:
    async with site(pki, replace(STRONG, Referrer_Policy="unsafe-url")) as s:
        ev = await run_yaml(s.yaml("  conditions: [{warn: 'score >= 100'}]\n"))
    # 100 - 5 = 95 keeps the bonuses except the referrer's own: 95 + 10 + 5 + 5 + 10 + 10 + 10 = 145
    assert results(ev)["referrer-policy"] == ("referrer-policy-unsafe", -5, False)
    assert (ev.verdict, ev.measurement("score")) == (Verdict.PASS, 145)


async def test_external_script_over_http_without_sri(pki: Pki) -> None:
    html = '<html><head><script src="http://cdn.example.org/lib.js"></script></head></html>'
    async with site(pki, STRONG, body=html) as s:
        ev = await run_yaml(s.yaml())
    assert results(ev)["subresource-integrity"] == (
        "sri-not-implemented-and-external-scripts-not-loaded-securely",
        -50,
        False,
    )
    assert ev.measurement("score") == 50


async def test_untrusted_certificate_is_graded_as_invalid_cert(pki: Pki) -> None:
    async with site(pki, STRONG) as s:
        yaml = s.yaml().replace(f"  ca_file: {s.ca_file}\n", "")
        ev = await run_yaml(yaml)
    assert ev.detail["certificate_verified"] is False
    assert results(ev)["strict-transport-security"] == ("hsts-invalid-cert", -20, False)
    assert results(ev)["redirection"] == ("redirection-invalid-cert", -20, False)


async def test_cookie_values_never_reach_evidence(pki: Pki) -> None:
    async with site(pki, STRONG) as s:
        ev = await run_yaml(s.yaml())
    dumped = json.dumps(ev.model_dump(mode="json"))
    assert "session" in dumped
    assert "s3cr3t-session-token" not in dumped


async def test_server_error_is_not_graded(pki: Pki) -> None:
    async with site(pki, STRONG, status=500) as s:
        ev = await run_yaml(s.yaml())
    assert ev.verdict is Verdict.ERROR
    assert "answered HTTP 500" in ev.summary


async def test_unreachable_https_is_an_error() -> None:
    with closed_port() as port:
        ev = await run_yaml(
            f"- {{name: g, kind: headers, url: 'https://127.0.0.1:{port}/', http_url: 'http://127.0.0.1:{port}/'}}\n"
        )
    assert ev.verdict is Verdict.ERROR
    assert "connection refused" in ev.summary


def test_configuration_errors_name_the_field() -> None:
    from flightdeck.config import load_config_text
    from flightdeck.errors import ConfigError

    text = (
        "services:\n  shop:\n    checks:\n"
        "      - name: h\n        kind: headers\n        url: http://shop.example/\n"
        "        min_grade: Z\n        scoring: 7\n        http_url: https://shop.example/\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, "flightdeck.yaml", env={})
    issues = [str(i) for i in caught.value.issues]
    assert any("checks[0].url: must be an https:// URL" in i for i in issues)
    assert any("checks[0].min_grade: 'Z' is not a grade" in i for i in issues)
    assert any("checks[0].scoring:" in i for i in issues)
    assert any("checks[0].http_url: must be an http:// URL" in i for i in issues)
    with pytest.raises(ConfigError, match="user name or password"):
        load_config_text(
            text.replace("http://shop.example/", "https://u:pw@shop.example/", 1), "f.yaml", env={}
        )


def test_default_http_url_is_port_80_of_the_same_host() -> None:
    from flightdeck.checks.headers import default_http_url

    assert default_http_url("https://shop.example:8443/a/b?c=1") == "http://shop.example/a/b?c=1"
    assert default_http_url("https://[::1]:8443/") == "http://[::1]/"
