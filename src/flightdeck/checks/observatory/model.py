"""What the Observatory's tests look at: the responses retrieved, and what each test concluded.

Header values are read the way the Observatory's Node.js retriever sees them: a header sent several
times is one value joined with ``", "`` (Node's rule), except ``Set-Cookie`` which stays a list
and ``Content-Type`` where the first value wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import urlsplit

from pydantic import JsonValue

from flightdeck.checks.observatory.results import Result

__all__ = ["Chain", "Exchange", "Outcome", "Retrieval", "hostname_of"]

_FIRST_WINS = {"content-type", "content-length", "location", "user-agent", "host", "etag", "server"}


def hostname_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


@dataclass(frozen=True)
class Exchange:
    """One request and its response (the body only for the page that is graded)."""

    url: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: str | None = None

    def values(self, name: str) -> list[str]:
        """What the Observatory's ``getHttpHeaders`` returns for ``name``."""
        lname = name.lower()
        found = [v for k, v in self.headers if k.lower() == lname]
        if not found:
            return []
        if lname == "set-cookie":
            return found
        if lname in _FIRST_WINS:
            return [found[0]]
        return [", ".join(found)]

    def first(self, name: str) -> str | None:
        found = self.values(name)
        return found[0] if found else None

    @property
    def hostname(self) -> str:
        return hostname_of(self.url)

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme.lower()


@dataclass(frozen=True)
class Chain:
    """A request and the redirects it was sent through; ``verified`` is False when any TLS
    certificate on the way failed verification (the Observatory then retries without it)."""

    exchanges: tuple[Exchange, ...]
    verified: bool = True

    @property
    def final(self) -> Exchange:
        return self.exchanges[-1]


@dataclass(frozen=True)
class Retrieval:
    """Everything one scan retrieved.

    ``https`` is the page that is graded (the Observatory's ``auto`` and ``https`` responses);
    ``http`` the chain that starts at the plain-HTTP URL, ``None`` when nothing answered there;
    ``cors`` the answer to a CORS preflight sent with ``Origin: cors_origin``.
    """

    url: str
    https: Chain
    http: Chain | None = None
    cors: Exchange | None = None
    cors_origin: str = ""

    @property
    def hostname(self) -> str:
        return hostname_of(self.url)

    @property
    def page(self) -> Exchange:
        return self.https.final

    @cached_property
    def html(self) -> HtmlFacts | None:
        from flightdeck.checks.observatory.html import scan_html

        return scan_html(self.page)


@dataclass(frozen=True)
class Outcome:
    """What one test concluded: its result identifier, whether it passed, and what it observed."""

    result: Result
    passed: bool
    observed: JsonValue = None


@dataclass(frozen=True)
class Script:
    src: str
    integrity: str | None
    crossorigin: str | None


@dataclass(frozen=True)
class HtmlFacts:
    """What the tests need from an HTML page: ``<meta http-equiv>`` policies and scripts."""

    is_html: bool
    parseable: bool = True
    csp_meta: tuple[str, ...] = ()
    referrer_meta: str | None = None
    script_count: int = 0
    scripts: tuple[Script, ...] = field(default_factory=tuple)
