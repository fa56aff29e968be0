"""Content Security Policy: the Observatory's policy parser and its CSP test.

Mirrors ``src/analyzer/cspParser.js`` and ``src/analyzer/tests/csp.js``: several policies (headers
and ``<meta http-equiv>``) are intersected; a repeated directive makes the policy invalid, except
``report-uri``/``report-to``; an empty ``*-src`` means ``'none'``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from pydantic import JsonValue

from flightdeck.checks.observatory.model import Outcome, Retrieval
from flightdeck.checks.observatory.results import Result

__all__ = ["CspParseError", "ParsedCsp", "content_security_policy", "parse_csp", "parse_csp_meta"]

_SHORTEST = len("img-src") - 1
_META_FORBIDDEN = ("frame-ancestors", "report-uri", "sandbox")
_ALLOWED_DUPLICATES = frozenset({"report-uri", "report-to"})
DANGEROUSLY_BROAD = frozenset(
    {"ftp:", "http:", "https:", "*", "http://*", "http://*.*", "https://*", "https://*.*"}
)
UNSAFE_INLINE = frozenset({"'unsafe-inline'", "data:"})
BROAD_OR_INLINE = DANGEROUSLY_BROAD | UNSAFE_INLINE
_PASSIVE = ("img-src", "media-src")
_NONCES_HASHES = ("'sha256-", "'sha384-", "'sha512-", "'nonce-")


class CspParseError(ValueError):
    pass


@dataclass
class _Source:
    source: str
    index: int
    keep: bool


@dataclass
class ParsedCsp:
    directives: dict[str, set[str]] = field(default_factory=dict)
    duplicates: set[str] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.directives)


def _path_part_match(a: str, b: str) -> bool:
    if not a:
        return True
    if a == "/" and not b:
        return True
    exact = not a.endswith("/")
    parts_a, parts_b = a.split("/"), b.split("/")
    if len(parts_a) > len(parts_b):
        return False
    if exact and len(parts_a) != len(parts_b):
        return False
    if not exact:
        parts_a.pop()
    return all(unquote(x) == unquote(y) for x, y in zip(parts_a, parts_b, strict=False))


def parse_csp(policies: list[str]) -> ParsedCsp:
    clean = [re.sub(r"[\r\n]", "", p).strip() for p in policies]
    if not clean:
        return ParsedCsp()
    for policy in clean:
        if not policy or len(policy) < _SHORTEST:
            raise CspParseError(f"invalid policy: {policy!r}")
    csp: dict[str, list[_Source]] = {}
    duplicates: set[str] = set()
    for index, policy in enumerate(clean):
        seen: set[str] = set()
        for entry in policy.split(";"):
            directive_entry, *values = re.split(r"\s+", entry.strip())
            if not directive_entry:
                continue
            directive = directive_entry.lower()
            if directive in seen:
                if directive not in _ALLOWED_DUPLICATES:
                    raise CspParseError(f"duplicate directive {directive} in policy {index}")
                duplicates.add(directive)
            else:
                seen.add(directive)
            keep = index == 0
            sources = [_Source(v.strip().lower(), index, keep) for v in values]
            if not values and directive.endswith("-src"):
                sources = [_Source("'none'", index, keep)]
            combined = sources if index == 0 else [*csp.get(directive, []), *sources]
            combined.sort(key=lambda s: s.source)
            for i in range(1, len(combined)):
                src, prev = combined[i], combined[i - 1]
                # within one policy a longer source starting with a shorter one is superfluous
                if src.index == prev.index and src.source.startswith(prev.source):
                    src.keep = False
                # across policies a source has to be allowed by both to count
                if src.index != prev.index and _path_part_match(prev.source, src.source):
                    src.keep = True
            csp[directive] = [s for s in combined if s.keep]
            if index == 0 and len(policies) > 1:
                for s in csp[directive]:
                    s.keep = False
    directives = {d: ({s.source for s in srcs} or {"'none'"}) for d, srcs in csp.items()}
    return ParsedCsp(directives, duplicates)


def parse_csp_meta(policies: list[str]) -> ParsedCsp:
    parsed = parse_csp(policies)
    for directive in _META_FORBIDDEN:
        parsed.directives.pop(directive, None)
    return parsed


def _has_nonce_or_hash(sources: set[str]) -> bool:
    return any(s.startswith(_NONCES_HASHES) for s in sources)


@dataclass(frozen=True)
class CspAnalysis:
    outcome: Outcome
    directives: dict[str, list[str]] | None  # None when no policy could be analysed


def analyse_csp(r: Retrieval) -> CspAnalysis:
    page = r.page
    http_policies = page.values("content-security-policy")
    facts = r.html
    meta_policies = list(facts.csp_meta) if facts is not None else []
    try:
        csp = parse_csp([*http_policies, *meta_policies])
    except CspParseError:
        return CspAnalysis(Outcome(Result.CSP_HEADER_INVALID, False), None)
    try:
        header_only = parse_csp(http_policies)
    except CspParseError:
        header_only = ParsedCsp()
    try:
        meta = parse_csp_meta(meta_policies)
    except CspParseError:
        meta = ParsedCsp()
    if len(header_only) + len(meta) == 0:
        if page.first("content-security-policy-report-only"):
            return CspAnalysis(Outcome(Result.CSP_NOT_IMPLEMENTED_BUT_REPORTING_ENABLED, False), None)
        return CspAnalysis(Outcome(Result.CSP_NOT_IMPLEMENTED, False), None)

    d = csp.directives
    star = {"*"}
    object_src = d.get("object-src") or d.get("default-src") or set(star)
    script_src = d.get("script-src") or d.get("default-src") or set(star)
    style_src = d.get("style-src") or d.get("default-src") or set(star)
    result: Result | None = None

    # 'unsafe-inline' is ignored by browsers once a nonce or hash is present. The sets are the
    # parsed policy's own (script-src may be default-src), as in the Observatory.
    for sources in (script_src, style_src):
        if _has_nonce_or_hash(sources):
            sources.discard("'unsafe-inline'")
    if _has_nonce_or_hash(script_src) and "'strict-dynamic'" in script_src:
        for source in list(script_src):
            if source.startswith(tuple(DANGEROUSLY_BROAD)) or source in ("'self'", "'unsafe-inline'"):
                script_src.discard(source)
    elif "'strict-dynamic'" in script_src:
        result = Result.CSP_HEADER_INVALID

    active = [s for name, srcs in d.items() if name not in _PASSIVE and name != "script-src" for s in srcs]
    active.extend(script_src)
    passive = [s for name in _PASSIVE for s in (d.get(name) or d.get("default-src") or set())]
    https_page = urlsplit(r.url).scheme == "https"

    def first(candidate: Result) -> None:
        nonlocal result
        if result is None:
            result = candidate

    if script_src & BROAD_OR_INLINE or object_src & DANGEROUSLY_BROAD:
        first(Result.CSP_IMPLEMENTED_WITH_UNSAFE_INLINE)
    if https_page and any(s.startswith(("http:", "ftp:")) for s in active):
        first(Result.CSP_IMPLEMENTED_WITH_INSECURE_SCHEME)
    if "'unsafe-eval'" in script_src | style_src:
        first(Result.CSP_IMPLEMENTED_WITH_UNSAFE_EVAL)
    if https_page and any(s.startswith(("http:", "ftp:")) for s in passive):
        first(Result.CSP_IMPLEMENTED_WITH_INSECURE_SCHEME_IN_PASSIVE_CONTENT_ONLY)
    if style_src & BROAD_OR_INLINE:
        first(Result.CSP_IMPLEMENTED_WITH_UNSAFE_INLINE_IN_STYLE_SRC_ONLY)
    if d.get("default-src") == {"'none'"}:
        first(Result.CSP_IMPLEMENTED_WITH_NO_UNSAFE_DEFAULT_SRC_NONE)
    else:
        first(Result.CSP_IMPLEMENTED_WITH_NO_UNSAFE)
    assert result is not None
    passed = result in (
        Result.CSP_IMPLEMENTED_WITH_NO_UNSAFE,
        Result.CSP_IMPLEMENTED_WITH_NO_UNSAFE_DEFAULT_SRC_NONE,
        Result.CSP_IMPLEMENTED_WITH_UNSAFE_INLINE_IN_STYLE_SRC_ONLY,
        Result.CSP_IMPLEMENTED_WITH_INSECURE_SCHEME_IN_PASSIVE_CONTENT_ONLY,
    )
    if passed and csp.duplicates:
        result = Result.CSP_IMPLEMENTED_BUT_DUPLICATE_DIRECTIVES
    directives = {name: sorted(srcs) for name, srcs in d.items()}
    observed: dict[str, JsonValue] = {name: list(v) for name, v in directives.items()}
    return CspAnalysis(Outcome(result, passed, observed), directives)


def content_security_policy(r: Retrieval) -> Outcome:
    return analyse_csp(r).outcome


def x_frame_options(r: Retrieval) -> Outcome:
    """``src/analyzer/tests/x-frame-options.js``: CSP ``frame-ancestors`` overrides the header."""
    header = r.page.first("x-frame-options")
    observed: JsonValue = None
    if header:
        observed = header[:1024]
        xfo = observed.strip().lower()
        if xfo in ("deny", "sameorigin"):
            result = Result.X_FRAME_OPTIONS_SAMEORIGIN_OR_DENY
        elif xfo.startswith("allow-from"):
            result = Result.X_FRAME_OPTIONS_ALLOW_FROM_ORIGIN
        else:
            result = Result.X_FRAME_OPTIONS_HEADER_INVALID
    else:
        result = Result.X_FRAME_OPTIONS_NOT_IMPLEMENTED
    directives = analyse_csp(r).directives
    if directives and "frame-ancestors" in directives:
        result = Result.X_FRAME_OPTIONS_IMPLEMENTED_VIA_CSP
        observed = "frame-ancestors " + " ".join(directives["frame-ancestors"])
    passed = result in (
        Result.X_FRAME_OPTIONS_ALLOW_FROM_ORIGIN,
        Result.X_FRAME_OPTIONS_SAMEORIGIN_OR_DENY,
        Result.X_FRAME_OPTIONS_IMPLEMENTED_VIA_CSP,
    )
    return Outcome(result, passed, observed)
