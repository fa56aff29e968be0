"""The cockpit's alerting pages.

- ``/alerts``: open alerts (severity, rule, service, since when, what suppresses them, the incident).
- ``/incidents``: incidents by status, with acknowledge and resolve buttons for operators.
- ``/incidents/{incident_id}``: one incident — alerts, the timeline of every event, notification
  attempts with dead letters highlighted, MTTA/MTTR, comment form, acknowledge and resolve buttons.
- ``/oncall``: who is on call now and next per schedule, with each schedule's iCalendar feed.
- ``/silences``: active and pending silences (all with ``?all=1``), a form to create one, expire buttons.

Forms post with the session's CSRF token and redirect back (303).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from flightdeck.access import Role
from flightdeck.access.errors import AccessPolicyError
from flightdeck.alerting import incidents as incident_ops
from flightdeck.alerting.queries import (
    AlertFilter,
    IncidentFilter,
    counts,
    incident_detail,
    list_alerts,
    list_incidents,
    mask_address,
)
from flightdeck.alerting.silences import expire_silence, list_silences
from flightdeck.evidence import scrub
from flightdeck.web.alerting_api import incident_action, make_silence, oncall_now
from flightdeck.web.auth import OperatorDep, ViewerDep
from flightdeck.web.context import get_context
from flightdeck.web.pages import render, safe_next

__all__ = ["duration_text", "router"]

router = APIRouter(include_in_schema=False)

_PAGE = 50


def duration_text(seconds: float | None) -> str:
    """``95`` → ``1 min 35 s``; ``None`` → ``—``."""
    if seconds is None:
        return "—"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s" if s % 60 else f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min" if s % 3600 // 60 else f"{s // 3600} h"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def _here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(
    request: Request,
    who: ViewerDep,
    state: Annotated[AlertFilter, Query()] = AlertFilter.ACTIVE,
    service: Annotated[str | None, Query(max_length=100)] = None,
) -> HTMLResponse:
    ctx = get_context(request)
    with ctx.store.engine.connect() as conn:
        rows = list_alerts(conn, state, service=service or None, limit=500)
        summary = counts(conn)
    return render(
        request,
        "alerts.html",
        {"alerts": rows, "counts": summary, "filters": {"state": state.value, "service": service or ""}},
        who=who,
        refresh=True,
    )


@router.get("/incidents", response_class=HTMLResponse)
def incidents_page(
    request: Request,
    who: ViewerDep,
    status: Annotated[IncidentFilter, Query()] = IncidentFilter.OPEN,
    service: Annotated[str | None, Query(max_length=100)] = None,
    before_id: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    ctx = get_context(request)
    with ctx.store.engine.connect() as conn:
        page = list_incidents(conn, status, service=service or None, limit=_PAGE, before_id=before_id)
        summary = counts(conn)
    return render(
        request,
        "incidents.html",
        {
            "page": page,
            "counts": summary,
            "filters": {"status": status.value, "service": service or ""},
            "here": _here(request),
            "operator": who.role.allows(Role.OPERATOR),
        },
        who=who,
        refresh=before_id is None,
    )


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(request: Request, who: ViewerDep, incident_id: int) -> HTMLResponse:
    ctx = get_context(request)
    with ctx.store.engine.connect() as conn:
        detail = incident_detail(conn, incident_id)
    operator = who.role.allows(Role.OPERATOR)
    return render(
        request,
        "incident.html",
        {
            "d": detail,
            "i": detail.incident,
            "operator": operator,
            "address": (lambda a: a) if operator else mask_address,
            "clean": lambda text: scrub(text, ctx.secrets) if text else text,
            "duration": duration_text,
            "here": _here(request),
        },
        who=who,
        refresh=True,
    )


def _back(next_url: str, fallback: str) -> RedirectResponse:
    return RedirectResponse(safe_next(next_url) if next_url else fallback, status_code=303)


@router.post("/incidents/{incident_id}/ack")
def ack_form(
    request: Request, who: OperatorDep, incident_id: int, next: Annotated[str, Form(max_length=2000)] = ""
) -> Response:
    incident_action(get_context(request), incident_id, "ack", who.name, "cockpit")
    return _back(next, f"/incidents/{incident_id}")


@router.post("/incidents/{incident_id}/resolve")
def resolve_form(
    request: Request, who: OperatorDep, incident_id: int, next: Annotated[str, Form(max_length=2000)] = ""
) -> Response:
    incident_action(get_context(request), incident_id, "resolve", who.name, "cockpit")
    return _back(next, f"/incidents/{incident_id}")


@router.post("/incidents/{incident_id}/comments")
def comment_form(
    request: Request,
    who: OperatorDep,
    incident_id: int,
    text: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    ctx = get_context(request)
    try:
        with ctx.store.engine.begin() as conn:
            incident_ops.comment(conn, incident_id, who.name, text, ctx.now())
    except ValueError as exc:
        raise AccessPolicyError(str(exc)) from None
    return RedirectResponse(f"/incidents/{incident_id}#timeline", status_code=303)


@router.get("/oncall", response_class=HTMLResponse)
def oncall_page(request: Request, who: ViewerDep) -> HTMLResponse:
    ctx = get_context(request)
    return render(
        request, "oncall.html", {"rows": oncall_now(ctx), "users": ctx.config.oncall.users}, who=who
    )


@router.get("/silences", response_class=HTMLResponse)
def silences_page(
    request: Request,
    who: ViewerDep,
    include_all: Annotated[bool, Query(alias="all")] = False,
) -> HTMLResponse:
    ctx = get_context(request)
    now = ctx.now()
    with ctx.store.engine.connect() as conn:
        rows = list_silences(conn, now, include_expired=include_all)
    return render(
        request,
        "silences.html",
        {"silences": rows, "show_all": include_all, "operator": who.role.allows(Role.OPERATOR)},
        who=who,
    )


@router.post("/silences")
def silence_form(
    request: Request,
    who: OperatorDep,
    matchers: Annotated[str, Form(max_length=4000)] = "",
    duration: Annotated[str, Form(max_length=20)] = "2h",
    comment: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    lines = [m.strip() for m in matchers.splitlines() if m.strip()]
    make_silence(get_context(request), lines, actor=who.name, comment=comment, duration=duration)
    return RedirectResponse("/silences", status_code=303)


@router.post("/silences/{silence_id}/expire")
def expire_form(request: Request, who: OperatorDep, silence_id: int) -> Response:
    ctx = get_context(request)
    with ctx.store.engine.begin() as conn:
        expire_silence(conn, silence_id, who.name, ctx.now())
    return RedirectResponse("/silences", status_code=303)
