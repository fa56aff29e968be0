"""One HTTP client for every check that speaks HTTP (http, headers, ratelimit, metrics).

A single aiohttp session per process; every probe opens a fresh connection (as a user's browser
would and as blackbox_exporter does), so connect and TLS time are measured every time. Cookies
are never carried between probes. Errors become :class:`~flightdeck.errors.CheckError` with a
one-line reason.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
from aiohttp.connector import Connection
from multidict import CIMultiDict

from flightdeck.checks.base import CheckContext
from flightdeck.checks.errors import describe_os_error
from flightdeck.errors import CheckError

__all__ = ["HttpResponse", "RedirectHop", "Timings", "fetch", "shared_ssl_context", "ssl_context"]

_USER_AGENT = "flightdeck/0.1 (+https://github.com/flightdeck)"


@dataclass
class Timings:
    """Milliseconds, summed over redirect hops.

    ``dns_ms`` is name resolution (0 when the host is an address literal or the answer was cached);
    ``connect_ms`` is TCP connect plus the TLS handshake, without name resolution; ``ttfb_ms`` is the
    time from the start to the final response's headers; ``total_ms`` includes reading the body.
    """

    dns_ms: float | None = None
    connect_ms: float | None = None
    ttfb_ms: float | None = None
    total_ms: float = 0.0


@dataclass(frozen=True)
class RedirectHop:
    status: int
    url: str
    location: str | None


@dataclass
class HttpResponse:
    url: str
    status: int
    reason: str
    headers: CIMultiDict[str]
    body: bytes
    body_truncated: bool
    history: list[RedirectHop] = field(default_factory=list)
    timings: Timings = field(default_factory=Timings)
    tls_version: str | None = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def header_all(self, name: str) -> list[str]:
        return self.headers.getall(name, [])

    def text(self) -> str:
        charset = "utf-8"
        ctype = self.headers.get("Content-Type", "")
        for part in ctype.split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                charset = value.strip('"')
        try:
            return self.body.decode(charset, errors="replace")
        except LookupError:  # a charset Python does not know
            return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        if self.body_truncated:
            raise CheckError(f"response body is larger than {len(self.body)} bytes; cannot parse it as JSON")
        try:
            return jsonlib.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            snippet = self.body[:80].decode("utf-8", errors="replace")
            raise CheckError(f"response is not JSON ({exc}): {snippet!r}") from None


def ssl_context(
    verify: bool = True, ca_file: Path | None = None, minimum_version: ssl.TLSVersion | None = None
) -> ssl.SSLContext:
    """A client TLS context; without verification it still negotiates, so the response can be read."""
    if verify:
        ctx = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    else:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if minimum_version is not None:
        ctx.minimum_version = minimum_version
    return ctx


def shared_ssl_context(
    context: CheckContext, verify: bool = True, ca_file: Path | None = None
) -> ssl.SSLContext:
    """:func:`ssl_context`, built once per process for each (verify, ca_file) pair: loading the
    trust store takes milliseconds, too long to repeat for every probe."""
    key = f"httpclient.ssl:{int(verify)}:{ca_file or ''}"
    try:
        ctx: ssl.SSLContext = context.resource(key, lambda: ssl_context(verify, ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise CheckError(f"cannot load CA certificates from {ca_file}: {describe_os_error(exc)}") from None
    return ctx


def _trace_config() -> aiohttp.TraceConfig:
    # aiohttp wraps our per-request object: callbacks receive it as ``params.trace_request_ctx``.
    tc = aiohttp.TraceConfig()

    def mark(name: str) -> Any:
        async def callback(_s: Any, wrapper: SimpleNamespace, _p: Any) -> None:
            rc = wrapper.trace_request_ctx
            if rc is None:
                return
            now = time.perf_counter()
            t = rc.timings
            if name == "dns_start":
                rc.dns_start = now
            elif name == "dns_end" and getattr(rc, "dns_start", None) is not None:
                rc.hop_dns_ms = (now - rc.dns_start) * 1000
                t.dns_ms = (t.dns_ms or 0.0) + rc.hop_dns_ms
            elif name == "conn_start":
                rc.conn_start = now
                rc.hop_dns_ms = 0.0
            elif name == "conn_end" and getattr(rc, "conn_start", None) is not None:
                # Connection creation includes name resolution; report the two apart.
                hop_ms = (now - rc.conn_start) * 1000 - rc.hop_dns_ms
                t.connect_ms = (t.connect_ms or 0.0) + max(hop_ms, 0.0)
                if t.dns_ms is None:
                    t.dns_ms = 0.0  # address literal or cached answer: no lookup was made
            elif name == "req_end":
                t.ttfb_ms = (now - rc.t0) * 1000

        return callback

    tc.on_dns_resolvehost_start.append(mark("dns_start"))
    tc.on_dns_resolvehost_end.append(mark("dns_end"))
    tc.on_connection_create_start.append(mark("conn_start"))
    tc.on_connection_create_end.append(mark("conn_end"))
    tc.on_request_end.append(mark("req_end"))
    return tc


class _Response(aiohttp.ClientResponse):
    """Notes the negotiated TLS version while the connection is still attached (a small body is
    read, and its connection released, before control returns to the caller)."""

    tls_version: str | None = None

    async def start(self, connection: Connection) -> _Response:
        transport = connection.transport
        sslobj = transport.get_extra_info("ssl_object") if transport is not None else None
        if sslobj is not None:
            self.tls_version = sslobj.version()
        await super().start(connection)
        return self


def _session(context: CheckContext) -> aiohttp.ClientSession:
    def make() -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=0, force_close=True, ttl_dns_cache=30)
        return aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            trace_configs=[_trace_config()],
            headers={"User-Agent": _USER_AGENT},
            response_class=_Response,
            timeout=aiohttp.ClientTimeout(total=None),
        )

    async def close(session: aiohttp.ClientSession) -> None:
        await session.close()

    session: aiohttp.ClientSession = context.resource("httpclient.session", make, close)
    return session


def _short(url: str) -> str:
    """A redirect target without scheme and host when it stays on the same origin (for messages)."""
    parts = url.split("/", 3)
    return "/" + parts[3] if len(parts) == 4 else url


def _one_line(text: str, limit: int = 200) -> str:
    """Parser messages span lines and point with carets; a reason is one line."""
    parts = [line.strip() for line in text.splitlines() if line.strip() and set(line.strip()) != {"^"}]
    joined = " ".join(parts)
    return joined if len(joined) <= limit else joined[: limit - 3] + "..."


def _reason(exc: BaseException, url: str) -> str:
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"TLS certificate verification failed for {url}: {exc.certificate_error}"
    if isinstance(exc, aiohttp.ClientConnectorSSLError):
        return f"TLS handshake failed for {url}: {describe_os_error(exc.os_error)}"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"cannot resolve host for {url}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"{url}: {describe_os_error(exc.os_error)}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return f"{url}: server closed the connection without a response"
    if isinstance(exc, aiohttp.TooManyRedirects):
        hops = [str(h.url) for h in getattr(exc, "history", ()) if getattr(h, "url", None) is not None]
        trail = " → ".join(_short(u) for u in hops[-4:])
        return f"{url}: too many redirects ({len(hops)} followed" + (f": … {trail})" if trail else ")")
    if isinstance(exc, aiohttp.InvalidURL):
        return f"invalid URL {url!r}"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"{url}: malformed response ({_one_line(str(exc.message))})"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return f"{url}: response body was cut short or malformed"
    if isinstance(exc, aiohttp.ClientOSError):
        return f"{url}: {describe_os_error(exc)}"
    return f"{url}: {type(exc).__name__}: {exc}"


async def _read_body(resp: aiohttp.ClientResponse, max_body: int) -> tuple[bytes, bool]:
    """Read the whole body, or ``max_body`` bytes of it; ``StreamReader.read(n)`` alone returns only
    what has arrived so far, which silently cut large bodies short."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_any():
        chunks.append(chunk)
        size += len(chunk)
        if size > max_body:
            return b"".join(chunks)[:max_body], True
    return b"".join(chunks), False


async def fetch(
    context: CheckContext,
    url: str,
    method: str = "GET",
    *,
    headers: dict[str, str] | None = None,
    data: bytes | str | None = None,
    json: Any = None,
    ssl_ctx: ssl.SSLContext | None = None,
    follow_redirects: bool = True,
    max_redirects: int = 10,
    max_body: int = 1_000_000,
) -> HttpResponse:
    """Make one request on a fresh connection and read up to ``max_body`` bytes of the body."""
    ctx = SimpleNamespace(timings=Timings(), t0=time.perf_counter())
    session = _session(context)
    try:
        async with session.request(
            method,
            url,
            headers=headers,
            data=data,
            json=json,
            ssl=ssl_ctx if ssl_ctx is not None else True,
            allow_redirects=follow_redirects,
            max_redirects=max_redirects,
            trace_request_ctx=ctx,
        ) as resp:
            tls_version = resp.tls_version if isinstance(resp, _Response) else None
            body, truncated = await _read_body(resp, max_body)
            ctx.timings.total_ms = (time.perf_counter() - ctx.t0) * 1000
            return HttpResponse(
                url=str(resp.url),
                status=resp.status,
                reason=resp.reason or "",
                headers=CIMultiDict(resp.headers),
                body=body[:max_body],
                body_truncated=truncated,
                history=[RedirectHop(h.status, str(h.url), h.headers.get("Location")) for h in resp.history],
                timings=ctx.timings,
                tls_version=tls_version,
            )
    except asyncio.CancelledError:
        raise
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        raise CheckError(_reason(exc, url)) from None
