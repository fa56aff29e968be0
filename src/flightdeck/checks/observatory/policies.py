"""Single-header tests: Referrer-Policy, X-Content-Type-Options, CORS, CORP, COOP and COEP.

Mirror the Observatory's ``src/analyzer/tests/`` modules of the same names.
"""

from __future__ import annotations

import re
import string

from pydantic import JsonValue

from flightdeck.checks.observatory.model import Outcome, Retrieval
from flightdeck.checks.observatory.results import Result

__all__ = [
    "cross_origin_embedder_policy",
    "cross_origin_opener_policy",
    "cross_origin_resource_policy",
    "cross_origin_resource_sharing",
    "referrer_policy",
    "structured_field_token",
    "x_content_type_options",
]

_PRIVATE = ("no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin")
_UNSAFE = ("origin", "origin-when-cross-origin", "unsafe-url", "no-referrer-when-downgrade")


def referrer_policy(r: Retrieval) -> Outcome:
    headers = r.page.values("referrer-policy")
    facts = r.html
    meta = [facts.referrer_meta] if facts is not None and facts.referrer_meta else []
    if not headers and not meta:
        return Outcome(Result.REFERRER_POLICY_NOT_IMPLEMENTED, True)
    data = ", ".join([*headers, *meta])
    # the last recognised token wins, and a <meta name=referrer> comes after the header
    valid = [t.strip().lower() for t in data.split(",") if t.strip().lower() in _PRIVATE + _UNSAFE]
    policy = valid[-1] if valid else ""
    if policy in _PRIVATE:
        result = Result.REFERRER_POLICY_PRIVATE
    elif policy in _UNSAFE:
        result = Result.REFERRER_POLICY_UNSAFE
    else:
        result = Result.REFERRER_POLICY_HEADER_INVALID
    passed = result in (Result.REFERRER_POLICY_PRIVATE, Result.REFERRER_POLICY_NOT_IMPLEMENTED)
    return Outcome(result, passed, data[:256])


def x_content_type_options(r: Retrieval) -> Outcome:
    header = r.page.first("x-content-type-options")
    if not header:
        return Outcome(Result.X_CONTENT_TYPE_OPTIONS_NOT_IMPLEMENTED, False)
    value = header[:256]
    if value.strip().lower() == "nosniff":
        return Outcome(Result.X_CONTENT_TYPE_OPTIONS_NOSNIFF, True, value)
    return Outcome(Result.X_CONTENT_TYPE_OPTIONS_HEADER_INVALID, False, value)


def cross_origin_resource_sharing(r: Retrieval) -> Outcome:
    """A preflight sent with an arbitrary ``Origin``: echoing it back with
    ``Access-Control-Allow-Credentials: true`` lets any site read the page as the user."""
    response = r.cors
    acao = response.first("access-control-allow-origin") if response is not None else None
    if response is None or not acao:
        return Outcome(Result.CORS_NOT_IMPLEMENTED, True)
    credentials = response.first("access-control-allow-credentials")
    data = acao[:256].strip().lower()
    observed: dict[str, JsonValue] = {
        "origin_sent": r.cors_origin,
        "access-control-allow-origin": acao[:256],
        "access-control-allow-credentials": credentials,
    }
    if data == "*":
        result = Result.CORS_IMPLEMENTED_WITH_PUBLIC_ACCESS
    elif r.cors_origin and acao == r.cors_origin and (credentials or "").strip().lower() == "true":
        result = Result.CORS_IMPLEMENTED_WITH_UNIVERSAL_ACCESS
    else:
        result = Result.CORS_IMPLEMENTED_WITH_RESTRICTED_ACCESS
    return Outcome(result, result is not Result.CORS_IMPLEMENTED_WITH_UNIVERSAL_ACCESS, observed)


def cross_origin_resource_policy(r: Retrieval) -> Outcome:
    header = r.page.first("cross-origin-resource-policy")
    if not header:
        return Outcome(Result.CORP_NOT_IMPLEMENTED, True)
    value = header[:256].strip().lower()
    result = {
        "same-site": Result.CORP_IMPLEMENTED_WITH_SAME_SITE,
        "same-origin": Result.CORP_IMPLEMENTED_WITH_SAME_ORIGIN,
        "cross-origin": Result.CORP_IMPLEMENTED_WITH_CROSS_ORIGIN,
    }.get(value, Result.CORP_HEADER_INVALID)
    return Outcome(result, result is not Result.CORP_HEADER_INVALID, value)


def cross_origin_opener_policy(r: Retrieval) -> Outcome:
    return _isolation_policy(
        r,
        "cross-origin-opener-policy",
        {
            "same-origin": Result.COOP_IMPLEMENTED_WITH_SAME_ORIGIN,
            "same-origin-allow-popups": Result.COOP_IMPLEMENTED_WITH_SAME_ORIGIN_ALLOW_POPUPS,
            "noopener-allow-popups": Result.COOP_IMPLEMENTED_WITH_NOOPENER_ALLOW_POPUPS,
            "unsafe-none": Result.COOP_IMPLEMENTED_WITH_UNSAFE_NONE,
        },
        Result.COOP_NOT_IMPLEMENTED,
        Result.COOP_HEADER_INVALID,
    )


def cross_origin_embedder_policy(r: Retrieval) -> Outcome:
    return _isolation_policy(
        r,
        "cross-origin-embedder-policy",
        {
            "require-corp": Result.COEP_IMPLEMENTED_WITH_REQUIRE_CORP,
            "credentialless": Result.COEP_IMPLEMENTED_WITH_CREDENTIALLESS,
            "unsafe-none": Result.COEP_IMPLEMENTED_WITH_UNSAFE_NONE,
        },
        Result.COEP_NOT_IMPLEMENTED,
        Result.COEP_HEADER_INVALID,
    )


def _isolation_policy(
    r: Retrieval, header: str, known: dict[str, Result], absent: Result, invalid: Result
) -> Outcome:
    """COOP and COEP are structured-field items whose value is a token (``same-origin;
    report-to="x"``); a header sent twice, or that does not parse, is invalid."""
    values = [v for k, v in r.page.headers if k.lower() == header]
    if not values:
        return Outcome(absent, True)
    if len(values) > 1:
        return Outcome(invalid, False, ", ".join(values)[:256])
    value = values[0][:1024].strip()
    result = known.get(structured_field_token(value) or "", invalid)
    return Outcome(result, result is not invalid, value[:256])


# -- RFC 8941 structured field item, just enough to take the token out of it ----------------------

_TCHAR = frozenset("!#$%&'*+-.^_`|~" + string.digits + string.ascii_letters)
_KEY_FIRST = frozenset(string.ascii_lowercase + "*")
_KEY_CHAR = frozenset(string.ascii_lowercase + string.digits + "_-.*")
_NUMBER = re.compile(r"-?\d{1,15}(\.\d{1,3})?")
_BASE64 = frozenset(string.ascii_letters + string.digits + "+/=")


class _SyntaxError(ValueError):
    pass


def _bare_item(text: str, i: int) -> tuple[str | None, int]:
    """Parse a bare item at ``i``; return (the token, or None for other types) and the new index."""
    if i >= len(text):
        raise _SyntaxError("empty item")
    c = text[i]
    if c.isascii() and (c.isalpha() or c == "*"):
        j = i + 1
        while j < len(text) and (text[j] in _TCHAR or text[j] in ":/"):
            j += 1
        return text[i:j], j
    if c == "-" or c.isdigit():
        m = _NUMBER.match(text, i)
        if not m:
            raise _SyntaxError("bad number")
        return None, m.end()
    if c == '"':
        j = i + 1
        while j < len(text):
            if text[j] == "\\":
                if j + 1 >= len(text) or text[j + 1] not in '"\\':
                    raise _SyntaxError("bad escape")
                j += 2
                continue
            if text[j] == '"':
                return None, j + 1
            if not (" " <= text[j] <= "~"):
                raise _SyntaxError("bad string character")
            j += 1
        raise _SyntaxError("unterminated string")
    if c == ":":
        end = text.find(":", i + 1)
        if end < 0 or any(ch not in _BASE64 for ch in text[i + 1 : end]):
            raise _SyntaxError("bad byte sequence")
        return None, end + 1
    if c == "?":
        if text[i + 1 : i + 2] not in ("0", "1"):
            raise _SyntaxError("bad boolean")
        return None, i + 2
    raise _SyntaxError(f"unexpected {c!r}")


def structured_field_token(value: str) -> str | None:
    """The bare item of a structured-field item if it is a token; ``None`` if the value does not
    parse or its item is not a token."""
    text = value.strip(" ")
    try:
        token, i = _bare_item(text, 0)
        while i < len(text) and text[i] == ";":
            i += 1
            while i < len(text) and text[i] == " ":
                i += 1
            if i >= len(text) or text[i] not in _KEY_FIRST:
                raise _SyntaxError("bad parameter key")
            while i < len(text) and text[i] in _KEY_CHAR:
                i += 1
            if i < len(text) and text[i] == "=":
                _, i = _bare_item(text, i + 1)
        if i != len(text):
            raise _SyntaxError("trailing characters")
    except _SyntaxError:
        return None
    return token
