"""The page's HTML: ``<meta>`` policies, and the Subresource Integrity test on its scripts.

Parsed with the standard library's tolerant :class:`html.parser.HTMLParser`. Mirrors
``src/retriever/utils.js`` (``parseHttpEquivHeaders``) and ``src/analyzer/tests/subresource-integrity.js``.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from html.parser import HTMLParser
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList
from pydantic import JsonValue

from flightdeck.checks.observatory.model import Exchange, HtmlFacts, Outcome, Retrieval, Script
from flightdeck.checks.observatory.results import Result

__all__ = ["HTML_TYPES", "registrable_domain", "scan_html", "subresource_integrity"]

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*:")
_FULL_URL = re.compile(r"^https?://")
_PROTOCOL_RELATIVE = re.compile(r"^//[^/]")


@lru_cache(maxsize=1)
def _psl() -> PublicSuffixList:
    return PublicSuffixList(only_icann=True)


def registrable_domain(host: str) -> str | None:
    """``cdn.example.co.uk`` → ``example.co.uk``; ``None`` for IP addresses and bare suffixes."""
    host = host.strip().lower().rstrip(".")
    if not host:
        return None
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return None
    result: str | None = _psl().privatesuffix(host)
    return result


def mime_type(page: Exchange) -> str:
    return (page.first("content-type") or "").split(";")[0].strip().lower()


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.csp: list[str] = []
        self.referrer: str | None = None
        self.script_count = 0
        self.scripts: list[Script] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        first: dict[str, str | None] = {}
        for name, value in attrs:
            first.setdefault(name, value)
        if tag == "meta":
            if "http-equiv" in first and "content" in first:
                equiv = (first["http-equiv"] or "").strip().lower()
                content = first["content"]
                if content and equiv == "content-security-policy":
                    self.csp.append(content)
            elif (first.get("name") or "").strip().lower() == "referrer":
                content = first.get("content")
                if content:
                    self.referrer = content
        elif tag == "script":
            self.script_count += 1
            if "src" in first:
                self.scripts.append(
                    Script(
                        src=_reflect_url(first["src"] or ""),
                        integrity=first.get("integrity"),
                        crossorigin=first.get("crossorigin"),
                    )
                )

    handle_startendtag = handle_starttag


def _reflect_url(raw: str) -> str:
    """What a DOM's ``script.src`` returns for a document without a base URL: absolute URLs are
    normalised (scheme lowercased), anything relative comes back as written."""
    value = raw.strip()
    if _SCHEME.match(value):
        scheme, _, rest = value.partition(":")
        return f"{scheme.lower()}:{rest}"
    return value


def scan_html(page: Exchange) -> HtmlFacts:
    if mime_type(page) not in HTML_TYPES:
        return HtmlFacts(is_html=False)
    collector = _Collector()
    try:
        collector.feed(page.body or "")
        collector.close()
    except Exception:  # the parser is tolerant; anything it still rejects is "not parseable"
        return HtmlFacts(is_html=True, parseable=False)
    return HtmlFacts(
        is_html=True,
        csp_meta=tuple(collector.csp),
        referrer_meta=collector.referrer,
        script_count=collector.script_count,
        scripts=tuple(collector.scripts),
    )


_SRI_ORDER = [
    Result.SRI_IMPLEMENTED_AND_ALL_SCRIPTS_LOADED_SECURELY,
    Result.SRI_IMPLEMENTED_AND_EXTERNAL_SCRIPTS_LOADED_SECURELY,
    Result.SRI_IMPLEMENTED_BUT_EXTERNAL_SCRIPTS_NOT_LOADED_SECURELY,
    Result.SRI_NOT_IMPLEMENTED_BUT_EXTERNAL_SCRIPTS_LOADED_SECURELY,
    Result.SRI_NOT_IMPLEMENTED_AND_EXTERNAL_SCRIPTS_NOT_LOADED_SECURELY,
    Result.SRI_NOT_IMPLEMENTED_RESPONSE_NOT_HTML,
]
_SRI_PASS = {
    Result.SRI_IMPLEMENTED_AND_ALL_SCRIPTS_LOADED_SECURELY,
    Result.SRI_IMPLEMENTED_AND_EXTERNAL_SCRIPTS_LOADED_SECURELY,
    Result.SRI_NOT_IMPLEMENTED_RESPONSE_NOT_HTML,
    Result.SRI_NOT_IMPLEMENTED_BUT_ALL_SCRIPTS_LOADED_FROM_SECURE_ORIGIN,
    Result.SRI_NOT_IMPLEMENTED_BUT_NO_SCRIPTS_LOADED,
}


def worse(new: Result, old: Result | None, order: list[Result]) -> Result:
    """The Observatory's ``onlyIfWorse``: keep the result that comes later in ``order``."""
    if old is None:
        return new
    return new if order.index(new) > order.index(old) else old


def subresource_integrity(r: Retrieval) -> Outcome:
    facts = r.html
    if facts is None or not facts.is_html:
        return Outcome(Result.SRI_NOT_IMPLEMENTED_RESPONSE_NOT_HTML, True)
    if not facts.parseable:
        return Outcome(Result.HTML_NOT_PARSEABLE, False)
    page_domain = registrable_domain(r.hostname)
    page_secure = urlsplit(r.page.url).scheme == "https"
    result: Result | None = None
    foreign_origin = False
    external: dict[str, JsonValue] = {}
    for script in facts.scripts:
        src = script.src
        if not src:
            continue
        relative_origin = relative_protocol = same_domain = False
        if _PROTOCOL_RELATIVE.match(src):
            relative_protocol = same_domain = True
        elif _FULL_URL.match(src):
            same_domain = registrable_domain(urlsplit(src).hostname or "") == page_domain
        else:
            relative_origin = same_domain = True
        secure_origin = relative_origin or (same_domain and not relative_protocol)
        if not secure_origin:
            foreign_origin = True
        scheme = None
        if not relative_protocol and not relative_origin:
            scheme = urlsplit(src).scheme
        secure_scheme = scheme == "https" or (relative_origin and page_secure)
        integrity = script.integrity
        if not secure_origin:
            external[src[:512]] = {"integrity": integrity, "crossorigin": script.crossorigin}
            if integrity and not secure_scheme:
                result = worse(
                    Result.SRI_IMPLEMENTED_BUT_EXTERNAL_SCRIPTS_NOT_LOADED_SECURELY, result, _SRI_ORDER
                )
            elif not integrity and secure_scheme:
                result = worse(
                    Result.SRI_NOT_IMPLEMENTED_BUT_EXTERNAL_SCRIPTS_LOADED_SECURELY, result, _SRI_ORDER
                )
            elif not integrity:
                result = worse(
                    Result.SRI_NOT_IMPLEMENTED_AND_EXTERNAL_SCRIPTS_NOT_LOADED_SECURELY, result, _SRI_ORDER
                )
        elif integrity and secure_scheme and result is None:
            # the bonus is granted even for SRI on same-origin scripts
            result = Result.SRI_IMPLEMENTED_AND_ALL_SCRIPTS_LOADED_SECURELY
    if facts.script_count == 0:
        result = Result.SRI_NOT_IMPLEMENTED_BUT_NO_SCRIPTS_LOADED
    elif result is None:
        result = (
            Result.SRI_IMPLEMENTED_AND_EXTERNAL_SCRIPTS_LOADED_SECURELY
            if foreign_origin
            else Result.SRI_NOT_IMPLEMENTED_BUT_ALL_SCRIPTS_LOADED_FROM_SECURE_ORIGIN
        )
    observed: dict[str, JsonValue] = dict(list(external.items())[:20])
    return Outcome(result, result in _SRI_PASS, observed or None)
