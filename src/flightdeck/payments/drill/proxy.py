"""A fault-injecting HTTP reverse proxy, placed between a service and its payment gateway.

Every request that reaches the proxy meets at most one fault, drawn in this order from a seeded
random generator (so a run is repeatable for a given order of requests):

================  ======================================================  ========================
fault             what the proxy does                                     did the gateway see it?
================  ======================================================  ========================
``error``         answers 502 or 503 itself                               no
``reset``         closes the connection (TCP reset) without answering     no
``lost_response`` forwards the request, the gateway processes it, then    **yes**: the charge exists
                  the proxy drops the connection instead of answering
(none)            forwards it and returns the gateway's answer            yes
================  ======================================================  ========================

``latency`` seconds are added before every forwarded request. ``error_rate``, ``reset_rate`` and
``lost_response_rate`` are each the chance of that fault among the requests the earlier ones spared.
The lost response is the case that tells correct retry logic from broken: the client sees a failure
although it was charged, and only the same idempotency key on the retry keeps it from paying twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import random
import socket
import struct
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

__all__ = ["FaultCounts", "FaultKind", "FaultProxy", "ProxyFaults"]

# Hop-by-hop headers (RFC 9110 7.6.1) and those aiohttp sets itself: never copied across.
_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "content-encoding",
    }
)


class FaultKind(enum.StrEnum):
    ERROR = "error"
    RESET = "reset"
    LOST_RESPONSE = "lost_response"


@dataclass(frozen=True)
class ProxyFaults:
    error_rate: float = 0.0
    reset_rate: float = 0.0
    lost_response_rate: float = 0.0
    latency: float = 0.0  # seconds before each forwarded request
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("error_rate", "reset_rate", "lost_response_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {value}")
        if self.latency < 0:
            raise ValueError("latency must not be negative")


@dataclass
class FaultCounts:
    """What the proxy did: requests seen, forwarded, and each fault injected."""

    requests: int = 0
    forwarded: int = 0  # reached the gateway (lost responses included)
    upstream_failures: int = 0  # forwarding itself failed (answered 502)
    injected: dict[FaultKind, int] = field(default_factory=lambda: dict.fromkeys(FaultKind, 0))

    def to_json(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "forwarded": self.forwarded,
            "upstream_failures": self.upstream_failures,
            **{f"{kind.value}s": n for kind, n in self.injected.items()},
        }


def _reset(request: web.Request) -> None:
    """Drop the client's connection with a TCP reset (SO_LINGER 0), nothing answered."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


class FaultProxy:
    """``await proxy.start()``, point the service at ``proxy.url``, ``await proxy.stop()``."""

    def __init__(
        self,
        upstream: str,
        faults: ProxyFaults,
        host: str = "127.0.0.1",
        port: int = 0,
        timeout: float = 30.0,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.faults = faults
        self.host = host
        self.port = port
        self.counts = FaultCounts()
        self._rng = random.Random(faults.seed)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> FaultProxy:
        self._session = aiohttp.ClientSession(timeout=self._timeout, auto_decompress=False)
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await self.stop()
            raise
        self.port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _draw(self) -> FaultKind | None:
        f = self.faults
        if self._rng.random() < f.error_rate:
            return FaultKind.ERROR
        if self._rng.random() < f.reset_rate:
            return FaultKind.RESET
        if self._rng.random() < f.lost_response_rate:
            return FaultKind.LOST_RESPONSE
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.counts.requests += 1
        fault = self._draw()
        body = await request.read()
        if fault is FaultKind.ERROR:
            self.counts.injected[fault] += 1
            status = self._rng.choice((502, 503))
            return web.json_response(
                {"error": {"code": "injected_fault", "message": f"fault proxy: {status}"}}, status=status
            )
        if fault is FaultKind.RESET:
            self.counts.injected[fault] += 1
            _reset(request)
            return web.Response(status=500)  # never written: the connection is gone
        if self.faults.latency > 0:
            await asyncio.sleep(self.faults.latency)
        upstream = await self._forward(request, body)
        if upstream is None:
            self.counts.upstream_failures += 1
            return web.json_response(
                {"error": {"code": "bad_gateway", "message": "fault proxy: upstream unreachable"}}, status=502
            )
        status, headers, payload = upstream
        if fault is FaultKind.LOST_RESPONSE:
            self.counts.injected[fault] += 1  # the gateway has processed it; the answer is dropped
            _reset(request)
            return web.Response(status=500)
        return web.Response(status=status, headers=headers, body=payload)

    async def _forward(self, request: web.Request, body: bytes) -> tuple[int, dict[str, str], bytes] | None:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        url = self.upstream + request.rel_url.path_qs
        try:
            async with self._session.request(
                request.method, url, headers=headers, data=body, allow_redirects=False
            ) as resp:
                payload = await resp.read()
                out = {k: v for k, v in resp.headers.items() if k.lower() not in _HOP}
                status = resp.status
        except (TimeoutError, aiohttp.ClientError):
            return None
        self.counts.forwarded += 1
        return status, out, payload
