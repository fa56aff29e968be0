"""flightdeck's own operational endpoints: ``/health``, ``/ready``, ``/metrics``, and the API docs.

- ``/health`` — liveness: the process answers. Public.
- ``/ready`` — the store is reachable, its schema is current, and the scheduler (when this process
  runs one) is running and not lagging. Public; it names components and states, nothing else.
- ``/metrics`` — Prometheus exposition: the scheduler's metrics and the web app's HTTP metrics.
  Needs a token or session unless ``server.metrics_public``.
- ``/docs`` and ``/openapi.json`` — the API's description (Swagger UI from the installed
  ``fastapi-offline`` package). Need a login or token like the API they describe.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from flightdeck.web.auth import ViewerDep, authenticate
from flightdeck.web.context import get_context

__all__ = ["READY_MAX_LAG_S", "READY_MAX_TICK_AGE_S", "ComponentState", "ReadyOut", "router"]

READY_MAX_LAG_S = 5.0
"""/ready fails when the scheduler's p99 start lateness over five minutes exceeds this."""

READY_MAX_TICK_AGE_S = 30.0
"""/ready fails when the scheduler's last pass over due checks is older than this."""

router = APIRouter()


class ComponentState(enum.StrEnum):
    OK = "ok"
    FAIL = "fail"
    OFF = "off"  # not part of this process (``serve --no-scheduler``)


class Component(BaseModel):
    status: ComponentState
    reason: str | None = None


class ReadyOut(BaseModel):
    status: ComponentState
    components: dict[str, Component]


class HealthOut(BaseModel):
    status: ComponentState


@router.get("/health", response_model=HealthOut, tags=["flightdeck"], summary="Liveness")
def health() -> HealthOut:
    return HealthOut(status=ComponentState.OK)


def _scheduler_state(request: Request, now: datetime) -> Component:
    scheduler = get_context(request).scheduler
    if scheduler is None:
        return Component(status=ComponentState.OFF)
    h = scheduler.health()
    if h.draining:
        return Component(status=ComponentState.FAIL, reason="draining")
    if not h.running:
        return Component(status=ComponentState.FAIL, reason="not running")
    if h.lag_p99_s is not None and h.lag_p99_s > READY_MAX_LAG_S:
        return Component(
            status=ComponentState.FAIL, reason=f"lagging: p99 start lateness {h.lag_p99_s:.1f} s"
        )
    if h.last_tick is not None and (now - h.last_tick).total_seconds() > READY_MAX_TICK_AGE_S:
        return Component(status=ComponentState.FAIL, reason="stalled: no pass over due checks for 30 s")
    return Component(status=ComponentState.OK)


@router.get(
    "/ready",
    response_model=ReadyOut,
    tags=["flightdeck"],
    summary="Readiness: store, schema, scheduler",
    responses={503: {"model": ReadyOut, "description": "not ready"}},
)
def ready(request: Request) -> JSONResponse:
    ctx = get_context(request)
    components: dict[str, Component] = {}
    reachable = ctx.store.ping()
    components["store"] = Component(
        status=ComponentState.OK if reachable else ComponentState.FAIL,
        reason=None if reachable else "unreachable",
    )
    if reachable:
        current = ctx.store.is_current()
        components["schema"] = Component(
            status=ComponentState.OK if current else ComponentState.FAIL,
            reason=None if current else "not at the newest migration",
        )
    else:
        components["schema"] = Component(status=ComponentState.FAIL, reason="store unreachable")
    components["scheduler"] = _scheduler_state(request, ctx.now())
    ok = all(c.status is not ComponentState.FAIL for c in components.values())
    body = ReadyOut(status=ComponentState.OK if ok else ComponentState.FAIL, components=components)
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if ok else 503)


@router.get(
    "/metrics",
    tags=["flightdeck"],
    summary="Prometheus metrics (token needed unless server.metrics_public)",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
def metrics(request: Request) -> Response:
    ctx = get_context(request)
    if not ctx.config.server.metrics_public:
        authenticate(request)
    body = generate_latest(ctx.http_metrics.registry)
    if ctx.registry is not None:
        body = generate_latest(ctx.registry) + body
    return Response(body, media_type=CONTENT_TYPE_LATEST)


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request, _: ViewerDep) -> JSONResponse:
    schema: dict[str, Any] = request.app.openapi()
    return JSONResponse(schema)


@router.get("/docs", include_in_schema=False, response_class=HTMLResponse)
def docs(request: Request, who: ViewerDep) -> HTMLResponse:
    ctx = get_context(request)
    response: HTMLResponse = ctx.templates.TemplateResponse(
        request,
        "docs.html",
        {"who": who, "csrf": who.csrf_token, "openapi_url": "/openapi.json"},
    )
    return response
