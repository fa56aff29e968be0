"""Cockpit sessions.

A login creates a random 256-bit session token; the browser keeps it in an HttpOnly cookie and
the store keeps only its SHA-256, so a copy of the database does not let anyone log in. A session
expires ``server.session_ttl`` after login (not extended by use), when its user is disabled, or
at logout. Each session carries its own CSRF token for state-changing forms.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update

from flightdeck.access.users import User, user_from
from flightdeck.errors import AuthenticationError
from flightdeck.store import Store
from flightdeck.store.tables import sessions, users

__all__ = [
    "Session",
    "create_session",
    "csrf_matches",
    "end_session",
    "purge_expired_sessions",
    "resolve_session",
    "session_id",
]

_TOUCH_EVERY = timedelta(seconds=60)  # last_seen_at is written at most this often per session


@dataclass(frozen=True)
class Session:
    id: str  # SHA-256 of the cookie value; the value itself is never stored
    user: User
    csrf_token: str
    created_at: datetime
    expires_at: datetime
    last_seen_at: datetime


def session_id(cookie_value: str) -> str:
    return hashlib.sha256(cookie_value.encode()).hexdigest()


def create_session(store: Store, user: User, ttl: float) -> tuple[str, Session]:
    """Start a session for ``user`` lasting ``ttl`` seconds; returns (cookie value, session)."""
    if not user.active:
        raise AuthenticationError("user is disabled")
    value = secrets.token_urlsafe(32)
    now = store.clock.now()
    s = Session(
        id=session_id(value),
        user=user,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + timedelta(seconds=ttl),
        last_seen_at=now,
    )
    with store.engine.begin() as conn:
        conn.execute(
            insert(sessions).values(
                id=s.id,
                user_id=user.id,
                csrf_token=s.csrf_token,
                created_at=s.created_at,
                expires_at=s.expires_at,
                last_seen_at=s.last_seen_at,
            )
        )
    return value, s


def resolve_session(store: Store, cookie_value: str) -> Session:
    """The live session a cookie names; :class:`AuthenticationError` when it is unknown, expired,
    or its user is disabled."""
    if not cookie_value or len(cookie_value) > 200:
        raise AuthenticationError("no session")
    sid = session_id(cookie_value)
    now = store.clock.now()
    stmt = (
        select(
            sessions,
            users.c.username,
            users.c.role,
            users.c.disabled_at,
            users.c.created_at.label("user_created_at"),
        )
        .join(users, users.c.id == sessions.c.user_id)
        .where(sessions.c.id == sid)
    )
    with store.engine.connect() as conn:
        row = conn.execute(stmt).first()
    if row is None:
        raise AuthenticationError("session unknown or ended")
    m = row._mapping
    if m["expires_at"] <= now:
        with store.engine.begin() as conn:
            conn.execute(delete(sessions).where(sessions.c.id == sid))
        raise AuthenticationError("session expired")
    if m["disabled_at"] is not None:
        raise AuthenticationError("user is disabled")
    last_seen: datetime = m["last_seen_at"]
    if now - last_seen >= _TOUCH_EVERY:
        with store.engine.begin() as conn:
            conn.execute(update(sessions).where(sessions.c.id == sid).values(last_seen_at=now))
        last_seen = now
    user = user_from(
        {
            "id": m["user_id"],
            "username": m["username"],
            "role": m["role"],
            "created_at": m["user_created_at"],
            "disabled_at": None,
        }
    )
    return Session(
        id=sid,
        user=user,
        csrf_token=m["csrf_token"],
        created_at=m["created_at"],
        expires_at=m["expires_at"],
        last_seen_at=last_seen,
    )


def csrf_matches(session: Session, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(session.csrf_token.encode(), (presented or "").encode())


def end_session(store: Store, cookie_value: str) -> bool:
    """Log out: delete the session. True when there was one."""
    with store.engine.begin() as conn:
        result = conn.execute(delete(sessions).where(sessions.c.id == session_id(cookie_value)))
    return result.rowcount > 0


def purge_expired_sessions(store: Store) -> int:
    with store.engine.begin() as conn:
        result = conn.execute(delete(sessions).where(sessions.c.expires_at <= store.clock.now()))
    return int(result.rowcount)
