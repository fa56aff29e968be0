"""Signed ack/resolve links, ``/a/{token}``, as included in every notification.

No login is needed: the link is the credential (HMAC-signed, expiring; see
:mod:`flightdeck.alerting.links`). ``GET`` only shows what the link would do and a button — mail
scanners and chat previews fetch links, and fetching must change nothing. ``POST`` does it (actor
``link``, via ``link``); doing it twice changes nothing the second time. A forged or altered link is
a 403 page, an expired one a 410 page pointing to the cockpit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from flightdeck.alerting.errors import LinkError
from flightdeck.alerting.incidents import IncidentRow, acknowledge, get_incident, resolve_incident
from flightdeck.alerting.links import SignedLink, link_key, verify_link
from flightdeck.errors import NotFoundError
from flightdeck.web.context import WebContext, get_context
from flightdeck.web.pages import render

__all__ = ["LINK_ACTOR", "router"]

router = APIRouter(include_in_schema=False)

LINK_ACTOR = "link"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_VERBS = {"ack": "Acknowledge", "resolve": "Resolve"}


@dataclass(frozen=True)
class _Checked:
    link: SignedLink | None
    status: int
    problem: str | None


def _check(ctx: WebContext, token: str) -> _Checked:
    key = link_key(ctx.config)
    try:
        return _Checked(verify_link(key, token, ctx.now()), 200, None)
    except LinkError as exc:
        problem = str(exc)
    try:
        verify_link(key, token, _EPOCH)  # genuine, so the only fault is its age
    except LinkError:
        return _Checked(None, 403, problem)
    return _Checked(None, 410, problem)


def _page(
    request: Request,
    status: int,
    *,
    link: SignedLink | None = None,
    incident: IncidentRow | None = None,
    problem: str | None = None,
    done: bool | None = None,
) -> HTMLResponse:
    return render(
        request,
        "link.html",
        {
            "link": link,
            "incident": incident,
            "verb": _VERBS[link.action] if link else None,
            "problem": problem,
            "status": status,
            "done": done,
        },
        who=None,
        status_code=status,
    )


def _incident(ctx: WebContext, incident_id: int) -> IncidentRow:
    with ctx.store.engine.connect() as conn:
        return get_incident(conn, incident_id)


@router.get("/a/{token}", response_class=HTMLResponse)
async def confirm(request: Request, token: str) -> HTMLResponse:
    ctx = get_context(request)
    checked = await run_in_threadpool(_check, ctx, token)
    if checked.link is None:
        return _page(request, checked.status, problem=checked.problem)
    try:
        incident = await run_in_threadpool(_incident, ctx, checked.link.incident_id)
    except NotFoundError as exc:
        return _page(request, 404, problem=str(exc))
    return _page(request, 200, link=checked.link, incident=incident)


def _perform(ctx: WebContext, link: SignedLink) -> bool:
    op = acknowledge if link.action == "ack" else resolve_incident
    with ctx.store.engine.begin() as conn:
        return op(conn, link.incident_id, LINK_ACTOR, ctx.now(), via="link")


@router.post("/a/{token}", response_class=HTMLResponse)
async def perform(request: Request, token: str) -> HTMLResponse:
    ctx = get_context(request)
    checked = await run_in_threadpool(_check, ctx, token)
    if checked.link is None:
        return _page(request, checked.status, problem=checked.problem)
    try:
        changed = await run_in_threadpool(_perform, ctx, checked.link)
        incident = await run_in_threadpool(_incident, ctx, checked.link.incident_id)
    except NotFoundError as exc:
        return _page(request, 404, problem=str(exc))
    return _page(request, 200, link=checked.link, incident=incident, done=changed)
