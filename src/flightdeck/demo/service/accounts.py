"""Users, sign-up (which opens a wallet), login sessions and password hashing (Argon2id)."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import sqlite3
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from flightdeck.demo.service.db import Database
from flightdeck.demo.service.errors import Conflict, Unauthorized
from flightdeck.demo.service.ledger import AccountType, account_id

__all__ = ["SESSION_TTL", "Accounts", "Session", "SignedUp"]

SESSION_TTL = 24 * 3600.0

# OWASP's minimum Argon2id parameters: 19 MiB, 2 iterations, 1 lane.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)


@dataclass(frozen=True)
class SignedUp:
    user_id: int
    wallet_id: int


@dataclass(frozen=True)
class Session:
    token: str
    user_id: int
    expires_at: float


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._dummy_hash: str | None = None

    async def signup(self, email: str, password: str, now: float) -> SignedUp:
        digest = await asyncio.to_thread(_HASHER.hash, password)
        try:
            async with self.db.transaction() as conn:
                user_id = await conn.insert(
                    "user.insert",
                    "INSERT INTO users (email, password_hash, created_at) VALUES (?, ?, ?)",
                    (email.lower(), digest, now),
                )
                account = await account_id(conn, f"wallet:{user_id}", AccountType.WALLET, now)
                wallet_id = await conn.insert(
                    "wallet.insert",
                    "INSERT INTO wallets (user_id, account_id, balance_cents, updated_at) "
                    "VALUES (?, ?, 0, ?)",
                    (user_id, account, now),
                )
        except sqlite3.IntegrityError:
            raise Conflict("an account with this email exists", code="email_taken") from None
        return SignedUp(user_id, wallet_id)

    async def login(self, email: str, password: str, now: float) -> Session:
        async with self.db.connection() as conn:
            row = await conn.one(
                "user.get", "SELECT id, password_hash FROM users WHERE email = ?", (email.lower(),)
            )
        if row is None:
            # Spend the same time as a real verification, so timing does not reveal who has an account.
            if self._dummy_hash is None:
                self._dummy_hash = await asyncio.to_thread(_HASHER.hash, secrets.token_hex(16))
            await asyncio.to_thread(_verify, self._dummy_hash, password)
            raise Unauthorized("wrong email or password")
        if not await asyncio.to_thread(_verify, row[1], password):
            raise Unauthorized("wrong email or password")
        token = secrets.token_urlsafe(32)
        expires = now + SESSION_TTL
        async with self.db.transaction() as conn:
            await conn.insert(
                "session.insert",
                "INSERT INTO sessions (token_sha256, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (_token_digest(token), row[0], now, expires),
            )
            await conn.update("session.prune", "DELETE FROM sessions WHERE expires_at < ?", (now,))
        return Session(token, int(row[0]), expires)

    async def authenticate(self, token: str, now: float) -> int:
        """The user id a bearer token belongs to."""
        async with self.db.connection() as conn:
            user_id = await conn.scalar(
                "session.get",
                "SELECT user_id FROM sessions WHERE token_sha256 = ? AND expires_at >= ?",
                (_token_digest(token), now),
            )
        if user_id is None:
            raise Unauthorized("missing, unknown or expired token")
        return int(user_id)


def _verify(digest: str, password: str) -> bool:
    try:
        return _HASHER.verify(digest, password)
    except (VerificationError, InvalidHashError):
        return False
