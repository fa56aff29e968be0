"""Access control in the store: users, argon2id hashes, sessions, API tokens, login throttling.

Runs on SQLite and PostgreSQL (the ``store`` fixture); time is a FakeClock.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from flightdeck.access import (
    AccessPolicyError,
    AlreadyExistsError,
    LoginThrottle,
    LoginThrottledError,
    Role,
    TokenState,
    authenticate_password,
    authenticate_token,
    create_session,
    create_token,
    create_user,
    disable_user,
    enable_user,
    end_session,
    find_token,
    list_tokens,
    list_users,
    log_in,
    passwords,
    purge_expired_sessions,
    resolve_session,
    revoke_token,
    set_password,
)
from flightdeck.access.passwords import hash_password, verify_password
from flightdeck.clock import FakeClock
from flightdeck.errors import AuthenticationError, NotFoundError
from flightdeck.store import Store
from flightdeck.store.tables import api_tokens, sessions, users
from tests.web.conftest import PASSWORD


def test_roles_are_ordered() -> None:
    assert Role.ADMIN.allows(Role.OPERATOR)
    assert Role.ADMIN.allows(Role.VIEWER)
    assert Role.OPERATOR.allows(Role.VIEWER)
    assert not Role.OPERATOR.allows(Role.ADMIN)
    assert not Role.VIEWER.allows(Role.OPERATOR)
    assert Role.parse(" Admin ") is Role.ADMIN
    with pytest.raises(ValueError, match="roles: viewer, operator, admin"):
        Role.parse("root")


def test_the_default_hasher_is_argon2id_rfc9106() -> None:
    digest = passwords.DEFAULT_HASHER.hash("a long enough password")
    assert digest.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert verify_password(digest, "a long enough password")  # hashes carry their parameters


def test_passwords_are_argon2id_and_verify() -> None:
    digest = hash_password("a long enough password")
    assert digest.startswith("$argon2id$")
    assert verify_password(digest, "a long enough password")
    assert not verify_password(digest, "a long enough passworD")
    assert not verify_password(None, "a long enough password")  # unknown user: never true
    assert not verify_password("not a hash", "whatever")
    with pytest.raises(AccessPolicyError, match="at least 10"):
        hash_password("short")


def test_users_are_stored_with_a_hash_never_the_password(store: Store) -> None:
    user = create_user(store, "alice", PASSWORD, "operator")
    assert user.role is Role.OPERATOR
    assert user.active
    with store.engine.connect() as conn:
        stored = conn.execute(select(users.c.password_hash)).scalar_one()
    assert PASSWORD not in stored
    assert stored.startswith("$argon2id$")
    assert [u.username for u in list_users(store)] == ["alice"]
    with pytest.raises(AlreadyExistsError):
        create_user(store, "ALICE", PASSWORD, "viewer")  # names are case-insensitive
    with pytest.raises(AccessPolicyError, match="valid user name"):
        create_user(store, "bad name", PASSWORD, "viewer")
    with pytest.raises(AccessPolicyError, match="unknown role"):
        create_user(store, "bob", PASSWORD, "superuser")


def test_password_authentication(store: Store) -> None:
    create_user(store, "alice", PASSWORD, Role.VIEWER)
    assert authenticate_password(store, "Alice", PASSWORD).username == "alice"
    messages = set()
    for name, password in [("alice", "wrong password!"), ("nobody", PASSWORD), ("bad name!", PASSWORD)]:
        with pytest.raises(AuthenticationError) as info:
            authenticate_password(store, name, password)
        messages.add(str(info.value))
    assert messages == {"wrong user name or password"}  # the same answer whatever was wrong
    disable_user(store, "alice")
    with pytest.raises(AuthenticationError):
        authenticate_password(store, "alice", PASSWORD)
    enable_user(store, "alice")
    set_password(store, "alice", "a brand new password")
    with pytest.raises(AuthenticationError):
        authenticate_password(store, "alice", PASSWORD)
    assert authenticate_password(store, "alice", "a brand new password").active


def test_sessions_store_only_a_hash_and_expire(store: Store, clock: FakeClock) -> None:
    user = create_user(store, "alice", PASSWORD, Role.VIEWER)
    cookie, session = create_session(store, user, ttl=3600)
    with store.engine.connect() as conn:
        ids = conn.execute(select(sessions.c.id)).scalars().all()
    assert ids == [session.id]
    assert cookie not in ids
    assert len(ids[0]) == 64
    assert resolve_session(store, cookie).user.username == "alice"
    clock.advance(3599)
    assert resolve_session(store, cookie).csrf_token == session.csrf_token
    clock.advance(1)
    with pytest.raises(AuthenticationError, match="expired"):
        resolve_session(store, cookie)
    with pytest.raises(AuthenticationError):
        resolve_session(store, cookie)  # and it is gone
    with pytest.raises(AuthenticationError):
        resolve_session(store, "made-up")


def test_session_ends_on_logout_disable_and_password_change(store: Store) -> None:
    user = create_user(store, "alice", PASSWORD, Role.ADMIN)
    first, _ = create_session(store, user, ttl=3600)
    assert end_session(store, first)
    with pytest.raises(AuthenticationError):
        resolve_session(store, first)
    second, _ = create_session(store, user, ttl=3600)
    set_password(store, "alice", "another long password")
    with pytest.raises(AuthenticationError):
        resolve_session(store, second)
    third, _ = create_session(store, user, ttl=3600)
    disable_user(store, "alice")
    with pytest.raises(AuthenticationError):
        resolve_session(store, third)


def test_purging_expired_sessions(store: Store, clock: FakeClock) -> None:
    user = create_user(store, "alice", PASSWORD, Role.VIEWER)
    create_session(store, user, ttl=60)
    live, _ = create_session(store, user, ttl=7200)
    clock.advance(61)
    assert purge_expired_sessions(store) == 1
    assert resolve_session(store, live).user.id == user.id


def test_tokens_store_only_a_hash_and_a_prefix(store: Store) -> None:
    value, token = create_token(store, "ci", "viewer")
    assert value.startswith("fd_")
    assert len(value) >= 40
    assert value.startswith(token.prefix)
    assert len(token.prefix) == 11
    with store.engine.connect() as conn:
        row = conn.execute(select(api_tokens)).one()._mapping
    assert value not in {str(v) for v in row.values()}
    assert authenticate_token(store, value).id == token.id
    with pytest.raises(AuthenticationError, match="unknown"):
        authenticate_token(store, value[:-1] + ("A" if value[-1] != "A" else "B"))
    with pytest.raises(AuthenticationError, match="malformed"):
        authenticate_token(store, "Bearer nonsense")


def test_token_expiry_revocation_and_last_use(store: Store, clock: FakeClock) -> None:
    value, token = create_token(store, "ci", Role.OPERATOR, expires=timedelta(days=1), created_by="alice")
    assert token.expires_at == clock.now() + timedelta(days=1)
    assert find_token(store, "ci").last_used_at is None
    authenticate_token(store, value)
    assert find_token(store, str(token.id)).last_used_at == clock.now()
    clock.advance(timedelta(hours=23, minutes=59))
    authenticate_token(store, value)
    clock.advance(timedelta(minutes=1))
    with pytest.raises(AuthenticationError, match="expired"):
        authenticate_token(store, value)
    assert find_token(store, token.prefix).state(clock.now()) is TokenState.EXPIRED

    other, second = create_token(store, "deploy", Role.VIEWER)
    assert revoke_token(store, "deploy").revoked_at == clock.now()
    with pytest.raises(AuthenticationError, match="revoked"):
        authenticate_token(store, other)
    assert revoke_token(store, str(second.id)).revoked_at is not None  # idempotent
    assert [t.state(clock.now()) for t in list_tokens(store)] == [TokenState.EXPIRED, TokenState.REVOKED]
    with pytest.raises(NotFoundError):
        revoke_token(store, "nope")
    with pytest.raises(AccessPolicyError, match="positive"):
        create_token(store, "x", Role.VIEWER, expires=0)


def test_a_name_shared_by_two_live_tokens_is_ambiguous(store: Store) -> None:
    create_token(store, "ci", Role.VIEWER)
    create_token(store, "ci", Role.VIEWER)
    with pytest.raises(AccessPolicyError, match="several tokens"):
        revoke_token(store, "ci")


def test_failed_logins_are_throttled_per_name_and_address(store: Store, clock: FakeClock) -> None:
    create_user(store, "alice", PASSWORD, Role.VIEWER)
    throttle = LoginThrottle(clock, per_user=3, per_address=5, window=600)
    for _ in range(3):
        with pytest.raises(AuthenticationError):
            log_in(store, throttle, "alice", "wrong password!", ttl=60, address="10.0.0.1")
    # Locked: even the right password is refused, without being checked.
    with pytest.raises(LoginThrottledError) as info:
        log_in(store, throttle, "alice", PASSWORD, ttl=60, address="10.0.0.2")
    assert 0 < info.value.retry_after <= 600
    clock.advance(601)
    cookie, _ = log_in(store, throttle, "alice", PASSWORD, ttl=60, address="10.0.0.2")
    assert resolve_session(store, cookie).user.username == "alice"
    # An address guessing many names is locked out too.
    for i in range(5):
        with pytest.raises(AuthenticationError):
            log_in(store, throttle, f"user{i}", "wrong password!", ttl=60, address="10.9.9.9")
    with pytest.raises(LoginThrottledError):
        log_in(store, throttle, "alice", PASSWORD, ttl=60, address="10.9.9.9")


def test_success_clears_the_names_failures(store: Store, clock: FakeClock) -> None:
    create_user(store, "alice", PASSWORD, Role.VIEWER)
    throttle = LoginThrottle(clock, per_user=3, per_address=100)
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            log_in(store, throttle, "alice", "wrong password!", ttl=60)
    log_in(store, throttle, "alice", PASSWORD, ttl=60)
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            log_in(store, throttle, "alice", "wrong password!", ttl=60)
    log_in(store, throttle, "alice", PASSWORD, ttl=60)  # not locked: the count started again
