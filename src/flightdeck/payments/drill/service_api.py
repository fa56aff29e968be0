"""The drill's side of the wire: the service's payment API, as a real client app uses it, and the
gateway's charge list.

The service contract (the demo service's, and what your own service needs to offer a drill):

* ``POST {service_url}{topup_path}`` with ``Idempotency-Key`` and ``{"amount_cents": N,
  "card_token": T}`` creates a card payment: 200/201 and a JSON payment;
* ``GET {service_url}{payment_path}`` (``{id}`` replaced) returns it again;
* a payment is JSON with ``id``, ``reference`` (what the service sends the gateway as the charge's
  reference), ``status`` (``pending``/``processing``, ``settled``/``succeeded``/``paid``,
  ``failed``/``declined``/``canceled``), ``amount_cents`` or ``amount_minor``, optionally ``currency``.

A client retries its *own* request (5xx, 429, a dropped connection) with the same key, as a real
app would; the service must answer the retry with the payment it already created.

The gateway's charge list is ``GET {statement_url}`` answering ``{"data": [{"id", "reference",
"amount_minor", "currency", "status"}]}`` (the fake gateway's ``/v1/charges``).
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import aiohttp

from flightdeck.payments.drill.reconcile import ServicePayment, StatementCharge
from flightdeck.payments.errors import DrillError
from flightdeck.payments.records import PaymentStatus, status_lookup

__all__ = ["STATUS_WORDS", "PaymentApi", "fetch_statement", "sign_up_demo_user"]

STATUS_WORDS: dict[str, PaymentStatus] = status_lookup()
"""The service's payment status words, normalized (the shared table of
:data:`~flightdeck.payments.records.DEFAULT_STATUS_SYNONYMS`)."""

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


def _payment(data: Any, key: str) -> ServicePayment:
    if not isinstance(data, dict) or "id" not in data or "status" not in data:
        raise DrillError(f"the service's payment is not JSON with id and status: {str(data)[:200]}")
    if not isinstance(data.get("reference"), str):
        raise DrillError("the service's payment has no reference (what it sends the gateway as the charge's)")
    word = str(data["status"]).lower()
    if word not in STATUS_WORDS:
        raise DrillError(f"unknown payment status {word!r} (known: {', '.join(sorted(STATUS_WORDS))})")
    amount = data.get("amount_minor", data.get("amount_cents"))
    if not isinstance(amount, int):
        raise DrillError("the service's payment has no integer amount_minor or amount_cents")
    return ServicePayment(
        reference=data["reference"],
        payment_id=str(data["id"]),
        client_key=key,
        amount_minor=amount,
        currency=str(data.get("currency") or ""),
        status=STATUS_WORDS[word],
    )


class PaymentApi:
    """Payments through the service under test, with a client's own retries (same key)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        service_url: str,
        topup_path: str,
        payment_path: str,
        token: str | None,
        attempts: int,
        rng: random.Random,
    ) -> None:
        self.session = session
        self.base = service_url.rstrip("/")
        self.topup_path = topup_path
        self.payment_path = payment_path
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.attempts = attempts
        self.rng = rng
        self.client_retries = 0

    async def create(self, key: str, amount_minor: int, card_token: str) -> ServicePayment | None:
        """The created payment; ``None`` when every attempt failed in transit."""
        body = {"amount_cents": amount_minor, "card_token": card_token}
        headers = {**self.headers, "Idempotency-Key": key}
        for attempt in range(1, self.attempts + 1):
            if attempt > 1:
                self.client_retries += 1
                await asyncio.sleep(self.rng.uniform(0, min(1.0, 0.02 * 2**attempt)))
            try:
                async with self.session.post(self.base + self.topup_path, json=body, headers=headers) as resp:
                    if resp.status in _RETRY_STATUS:
                        continue
                    data = await resp.json(content_type=None)
                    if resp.status not in (200, 201):
                        raise DrillError(
                            f"the service refused a payment: HTTP {resp.status} {str(data)[:200]}"
                        )
                    return _payment(data, key)
            except (TimeoutError, aiohttp.ClientError):
                continue
            except ValueError:
                raise DrillError("the service's payment answer is not JSON") from None
        return None

    async def fetch(self, payment: ServicePayment) -> ServicePayment:
        """The payment as the service has it now (unchanged when it cannot be asked)."""
        url = self.base + self.payment_path.replace("{id}", payment.payment_id)
        try:
            async with self.session.get(url, headers=self.headers) as resp:
                if resp.status != 200:
                    return payment
                data = await resp.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError):
            return payment
        return _payment(data, payment.client_key)

    async def wallet_balance(self, path: str) -> int | None:
        try:
            async with self.session.get(self.base + path, headers=self.headers) as resp:
                data = await resp.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError):
            return None
        value = data.get("balance_cents", data.get("balance_minor")) if isinstance(data, dict) else None
        return value if isinstance(value, int) else None


async def fetch_statement(session: aiohttp.ClientSession, url: str) -> list[StatementCharge]:
    """Every charge the gateway lists (asked directly, not through the proxy)."""
    try:
        async with session.get(url) as resp:
            if resp.status != 200:
                raise DrillError(f"the gateway's charge list {url} answered HTTP {resp.status}")
            data = await resp.json(content_type=None)
        return [
            StatementCharge(
                id=str(c["id"]),
                reference=str(c["reference"]),
                amount_minor=int(c["amount_minor"]),
                currency=str(c["currency"]),
                succeeded=c["status"] == "succeeded",
            )
            for c in data["data"]
        ]
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise DrillError(
            f"cannot read the gateway's charge list {url}: {exc or type(exc).__name__}"
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise DrillError(f"the gateway's charge list {url} is not as expected: {exc}") from None


async def sign_up_demo_user(
    session: aiohttp.ClientSession, service_url: str, email: str, password: str
) -> str:
    """Sign a fresh user up at the demo service and log in; the bearer token."""
    base = service_url.rstrip("/")
    creds = {"email": email, "password": password}
    async with session.post(base + "/api/signup", json=creds) as resp:
        if resp.status != 201:
            raise DrillError(f"demo signup failed: HTTP {resp.status} {await resp.text()}")
    async with session.post(base + "/api/login", json=creds) as resp:
        if resp.status != 200:
            raise DrillError(f"demo login failed: HTTP {resp.status} {await resp.text()}")
        return str((await resp.json())["token"])
