"""Logging in to the cockpit: throttle, verify the password, start a session."""

from __future__ import annotations

from flightdeck.access.sessions import Session, create_session
from flightdeck.access.throttle import LoginThrottle
from flightdeck.access.users import authenticate_password
from flightdeck.errors import AuthenticationError
from flightdeck.secret import Secret
from flightdeck.store import Store

__all__ = ["log_in"]


def log_in(
    store: Store,
    throttle: LoginThrottle,
    username: str,
    password: Secret | str,
    ttl: float,
    address: str | None = None,
) -> tuple[str, Session]:
    """A new session (cookie value, session) for valid credentials.

    Raises :class:`~flightdeck.access.errors.LoginThrottledError` when the name or address is locked
    out (the password is then not even checked) and :class:`AuthenticationError` when the name,
    password or account is not valid — the same message in every case.
    """
    throttle.check(username, address)
    try:
        user = authenticate_password(store, username, password)
    except AuthenticationError:
        throttle.failed(username, address)
        raise
    throttle.succeeded(username)
    return create_session(store, user, ttl)
