"""The card gateway over HTTP: one charge, retried safely.

A charge is sent as ``POST {gateway}/v1/charges`` with an ``Idempotency-Key``. Transient failures
(5xx, 429, 409 "in progress", a reset or dropped connection, a timeout) are retried up to
``attempts`` times with exponential backoff and full jitter (a random wait between 0 and
``min(backoff_max, backoff * 2**n)``). What makes retrying safe is the key: every attempt of one
payment sends the *same* key, so a charge whose response was lost is returned again instead of
being made twice.

:class:`RetryMode` ``broken`` is the classic bug, kept as a switch so that a gateway drill can be
seen to catch it: every retry sends a *new* key, so a lost response becomes a second charge.

When every attempt failed the outcome is :attr:`ChargeOutcome.UNKNOWN`: the charge may or may not
exist. The caller must not fail the payment then; it asks the gateway later with :meth:`find`.
"""

from __future__ import annotations

import asyncio
import enum
import random
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

__all__ = [
    "ChargeOutcome",
    "ChargeResult",
    "GatewayCharge",
    "GatewayClient",
    "GatewayClientSettings",
    "RetryMode",
]

_TRANSIENT = frozenset({409, 429})


class RetryMode(enum.StrEnum):
    CORRECT = "correct"  # every attempt of a payment sends the same idempotency key
    BROKEN = "broken"  # every retry sends a new key: lost responses become double charges


class ChargeOutcome(enum.StrEnum):
    CHARGED = "charged"
    DECLINED = "declined"  # the gateway processed and refused it (no money moved)
    REJECTED = "rejected"  # the gateway refused the request itself (4xx): nothing was charged
    UNKNOWN = "unknown"  # every attempt failed in transit: the charge may exist


@dataclass(frozen=True)
class ChargeResult:
    outcome: ChargeOutcome
    attempts: int
    charge_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class GatewayCharge:
    """One charge as the gateway lists it."""

    id: str
    reference: str
    amount_minor: int
    currency: str
    succeeded: bool


@dataclass(frozen=True)
class GatewayClientSettings:
    url: str
    timeout: float = 2.0  # seconds per attempt
    attempts: int = 4
    backoff: float = 0.2  # seconds; the n-th retry waits up to backoff * 2**(n-1) ...
    backoff_max: float = 2.0  # ... but never more than this


class _Transient(Exception):
    """One attempt failed in transit; worth retrying."""


class GatewayClient:
    """Charges and look-ups against one gateway; ``open()`` before use, ``close()`` after."""

    def __init__(
        self,
        settings: GatewayClientSettings,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.base = settings.url.rstrip("/")
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=self.settings.timeout)
            self._session = aiohttp.ClientSession(timeout=timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("GatewayClient.open() was not called")
        return self._session

    def backoff(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1-based): full jitter."""
        cap = min(self.settings.backoff_max, self.settings.backoff * 2 ** (retry - 1))
        return self._rng.uniform(0, cap)

    async def charge(
        self,
        key: str,
        reference: str,
        amount_minor: int,
        currency: str,
        card_token: str,
        mode: RetryMode = RetryMode.CORRECT,
    ) -> ChargeResult:
        body = {
            "amount_minor": amount_minor,
            "currency": currency,
            "card_token": card_token,
            "reference": reference,
        }
        reason = "no attempt made"
        for attempt in range(1, self.settings.attempts + 1):
            sent_key = key if attempt == 1 or mode is RetryMode.CORRECT else f"{key}-{secrets.token_hex(4)}"
            try:
                return await self._attempt(sent_key, body, attempt)
            except _Transient as exc:
                reason = str(exc)
            if attempt < self.settings.attempts:
                await self._sleep(self.backoff(attempt))
        return ChargeResult(ChargeOutcome.UNKNOWN, self.settings.attempts, reason=reason)

    async def _attempt(self, key: str, body: dict[str, Any], attempt: int) -> ChargeResult:
        try:
            async with self.session.post(
                f"{self.base}/v1/charges", json=body, headers={"Idempotency-Key": key}
            ) as resp:
                status = resp.status
                data = await resp.json(content_type=None) if status < 500 else None
        except TimeoutError:
            raise _Transient("timeout") from None
        except (aiohttp.ClientError, ValueError) as exc:
            raise _Transient(f"{type(exc).__name__}: {exc}") from None
        if status >= 500 or status in _TRANSIENT:
            raise _Transient(f"HTTP {status}")
        charge_id = data.get("id") if isinstance(data, dict) else None
        if status in (200, 201) and isinstance(data, dict) and data.get("status") == "succeeded":
            return ChargeResult(ChargeOutcome.CHARGED, attempt, charge_id=charge_id)
        if status == 402:
            code = data.get("failure_code") if isinstance(data, dict) else None
            return ChargeResult(ChargeOutcome.DECLINED, attempt, charge_id, str(code or "card_declined"))
        return ChargeResult(ChargeOutcome.REJECTED, attempt, charge_id, f"gateway_rejected_{status}")

    async def find(self, reference: str) -> list[GatewayCharge] | None:
        """The gateway's charges for ``reference``; ``None`` when the gateway could not be asked."""
        try:
            async with self.session.get(f"{self.base}/v1/charges", params={"reference": reference}) as resp:
                if resp.status != 200:
                    return None
                data = await resp.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError):
            return None
        try:
            return [
                GatewayCharge(
                    id=str(c["id"]),
                    reference=str(c["reference"]),
                    amount_minor=int(c["amount_minor"]),
                    currency=str(c["currency"]),
                    succeeded=c["status"] == "succeeded",
                )
                for c in data["data"]
            ]
        except (KeyError, TypeError, ValueError):
            return None
