"""Access control: users with roles, cockpit sessions, API tokens, login throttling.

- :class:`Role` — viewer < operator < admin. A viewer reads; an operator may also run checks now;
  an admin may also manage users and tokens.
- Users have argon2id password hashes (:mod:`flightdeck.access.passwords`).
- Sessions: a random cookie value, only its SHA-256 stored, fixed expiry, a CSRF token each.
- API tokens: ``fd_…``, only the SHA-256 stored, shown once, optional expiry, revocable.
"""

from flightdeck.access.errors import AccessPolicyError, AlreadyExistsError, LoginThrottledError
from flightdeck.access.login import log_in
from flightdeck.access.passwords import generate_password, hash_password, verify_password
from flightdeck.access.roles import Role
from flightdeck.access.sessions import (
    Session,
    create_session,
    csrf_matches,
    end_session,
    purge_expired_sessions,
    resolve_session,
)
from flightdeck.access.throttle import LoginThrottle
from flightdeck.access.tokens import (
    TOKEN_PREFIX,
    ApiToken,
    TokenState,
    authenticate_token,
    create_token,
    find_token,
    list_tokens,
    revoke_token,
)
from flightdeck.access.users import (
    User,
    authenticate_password,
    create_user,
    disable_user,
    enable_user,
    get_user,
    list_users,
    set_password,
    set_role,
)

__all__ = [
    "TOKEN_PREFIX",
    "AccessPolicyError",
    "AlreadyExistsError",
    "ApiToken",
    "LoginThrottle",
    "LoginThrottledError",
    "Role",
    "Session",
    "TokenState",
    "User",
    "authenticate_password",
    "authenticate_token",
    "create_session",
    "create_token",
    "create_user",
    "csrf_matches",
    "disable_user",
    "enable_user",
    "end_session",
    "find_token",
    "generate_password",
    "get_user",
    "hash_password",
    "list_tokens",
    "list_users",
    "log_in",
    "purge_expired_sessions",
    "resolve_session",
    "revoke_token",
    "set_password",
    "set_role",
    "verify_password",
]
