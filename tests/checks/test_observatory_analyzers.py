"""Each Observatory test on responses built by hand: the cases its methodology singles out.

Expected results come from the rules in docs/checks/headers.md (the Observatory's analyzers), e.g.
"a nonce cancels 'unsafe-inline'", "a repeated directive makes the policy invalid".
"""

from __future__ import annotations

import pytest

from flightdeck.checks.observatory import Chain, Exchange, Result, Retrieval
from flightdeck.checks.observatory.cookies import collect_cookies, cookies, parse_set_cookie
from flightdeck.checks.observatory.csp import (
    CspParseError,
    content_security_policy,
    parse_csp,
    x_frame_options,
)
from flightdeck.checks.observatory.html import registrable_domain, subresource_integrity
from flightdeck.checks.observatory.policies import (
    cross_origin_embedder_policy,
    cross_origin_opener_policy,
    cross_origin_resource_sharing,
    referrer_policy,
    structured_field_token,
    x_content_type_options,
)
from flightdeck.checks.observatory.transport import is_preloaded, redirection, strict_transport_security

URL = "https://shop.example.com/"
HSTS = ("Strict-Transport-Security", "max-age=31536000")


def page(
    *headers: tuple[str, str], body: str = "", html: bool = True, url: str = URL, verified: bool = True
) -> Retrieval:
    ctype = ("Content-Type", "text/html; charset=utf-8" if html else "application/json")
    return Retrieval(url=url, https=Chain((Exchange(url, 200, (ctype, *headers), body),), verified))


def csp(*policies: str, body: str = "") -> Result:
    return content_security_policy(
        page(*(("Content-Security-Policy", p) for p in policies), body=body)
    ).result


# -- CSP -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("default-src 'none'", Result.CSP_IMPLEMENTED_WITH_NO_UNSAFE_DEFAULT_SRC_NONE),
        ("default-src 'self'", Result.CSP_IMPLEMENTED_WITH_NO_UNSAFE),
        ("default-src 'self'; script-src 'self' 'unsafe-inline'", Result.CSP_IMPLEMENTED_WITH_UNSAFE_INLINE),
        ("default-src 'self'; script-src data:", Result.CSP_IMPLEMENTED_WITH_UNSAFE_INLINE),
        ("script-src 'self'", Result.CSP_IMPLEMENTED_WITH_UNSAFE_INLINE),  # object-src unrestricted
        ("default-src 'self'; object-src https:", Result.CSP_IMPLEMENTED_WITH_UNSAFE_INLINE),
        ("default-src 'self'; script-src 'self' 'unsafe-eval'", Result.CSP_IMPLEMENTED_WITH_UNSAFE_EVAL),
        (
            "default-src 'self'; script-src http://cdn.example.com",
            Result.CSP_IMPLEMENTED_WITH_INSECURE_SCHEME,
        ),
        (
            "default-src 'self'; img-src http:",
            Result.CSP_IMPLEMENTED_WITH_INSECURE_SCHEME_IN_PASSIVE_CONTENT_ONLY,
        ),
        (
            "default-src 'self'; style-src 'self' 'unsafe-inline'",
            Result.CSP_IMPLEMENTED_WITH_UNSAFE_INLINE_IN_STYLE_SRC_ONLY,
        ),
        (
            "default-src 'none'; script-src 'nonce-abc' 'unsafe-inline'",
            Result.CSP_IMPLEMENTED_WITH_NO_UNSAFE_DEFAULT_SRC_NONE,
        ),
        (
            "default-src 'none'; script-src 'nonce-abc' 'strict-dynamic' https: 'self'",
            Result.CSP_IMPLEMENTED_WITH_NO_UNSAFE_DEFAULT_SRC_NONE,
        ),
        ("default-src 'none'; script-src 'strict-dynamic'", Result.CSP_HEADER_INVALID),
        ("default-src 'self'; default-src 'none'", Result.CSP_HEADER_INVALID),
        ("x", Result.CSP_HEADER_INVALID),
        ("default-src 'none'; report-uri /a; report-uri /b", Result.CSP_IMPLEMENTED_BUT_DUPLICATE_DIRECTIVES),
    ],
)
def test_csp_results(policy: str, expected: Result) -> None:
    assert csp(policy) is expected


def test_csp_absent_report_only_and_meta() -> None:
    assert csp() is Result.CSP_NOT_IMPLEMENTED
    report_only = page(("Content-Security-Policy-Report-Only", "default-src 'none'"))
    assert content_security_policy(report_only).result is Result.CSP_NOT_IMPLEMENTED_BUT_REPORTING_ENABLED
    meta = "<head><meta http-equiv='Content-Security-Policy' content=\"default-src 'none'\"></head>"
    assert csp(body=meta) is Result.CSP_IMPLEMENTED_WITH_NO_UNSAFE_DEFAULT_SRC_NONE
    # frame-ancestors is not allowed in <meta>: a meta policy with only that is no policy
    only_fa = "<meta http-equiv='content-security-policy' content=\"frame-ancestors 'none'\">"
    assert csp(body=only_fa) is Result.CSP_NOT_IMPLEMENTED
    # a meta policy on a JSON response is not read
    json_page = page(body=meta, html=False)
    assert content_security_policy(json_page).result is Result.CSP_NOT_IMPLEMENTED


def test_two_policies_are_intersected() -> None:
    # the second policy forbids what the first allows: only sources allowed by both remain
    parsed = parse_csp(["default-src 'self' https://a.example", "default-src https://a.example"])
    assert parsed.directives["default-src"] == {"https://a.example"}
    with pytest.raises(CspParseError):
        parse_csp(["script-src 'self'; script-src 'none'"])
    assert parse_csp(["img-src"]).directives["img-src"] == {"'none'"}


# -- X-Frame-Options ------------------------------------------------------------------------------


def test_x_frame_options() -> None:
    assert x_frame_options(page()).result is Result.X_FRAME_OPTIONS_NOT_IMPLEMENTED
    assert (
        x_frame_options(page(("X-Frame-Options", "DENY"))).result is Result.X_FRAME_OPTIONS_SAMEORIGIN_OR_DENY
    )
    assert x_frame_options(page(("X-Frame-Options", "ALLOW-FROM https://a"))).result is (
        Result.X_FRAME_OPTIONS_ALLOW_FROM_ORIGIN
    )
    assert x_frame_options(page(("X-Frame-Options", "allowall"))).passed is False
    via_csp = page(("X-Frame-Options", "nonsense"), ("Content-Security-Policy", "frame-ancestors 'self'"))
    assert x_frame_options(via_csp).result is Result.X_FRAME_OPTIONS_IMPLEMENTED_VIA_CSP


# -- cookies --------------------------------------------------------------------------------------


def cookie_result(*set_cookies: str, hsts: bool = False) -> Result:
    headers = [("Set-Cookie", c) for c in set_cookies] + ([HSTS] if hsts else [])
    return cookies(page(*headers)).result


def test_cookie_results() -> None:
    assert cookie_result() is Result.COOKIES_NOT_FOUND
    assert (
        cookie_result("a=1; Secure; SameSite=Lax")
        is Result.COOKIES_SECURE_WITH_HTTPONLY_SESSIONS_AND_SAMESITE
    )
    assert cookie_result("a=1; Secure") is Result.COOKIES_SECURE_WITH_HTTPONLY_SESSIONS
    assert cookie_result("a=1") is Result.COOKIES_WITHOUT_SECURE_FLAG
    assert cookie_result("a=1", hsts=True) is Result.COOKIES_WITHOUT_SECURE_FLAG_BUT_PROTECTED_BY_HSTS
    assert cookie_result("PHPSESSID=1; HttpOnly") is Result.COOKIES_SESSION_WITHOUT_SECURE_FLAG
    assert cookie_result("login=1; HttpOnly", hsts=True) is (
        Result.COOKIES_SESSION_WITHOUT_SECURE_FLAG_BUT_PROTECTED_BY_HSTS
    )
    assert cookie_result("session=1; Secure") is Result.COOKIES_SESSION_WITHOUT_HTTPONLY_FLAG
    assert cookie_result("csrftoken=1; Secure") is Result.COOKIES_ANTICSRF_WITHOUT_SAMESITE_FLAG
    assert cookie_result("a=1; Secure; SameSite=bogus") is Result.COOKIES_SAMESITE_FLAG_INVALID
    assert cookie_result("a=1; SameSite=None", hsts=True) is Result.COOKIES_SAMESITE_FLAG_INVALID
    # the worst finding wins
    assert cookie_result("a=1", "session=2; Secure") is Result.COOKIES_SESSION_WITHOUT_HTTPONLY_FLAG


def test_cookies_a_browser_would_reject_do_not_count() -> None:
    assert parse_set_cookie("a=1; Domain=other.example", URL) is None
    assert parse_set_cookie("a=1; Domain=com", URL) is None
    assert parse_set_cookie("__Secure-a=1", URL) is None
    assert parse_set_cookie("__Host-a=1; Secure; Domain=shop.example.com", URL) is None
    assert parse_set_cookie("no-equals-sign", URL) is None
    kept = parse_set_cookie("a=1; Domain=.Example.com; Path=/x", URL)
    assert kept is not None
    assert (kept.domain, kept.path) == ("example.com", "/x")
    # cookies set on the way through redirects count; a later one replaces an earlier one
    hop = Exchange("https://shop.example.com/old", 302, (("Set-Cookie", "a=1"),))
    final = Exchange(URL, 200, (("Set-Cookie", "a=2; Secure"),))
    (jar,) = collect_cookies((hop, final))
    assert jar.secure


# -- HSTS and redirection ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("max-age=15552000", Result.HSTS_IMPLEMENTED_MAX_AGE_AT_LEAST_SIX_MONTHS),
        ("max-age=300; includeSubDomains", Result.HSTS_IMPLEMENTED_MAX_AGE_LESS_THAN_SIX_MONTHS),
        ("includeSubDomains", Result.HSTS_HEADER_INVALID),
        ("max-age=31536000, max-age=31536000", Result.HSTS_HEADER_INVALID),
    ],
)
def test_hsts(header: str, expected: Result) -> None:
    assert strict_transport_security(page(("Strict-Transport-Security", header))).result is expected


def test_hsts_absent_unverified_and_preloaded() -> None:
    assert strict_transport_security(page()).result is Result.HSTS_NOT_IMPLEMENTED
    assert strict_transport_security(page(HSTS, verified=False)).result is Result.HSTS_INVALID_CERT
    assert is_preloaded("mail.google.com")
    assert not is_preloaded("127.0.0.1")
    preloaded = page(url="https://mail.google.com/")
    assert strict_transport_security(preloaded).result is Result.HSTS_PRELOADED


def redirected(*urls: str, verified: bool = True) -> Result:
    chain = Chain(
        tuple(Exchange(u, 301 if i < len(urls) - 1 else 200, ()) for i, u in enumerate(urls)), verified
    )
    return redirection(Retrieval(url=URL, https=page().https, http=chain)).result


def test_redirection_results() -> None:
    assert redirection(page()).result is Result.REDIRECTION_NOT_NEEDED_NO_HTTP
    assert redirected("http://shop.example.com/", URL) is Result.REDIRECTION_TO_HTTPS
    assert redirected("http://shop.example.com/") is Result.REDIRECTION_MISSING
    assert (
        redirected("http://shop.example.com/", "http://www.example.com/") is Result.REDIRECTION_NOT_TO_HTTPS
    )
    assert redirected("http://shop.example.com/", "http://shop.example.com/a", URL) is (
        Result.REDIRECTION_NOT_TO_HTTPS_ON_INITIAL_REDIRECTION
    )
    assert (
        redirected("http://shop.example.com/", "https://www.example.com/")
        is Result.REDIRECTION_OFF_HOST_FROM_HTTP
    )
    assert redirected("http://shop.example.com/", URL, verified=False) is Result.REDIRECTION_INVALID_CERT
    assert redirected("http://mail.google.com/", "https://mail.google.com/") is (
        Result.REDIRECTION_ALL_REDIRECTS_PRELOADED
    )


# -- subresource integrity ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scripts", "expected"),
    [
        ("", Result.SRI_NOT_IMPLEMENTED_BUT_NO_SCRIPTS_LOADED),
        ("<script>inline()</script>", Result.SRI_NOT_IMPLEMENTED_BUT_ALL_SCRIPTS_LOADED_FROM_SECURE_ORIGIN),
        (
            '<script src="/app.js"></script>',
            Result.SRI_NOT_IMPLEMENTED_BUT_ALL_SCRIPTS_LOADED_FROM_SECURE_ORIGIN,
        ),
        (
            '<script src="/app.js" integrity="sha384-x"></script>',
            Result.SRI_IMPLEMENTED_AND_ALL_SCRIPTS_LOADED_SECURELY,
        ),
        (
            '<script src="https://static.example.com/a.js"></script>',  # same registrable domain
            Result.SRI_NOT_IMPLEMENTED_BUT_ALL_SCRIPTS_LOADED_FROM_SECURE_ORIGIN,
        ),
        (
            '<script src="https://cdn.other.org/a.js"></script>',
            Result.SRI_NOT_IMPLEMENTED_BUT_EXTERNAL_SCRIPTS_LOADED_SECURELY,
        ),
        (
            '<script src="https://cdn.other.org/a.js" integrity="sha384-x" crossorigin="anonymous"></script>',
            Result.SRI_IMPLEMENTED_AND_EXTERNAL_SCRIPTS_LOADED_SECURELY,
        ),
        (
            '<script src="http://cdn.other.org/a.js" integrity="sha384-x"></script>',
            Result.SRI_IMPLEMENTED_BUT_EXTERNAL_SCRIPTS_NOT_LOADED_SECURELY,
        ),
        (
            '<script src="//cdn.other.org/a.js"></script>',
            Result.SRI_NOT_IMPLEMENTED_AND_EXTERNAL_SCRIPTS_NOT_LOADED_SECURELY,
        ),
    ],
)
def test_subresource_integrity(scripts: str, expected: Result) -> None:
    assert subresource_integrity(page(body=f"<html><head>{scripts}</head></html>")).result is expected


def test_sri_on_a_non_html_response_and_registrable_domains() -> None:
    assert subresource_integrity(page(html=False)).result is Result.SRI_NOT_IMPLEMENTED_RESPONSE_NOT_HTML
    assert registrable_domain("cdn.shop.example.co.uk") == "example.co.uk"
    assert registrable_domain("127.0.0.1") is None


# -- single headers ---------------------------------------------------------------------------------


def test_referrer_policy_last_recognised_value_wins_and_meta_comes_last() -> None:
    def result(*headers: tuple[str, str], body: str = "") -> Result:
        return referrer_policy(page(*headers, body=body)).result

    assert result() is Result.REFERRER_POLICY_NOT_IMPLEMENTED
    assert result(("Referrer-Policy", "no-referrer")) is Result.REFERRER_POLICY_PRIVATE
    assert result(("Referrer-Policy", "no-referrer, unsafe-url")) is Result.REFERRER_POLICY_UNSAFE
    assert result(("Referrer-Policy", "unsafe-url, whatever")) is Result.REFERRER_POLICY_UNSAFE
    assert result(("Referrer-Policy", "whatever")) is Result.REFERRER_POLICY_HEADER_INVALID
    meta = '<meta name="referrer" content="strict-origin">'
    assert result(("Referrer-Policy", "unsafe-url"), body=meta) is Result.REFERRER_POLICY_PRIVATE


def test_x_content_type_options() -> None:
    assert x_content_type_options(page(("X-Content-Type-Options", " NoSniff "))).passed
    assert x_content_type_options(
        page(("X-Content-Type-Options", "nosniff"), ("X-Content-Type-Options", "nosniff"))
    ).result is (
        Result.X_CONTENT_TYPE_OPTIONS_HEADER_INVALID  # sent twice reads as "nosniff, nosniff"
    )


@pytest.mark.parametrize(
    ("value", "token"),
    [
        ("same-origin", "same-origin"),
        ('same-origin; report-to="coop"', "same-origin"),
        ("same-origin; report-to", "same-origin"),
        ("same-origin; report-to=coop endpoint", None),
        ('"same-origin"', None),
        ("same-origin,", None),
        ("", None),
    ],
)
def test_structured_field_tokens(value: str, token: str | None) -> None:
    assert structured_field_token(value) == token


def test_coop_and_coep() -> None:
    assert cross_origin_opener_policy(page()).result is Result.COOP_NOT_IMPLEMENTED
    coop = page(("Cross-Origin-Opener-Policy", 'same-origin-allow-popups; report-to="r"'))
    assert cross_origin_opener_policy(coop).result is Result.COOP_IMPLEMENTED_WITH_SAME_ORIGIN_ALLOW_POPUPS
    twice = page(("Cross-Origin-Opener-Policy", "same-origin"), ("Cross-Origin-Opener-Policy", "same-origin"))
    assert cross_origin_opener_policy(twice).result is Result.COOP_HEADER_INVALID
    assert cross_origin_embedder_policy(page(("Cross-Origin-Embedder-Policy", "Require-Corp"))).result is (
        Result.COEP_HEADER_INVALID  # tokens are case-sensitive
    )
    coep = page(("Cross-Origin-Embedder-Policy", "credentialless"))
    assert cross_origin_embedder_policy(coep).result is Result.COEP_IMPLEMENTED_WITH_CREDENTIALLESS


def test_cors_results() -> None:
    origin = "https://evil.example"

    def result(*headers: tuple[str, str]) -> Result:
        base = page()
        preflight = Exchange(URL, 204, headers)
        return cross_origin_resource_sharing(
            Retrieval(url=URL, https=base.https, cors=preflight, cors_origin=origin)
        ).result

    assert cross_origin_resource_sharing(page()).result is Result.CORS_NOT_IMPLEMENTED
    assert result(("Access-Control-Allow-Origin", "*")) is Result.CORS_IMPLEMENTED_WITH_PUBLIC_ACCESS
    assert result(("Access-Control-Allow-Origin", origin)) is Result.CORS_IMPLEMENTED_WITH_RESTRICTED_ACCESS
    assert (
        result(("Access-Control-Allow-Origin", origin), ("Access-Control-Allow-Credentials", "true"))
        is Result.CORS_IMPLEMENTED_WITH_UNIVERSAL_ACCESS
    )
    assert (
        result(
            ("Access-Control-Allow-Origin", "https://partner.example"),
            ("Access-Control-Allow-Credentials", "true"),
        )
        is Result.CORS_IMPLEMENTED_WITH_RESTRICTED_ACCESS
    )
