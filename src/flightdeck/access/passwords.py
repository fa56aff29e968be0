"""Password hashing with argon2id (argon2-cffi's defaults, RFC 9106 "low memory" profile).

Hashes are self-describing (``$argon2id$v=19$m=65536,t=3,p=4$...``), so parameters can be raised
later: :func:`needs_rehash` tells when a stored hash should be replaced at the next login.
"""

from __future__ import annotations

import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from flightdeck.access.errors import AccessPolicyError
from flightdeck.secret import Secret

__all__ = [
    "DEFAULT_HASHER",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "generate_password",
    "hash_password",
    "needs_rehash",
    "rehash",
    "validate_password",
    "verify_password",
]

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024

DEFAULT_HASHER = PasswordHasher()
"""argon2id with t=3, m=64 MiB, p=4: RFC 9106's second recommended option (argon2-cffi's default)."""

_hasher = DEFAULT_HASHER


@functools.cache
def _dummy_hash() -> str:
    """Verified against when a user name is unknown, so that the answer takes as long as for a known one."""
    return _hasher.hash(secrets.token_urlsafe(16))


def _text(password: Secret | str) -> str:
    return password.reveal() if isinstance(password, Secret) else password


def validate_password(password: Secret | str) -> None:
    value = _text(password)
    if len(value) < MIN_PASSWORD_LENGTH:
        raise AccessPolicyError(f"password too short: use at least {MIN_PASSWORD_LENGTH} characters")
    if len(value) > MAX_PASSWORD_LENGTH:
        raise AccessPolicyError(f"password too long: at most {MAX_PASSWORD_LENGTH} characters")
    if not value.strip():
        raise AccessPolicyError("password must not be blank")


def hash_password(password: Secret | str) -> str:
    """The argon2id hash of an acceptable password (raises :class:`AccessPolicyError` otherwise)."""
    validate_password(password)
    return _hasher.hash(_text(password))


def verify_password(password_hash: str | None, password: Secret | str) -> bool:
    """True when ``password`` matches. With ``password_hash=None`` a dummy hash is verified so that
    unknown user names cost the same time as known ones; the answer is then False."""
    value = _text(password)
    if len(value) > MAX_PASSWORD_LENGTH:
        return False
    try:
        ok = _hasher.verify(password_hash or _dummy_hash(), value)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return ok and password_hash is not None


def rehash(password: Secret | str) -> str:
    """A fresh hash of a password that was just verified (no policy check: it was accepted before)."""
    return _hasher.hash(_text(password))


def needs_rehash(password_hash: str) -> bool:
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def generate_password() -> Secret:
    """A random password (about 128 bits), for ``flightdeck user add`` without a password."""
    return Secret(secrets.token_urlsafe(16))
