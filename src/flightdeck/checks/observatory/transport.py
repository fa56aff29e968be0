"""HTTPS enforcement: the Strict-Transport-Security and HTTP→HTTPS redirection tests.

Mirrors ``src/analyzer/tests/strict-transport-security.js``, ``src/analyzer/tests/redirection.js``
and ``src/analyzer/hsts.js``. The HSTS preload list is Chromium's, as shipped by the
``hstspreload`` package (a host is preloaded when it, or a parent listed with
``include_subdomains``, is on the list in ``force-https`` mode).
"""

from __future__ import annotations

import re
import warnings

import hstspreload  # type: ignore[import-untyped]
from pydantic import JsonValue

from flightdeck.checks.observatory.model import Outcome, Retrieval
from flightdeck.checks.observatory.results import Result

__all__ = ["SIX_MONTHS", "is_preloaded", "redirection", "strict_transport_security"]

# 15768000 is six months; the Observatory accepts the common 15552000 (180 days).
SIX_MONTHS = 15552000
_PARSE_INT = re.compile(r"^\s*([+-]?\d+)")


def is_preloaded(hostname: str) -> bool:
    host = hostname.strip().lower().rstrip(".")
    if not host:
        return False
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    try:
        with warnings.catch_warnings():
            # the package reads its data with a deprecated importlib.resources call
            warnings.simplefilter("ignore", DeprecationWarning)
            return bool(hstspreload.in_hsts_preload(ascii_host))
    except (UnicodeError, ValueError):
        return False


def _parse_int(text: str) -> int | None:
    """JavaScript's ``parseInt(text, 10)``; ``None`` stands for NaN."""
    m = _PARSE_INT.match(text)
    return int(m.group(1)) if m else None


def strict_transport_security(r: Retrieval) -> Outcome:
    response = r.https.final
    result = Result.HSTS_NOT_IMPLEMENTED
    observed: dict[str, JsonValue] = {}
    if not r.https.verified:
        result = Result.HSTS_INVALID_CERT
    elif response.values("strict-transport-security"):
        header = response.values("strict-transport-security")[0][:1024]
        observed["header"] = header
        max_age: int | None = None
        seen_max_age = False
        try:
            if "," in header:
                raise ValueError("header set multiple times")
            for parameter in (p.strip().lower() for p in header.split(";")):
                if parameter.startswith("max-age="):
                    seen_max_age = True
                    max_age = _parse_int(parameter[8:128])
                elif parameter == "includesubdomains":
                    observed["includeSubDomains"] = True
                elif parameter == "preload":
                    observed["preload"] = True
            if not seen_max_age:
                raise ValueError("max-age missing")
            # parseInt() of a non-number is NaN, and NaN < SIX_MONTHS is false in the Observatory.
            if max_age is not None and max_age < SIX_MONTHS:
                result = Result.HSTS_IMPLEMENTED_MAX_AGE_LESS_THAN_SIX_MONTHS
            else:
                result = Result.HSTS_IMPLEMENTED_MAX_AGE_AT_LEAST_SIX_MONTHS
            observed["max-age"] = max_age
        except ValueError:
            result = Result.HSTS_HEADER_INVALID
    if is_preloaded(r.hostname):
        result = Result.HSTS_PRELOADED
        observed["preloaded"] = True
    passed = result in (Result.HSTS_IMPLEMENTED_MAX_AGE_AT_LEAST_SIX_MONTHS, Result.HSTS_PRELOADED)
    return Outcome(result, passed, observed or None)


def redirection(r: Retrieval) -> Outcome:
    chain = r.http
    if chain is None:
        return Outcome(Result.REDIRECTION_NOT_NEEDED_NO_HTTP, True)
    route = chain.exchanges
    route_urls: list[JsonValue] = [e.url for e in route[:12]]
    observed: dict[str, JsonValue] = {"route": route_urls, "status": route[-1].status}
    if not chain.verified:
        result = Result.REDIRECTION_INVALID_CERT
    elif all(is_preloaded(e.hostname) for e in route):
        result = Result.REDIRECTION_ALL_REDIRECTS_PRELOADED
    elif len(route) == 1:
        result = Result.REDIRECTION_MISSING
    elif route[-1].scheme != "https":
        result = Result.REDIRECTION_NOT_TO_HTTPS
    elif route[1].scheme == "http":
        result = Result.REDIRECTION_NOT_TO_HTTPS_ON_INITIAL_REDIRECTION
    elif route[0].scheme == "http" and route[1].scheme == "https" and route[0].hostname != route[1].hostname:
        result = Result.REDIRECTION_OFF_HOST_FROM_HTTP
    else:
        result = Result.REDIRECTION_TO_HTTPS
    passed = result in (
        Result.REDIRECTION_NOT_NEEDED_NO_HTTP,
        Result.REDIRECTION_ALL_REDIRECTS_PRELOADED,
        Result.REDIRECTION_TO_HTTPS,
    )
    return Outcome(result, passed, observed)
