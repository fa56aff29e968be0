"""Users of the cockpit and the API: a name, an argon2id password hash and a :class:`Role`.

A disabled user cannot log in and its sessions end at once; its row stays (who did what).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from flightdeck.access.errors import AccessPolicyError, AlreadyExistsError
from flightdeck.access.passwords import hash_password, needs_rehash, rehash, verify_password
from flightdeck.access.roles import Role
from flightdeck.errors import AuthenticationError, NotFoundError
from flightdeck.secret import Secret
from flightdeck.store import Store
from flightdeck.store.tables import sessions, users

__all__ = [
    "User",
    "authenticate_password",
    "create_user",
    "disable_user",
    "enable_user",
    "get_user",
    "list_users",
    "set_password",
    "set_role",
    "user_from",
    "validate_username",
]

_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,99}$")


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: Role
    created_at: datetime
    disabled_at: datetime | None

    @property
    def active(self) -> bool:
        return self.disabled_at is None


def _user(row: Any) -> User:
    return user_from(row._mapping)


def user_from(m: Mapping[str, Any]) -> User:
    """A :class:`User` from a row mapping with the ``users`` columns."""
    return User(
        id=int(m["id"]),
        username=m["username"],
        role=Role(m["role"]),
        created_at=m["created_at"],
        disabled_at=m["disabled_at"],
    )


def validate_username(username: str) -> str:
    if not _USERNAME.match(username):
        raise AccessPolicyError(
            f"{username!r} is not a valid user name: use letters, digits, '.', '_', '-', '@' or '+', "
            "starting with a letter or digit, at most 100 characters"
        )
    return username


def _role(role: Role | str) -> Role:
    if isinstance(role, Role):
        return role
    try:
        return Role.parse(role)
    except ValueError as exc:
        raise AccessPolicyError(str(exc)) from None


def create_user(store: Store, username: str, password: Secret | str, role: Role | str) -> User:
    """Add a user. Raises :class:`AlreadyExistsError` when the name is taken (case-insensitively)."""
    validate_username(username)
    r = _role(role)
    password_hash = hash_password(password)
    now = store.clock.now()
    with store.engine.begin() as conn:
        if _find(conn, username) is not None:
            raise AlreadyExistsError(f"user {username!r} already exists")
        try:
            result = conn.execute(
                insert(users)
                .values(username=username, password_hash=password_hash, role=r.value, created_at=now)
                .returning(users.c.id)
            )
        except IntegrityError:
            raise AlreadyExistsError(f"user {username!r} already exists") from None
        user_id = int(result.scalar_one())
    return User(id=user_id, username=username, role=r, created_at=now, disabled_at=None)


def _find(conn: Connection, username: str) -> Any:
    return conn.execute(select(users).where(func.lower(users.c.username) == username.lower())).first()


def get_user(store: Store, username: str) -> User:
    with store.engine.connect() as conn:
        row = _find(conn, username)
    if row is None:
        raise NotFoundError(f"no user {username!r}")
    return _user(row)


def list_users(store: Store) -> list[User]:
    with store.engine.connect() as conn:
        return [_user(r) for r in conn.execute(select(users).order_by(users.c.username)).all()]


def _update(store: Store, username: str, end_sessions: bool, **values: Any) -> User:
    with store.engine.begin() as conn:
        row = _find(conn, username)
        if row is None:
            raise NotFoundError(f"no user {username!r}")
        user_id = int(row._mapping["id"])
        conn.execute(update(users).where(users.c.id == user_id).values(**values))
        if end_sessions:
            conn.execute(delete(sessions).where(sessions.c.user_id == user_id))
        fresh = conn.execute(select(users).where(users.c.id == user_id)).one()
    return _user(fresh)


def set_password(store: Store, username: str, password: Secret | str) -> User:
    """Change a password; the user's sessions end (log in again with the new one)."""
    return _update(store, username, True, password_hash=hash_password(password))


def set_role(store: Store, username: str, role: Role | str) -> User:
    return _update(store, username, True, role=_role(role).value)


def disable_user(store: Store, username: str) -> User:
    """The user can no longer log in; its sessions end at once. Idempotent."""
    current = get_user(store, username)
    if current.disabled_at is not None:
        return current
    return _update(store, username, True, disabled_at=store.clock.now())


def enable_user(store: Store, username: str) -> User:
    return _update(store, username, False, disabled_at=None)


def authenticate_password(store: Store, username: str, password: Secret | str) -> User:
    """The user, when the name exists, is enabled and the password matches; otherwise
    :class:`AuthenticationError` with the same message whatever was wrong."""
    with store.engine.connect() as conn:
        row = _find(conn, username) if _USERNAME.match(username) else None
    stored: str | None = row._mapping["password_hash"] if row is not None else None
    ok = verify_password(stored, password)
    if not ok or row is None or row._mapping["disabled_at"] is not None:
        raise AuthenticationError("wrong user name or password")
    user = _user(row)
    if stored is not None and needs_rehash(stored):
        with store.engine.begin() as conn:
            conn.execute(update(users).where(users.c.id == user.id).values(password_hash=rehash(password)))
    return user
