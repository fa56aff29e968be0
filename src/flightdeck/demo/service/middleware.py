"""Cross-cutting request handling: metrics, HTTPS redirection, injected faults, JSON errors and
security headers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from pydantic import ValidationError

from flightdeck.demo.service.errors import ServiceError, TooManyRequests
from flightdeck.demo.service.state import STATE

__all__ = ["PROBE_PATHS", "middlewares", "security_headers"]

log = logging.getLogger(__name__)

PROBE_PATHS = frozenset({"/health", "/ready", "/metrics"})
"""Served over plain HTTP too (monitoring probes); everything else redirects to HTTPS."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
_HEADERS = {
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
_HSTS = "max-age=63072000; includeSubDomains"


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def error_response(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


@web.middleware
async def metrics_mw(request: web.Request, handler: Handler) -> web.StreamResponse:
    metrics = request.app[STATE].metrics
    t0 = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        route = _route(request)
        metrics.http_requests.labels(request.method, route, str(status)).inc()
        metrics.http_duration.labels(request.method, route).observe(time.perf_counter() - t0)


@web.middleware
async def errors_mw(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except TooManyRequests as exc:
        response = error_response(exc.status, exc.code, exc.message)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except ServiceError as exc:
        response = error_response(exc.status, exc.code, exc.message)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="demo-payments"'
        return response
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        return error_response(400, "invalid_request", f"{where}: {first['msg']}")
    except web.HTTPRedirection:
        raise
    except web.HTTPException as exc:
        code = exc.reason.lower().replace(" ", "_")
        response = error_response(exc.status, code, exc.reason)
        for name in ("Allow",):
            if name in exc.headers:
                response.headers[name] = exc.headers[name]
        return response
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "internal error")


@web.middleware
async def https_mw(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE]
    if state.https_port is not None and not request.secure and request.path not in PROBE_PATHS:
        host = (request.url.host or state.settings.host).strip("[]")
        host = f"[{host}]" if ":" in host else host
        port = "" if state.https_port == 443 else f":{state.https_port}"
        raise web.HTTPMovedPermanently(f"https://{host}{port}{request.rel_url}")
    return await handler(request)


@web.middleware
async def faults_mw(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE]
    path = request.path
    if path != "/metrics" and not path.startswith("/admin/"):
        delay = state.faults.latency()
        if delay > 0:
            await asyncio.sleep(delay)
    if path.startswith("/api/") and state.faults.should_fail():
        return error_response(503, "unavailable", "injected fault: 5xx burst")
    return await handler(request)


middlewares = [metrics_mw, errors_mw, https_mw, faults_mw]


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: the same headers on every response, HSTS over HTTPS only."""
    for name, value in _HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers["Server"] = "demo-payments"
    if request.secure:
        response.headers["Strict-Transport-Security"] = _HSTS
    if request.path.startswith(("/api/", "/admin/")):
        response.headers["Cache-Control"] = "no-store"
