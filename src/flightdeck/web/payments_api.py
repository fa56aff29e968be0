"""The reconciliation API, ``/api/v1/reconciliations``: latest runs, a run with its exceptions,
exceptions across runs, resolving them and their audit trail.

Viewers read; operators (and admins) resolve and reopen, always with a note. Resolving an
exception that is already resolved (or reopening an open one) is a 409: someone else got there
first, and the answer says what it is now.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from flightdeck.payments.errors import ReconError
from flightdeck.payments.recon_store import (
    ExceptionStatus,
    audit_trail,
    count_open,
    get_exception,
    get_run,
    list_exceptions,
    list_runs,
    resolve_exception,
    run_items,
)
from flightdeck.web.auth import OperatorDep, ViewerDep
from flightdeck.web.context import get_context
from flightdeck.web.schemas import (
    ErrorOut,
    ReconAuditOut,
    ReconExceptionOut,
    ReconItemOut,
    ReconOut,
    ReconResolveIn,
    ReconRunDetailOut,
    ReconRunOut,
)

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1/reconciliations",
    tags=["reconciliations"],
    responses={
        401: {"model": ErrorOut, "description": "no valid token or session"},
        403: {"model": ErrorOut, "description": "the role does not allow it"},
    },
)

_FETCH_CHUNK = 500


@router.get("", response_model=list[ReconOut], summary="Every configured reconciliation with its latest run")
def reconciliations(request: Request, _: ViewerDep) -> list[ReconOut]:
    ctx = get_context(request)
    out = []
    for name, cfg in ctx.config.payments.reconciliations.items():
        runs = list_runs(ctx.store, name, limit=1)
        out.append(
            ReconOut(
                name=name,
                service=cfg.service,
                description=cfg.description,
                latest_run=ReconRunOut.of(runs[0]) if runs else None,
                open_exceptions=count_open(ctx.store, name),
            )
        )
    return out


@router.get(
    "/runs/{run_id}",
    response_model=ReconRunDetailOut,
    summary="A run with every exception it found",
    responses={404: {"model": ErrorOut}},
)
def run(request: Request, _: ViewerDep, run_id: int) -> ReconRunDetailOut:
    ctx = get_context(request)
    found = get_run(ctx.store, run_id)
    items = run_items(ctx.store, run_id)
    fingerprints = sorted({i.fingerprint for i in items})
    states = {}
    for start in range(0, len(fingerprints), _FETCH_CHUNK):
        chunk = fingerprints[start : start + _FETCH_CHUNK]
        for exc in list_exceptions(ctx.store, recon=found.recon, fingerprints=chunk, limit=len(chunk)):
            states[exc.fingerprint] = exc
    out = []
    for i in items:
        e = states.get(i.fingerprint)
        out.append(
            ReconItemOut(
                fingerprint=i.fingerprint,
                category=i.category,
                reason=i.reason,
                refs=i.refs,
                rows=i.rows,
                currency=i.currency,
                internal_minor=i.internal_minor,
                statement_minor=i.statement_minor,
                difference_minor=i.difference_minor,
                exception_id=e.id if e is not None else None,
                status=e.status if e is not None else None,
            )
        )
    return ReconRunDetailOut(**ReconRunOut.of(found).model_dump(), items=out)


@router.get(
    "/exceptions",
    response_model=list[ReconExceptionOut],
    summary="Exceptions across runs, newest first",
)
def exceptions(
    request: Request,
    _: ViewerDep,
    recon: Annotated[str | None, Query(max_length=100, description="only this reconciliation's")] = None,
    status: Annotated[ExceptionStatus | None, Query(description="open or resolved; default both")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ReconExceptionOut]:
    ctx = get_context(request)
    return [
        ReconExceptionOut.of(e) for e in list_exceptions(ctx.store, recon=recon, status=status, limit=limit)
    ]


@router.post(
    "/exceptions/{exception_id}/resolve",
    response_model=ReconExceptionOut,
    summary="Resolve (or reopen) an exception with a note (operator)",
    responses={404: {"model": ErrorOut}, 409: {"model": ErrorOut, "description": "already in that state"}},
)
def resolve(request: Request, who: OperatorDep, exception_id: int, body: ReconResolveIn) -> JSONResponse:
    ctx = get_context(request)
    try:
        changed = resolve_exception(ctx.store, exception_id, who.name, body.note, reopen=body.reopen)
    except ReconError as exc:
        return JSONResponse({"error": {"code": "conflict", "message": str(exc)}}, status_code=409)
    return JSONResponse(ReconExceptionOut.of(changed).model_dump(mode="json"))


@router.get(
    "/exceptions/{exception_id}/audit",
    response_model=list[ReconAuditOut],
    summary="Every change to an exception, newest first",
    responses={404: {"model": ErrorOut}},
)
def audit(request: Request, _: ViewerDep, exception_id: int) -> list[ReconAuditOut]:
    ctx = get_context(request)
    get_exception(ctx.store, exception_id)  # 404 for an unknown id
    return [ReconAuditOut.of(a) for a in audit_trail(ctx.store, exception_id)]
