"""Logging in and out of the cockpit, and the admin's access page (users and API tokens)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from flightdeck.access import (
    LoginThrottledError,
    create_token,
    disable_user,
    end_session,
    list_tokens,
    list_users,
    log_in,
    revoke_token,
)
from flightdeck.access.errors import AccessPolicyError
from flightdeck.access.roles import Role
from flightdeck.config.types import parse_duration
from flightdeck.errors import AuthenticationError
from flightdeck.web.auth import AdminDep, ViewerDep, authenticate, check_login_csrf
from flightdeck.web.context import get_context
from flightdeck.web.pages import render, render_login, safe_next

__all__ = ["router"]

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

EXPIRY_CHOICES = ("7d", "30d", "90d", "365d", "never")


def _client(request: Request) -> str | None:
    return request.client.host if request.client is not None else None


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    try:
        authenticate(request)
    except AuthenticationError:
        return render_login(request, status_code=200, next_url=safe_next(next))
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    username: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    ctx = get_context(request)
    target = safe_next(next)
    if not check_login_csrf(request, csrf):
        return render_login(
            request,
            status_code=400,
            error="The form expired; please try again.",
            next_url=target,
            username=username,
        )
    try:
        cookie, session = log_in(
            ctx.store,
            ctx.throttle,
            username.strip(),
            password,
            ctx.config.server.session_ttl,
            _client(request),
        )
    except LoginThrottledError as exc:
        # The attempted name is not logged: people type passwords into the wrong field.
        log.warning("login from %s refused: too many failures", _client(request))
        response = render_login(
            request,
            status_code=429,
            error=f"Too many failed logins. Try again in {exc.retry_after} s.",
            next_url=target,
            username=username,
        )
        response.headers["retry-after"] = str(exc.retry_after)
        return response
    except AuthenticationError:
        log.info("failed login from %s", _client(request))
        return render_login(
            request, status_code=401, error="Wrong user name or password.", next_url=target, username=username
        )
    log.info("%s logged in from %s", session.user.username, _client(request))
    redirect = RedirectResponse(target, status_code=303)
    redirect.set_cookie(
        ctx.session_cookie,
        cookie,
        max_age=int(ctx.config.server.session_ttl),
        path="/",
        httponly=True,
        secure=ctx.secure_cookies,
        samesite="lax",
    )
    redirect.delete_cookie(
        ctx.login_cookie, path="/", secure=ctx.secure_cookies, httponly=True, samesite="strict"
    )
    return redirect


@router.post("/logout")
def logout(request: Request, who: ViewerDep) -> RedirectResponse:
    ctx = get_context(request)
    cookie = request.cookies.get(ctx.session_cookie)
    if cookie:
        end_session(ctx.store, cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(
        ctx.session_cookie, path="/", secure=ctx.secure_cookies, httponly=True, samesite="lax"
    )
    return response


def _access_page(
    request: Request, who: AdminDep, new_token: str | None = None, error: str | None = None
) -> Response:
    ctx = get_context(request)
    now = ctx.now()
    tokens = list_tokens(ctx.store)
    return render(
        request,
        "access.html",
        {
            "users": list_users(ctx.store),
            "tokens": [(t, t.state(now)) for t in reversed(tokens)],
            "roles": list(Role),
            "expiries": EXPIRY_CHOICES,
            "new_token": new_token,
            "error": error,
        },
        who=who,
        status_code=400 if error else 200,
    )


@router.get("/access", response_class=HTMLResponse)
def access(request: Request, who: AdminDep) -> Response:
    return _access_page(request, who)


@router.post("/access/tokens", response_class=HTMLResponse)
def access_create_token(
    request: Request,
    who: AdminDep,
    name: Annotated[str, Form(max_length=100)],
    role: Annotated[Role, Form()] = Role.VIEWER,
    expires: Annotated[str, Form(max_length=20)] = "90d",
) -> Response:
    ctx = get_context(request)
    try:
        lifetime = None if expires == "never" else timedelta(seconds=parse_duration(expires))
        value, _record = create_token(ctx.store, name.strip(), role, lifetime, created_by=who.name)
    except (ValueError, AccessPolicyError) as exc:
        return _access_page(request, who, error=str(exc))
    log.info("%s created API token %r (%s)", who.name, name, role.value)
    return _access_page(request, who, new_token=value)


@router.post("/access/tokens/{token_id}/revoke")
def access_revoke_token(request: Request, who: AdminDep, token_id: int) -> RedirectResponse:
    token = revoke_token(get_context(request).store, str(token_id))
    log.info("%s revoked API token %r (id %d)", who.name, token.name, token.id)
    return RedirectResponse("/access", status_code=303)


@router.post("/access/users/{username}/disable")
def access_disable_user(request: Request, who: AdminDep, username: str) -> Response:
    if who.username is not None and who.username.lower() == username.lower():
        return _access_page(request, who, error="You cannot disable yourself.")
    disable_user(get_context(request).store, username)
    log.info("%s disabled user %r", who.name, username)
    return RedirectResponse("/access", status_code=303)
