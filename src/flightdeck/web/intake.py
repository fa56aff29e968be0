"""Intake endpoints: alerts pushed by Alertmanager (``POST /api/v1/intake/alertmanager``) and generic
JSON events (``POST /api/v1/intake/events``).

Both need an operator's credentials — in practice an API token (``flightdeck token create
alertmanager --role operator``) sent as ``Authorization: Bearer fd_…``. A payload is read (at most
:data:`~flightdeck.alerting.intake.MAX_BODY_BYTES`; larger is 413), parsed and checked whole, and only
then written, in one transaction: a malformed payload is a 400 that says where the problem is, and
nothing of it is stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from flightdeck.alerting.intake import (
    MAX_BODY_BYTES,
    IntakeItem,
    IntakeResult,
    PayloadError,
    apply,
    parse_alertmanager,
    parse_events,
)
from flightdeck.web.auth import OperatorDep
from flightdeck.web.context import WebContext, get_context
from flightdeck.web.schemas import ErrorOut

__all__ = ["IntakeOut", "router"]

router = APIRouter(
    prefix="/api/v1/intake",
    tags=["intake"],
    responses={
        400: {"model": ErrorOut, "description": "malformed payload; nothing was stored"},
        401: {"model": ErrorOut, "description": "no valid token or session"},
        403: {"model": ErrorOut, "description": "the role does not allow it"},
        413: {"model": ErrorOut, "description": "the payload is larger than 1 MiB"},
    },
)


class IntakeOut(BaseModel):
    """What was done with an accepted payload."""

    accepted: int
    fired: int
    resolved: int
    unmatched: int  # resolves that found no active alert (already resolved, or never seen)
    alert_ids: list[int]


class _TooLarge(Exception):
    pass


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _TooLarge
    size = 0
    chunks = []
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _problem(status: int, code: str, message: str, where: str | None = None) -> JSONResponse:
    error: dict[str, Any] = {"code": code, "message": message}
    if where is not None:
        error["where"] = where
    return JSONResponse({"error": error}, status_code=status)


def _store(ctx: WebContext, items: list[IntakeItem]) -> IntakeResult:
    with ctx.store.engine.begin() as conn:
        return apply(conn, items, ctx.now())


async def _take(request: Request, parse: Callable[[object], list[IntakeItem]]) -> JSONResponse:
    ctx = get_context(request)
    try:
        raw = await _body(request)
    except _TooLarge:
        return _problem(413, "too_large", f"the payload is larger than {MAX_BODY_BYTES} bytes")
    try:
        payload = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _problem(400, "invalid_payload", f"the body is not JSON: {exc}", "")
    try:
        items = parse(payload)
    except PayloadError as exc:
        return _problem(400, "invalid_payload", str(exc), exc.where)
    result = await run_in_threadpool(_store, ctx, items)
    out = IntakeOut(
        accepted=len(items),
        fired=len(result.fired),
        resolved=result.resolved,
        unmatched=result.unknown,
        alert_ids=result.fired,
    )
    return JSONResponse(out.model_dump())


@router.post(
    "/alertmanager",
    response_model=IntakeOut,
    summary="Alerts from an Alertmanager webhook receiver (payload version 4)",
)
async def alertmanager(request: Request, _: OperatorDep) -> JSONResponse:
    now = get_context(request).now()
    return await _take(request, lambda payload: parse_alertmanager(payload, now))


@router.post("/events", response_model=IntakeOut, summary="Generic JSON events: trigger or resolve alerts")
async def events(request: Request, _: OperatorDep) -> JSONResponse:
    return await _take(request, parse_events)
