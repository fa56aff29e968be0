"""API tokens for scripts: ``Authorization: Bearer fd_…``.

A token is ``fd_`` followed by 43 random URL-safe characters (256 bits). It is shown once, when it
is created; the store keeps its SHA-256 and its first characters (``prefix``, e.g. ``fd_x3Jk9aQe``)
so that people can tell tokens apart in listings. A token has a role, may expire, can be revoked,
and records when it was last used (to the minute).
"""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update

from flightdeck.access.errors import AccessPolicyError
from flightdeck.access.roles import Role
from flightdeck.errors import AuthenticationError, NotFoundError
from flightdeck.store import Store
from flightdeck.store.tables import api_tokens

__all__ = [
    "TOKEN_PREFIX",
    "ApiToken",
    "TokenState",
    "authenticate_token",
    "create_token",
    "find_token",
    "list_tokens",
    "revoke_token",
    "token_hash",
]

TOKEN_PREFIX = "fd_"  # noqa: S105 - the tokens' visible marker, not a secret
_SHOWN = len(TOKEN_PREFIX) + 8  # characters kept as the token's visible prefix
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@ -]{0,99}$")
_SHAPE = re.compile(r"^fd_[A-Za-z0-9_-]{20,100}$")
_TOUCH_EVERY = timedelta(seconds=60)


class TokenState(enum.StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True)
class ApiToken:
    id: int
    name: str
    prefix: str
    role: Role
    created_by: str | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    def state(self, now: datetime) -> TokenState:
        if self.revoked_at is not None:
            return TokenState.REVOKED
        if self.expires_at is not None and self.expires_at <= now:
            return TokenState.EXPIRED
        return TokenState.ACTIVE


def _token(row: Any) -> ApiToken:
    m = row._mapping
    return ApiToken(
        id=int(m["id"]),
        name=m["name"],
        prefix=m["prefix"],
        role=Role(m["role"]),
        created_by=m["created_by"],
        created_at=m["created_at"],
        expires_at=m["expires_at"],
        last_used_at=m["last_used_at"],
        revoked_at=m["revoked_at"],
    )


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    store: Store,
    name: str,
    role: Role | str,
    expires: timedelta | float | None = None,
    created_by: str | None = None,
) -> tuple[str, ApiToken]:
    """Create a token; returns (the token itself — shown once, never stored —, its record).

    ``expires`` is a lifetime (a ``timedelta`` or seconds); ``None`` means it does not expire.
    """
    if not _NAME.match(name):
        raise AccessPolicyError(
            f"{name!r} is not a valid token name: letters, digits, spaces and '_.:@-', at most 100"
        )
    try:
        r = role if isinstance(role, Role) else Role.parse(role)
    except ValueError as exc:
        raise AccessPolicyError(str(exc)) from None
    lifetime = expires if isinstance(expires, timedelta) or expires is None else timedelta(seconds=expires)
    if lifetime is not None and lifetime <= timedelta(0):
        raise AccessPolicyError("a token's lifetime must be positive")
    now = store.clock.now()
    value = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = now + lifetime if lifetime is not None else None
    with store.engine.begin() as conn:
        result = conn.execute(
            insert(api_tokens)
            .values(
                name=name,
                prefix=value[:_SHOWN],
                token_hash=token_hash(value),
                role=r.value,
                created_by=created_by,
                created_at=now,
                expires_at=expires_at,
            )
            .returning(api_tokens.c.id)
        )
        token_id = int(result.scalar_one())
    record = ApiToken(token_id, name, value[:_SHOWN], r, created_by, now, expires_at, None, None)
    return value, record


def authenticate_token(store: Store, presented: str) -> ApiToken:
    """The active token ``presented`` is; :class:`AuthenticationError` when it is malformed,
    unknown, expired or revoked. Records the time of use (at most once a minute)."""
    if not _SHAPE.match(presented):
        raise AuthenticationError("malformed token (expected fd_…)")
    now = store.clock.now()
    with store.engine.connect() as conn:
        row = conn.execute(select(api_tokens).where(api_tokens.c.token_hash == token_hash(presented))).first()
    if row is None:
        raise AuthenticationError("unknown token")
    token = _token(row)
    state = token.state(now)
    if state is not TokenState.ACTIVE:
        raise AuthenticationError(f"token {state.value}")
    if token.last_used_at is None or now - token.last_used_at >= _TOUCH_EVERY:
        with store.engine.begin() as conn:
            conn.execute(update(api_tokens).where(api_tokens.c.id == token.id).values(last_used_at=now))
    return token


def list_tokens(store: Store, include_revoked: bool = True) -> list[ApiToken]:
    stmt = select(api_tokens).order_by(api_tokens.c.id)
    if not include_revoked:
        stmt = stmt.where(api_tokens.c.revoked_at.is_(None))
    with store.engine.connect() as conn:
        return [_token(r) for r in conn.execute(stmt).all()]


def _find(conn: Connection, ref: str) -> ApiToken:
    ref = ref.strip()
    if ref.isdigit():
        clause = api_tokens.c.id == int(ref)
    elif ref.startswith(TOKEN_PREFIX):
        clause = or_(api_tokens.c.prefix == ref[:_SHOWN], api_tokens.c.token_hash == token_hash(ref))
    else:
        clause = api_tokens.c.name == ref
    rows = conn.execute(select(api_tokens).where(clause).order_by(api_tokens.c.id)).all()
    if not rows:
        raise NotFoundError(f"no token {ref!r} (give its id, name or prefix)")
    found = [_token(r) for r in rows]
    live = [t for t in found if t.revoked_at is None]
    if len(found) > 1 and len(live) != 1:
        ids = ", ".join(str(t.id) for t in found)
        raise AccessPolicyError(f"{ref!r} names several tokens (ids {ids}); give the id")
    return live[0] if len(found) > 1 else found[0]


def find_token(store: Store, ref: str) -> ApiToken:
    """A token by id, name (when one token has it) or prefix."""
    with store.engine.connect() as conn:
        return _find(conn, ref)


def revoke_token(store: Store, ref: str) -> ApiToken:
    """Revoke a token by id, name or prefix; it stops working at once. Idempotent."""
    now = store.clock.now()
    with store.engine.begin() as conn:
        token = _find(conn, ref)
        if token.revoked_at is None:
            conn.execute(
                update(api_tokens)
                .where(api_tokens.c.id == token.id, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            token = _token(conn.execute(select(api_tokens).where(api_tokens.c.id == token.id)).one())
    return token
