"""Errors of the access domain, under :class:`~flightdeck.errors.AuthError`::

AuthError
├── AuthenticationError     (flightdeck.errors) no valid session, password or token
├── PermissionDeniedError   (flightdeck.errors) the role does not allow it
├── LoginThrottledError     too many failed logins; ``retry_after`` seconds
├── AccessPolicyError       a user name, password, role or expiry that is not acceptable
└── AlreadyExistsError      a user with that name exists
"""

from __future__ import annotations

from flightdeck.errors import AuthError

__all__ = ["AccessPolicyError", "AlreadyExistsError", "LoginThrottledError"]


class AccessPolicyError(AuthError):
    """A user name, password, role or expiry that flightdeck does not accept."""


class AlreadyExistsError(AuthError):
    """A user with that name exists already."""


class LoginThrottledError(AuthError):
    """Too many failed logins for this user name or address; try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"too many failed logins; try again in {retry_after} s")
