"""Who is asking, and may they: request dependencies for the API and the cockpit.

A request is authenticated by an ``Authorization: Bearer fd_…`` API token or, failing that, by the
cockpit's session cookie. When an ``Authorization`` header is present it alone counts (a bad token
is a 401 even with a valid cookie). Requests that change something and are authenticated by the
cookie must also carry the session's CSRF token — the ``csrf`` form field or the ``X-CSRF-Token``
header — and must not come from another site (``Sec-Fetch-Site: cross-site``). Token requests
need no CSRF token: browsers never send the header on their own.
"""

from __future__ import annotations

import enum
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from flightdeck.access import ApiToken, Role, Session, authenticate_token, csrf_matches, resolve_session
from flightdeck.errors import AuthenticationError, PermissionDeniedError
from flightdeck.web.context import get_context

__all__ = [
    "SAFE_METHODS",
    "AdminDep",
    "AuthMethod",
    "CsrfError",
    "OperatorDep",
    "Principal",
    "ViewerDep",
    "authenticate",
    "check_login_csrf",
    "csrf_checked",
    "new_login_csrf",
    "principal",
    "require",
]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="An API token made with `flightdeck token create`: `Authorization: Bearer fd_…`",
)


class AuthMethod(enum.StrEnum):
    SESSION = "session"
    TOKEN = "token"  # noqa: S105 - a method's name


class CsrfError(PermissionDeniedError):
    """A state-changing request with a session cookie but without the session's CSRF token."""


@dataclass(frozen=True)
class Principal:
    """The user (cockpit session) or token (API) a request is made as."""

    name: str
    role: Role
    method: AuthMethod
    session: Session | None = None
    token: ApiToken | None = None

    @property
    def csrf_token(self) -> str | None:
        return self.session.csrf_token if self.session is not None else None

    @property
    def username(self) -> str | None:
        return self.session.user.username if self.session is not None else None


def authenticate(request: Request) -> Principal:
    """The request's principal; :class:`AuthenticationError` when it has no valid credentials."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    ctx = get_context(request)
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise AuthenticationError("expected Authorization: Bearer fd_…")
        token = authenticate_token(ctx.store, value.strip())
        found = Principal(f"token:{token.name}", token.role, AuthMethod.TOKEN, token=token)
    else:
        cookie = request.cookies.get(ctx.session_cookie)
        if not cookie:
            raise AuthenticationError("authentication required: log in, or send Authorization: Bearer fd_…")
        session = resolve_session(ctx.store, cookie)
        found = Principal(session.user.username, session.user.role, AuthMethod.SESSION, session=session)
    request.state.principal = found
    return found


def principal(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)] = None,
) -> Principal:
    """Dependency: any authenticated principal (401 otherwise)."""
    return authenticate(request)


def _same_site(request: Request) -> bool:
    return request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")


async def csrf_checked(request: Request, who: Annotated[Principal, Depends(principal)]) -> Principal:
    """Dependency: the principal, after the CSRF check for state-changing cookie requests."""
    if request.method in SAFE_METHODS or who.method is AuthMethod.TOKEN or who.session is None:
        return who
    if not _same_site(request):
        raise CsrfError("cross-site request refused")
    presented = request.headers.get("x-csrf-token")
    if presented is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf")
        presented = value if isinstance(value, str) else None
    if not csrf_matches(who.session, presented):
        raise CsrfError("missing or wrong CSRF token: reload the page and try again")
    return who


def require(role: Role) -> Callable[[Principal], Principal]:
    """Dependency factory: an authenticated principal whose role is ``role`` or above (403 otherwise)."""

    def dependency(who: Annotated[Principal, Depends(csrf_checked)]) -> Principal:
        if not who.role.allows(role):
            raise PermissionDeniedError(
                f"this needs the {role.value} role; {who.name} has the {who.role.value} role"
            )
        return who

    dependency.__name__ = f"require_{role.value}"
    return dependency


ViewerDep = Annotated[Principal, Depends(require(Role.VIEWER))]
OperatorDep = Annotated[Principal, Depends(require(Role.OPERATOR))]
AdminDep = Annotated[Principal, Depends(require(Role.ADMIN))]


def new_login_csrf() -> str:
    """A fresh value for the login form's double-submit cookie and hidden field."""
    return secrets.token_urlsafe(24)


def check_login_csrf(request: Request, field: str | None) -> bool:
    """The login form's hidden field matches its cookie, and the form was posted from this site."""
    cookie = request.cookies.get(get_context(request).login_cookie)
    if not cookie or not field or not _same_site(request):
        return False
    return hmac.compare_digest(cookie.encode(), field.encode())
