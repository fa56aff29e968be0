"""The HTTP API, ``/api/v1``: services, checks with status and figures, evidence, runs, access.

Every route needs an API token (``Authorization: Bearer fd_…``) or a cockpit session; viewers
read, operators may run checks now, admins manage users and tokens. Handlers are thin: they parse,
call one store or domain function, and shape the answer.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from flightdeck.access import create_token, disable_user, list_tokens, list_users, revoke_token
from flightdeck.access.errors import AccessPolicyError
from flightdeck.config.types import parse_duration
from flightdeck.engine.oneshot import run_checks_now
from flightdeck.errors import NotFoundError
from flightdeck.evidence import Evidence, Trigger, Verdict
from flightdeck.store import EvidenceFilter, get_evidence, list_evidence
from flightdeck.store.stats import check_summaries, series
from flightdeck.web.auth import AdminDep, OperatorDep, ViewerDep
from flightdeck.web.context import get_context
from flightdeck.web.queries import CheckQuery, StatusFilter, check_page, service_counts, total_counts
from flightdeck.web.schemas import (
    CheckDetailOut,
    CheckListOut,
    CheckOut,
    ErrorOut,
    EvidencePageOut,
    MeOut,
    SeriesOut,
    ServiceOut,
    TokenCreatedOut,
    TokenIn,
    TokenOut,
    UserOut,
)
from flightdeck.web.views import (
    TimeRange,
    load_check,
    load_services,
    parse_when,
    scrub_evidence,
    scrub_statuses,
)

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1",
    responses={
        401: {"model": ErrorOut, "description": "no valid token or session"},
        403: {"model": ErrorOut, "description": "the role does not allow it"},
    },
)

NameParam = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")]


def _bad(message: str) -> AccessPolicyError:
    return AccessPolicyError(message)


@router.get("/me", response_model=MeOut, tags=["access"], summary="Who the request is made as")
def me(who: ViewerDep) -> MeOut:
    return MeOut(name=who.name, role=who.role, method=who.method.value)


@router.get("/services", response_model=list[ServiceOut], tags=["services"], summary="Every service")
def services(request: Request, _: ViewerDep) -> list[ServiceOut]:
    ctx = get_context(request)
    with ctx.store.engine.connect() as conn:
        views = load_services(conn, ctx.config)
    return [
        ServiceOut(
            name=v.name,
            description=v.config.description,
            url=v.config.url,
            owner=v.config.owner,
            labels=v.config.labels,
            checks=v.counts.total,
            verdict=v.verdict,
            counts=v.counts.counts,
        )
        for v in views
    ]


@router.get("/checks", response_model=CheckListOut, tags=["checks"], summary="Checks with status and figures")
def checks(
    request: Request,
    _: ViewerDep,
    service: Annotated[str | None, Query(description="only this service's checks")] = None,
    kind: Annotated[str | None, Query(description="only checks of this kind")] = None,
    status: Annotated[StatusFilter, Query(description="by current verdict")] = StatusFilter.ALL,
    q: Annotated[str | None, Query(max_length=200, description="substring of service/check")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
    stats: Annotated[bool, Query(description="include uptime and latency figures")] = True,
) -> CheckListOut:
    """Failing checks first (error, fail, unknown, warn, pass), then by service and name."""
    ctx = get_context(request)
    query = CheckQuery(service=service, status=status, kind=kind, text=q, offset=offset, limit=limit)
    with ctx.store.engine.connect() as conn:
        by_service = service_counts(conn)
        page = check_page(conn, query, by_service)
        counts = total_counts(by_service)
        summaries = check_summaries(conn, [s.subject for s in page.items], ctx.now()) if stats else {}
    return CheckListOut(
        items=[CheckOut.of(s, summaries.get(s.subject)) for s in scrub_statuses(page.items, ctx.secrets)],
        total=page.total,
        offset=offset,
        limit=limit,
        counts=counts,
    )


@router.get(
    "/checks/{service}/{check}",
    response_model=CheckDetailOut,
    tags=["checks"],
    summary="One check: status, figures, last failure",
    responses={404: {"model": ErrorOut}},
)
def one_check(request: Request, _: ViewerDep, service: NameParam, check: NameParam) -> CheckDetailOut:
    ctx = get_context(request)
    with ctx.store.engine.connect() as conn:
        view = load_check(conn, ctx.config, service, check, ctx.now(), ctx.secrets)
    base = CheckOut.of(view.status, view.summary)
    spec = view.spec
    return CheckDetailOut(
        **base.model_dump(),
        description=spec.description if spec else "",
        interval_s=view.interval,
        cron=spec.cron if spec else None,
        timeout_s=(spec.timeout if spec.timeout is not None else ctx.config.defaults.timeout)
        if spec
        else None,
        labels=spec.labels if spec else {},
        configured=spec is not None,
        last_failure=view.last_failure,
    )


@router.post(
    "/checks/{service}/{check}/run",
    response_model=Evidence,
    tags=["checks"],
    summary="Run a check now (operator)",
    responses={404: {"model": ErrorOut}},
)
async def run_now(request: Request, _: OperatorDep, service: NameParam, check: NameParam) -> Evidence:
    """Runs the check once, records the evidence (trigger ``api``) and returns it."""
    ctx = get_context(request)
    results = await run_checks_now(ctx.config, ctx.store, f"{service}/{check}", trigger=Trigger.API)
    record = results[0].evidence
    if not isinstance(record, Evidence):  # pragma: no cover - a store was given, so it was recorded
        raise NotFoundError("the run was not recorded")
    return scrub_evidence(record, ctx.secrets)


@router.get(
    "/checks/{service}/{check}/series",
    response_model=SeriesOut,
    tags=["checks"],
    summary="A check's measurement over time, for charts",
    responses={404: {"model": ErrorOut}},
)
def check_series(
    request: Request,
    _: ViewerDep,
    service: NameParam,
    check: NameParam,
    range_: Annotated[
        TimeRange, Query(alias="range", description="ignored when since is given")
    ] = TimeRange.DAY,
    since: Annotated[str | None, Query(description="ISO time or duration ago (6h)")] = None,
    until: Annotated[str | None, Query(description="ISO time or duration ago; default now")] = None,
    measurement: Annotated[str | None, Query(description="default: duration_ms, the run's duration")] = None,
    max_points: Annotated[int, Query(ge=1, le=2000)] = 300,
) -> SeriesOut:
    ctx = get_context(request)
    now = ctx.now()
    try:
        end = parse_when(until, now) or now
        start = parse_when(since, now) or end - range_.width
    except ValueError as exc:
        raise _bad(str(exc)) from None
    if end <= start:
        raise _bad("until must be after since")
    subject = f"{service}/{check}"
    with ctx.store.engine.connect() as conn:
        load_check(conn, ctx.config, service, check, now, ctx.secrets)  # 404 for unknown checks
        data = series(conn, subject, start, end, measurement=measurement, max_points=max_points)
    return SeriesOut.of(data)


@router.get(
    "/evidence", response_model=EvidencePageOut, tags=["evidence"], summary="Evidence records, newest first"
)
def evidence_list(
    request: Request,
    _: ViewerDep,
    service: str | None = None,
    check: Annotated[str | None, Query(description="service/check, or a check name with service=")] = None,
    kind: str | None = None,
    verdict: Annotated[list[Verdict] | None, Query(description="repeat for several")] = None,
    trigger: Trigger | None = None,
    since: Annotated[str | None, Query(description="ISO time or duration ago (1h, 7d)")] = None,
    until: Annotated[str | None, Query(description="ISO time or duration ago")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[int | None, Query(ge=1, description="next_cursor of the previous page")] = None,
) -> EvidencePageOut:
    """Keyset-paged: follow ``next_cursor`` until it is null. Pages stay stable while new records
    arrive (they are newer than every page already read)."""
    ctx = get_context(request)
    now = ctx.now()
    subject: str | None = None
    if check:
        if "/" in check:
            subject = check
        elif service:
            subject = f"{service}/{check}"
        else:
            raise _bad("give check as service/check, or give service= too")
    try:
        f = EvidenceFilter(
            service=service,
            subject=subject,
            kind=kind,
            verdicts=tuple(verdict or ()),
            trigger=trigger,
            since=parse_when(since, now),
            until=parse_when(until, now),
        )
    except ValueError as exc:
        raise _bad(str(exc)) from None
    with ctx.store.engine.connect() as conn:
        page = list_evidence(conn, f, limit=limit, before_id=cursor)
    return EvidencePageOut(
        items=[scrub_evidence(e, ctx.secrets) for e in page.items], next_cursor=page.next_cursor
    )


@router.get(
    "/evidence/{evidence_id}",
    response_model=Evidence,
    tags=["evidence"],
    summary="One evidence record",
    responses={404: {"model": ErrorOut}},
)
def evidence_one(request: Request, _: ViewerDep, evidence_id: int) -> Evidence:
    ctx = get_context(request)
    with ctx.store.engine.connect() as conn:
        return scrub_evidence(get_evidence(conn, evidence_id), ctx.secrets)


@router.get("/users", response_model=list[UserOut], tags=["access"], summary="Users (admin)")
def users(request: Request, _: AdminDep) -> list[UserOut]:
    return [UserOut.of(u) for u in list_users(get_context(request).store)]


@router.post(
    "/users/{username}/disable",
    response_model=UserOut,
    tags=["access"],
    summary="Disable a user; its sessions end (admin)",
    responses={404: {"model": ErrorOut}},
)
def user_disable(request: Request, who: AdminDep, username: str) -> UserOut:
    if who.username is not None and who.username.lower() == username.lower():
        raise _bad("you cannot disable yourself")
    return UserOut.of(disable_user(get_context(request).store, username))


@router.get("/tokens", response_model=list[TokenOut], tags=["access"], summary="API tokens (admin)")
def tokens(request: Request, _: AdminDep) -> list[TokenOut]:
    ctx = get_context(request)
    now = ctx.now()
    return [TokenOut.of(t, now) for t in list_tokens(ctx.store)]


@router.post(
    "/tokens",
    response_model=TokenCreatedOut,
    status_code=201,
    tags=["access"],
    summary="Create an API token; the answer holds it, once (admin)",
)
def token_create(request: Request, who: AdminDep, body: TokenIn) -> JSONResponse:
    ctx = get_context(request)
    lifetime: timedelta | None = None
    if body.expires_in:
        try:
            lifetime = timedelta(seconds=parse_duration(body.expires_in))
        except ValueError as exc:
            raise _bad(f"expires_in: {exc}") from None
    value, record = create_token(ctx.store, body.name, body.role, lifetime, created_by=who.name)
    out = TokenCreatedOut(**TokenOut.of(record, ctx.now()).model_dump(), token=value)
    return JSONResponse(out.model_dump(mode="json"), status_code=201)


@router.delete(
    "/tokens/{token_id}",
    response_model=TokenOut,
    tags=["access"],
    summary="Revoke an API token (admin)",
    responses={404: {"model": ErrorOut}},
)
def token_revoke(request: Request, _: AdminDep, token_id: int) -> TokenOut:
    ctx = get_context(request)
    return TokenOut.of(revoke_token(ctx.store, str(token_id)), ctx.now())
