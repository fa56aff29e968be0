"""The Observatory's tests, their result identifiers, score modifiers and grade chart.

Transcribed from the MDN HTTP Observatory (``mdn/mdn-http-observatory``): ``src/types.js``
(``Expectation``: the result identifiers), ``src/grader/charts.js`` (``SCORE_TABLE``: modifiers;
``GRADE_CHART``; ``MINIMUM_SCORE_FOR_EXTRA_CREDIT``) and ``src/scanner/index.js`` (start at 100,
penalties first, bonuses only when the penalised score is at least 90). Descriptions and fixes are
our own one-line wording of the table's text.

Scoring versions (the scanner's ``ALGORITHM_VERSION``):

* **4** — the published npm release 1.4.8: ten tests.
* **5** — ``X-Frame-Options: DENY``/``SAMEORIGIN`` earns +5 like CSP ``frame-ancestors``
  (mdn/mdn-http-observatory pull request 332, release 1.5.0).
* **6** — adds the Cross-Origin-Opener-Policy and Cross-Origin-Embedder-Policy tests
  (pull request 498): +10 for an isolating policy, 0 when absent or ``unsafe-none``, -5 when the
  header cannot be recognised.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "EXTRA_CREDIT_THRESHOLD",
    "STARTING_SCORE",
    "Grade",
    "Result",
    "ResultInfo",
    "ScoringVersion",
    "TestName",
    "grade_for_score",
    "info",
    "modifier",
    "tests_for",
]

STARTING_SCORE = 100
EXTRA_CREDIT_THRESHOLD = 90


class ScoringVersion(enum.IntEnum):
    V4 = 4
    V5 = 5
    V6 = 6


class TestName(enum.StrEnum):
    """The Observatory's test names, in the order its scanner runs them."""

    __test__ = False  # not a pytest test class

    CONTENT_SECURITY_POLICY = "content-security-policy"
    COOKIES = "cookies"
    CROSS_ORIGIN_RESOURCE_SHARING = "cross-origin-resource-sharing"
    REDIRECTION = "redirection"
    REFERRER_POLICY = "referrer-policy"
    STRICT_TRANSPORT_SECURITY = "strict-transport-security"
    SUBRESOURCE_INTEGRITY = "subresource-integrity"
    X_CONTENT_TYPE_OPTIONS = "x-content-type-options"
    X_FRAME_OPTIONS = "x-frame-options"
    CROSS_ORIGIN_RESOURCE_POLICY = "cross-origin-resource-policy"
    CROSS_ORIGIN_OPENER_POLICY = "cross-origin-opener-policy"
    CROSS_ORIGIN_EMBEDDER_POLICY = "cross-origin-embedder-policy"

    @property
    def label(self) -> str:
        return _TITLES[self]


_TITLES = {
    TestName.CONTENT_SECURITY_POLICY: "Content Security Policy (CSP)",
    TestName.COOKIES: "Cookies",
    TestName.CROSS_ORIGIN_RESOURCE_SHARING: "Cross Origin Resource Sharing (CORS)",
    TestName.REDIRECTION: "Redirection",
    TestName.REFERRER_POLICY: "Referrer Policy",
    TestName.STRICT_TRANSPORT_SECURITY: "Strict Transport Security (HSTS)",
    TestName.SUBRESOURCE_INTEGRITY: "Subresource Integrity",
    TestName.X_CONTENT_TYPE_OPTIONS: "X-Content-Type-Options",
    TestName.X_FRAME_OPTIONS: "X-Frame-Options",
    TestName.CROSS_ORIGIN_RESOURCE_POLICY: "Cross Origin Resource Policy",
    TestName.CROSS_ORIGIN_OPENER_POLICY: "Cross Origin Opener Policy",
    TestName.CROSS_ORIGIN_EMBEDDER_POLICY: "Cross Origin Embedder Policy",
}

_V4_TESTS = tuple(TestName)[:10]
_V6_TESTS = tuple(TestName)


def tests_for(version: ScoringVersion) -> tuple[TestName, ...]:
    return _V6_TESTS if version >= ScoringVersion.V6 else _V4_TESTS


class Result(enum.StrEnum):
    """Every result identifier a test can produce (the Observatory's ``Expectation`` values)."""

    # Content Security Policy
    CSP_IMPLEMENTED_WITH_NO_UNSAFE_DEFAULT_SRC_NONE = "csp-implemented-with-no-unsafe-default-src-none"
    CSP_IMPLEMENTED_WITH_NO_UNSAFE = "csp-implemented-with-no-unsafe"
    CSP_IMPLEMENTED_WITH_UNSAFE_INLINE_IN_STYLE_SRC_ONLY = (
        "csp-implemented-with-unsafe-inline-in-style-src-only"
    )
    CSP_IMPLEMENTED_WITH_INSECURE_SCHEME_IN_PASSIVE_CONTENT_ONLY = (
        "csp-implemented-with-insecure-scheme-in-passive-content-only"
    )
    CSP_IMPLEMENTED_WITH_UNSAFE_EVAL = "csp-implemented-with-unsafe-eval"
    CSP_IMPLEMENTED_WITH_UNSAFE_INLINE = "csp-implemented-with-unsafe-inline"
    CSP_IMPLEMENTED_WITH_INSECURE_SCHEME = "csp-implemented-with-insecure-scheme"
    CSP_IMPLEMENTED_BUT_DUPLICATE_DIRECTIVES = "csp-implemented-but-duplicate-directives"
    CSP_HEADER_INVALID = "csp-header-invalid"
    CSP_NOT_IMPLEMENTED = "csp-not-implemented"
    CSP_NOT_IMPLEMENTED_BUT_REPORTING_ENABLED = "csp-not-implemented-but-reporting-enabled"
    # Cookies
    COOKIES_SECURE_WITH_HTTPONLY_SESSIONS_AND_SAMESITE = "cookies-secure-with-httponly-sessions-and-samesite"
    COOKIES_SECURE_WITH_HTTPONLY_SESSIONS = "cookies-secure-with-httponly-sessions"
    COOKIES_NOT_FOUND = "cookies-not-found"
    COOKIES_WITHOUT_SECURE_FLAG_BUT_PROTECTED_BY_HSTS = "cookies-without-secure-flag-but-protected-by-hsts"
    COOKIES_SESSION_WITHOUT_SECURE_FLAG_BUT_PROTECTED_BY_HSTS = (
        "cookies-session-without-secure-flag-but-protected-by-hsts"
    )
    COOKIES_WITHOUT_SECURE_FLAG = "cookies-without-secure-flag"
    COOKIES_SAMESITE_FLAG_INVALID = "cookies-samesite-flag-invalid"
    COOKIES_ANTICSRF_WITHOUT_SAMESITE_FLAG = "cookies-anticsrf-without-samesite-flag"
    COOKIES_SESSION_WITHOUT_HTTPONLY_FLAG = "cookies-session-without-httponly-flag"
    COOKIES_SESSION_WITHOUT_SECURE_FLAG = "cookies-session-without-secure-flag"
    # Cross-origin resource sharing
    CORS_NOT_IMPLEMENTED = "cross-origin-resource-sharing-not-implemented"
    CORS_IMPLEMENTED_WITH_PUBLIC_ACCESS = "cross-origin-resource-sharing-implemented-with-public-access"
    CORS_IMPLEMENTED_WITH_RESTRICTED_ACCESS = (
        "cross-origin-resource-sharing-implemented-with-restricted-access"
    )
    CORS_IMPLEMENTED_WITH_UNIVERSAL_ACCESS = "cross-origin-resource-sharing-implemented-with-universal-access"
    # Redirection
    REDIRECTION_ALL_REDIRECTS_PRELOADED = "redirection-all-redirects-preloaded"
    REDIRECTION_TO_HTTPS = "redirection-to-https"
    REDIRECTION_NOT_NEEDED_NO_HTTP = "redirection-not-needed-no-http"
    REDIRECTION_OFF_HOST_FROM_HTTP = "redirection-off-host-from-http"
    REDIRECTION_NOT_TO_HTTPS_ON_INITIAL_REDIRECTION = "redirection-not-to-https-on-initial-redirection"
    REDIRECTION_NOT_TO_HTTPS = "redirection-not-to-https"
    REDIRECTION_MISSING = "redirection-missing"
    REDIRECTION_INVALID_CERT = "redirection-invalid-cert"
    # Referrer-Policy
    REFERRER_POLICY_PRIVATE = "referrer-policy-private"
    REFERRER_POLICY_NOT_IMPLEMENTED = "referrer-policy-not-implemented"
    REFERRER_POLICY_UNSAFE = "referrer-policy-unsafe"
    REFERRER_POLICY_HEADER_INVALID = "referrer-policy-header-invalid"
    # Strict-Transport-Security
    HSTS_PRELOADED = "hsts-preloaded"
    HSTS_IMPLEMENTED_MAX_AGE_AT_LEAST_SIX_MONTHS = "hsts-implemented-max-age-at-least-six-months"
    HSTS_IMPLEMENTED_MAX_AGE_LESS_THAN_SIX_MONTHS = "hsts-implemented-max-age-less-than-six-months"
    HSTS_NOT_IMPLEMENTED = "hsts-not-implemented"
    HSTS_HEADER_INVALID = "hsts-header-invalid"
    HSTS_NOT_IMPLEMENTED_NO_HTTPS = "hsts-not-implemented-no-https"
    HSTS_INVALID_CERT = "hsts-invalid-cert"
    # Subresource integrity
    SRI_IMPLEMENTED_AND_ALL_SCRIPTS_LOADED_SECURELY = "sri-implemented-and-all-scripts-loaded-securely"
    SRI_IMPLEMENTED_AND_EXTERNAL_SCRIPTS_LOADED_SECURELY = (
        "sri-implemented-and-external-scripts-loaded-securely"
    )
    SRI_NOT_IMPLEMENTED_RESPONSE_NOT_HTML = "sri-not-implemented-response-not-html"
    SRI_NOT_IMPLEMENTED_BUT_NO_SCRIPTS_LOADED = "sri-not-implemented-but-no-scripts-loaded"
    SRI_NOT_IMPLEMENTED_BUT_ALL_SCRIPTS_LOADED_FROM_SECURE_ORIGIN = (
        "sri-not-implemented-but-all-scripts-loaded-from-secure-origin"
    )
    SRI_NOT_IMPLEMENTED_BUT_EXTERNAL_SCRIPTS_LOADED_SECURELY = (
        "sri-not-implemented-but-external-scripts-loaded-securely"
    )
    SRI_IMPLEMENTED_BUT_EXTERNAL_SCRIPTS_NOT_LOADED_SECURELY = (
        "sri-implemented-but-external-scripts-not-loaded-securely"
    )
    SRI_NOT_IMPLEMENTED_AND_EXTERNAL_SCRIPTS_NOT_LOADED_SECURELY = (
        "sri-not-implemented-and-external-scripts-not-loaded-securely"
    )
    HTML_NOT_PARSEABLE = "html-not-parseable"
    # X-Content-Type-Options
    X_CONTENT_TYPE_OPTIONS_NOSNIFF = "x-content-type-options-nosniff"
    X_CONTENT_TYPE_OPTIONS_NOT_IMPLEMENTED = "x-content-type-options-not-implemented"
    X_CONTENT_TYPE_OPTIONS_HEADER_INVALID = "x-content-type-options-header-invalid"
    # X-Frame-Options
    X_FRAME_OPTIONS_IMPLEMENTED_VIA_CSP = "x-frame-options-implemented-via-csp"
    X_FRAME_OPTIONS_SAMEORIGIN_OR_DENY = "x-frame-options-sameorigin-or-deny"
    X_FRAME_OPTIONS_ALLOW_FROM_ORIGIN = "x-frame-options-allow-from-origin"
    X_FRAME_OPTIONS_NOT_IMPLEMENTED = "x-frame-options-not-implemented"
    X_FRAME_OPTIONS_HEADER_INVALID = "x-frame-options-header-invalid"
    # Cross-Origin-Resource-Policy
    CORP_IMPLEMENTED_WITH_SAME_ORIGIN = "corp-implemented-with-same-origin"
    CORP_IMPLEMENTED_WITH_SAME_SITE = "corp-implemented-with-same-site"
    CORP_IMPLEMENTED_WITH_CROSS_ORIGIN = "corp-implemented-with-cross-origin"
    CORP_NOT_IMPLEMENTED = "corp-not-implemented"
    CORP_HEADER_INVALID = "corp-header-invalid"
    # Cross-Origin-Opener-Policy
    COOP_IMPLEMENTED_WITH_SAME_ORIGIN = "coop-implemented-with-same-origin"
    COOP_IMPLEMENTED_WITH_SAME_ORIGIN_ALLOW_POPUPS = "coop-implemented-with-same-origin-allow-popups"
    COOP_IMPLEMENTED_WITH_NOOPENER_ALLOW_POPUPS = "coop-implemented-with-noopener-allow-popups"
    COOP_IMPLEMENTED_WITH_UNSAFE_NONE = "coop-implemented-with-unsafe-none"
    COOP_NOT_IMPLEMENTED = "coop-not-implemented"
    COOP_HEADER_INVALID = "coop-header-invalid"
    # Cross-Origin-Embedder-Policy
    COEP_IMPLEMENTED_WITH_REQUIRE_CORP = "coep-implemented-with-require-corp"
    COEP_IMPLEMENTED_WITH_CREDENTIALLESS = "coep-implemented-with-credentialless"
    COEP_IMPLEMENTED_WITH_UNSAFE_NONE = "coep-implemented-with-unsafe-none"
    COEP_NOT_IMPLEMENTED = "coep-not-implemented"
    COEP_HEADER_INVALID = "coep-header-invalid"


@dataclass(frozen=True)
class ResultInfo:
    modifier: int
    description: str
    fix: str  # empty when there is nothing to fix


R = Result
_TABLE: dict[Result, ResultInfo] = {
    # CSP
    R.CSP_IMPLEMENTED_WITH_NO_UNSAFE_DEFAULT_SRC_NONE: ResultInfo(
        10, "CSP with default-src 'none', no 'unsafe-inline' or 'unsafe-eval'", ""
    ),
    R.CSP_IMPLEMENTED_WITH_NO_UNSAFE: ResultInfo(
        5,
        "CSP without 'unsafe-inline' or 'unsafe-eval'",
        "set default-src 'none' and allow only what the page needs",
    ),
    R.CSP_IMPLEMENTED_WITH_UNSAFE_INLINE_IN_STYLE_SRC_ONLY: ResultInfo(
        0,
        "CSP allows 'unsafe-inline', data: or broad sources in style-src only",
        "remove 'unsafe-inline', data: and broad sources (https:, *) from style-src",
    ),
    R.CSP_IMPLEMENTED_WITH_INSECURE_SCHEME_IN_PASSIVE_CONTENT_ONLY: ResultInfo(
        -10,
        "CSP lets images or media load over http:",
        "load images and media over HTTPS and drop http: from img-src, media-src and default-src",
    ),
    R.CSP_IMPLEMENTED_WITH_UNSAFE_EVAL: ResultInfo(
        -10, "CSP allows 'unsafe-eval'", "stop using eval() and remove 'unsafe-eval' from the policy"
    ),
    R.CSP_IMPLEMENTED_WITH_UNSAFE_INLINE: ResultInfo(
        -20,
        "CSP allows 'unsafe-inline' or data: in script-src, broad sources in script-src/object-src, "
        "or leaves them unrestricted",
        "remove 'unsafe-inline' and data: from script-src, remove https:/* from script-src and object-src, "
        "and set both (or default-src)",
    ),
    R.CSP_IMPLEMENTED_WITH_INSECURE_SCHEME: ResultInfo(
        -20, "CSP lets resources load over http:", "remove every http: source from the policy"
    ),
    R.CSP_IMPLEMENTED_BUT_DUPLICATE_DIRECTIVES: ResultInfo(
        0, "CSP repeats report-uri or report-to", "give each directive once"
    ),
    R.CSP_HEADER_INVALID: ResultInfo(
        -25,
        "Content-Security-Policy cannot be parsed (repeated directive, too short, or 'strict-dynamic' "
        "without a nonce or hash)",
        "fix the policy's syntax so that each directive appears once",
    ),
    R.CSP_NOT_IMPLEMENTED: ResultInfo(
        -25,
        "no Content-Security-Policy",
        "send a Content-Security-Policy header, starting from default-src 'none'",
    ),
    R.CSP_NOT_IMPLEMENTED_BUT_REPORTING_ENABLED: ResultInfo(
        -25,
        "only Content-Security-Policy-Report-Only is sent; nothing is enforced",
        "enforce the policy with a Content-Security-Policy header",
    ),
    # Cookies
    R.COOKIES_SECURE_WITH_HTTPONLY_SESSIONS_AND_SAMESITE: ResultInfo(
        5, "all cookies Secure, session cookies HttpOnly, SameSite set", ""
    ),
    R.COOKIES_SECURE_WITH_HTTPONLY_SESSIONS: ResultInfo(
        0,
        "all cookies Secure and session cookies HttpOnly, but SameSite missing",
        "add SameSite=Lax or Strict",
    ),
    R.COOKIES_NOT_FOUND: ResultInfo(0, "no cookies set", ""),
    R.COOKIES_WITHOUT_SECURE_FLAG_BUT_PROTECTED_BY_HSTS: ResultInfo(
        -5, "cookies without Secure (HSTS keeps them off plain HTTP)", "add Secure to every cookie"
    ),
    R.COOKIES_SESSION_WITHOUT_SECURE_FLAG_BUT_PROTECTED_BY_HSTS: ResultInfo(
        -10,
        "session cookie without Secure (HSTS keeps it off plain HTTP)",
        "add Secure to the session cookie",
    ),
    R.COOKIES_WITHOUT_SECURE_FLAG: ResultInfo(
        -20, "cookies without Secure", "add Secure to every cookie and enable HSTS"
    ),
    R.COOKIES_SAMESITE_FLAG_INVALID: ResultInfo(
        -20,
        "SameSite is malformed, or SameSite=None on a cookie without Secure",
        "use SameSite=Strict or Lax (SameSite=None only together with Secure)",
    ),
    R.COOKIES_ANTICSRF_WITHOUT_SAMESITE_FLAG: ResultInfo(
        -20, "anti-CSRF cookie without SameSite", "add SameSite=Strict or Lax to the CSRF cookie"
    ),
    R.COOKIES_SESSION_WITHOUT_HTTPONLY_FLAG: ResultInfo(
        -30, "session cookie without HttpOnly", "add HttpOnly to the session cookie"
    ),
    R.COOKIES_SESSION_WITHOUT_SECURE_FLAG: ResultInfo(
        -40, "session cookie without Secure", "add Secure to the session cookie and enable HSTS"
    ),
    # CORS
    R.CORS_NOT_IMPLEMENTED: ResultInfo(0, "content is not shared cross-origin (no CORS)", ""),
    R.CORS_IMPLEMENTED_WITH_PUBLIC_ACCESS: ResultInfo(
        0, "public content shared with Access-Control-Allow-Origin: *", ""
    ),
    R.CORS_IMPLEMENTED_WITH_RESTRICTED_ACCESS: ResultInfo(0, "CORS restricted to specific origins", ""),
    R.CORS_IMPLEMENTED_WITH_UNIVERSAL_ACCESS: ResultInfo(
        -50,
        "any Origin is reflected in Access-Control-Allow-Origin together with "
        "Access-Control-Allow-Credentials: true",
        "allow only a fixed list of origins for credentialed requests, never echo the Origin header",
    ),
    # Redirection
    R.REDIRECTION_ALL_REDIRECTS_PRELOADED: ResultInfo(
        0, "every host on the redirect path is HSTS-preloaded", ""
    ),
    R.REDIRECTION_TO_HTTPS: ResultInfo(0, "http:// redirects to https:// on the same host first", ""),
    R.REDIRECTION_NOT_NEEDED_NO_HTTP: ResultInfo(0, "nothing answers on http://, no redirection needed", ""),
    R.REDIRECTION_OFF_HOST_FROM_HTTP: ResultInfo(
        -5,
        "http:// redirects to https:// on a different host, so HSTS is never set for this one",
        "redirect to https:// on the same host first, then to the other host",
    ),
    R.REDIRECTION_NOT_TO_HTTPS_ON_INITIAL_REDIRECTION: ResultInfo(
        -10,
        "http:// first redirects to another http:// URL",
        "make the first redirect go to https:// on the same host",
    ),
    R.REDIRECTION_NOT_TO_HTTPS: ResultInfo(
        -20, "http:// redirects, but not to https://", "redirect http:// to https:// on the same host"
    ),
    R.REDIRECTION_MISSING: ResultInfo(
        -20,
        "http:// answers without redirecting to https://",
        "redirect http:// to https:// on the same host",
    ),
    R.REDIRECTION_INVALID_CERT: ResultInfo(
        -20, "a certificate on the redirect path is invalid", "install a valid certificate"
    ),
    # Referrer-Policy
    R.REFERRER_POLICY_PRIVATE: ResultInfo(
        5, "Referrer-Policy is no-referrer, same-origin, strict-origin or strict-origin-when-cross-origin", ""
    ),
    R.REFERRER_POLICY_NOT_IMPLEMENTED: ResultInfo(
        0, "no Referrer-Policy", "send Referrer-Policy: strict-origin-when-cross-origin (or stricter)"
    ),
    R.REFERRER_POLICY_UNSAFE: ResultInfo(
        -5,
        "Referrer-Policy leaks URLs (origin, origin-when-cross-origin, unsafe-url "
        "or no-referrer-when-downgrade)",
        "use strict-origin-when-cross-origin or stricter",
    ),
    R.REFERRER_POLICY_HEADER_INVALID: ResultInfo(
        -5, "Referrer-Policy value not recognised", "use strict-origin-when-cross-origin or stricter"
    ),
    # HSTS
    R.HSTS_PRELOADED: ResultInfo(5, "host is on the HSTS preload list", ""),
    R.HSTS_IMPLEMENTED_MAX_AGE_AT_LEAST_SIX_MONTHS: ResultInfo(
        0,
        "Strict-Transport-Security max-age is at least six months",
        "for preloading: add includeSubDomains and preload with max-age=31536000, then submit the host",
    ),
    R.HSTS_IMPLEMENTED_MAX_AGE_LESS_THAN_SIX_MONTHS: ResultInfo(
        -10, "Strict-Transport-Security max-age is under six months", "raise max-age to at least 15552000"
    ),
    R.HSTS_NOT_IMPLEMENTED: ResultInfo(
        -20, "no Strict-Transport-Security", "send Strict-Transport-Security: max-age=31536000"
    ),
    R.HSTS_HEADER_INVALID: ResultInfo(
        -20,
        "Strict-Transport-Security cannot be recognised (no max-age, or sent more than once)",
        "send one Strict-Transport-Security header with a max-age",
    ),
    R.HSTS_NOT_IMPLEMENTED_NO_HTTPS: ResultInfo(
        -20, "site is not available over HTTPS, so HSTS cannot be set", "serve the site over HTTPS"
    ),
    R.HSTS_INVALID_CERT: ResultInfo(
        -20, "certificate is not valid, so HSTS does not apply", "install a certificate that verifies"
    ),
    # SRI
    R.SRI_IMPLEMENTED_AND_ALL_SCRIPTS_LOADED_SECURELY: ResultInfo(
        5, "SRI used and all scripts load from a similar origin", ""
    ),
    R.SRI_IMPLEMENTED_AND_EXTERNAL_SCRIPTS_LOADED_SECURELY: ResultInfo(
        5, "SRI used and all external scripts load securely", ""
    ),
    R.SRI_NOT_IMPLEMENTED_RESPONSE_NOT_HTML: ResultInfo(0, "response is not HTML, SRI does not apply", ""),
    R.SRI_NOT_IMPLEMENTED_BUT_NO_SCRIPTS_LOADED: ResultInfo(0, "page loads no scripts", ""),
    R.SRI_NOT_IMPLEMENTED_BUT_ALL_SCRIPTS_LOADED_FROM_SECURE_ORIGIN: ResultInfo(
        0, "no SRI, but all scripts load from a similar origin", "add integrity= for bonus points"
    ),
    R.SRI_NOT_IMPLEMENTED_BUT_EXTERNAL_SCRIPTS_LOADED_SECURELY: ResultInfo(
        -5,
        "external scripts over HTTPS but without SRI",
        "add integrity= and crossorigin= to external scripts",
    ),
    R.SRI_IMPLEMENTED_BUT_EXTERNAL_SCRIPTS_NOT_LOADED_SECURELY: ResultInfo(
        -20,
        "SRI used, but external scripts load over http: or protocol-relative //",
        "load external scripts over https://",
    ),
    R.SRI_NOT_IMPLEMENTED_AND_EXTERNAL_SCRIPTS_NOT_LOADED_SECURELY: ResultInfo(
        -50,
        "external scripts load over http: or protocol-relative // without SRI",
        "load external scripts over https:// and add integrity=",
    ),
    R.HTML_NOT_PARSEABLE: ResultInfo(
        -20, "claims to be HTML but cannot be parsed", "return well-formed HTML"
    ),
    # X-Content-Type-Options
    R.X_CONTENT_TYPE_OPTIONS_NOSNIFF: ResultInfo(0, "X-Content-Type-Options: nosniff", ""),
    R.X_CONTENT_TYPE_OPTIONS_NOT_IMPLEMENTED: ResultInfo(
        -5, "no X-Content-Type-Options", "send X-Content-Type-Options: nosniff"
    ),
    R.X_CONTENT_TYPE_OPTIONS_HEADER_INVALID: ResultInfo(
        -5, "X-Content-Type-Options value not recognised", "send exactly X-Content-Type-Options: nosniff"
    ),
    # X-Frame-Options
    R.X_FRAME_OPTIONS_IMPLEMENTED_VIA_CSP: ResultInfo(5, "framing restricted by CSP frame-ancestors", ""),
    R.X_FRAME_OPTIONS_SAMEORIGIN_OR_DENY: ResultInfo(
        0, "X-Frame-Options: DENY or SAMEORIGIN", "add CSP frame-ancestors for bonus points"
    ),
    R.X_FRAME_OPTIONS_ALLOW_FROM_ORIGIN: ResultInfo(
        0, "X-Frame-Options uses ALLOW-FROM", "use CSP frame-ancestors instead of ALLOW-FROM"
    ),
    R.X_FRAME_OPTIONS_NOT_IMPLEMENTED: ResultInfo(
        -20,
        "page can be framed by anyone (clickjacking)",
        "send CSP frame-ancestors 'none' (or X-Frame-Options: DENY)",
    ),
    R.X_FRAME_OPTIONS_HEADER_INVALID: ResultInfo(
        -20,
        "X-Frame-Options value not recognised",
        "send CSP frame-ancestors 'none' (or X-Frame-Options: DENY)",
    ),
    # CORP
    R.CORP_IMPLEMENTED_WITH_SAME_ORIGIN: ResultInfo(10, "Cross-Origin-Resource-Policy: same-origin", ""),
    R.CORP_IMPLEMENTED_WITH_SAME_SITE: ResultInfo(10, "Cross-Origin-Resource-Policy: same-site", ""),
    R.CORP_IMPLEMENTED_WITH_CROSS_ORIGIN: ResultInfo(
        0, "Cross-Origin-Resource-Policy: cross-origin (allows cross-origin embedding)", ""
    ),
    R.CORP_NOT_IMPLEMENTED: ResultInfo(
        0,
        "no Cross-Origin-Resource-Policy (defaults to cross-origin)",
        "send same-origin or same-site for bonus points",
    ),
    R.CORP_HEADER_INVALID: ResultInfo(
        -5, "Cross-Origin-Resource-Policy value not recognised", "use same-origin, same-site or cross-origin"
    ),
    # COOP (scoring version 6)
    R.COOP_IMPLEMENTED_WITH_SAME_ORIGIN: ResultInfo(10, "Cross-Origin-Opener-Policy: same-origin", ""),
    R.COOP_IMPLEMENTED_WITH_SAME_ORIGIN_ALLOW_POPUPS: ResultInfo(
        10, "Cross-Origin-Opener-Policy: same-origin-allow-popups", ""
    ),
    R.COOP_IMPLEMENTED_WITH_NOOPENER_ALLOW_POPUPS: ResultInfo(
        10, "Cross-Origin-Opener-Policy: noopener-allow-popups", ""
    ),
    R.COOP_IMPLEMENTED_WITH_UNSAFE_NONE: ResultInfo(
        0, "Cross-Origin-Opener-Policy: unsafe-none (shares the browsing context group)", "use same-origin"
    ),
    R.COOP_NOT_IMPLEMENTED: ResultInfo(
        0, "no Cross-Origin-Opener-Policy", "send Cross-Origin-Opener-Policy: same-origin for bonus points"
    ),
    R.COOP_HEADER_INVALID: ResultInfo(
        -5,
        "Cross-Origin-Opener-Policy cannot be recognised",
        "send exactly one valid policy, e.g. same-origin",
    ),
    # COEP (scoring version 6)
    R.COEP_IMPLEMENTED_WITH_REQUIRE_CORP: ResultInfo(10, "Cross-Origin-Embedder-Policy: require-corp", ""),
    R.COEP_IMPLEMENTED_WITH_CREDENTIALLESS: ResultInfo(
        10, "Cross-Origin-Embedder-Policy: credentialless", ""
    ),
    R.COEP_IMPLEMENTED_WITH_UNSAFE_NONE: ResultInfo(
        0, "Cross-Origin-Embedder-Policy: unsafe-none", "use require-corp or credentialless"
    ),
    R.COEP_NOT_IMPLEMENTED: ResultInfo(
        0, "no Cross-Origin-Embedder-Policy", "send require-corp or credentialless for bonus points"
    ),
    R.COEP_HEADER_INVALID: ResultInfo(
        -5,
        "Cross-Origin-Embedder-Policy cannot be recognised",
        "send exactly one valid policy, e.g. require-corp",
    ),
}

_V4_OVERRIDES: dict[Result, int] = {R.X_FRAME_OPTIONS_SAMEORIGIN_OR_DENY: 0}
_V5_OVERRIDES: dict[Result, int] = {R.X_FRAME_OPTIONS_SAMEORIGIN_OR_DENY: 5}


def info(result: Result) -> ResultInfo:
    return _TABLE[result]


def modifier(result: Result, version: ScoringVersion) -> int:
    """The score modifier of a result under a scoring version."""
    overrides = _V4_OVERRIDES if version is ScoringVersion.V4 else _V5_OVERRIDES
    return overrides.get(result, _TABLE[result].modifier)


class Grade(enum.StrEnum):
    """Letter grades, best first. Comparisons follow quality: ``Grade.A > Grade.B_PLUS``."""

    A_PLUS = "A+"
    A = "A"
    A_MINUS = "A-"
    B_PLUS = "B+"
    B = "B"
    B_MINUS = "B-"
    C_PLUS = "C+"
    C = "C"
    C_MINUS = "C-"
    D_PLUS = "D+"
    D = "D"
    D_MINUS = "D-"
    F = "F"

    @property
    def rank(self) -> int:
        """0 for F up to 12 for A+."""
        return len(_GRADE_ORDER) - 1 - _GRADE_ORDER.index(self)

    def at_least(self, other: Grade) -> bool:
        return self.rank >= other.rank


_GRADE_ORDER = list(Grade)

# Lower bound of each five-point bucket → grade (GRADE_CHART); 100 and above is A+.
_GRADE_CHART: dict[int, Grade] = {
    100: Grade.A_PLUS,
    95: Grade.A,
    90: Grade.A,
    85: Grade.A_MINUS,
    80: Grade.B_PLUS,
    75: Grade.B,
    70: Grade.B,
    65: Grade.B_MINUS,
    60: Grade.C_PLUS,
    55: Grade.C,
    50: Grade.C,
    45: Grade.C_MINUS,
    40: Grade.D_PLUS,
    35: Grade.D,
    30: Grade.D,
    25: Grade.D_MINUS,
    20: Grade.F,
    15: Grade.F,
    10: Grade.F,
    5: Grade.F,
    0: Grade.F,
}


def grade_for_score(score: int) -> Grade:
    score = max(score, 0)
    return _GRADE_CHART[min(score - score % 5, 100)]
