"""Cookies: which cookies a browser would keep from the page's responses, and the cookies test.

Mirrors ``src/analyzer/tests/cookies.js``. The Observatory collects every cookie set along the
HTTPS request's redirect chain in a ``tough-cookie`` jar; :func:`collect_cookies` applies the same
acceptance rules (a ``Domain`` that does not match the host, or that is a public suffix or an IP
address, is rejected; ``__Secure-``/``__Host-`` prefixes are enforced; invalid ``SameSite`` values
are ignored). Cookie values are never kept: only names and attributes reach evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import JsonValue

from flightdeck.checks.observatory.html import registrable_domain, worse
from flightdeck.checks.observatory.model import Exchange, Outcome, Retrieval
from flightdeck.checks.observatory.results import Result
from flightdeck.checks.observatory.transport import strict_transport_security

__all__ = ["Cookie", "collect_cookies", "cookies", "parse_set_cookie"]

_IGNORED = {"heroku-session-affinity"}
_ORDER = [
    Result.COOKIES_WITHOUT_SECURE_FLAG_BUT_PROTECTED_BY_HSTS,
    Result.COOKIES_WITHOUT_SECURE_FLAG,
    Result.COOKIES_SESSION_WITHOUT_SECURE_FLAG_BUT_PROTECTED_BY_HSTS,
    Result.COOKIES_SAMESITE_FLAG_INVALID,
    Result.COOKIES_ANTICSRF_WITHOUT_SAMESITE_FLAG,
    Result.COOKIES_SESSION_WITHOUT_HTTPONLY_FLAG,
    Result.COOKIES_SESSION_WITHOUT_SECURE_FLAG,
]


@dataclass(frozen=True)
class Cookie:
    name: str
    domain: str
    path: str
    secure: bool
    http_only: bool
    same_site: str | None  # "strict", "lax", "none" or None when absent or unrecognised

    def describe(self) -> dict[str, JsonValue]:
        return {"secure": self.secure, "httponly": self.http_only, "samesite": self.same_site}


def _default_path(url: str) -> str:
    path = urlsplit(url).path or "/"
    if not path.startswith("/") or path.count("/") <= 1:
        return "/"
    return path[: path.rfind("/")]


def _domain_match(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def parse_set_cookie(header: str, request_url: str) -> Cookie | None:
    """One ``Set-Cookie`` header as a browser's jar would store it, or ``None`` if rejected."""
    first, *attributes = header.split(";")
    if "=" not in first:
        return None
    name = first.split("=", 1)[0].strip()
    if not name:
        return None
    host = (urlsplit(request_url).hostname or "").lower()
    secure = http_only = False
    same_site: str | None = None
    domain: str | None = None
    path: str | None = None
    for attribute in attributes:
        key, _, value = attribute.partition("=")
        key, value = key.strip().lower(), value.strip()
        if key == "secure":
            secure = True
        elif key == "httponly":
            http_only = True
        elif key == "samesite":
            same_site = value.lower() if value.lower() in ("strict", "lax", "none") else None
        elif key == "domain" and value:
            domain = value.lstrip(".").lower()
        elif key == "path":
            path = value if value.startswith("/") else None
    if domain is not None and (registrable_domain(domain) is None or not _domain_match(host, domain)):
        return None
    if name.startswith("__Secure-") and not secure:
        return None
    if name.startswith("__Host-") and (not secure or domain is not None or (path or "/") != "/"):
        return None
    return Cookie(name, domain or host, path or _default_path(request_url), secure, http_only, same_site)


def collect_cookies(exchanges: tuple[Exchange, ...]) -> list[Cookie]:
    """The jar after every response: a later cookie with the same name, domain and path replaces
    an earlier one."""
    jar: dict[tuple[str, str, str], Cookie] = {}
    for exchange in exchanges:
        for header in exchange.values("set-cookie"):
            cookie = parse_set_cookie(header, exchange.url)
            if cookie is not None and cookie.name not in _IGNORED:
                jar.pop((cookie.name, cookie.domain, cookie.path), None)
                jar[(cookie.name, cookie.domain, cookie.path)] = cookie
    return list(jar.values())


def _malformed_same_site(header: str) -> bool:
    for part in header.strip().split(";"):
        pieces = part.strip().split("=")
        if pieces[0].strip().lower() == "samesite":
            value = pieces[1] if len(pieces) > 1 else ""
            if not value or value.strip().lower() not in ("lax", "strict", "none"):
                return True
    return False


def cookies(r: Retrieval) -> Outcome:
    hsts = strict_transport_security(r).passed
    result: Result | None = None
    for header in r.page.values("set-cookie"):
        if _malformed_same_site(header):
            result = worse(Result.COOKIES_SAMESITE_FLAG_INVALID, result, _ORDER)
    jar = collect_cookies(r.https.exchanges)
    if not jar:
        return Outcome(Result.COOKIES_NOT_FOUND, True)
    missing_same_site = False
    for cookie in jar:
        lname = cookie.name.lower()
        session = "login" in lname or "sess" in lname
        anticsrf = "csrf" in lname
        if not cookie.secure and cookie.same_site == "none":
            result = worse(Result.COOKIES_SAMESITE_FLAG_INVALID, result, _ORDER)
        if not cookie.secure:
            without_secure = (
                Result.COOKIES_WITHOUT_SECURE_FLAG_BUT_PROTECTED_BY_HSTS
                if hsts
                else Result.COOKIES_WITHOUT_SECURE_FLAG
            )
            result = worse(without_secure, result, _ORDER)
        if anticsrf and not cookie.same_site:
            result = worse(Result.COOKIES_ANTICSRF_WITHOUT_SAMESITE_FLAG, result, _ORDER)
        if session and not cookie.secure:
            session_without_secure = (
                Result.COOKIES_SESSION_WITHOUT_SECURE_FLAG_BUT_PROTECTED_BY_HSTS
                if hsts
                else Result.COOKIES_SESSION_WITHOUT_SECURE_FLAG
            )
            result = worse(session_without_secure, result, _ORDER)
        if session and not cookie.http_only:
            result = worse(Result.COOKIES_SESSION_WITHOUT_HTTPONLY_FLAG, result, _ORDER)
        if not cookie.same_site:
            missing_same_site = True
    if result is None:
        result = (
            Result.COOKIES_SECURE_WITH_HTTPONLY_SESSIONS
            if missing_same_site
            else Result.COOKIES_SECURE_WITH_HTTPONLY_SESSIONS_AND_SAMESITE
        )
    passed = result in (
        Result.COOKIES_NOT_FOUND,
        Result.COOKIES_SECURE_WITH_HTTPONLY_SESSIONS_AND_SAMESITE,
        Result.COOKIES_SECURE_WITH_HTTPONLY_SESSIONS,
    )
    observed: dict[str, JsonValue] = {c.name[:128]: c.describe() for c in jar[:50]}
    return Outcome(result, passed, observed)
