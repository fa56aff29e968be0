"""The alerting API: ``/api/v1/alerts``, ``/api/v1/incidents`` (list, stats, one incident, ack,
resolve, comment), ``/api/v1/silences`` and ``/api/v1/oncall`` (who is on call, iCalendar feeds).

Viewers read; operators acknowledge, resolve, comment and manage silences. Changes are made as the
logged-in user or ``token:NAME``, with ``via`` ``api`` in the timeline. Notifications are shown
without their payload, and staff addresses (phone numbers, emails) are masked for viewers.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from flightdeck.access import Role
from flightdeck.access.errors import AccessPolicyError
from flightdeck.alerting import incidents as incident_ops
from flightdeck.alerting.queries import (
    AlertFilter,
    IncidentFilter,
    incident_detail,
    list_alerts,
    list_incidents,
)
from flightdeck.alerting.silences import Matcher, create_silence, expire_silence, get_silence, list_silences
from flightdeck.config.types import parse_duration
from flightdeck.errors import NotFoundError
from flightdeck.evidence import scrub
from flightdeck.web.alerting_schemas import (
    ActionOut,
    AlertOut,
    CommentIn,
    EventOut,
    IncidentDetailOut,
    IncidentListOut,
    IncidentOut,
    IncidentStatsOut,
    OncallOut,
    ShiftOut,
    SilenceIn,
    SilenceOut,
)
from flightdeck.web.auth import OperatorDep, Principal, ViewerDep
from flightdeck.web.context import WebContext, get_context
from flightdeck.web.schemas import ErrorOut
from flightdeck.web.views import parse_when

if TYPE_CHECKING:
    from flightdeck.alerting.oncall import Shift

__all__ = [
    "incident_action",
    "make_silence",
    "oncall_now",
    "router",
    "schedule_ical",
    "stats_rows",
]

router = APIRouter(
    prefix="/api/v1",
    tags=["alerting"],
    responses={
        401: {"model": ErrorOut, "description": "no valid token or session"},
        403: {"model": ErrorOut, "description": "the role does not allow it"},
    },
)

ICAL_PAST = timedelta(days=7)


def incident_action(ctx: WebContext, incident_id: int, action: str, actor: str, via: str) -> bool:
    """Acknowledge (``ack``) or resolve (``resolve``) an incident; False when it already was."""
    op = incident_ops.acknowledge if action == "ack" else incident_ops.resolve_incident
    with ctx.store.engine.begin() as conn:
        return op(conn, incident_id, actor, ctx.now(), via=via)


def make_silence(
    ctx: WebContext,
    matchers: list[str],
    *,
    actor: str,
    comment: str,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    duration: str | None = None,
) -> int:
    """Create a silence from written matchers; :class:`AccessPolicyError` (400) on bad input."""
    now = ctx.now()
    try:
        parsed = [Matcher.parse(m) for m in matchers if m.strip()]
        if ends_at is None:
            if not duration:
                raise ValueError("give ends_at or duration")
            ends_at = (starts_at or now) + timedelta(seconds=parse_duration(duration))
        elif duration:
            raise ValueError("give ends_at or duration, not both")
        for name, value in (("starts_at", starts_at), ("ends_at", ends_at)):
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} needs a time zone (e.g. 2026-01-05T09:00:00Z)")
        with ctx.store.engine.begin() as conn:
            return create_silence(conn, parsed, starts_at, ends_at, actor, comment, now)
    except ValueError as exc:
        raise AccessPolicyError(str(exc)) from None


def _shift(value: Shift | None) -> ShiftOut | None:
    if value is None:
        return None
    return ShiftOut(user=value.user, start=value.start, end=value.end, override=bool(value.override))


def oncall_now(ctx: WebContext, schedule: str | None = None) -> list[OncallOut]:
    """Who is on call now and next, per schedule (or one schedule: NotFoundError if unknown)."""
    from flightdeck.alerting.oncall import current_and_next

    schedules = ctx.config.oncall.schedules
    if schedule is not None and schedule not in schedules:
        raise NotFoundError(f"no on-call schedule {schedule!r}")
    names = [schedule] if schedule is not None else list(schedules)
    now = ctx.now()
    out = []
    for name in names:
        current, upcoming = current_and_next(ctx.config, name, now)
        out.append(
            OncallOut(
                schedule=name,
                timezone=schedules[name].timezone,
                now=_shift(current),
                next=_shift(upcoming),
                ical=f"/api/v1/oncall/{name}.ics",
            )
        )
    return out


def schedule_ical(ctx: WebContext, schedule: str, days: int) -> bytes:
    """The schedule's shifts from a week ago to ``days`` ahead, as iCalendar."""
    from flightdeck.alerting.ical import ical

    if schedule not in ctx.config.oncall.schedules:
        raise NotFoundError(f"no on-call schedule {schedule!r}")
    now = ctx.now()
    return ical(ctx.config, schedule, now - ICAL_PAST, now + timedelta(days=days), stamp=now)


def stats_rows(
    ctx: WebContext, since: datetime, until: datetime, service: str | None
) -> list[IncidentStatsOut]:
    """MTTA/MTTR per service and calendar month (UTC)."""
    from flightdeck.alerting.stats import incident_stats

    with ctx.store.engine.connect() as conn:
        rows = incident_stats(conn, since, until, service=service)
    return [IncidentStatsOut.model_validate(dataclasses.asdict(row)) for row in rows]


def _full_addresses(who: Principal) -> bool:
    return who.role.allows(Role.OPERATOR)


@router.get("/alerts", response_model=list[AlertOut], summary="Alerts: active by default")
def alerts(
    request: Request,
    _: ViewerDep,
    state: Annotated[
        AlertFilter, Query(description="active, firing, pending, resolved or all")
    ] = AlertFilter.ACTIVE,
    service: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[AlertOut]:
    ctx = get_context(request)
    with ctx.store.engine.connect() as conn:
        rows = list_alerts(conn, state, service=service, limit=limit)
    return [AlertOut.of(a) for a in rows]


@router.get("/incidents", response_model=IncidentListOut, summary="Incidents, newest first")
def incidents(
    request: Request,
    _: ViewerDep,
    status: Annotated[IncidentFilter, Query(description="open, triggered, acknowledged, resolved or all")] = (
        IncidentFilter.OPEN
    ),
    service: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: Annotated[int | None, Query(ge=1, description="older than this incident (paging)")] = None,
) -> IncidentListOut:
    ctx = get_context(request)
    with ctx.store.engine.connect() as conn:
        page = list_incidents(conn, status, service=service, limit=limit, before_id=before_id)
    return IncidentListOut(items=[IncidentOut.of(i) for i in page.items], next_before=page.next_before)


@router.get(
    "/incidents/stats",
    response_model=list[IncidentStatsOut],
    summary="MTTA and MTTR per service and calendar month (UTC)",
)
def incident_stats(
    request: Request,
    _: ViewerDep,
    since: Annotated[str, Query(description="ISO time or a duration ago (90d)")] = "90d",
    until: Annotated[str | None, Query(description="ISO time or a duration ago; default now")] = None,
    service: Annotated[str | None, Query(max_length=100)] = None,
) -> list[IncidentStatsOut]:
    ctx = get_context(request)
    now = ctx.now()
    try:
        start = parse_when(since, now) or now - timedelta(days=90)
        end = parse_when(until, now) or now
    except ValueError as exc:
        raise AccessPolicyError(str(exc)) from None
    return stats_rows(ctx, start, end, service)


@router.get(
    "/incidents/{incident_id}",
    response_model=IncidentDetailOut,
    summary="One incident with its alerts, timeline and notifications",
    responses={404: {"model": ErrorOut}},
)
def incident(request: Request, who: ViewerDep, incident_id: int) -> IncidentDetailOut:
    ctx = get_context(request)
    with ctx.store.engine.connect() as conn:
        detail = incident_detail(conn, incident_id)
    return IncidentDetailOut.of_detail(
        detail, full_address=_full_addresses(who), scrub=lambda text: scrub(text, ctx.secrets)
    )


def _action(request: Request, who: Principal, incident_id: int, action: str) -> ActionOut:
    ctx = get_context(request)
    changed = incident_action(ctx, incident_id, action, who.name, "api")
    with ctx.store.engine.connect() as conn:
        row = incident_ops.get_incident(conn, incident_id)
    return ActionOut(changed=changed, incident=IncidentOut.of(row))


@router.post(
    "/incidents/{incident_id}/ack",
    response_model=ActionOut,
    summary="Acknowledge an incident: escalation stops",
    responses={404: {"model": ErrorOut}},
)
def ack(request: Request, who: OperatorDep, incident_id: int) -> ActionOut:
    return _action(request, who, incident_id, "ack")


@router.post(
    "/incidents/{incident_id}/resolve",
    response_model=ActionOut,
    summary="Resolve an incident and its alerts",
    responses={404: {"model": ErrorOut}},
)
def resolve(request: Request, who: OperatorDep, incident_id: int) -> ActionOut:
    return _action(request, who, incident_id, "resolve")


@router.post(
    "/incidents/{incident_id}/comments",
    response_model=EventOut,
    status_code=201,
    summary="Add a comment to the incident's timeline",
    responses={404: {"model": ErrorOut}},
)
def add_comment(request: Request, who: OperatorDep, incident_id: int, body: CommentIn) -> EventOut:
    ctx = get_context(request)
    try:
        with ctx.store.engine.begin() as conn:
            incident_ops.comment(conn, incident_id, who.name, body.text, ctx.now())
    except ValueError as exc:
        raise AccessPolicyError(str(exc)) from None
    with ctx.store.engine.connect() as conn:
        last = incident_detail(conn, incident_id).timeline[-1]
    return EventOut.of(last)


@router.get("/silences", response_model=list[SilenceOut], summary="Silences: active and pending by default")
def silences(
    request: Request,
    _: ViewerDep,
    include_all: Annotated[
        bool, Query(alias="all", description="include ended and expired silences")
    ] = False,
) -> list[SilenceOut]:
    ctx = get_context(request)
    now = ctx.now()
    with ctx.store.engine.connect() as conn:
        rows = list_silences(conn, now, include_expired=include_all)
    return [SilenceOut.of(s, now) for s in rows]


@router.post("/silences", response_model=SilenceOut, status_code=201, summary="Create a silence")
def add_silence(request: Request, who: OperatorDep, body: SilenceIn) -> SilenceOut:
    ctx = get_context(request)
    silence_id = make_silence(
        ctx,
        body.matchers,
        actor=who.name,
        comment=body.comment,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        duration=body.duration,
    )
    with ctx.store.engine.connect() as conn:
        return SilenceOut.of(get_silence(conn, silence_id), ctx.now())


@router.delete(
    "/silences/{silence_id}",
    response_model=SilenceOut,
    summary="Expire a silence now",
    responses={404: {"model": ErrorOut}},
)
def expire(request: Request, who: OperatorDep, silence_id: int) -> SilenceOut:
    ctx = get_context(request)
    now = ctx.now()
    with ctx.store.engine.begin() as conn:
        expire_silence(conn, silence_id, who.name, now)
        return SilenceOut.of(get_silence(conn, silence_id), now)


@router.get("/oncall", response_model=list[OncallOut], summary="Who is on call now and next, per schedule")
def oncall(
    request: Request,
    _: ViewerDep,
    schedule: Annotated[str | None, Query(max_length=100)] = None,
) -> list[OncallOut]:
    return oncall_now(get_context(request), schedule)


@router.get(
    "/oncall/{schedule}.ics",
    summary="A schedule's shifts as an iCalendar feed",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}, 404: {"model": ErrorOut}},
)
def oncall_ical(
    request: Request,
    _: ViewerDep,
    schedule: str,
    days: Annotated[int, Query(ge=1, le=366, description="days ahead")] = 90,
) -> Response:
    body = schedule_ical(get_context(request), schedule, days)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"content-disposition": f'inline; filename="{schedule}.ics"'},
    )
