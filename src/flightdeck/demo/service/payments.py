"""Payments: created ``pending`` under an idempotency key, then ``settled`` or ``failed`` by the
(simulated) card gateway; and bookings, paid straight from a wallet.

* ``topup``: money from a card into the wallet. Card token ``tok_declined`` is refused by the gateway.
* ``merchant``: money from the wallet to a merchant; refused up front (402) without the funds, and
  failed at settlement when the funds went elsewhere meanwhile.

With a real card gateway (the service started with a gateway URL) top-ups are charged over HTTP by
:mod:`flightdeck.demo.service.charging` and completed with :meth:`Payments.complete_topup`; merchant
payments still settle here. A payment's ``reference`` (``payment:{id}``) names it in the ledger and
at the gateway.

The same ``Idempotency-Key`` with the same request returns the first payment (no second charge);
with a different request it is refused (409). A unique index on ``(user_id, idempotency_key)``
makes this hold under concurrent retries too.
"""

from __future__ import annotations

import enum
import hashlib
import json
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from flightdeck.demo.service.db import Conn, Database, Row
from flightdeck.demo.service.errors import Conflict, InsufficientFunds, NotFound
from flightdeck.demo.service.ledger import AccountType, Posting, account_id, debit_wallet, get_wallet, post
from flightdeck.demo.service.metrics import ServiceMetrics

__all__ = [
    "DECLINED_CARD",
    "Booking",
    "GatewayState",
    "Payment",
    "PaymentKind",
    "PaymentStatus",
    "Payments",
]

log = logging.getLogger(__name__)

DECLINED_CARD = "tok_declined"
_CARD_ACCOUNT = "external:card-network"
_BOOKINGS_ACCOUNT = "revenue:bookings"


class PaymentKind(enum.StrEnum):
    TOPUP = "topup"
    MERCHANT = "merchant"


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"
    SETTLED = "settled"
    FAILED = "failed"


class GatewayState(enum.StrEnum):
    SUBMITTED = "submitted"  # waiting for the gateway's answer
    ANSWERED = "answered"
    LOST = "lost"  # the gateway never answers (the ``stuck`` fault)


@dataclass(frozen=True)
class Payment:
    id: int
    user_id: int
    wallet_id: int
    kind: PaymentKind
    amount_cents: int
    merchant: str | None
    status: PaymentStatus
    failure_reason: str | None
    idempotency_key: str
    created_at: float
    updated_at: float

    @property
    def reference(self) -> str:
        """What the ledger and the card gateway know this payment by."""
        return f"payment:{self.id}"

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "amount_cents": self.amount_cents,
            "merchant": self.merchant,
            "status": self.status.value,
            "failure_reason": self.failure_reason,
            "idempotency_key": self.idempotency_key,
            "reference": self.reference,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class Booking:
    id: int
    item: str
    amount_cents: int
    created_at: float

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "item": self.item,
            "amount_cents": self.amount_cents,
            "created_at": self.created_at,
        }


# Columns 0–10 are read by ``_payment``; the statements name them literally so that no SQL is built.
_BY_KEY_SQL = (
    "SELECT id, user_id, wallet_id, kind, amount_cents, merchant, status, failure_reason, "
    "idempotency_key, created_at, updated_at, request_digest FROM payments "
    "WHERE user_id = ? AND idempotency_key = ?"
)
_GET_SQL = (
    "SELECT id, user_id, wallet_id, kind, amount_cents, merchant, status, failure_reason, "
    "idempotency_key, created_at, updated_at FROM payments WHERE id = ? AND user_id = ?"
)
_DUE_SQL = (
    "SELECT id, user_id, wallet_id, kind, amount_cents, merchant, status, failure_reason, "
    "idempotency_key, created_at, updated_at, card_token FROM payments WHERE status = 'pending' "
    "AND gateway_state = 'submitted' AND created_at <= ? ORDER BY id LIMIT ?"
)
# The same, merchant payments only: with a real card gateway, top-ups are charged over HTTP.
_DUE_MERCHANT_SQL = (
    "SELECT id, user_id, wallet_id, kind, amount_cents, merchant, status, failure_reason, "
    "idempotency_key, created_at, updated_at, card_token FROM payments WHERE status = 'pending' "
    "AND gateway_state = 'submitted' AND kind = 'merchant' AND created_at <= ? ORDER BY id LIMIT ?"
)
_PENDING_SQL = (
    "SELECT id, user_id, wallet_id, kind, amount_cents, merchant, status, failure_reason, "
    "idempotency_key, created_at, updated_at FROM payments WHERE id = ? AND status = 'pending' "
    "AND gateway_state = 'submitted'"
)


def _payment(row: Row) -> Payment:
    return Payment(
        id=row[0],
        user_id=row[1],
        wallet_id=row[2],
        kind=PaymentKind(row[3]),
        amount_cents=row[4],
        merchant=row[5],
        status=PaymentStatus(row[6]),
        failure_reason=row[7],
        idempotency_key=row[8],
        created_at=row[9],
        updated_at=row[10],
    )


def request_digest(kind: PaymentKind, amount_cents: int, merchant: str | None, card_token: str | None) -> str:
    canonical = json.dumps([kind.value, amount_cents, merchant, card_token], separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class Payments:
    def __init__(self, db: Database, metrics: ServiceMetrics, lose_next: Callable[[], bool]) -> None:
        self.db = db
        self.metrics = metrics
        self._lose_next = lose_next  # the stuck fault: should the gateway lose this payment?
        self.settle_passes = 0

    async def create(
        self,
        user_id: int,
        kind: PaymentKind,
        amount_cents: int,
        idempotency_key: str,
        now: float,
        merchant: str | None = None,
        card_token: str | None = None,
    ) -> tuple[Payment, bool]:
        """The new pending payment, or the earlier one with this key; ``True`` when replayed."""
        digest = request_digest(kind, amount_cents, merchant, card_token)
        existing = await self._by_key(user_id, idempotency_key)
        if existing is not None:
            return self._replay(existing, digest)
        try:
            async with self.db.transaction() as conn:
                wallet = await get_wallet(conn, user_id)
                if kind is PaymentKind.MERCHANT and wallet.balance_cents < amount_cents:
                    raise InsufficientFunds(f"wallet balance {wallet.balance_cents} is below {amount_cents}")
                state = GatewayState.LOST if self._lose_next() else GatewayState.SUBMITTED
                payment_id = await conn.insert(
                    "payment.insert",
                    "INSERT INTO payments (user_id, wallet_id, kind, amount_cents, merchant, card_token, "
                    "status, gateway_state, idempotency_key, request_digest, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?)",
                    (
                        user_id,
                        wallet.id,
                        kind.value,
                        amount_cents,
                        merchant,
                        card_token,
                        state.value,
                        idempotency_key,
                        digest,
                        now,
                        now,
                    ),
                )
        except sqlite3.IntegrityError:
            # A concurrent request with the same key won the race: answer with its payment.
            existing = await self._by_key(user_id, idempotency_key)
            if existing is None:
                raise
            return self._replay(existing, digest)
        self.metrics.payments.labels(kind.value, PaymentStatus.PENDING.value).inc()
        # As created (the gateway may already have answered by now; GET the payment for that).
        created = Payment(
            id=payment_id,
            user_id=user_id,
            wallet_id=wallet.id,
            kind=kind,
            amount_cents=amount_cents,
            merchant=merchant,
            status=PaymentStatus.PENDING,
            failure_reason=None,
            idempotency_key=idempotency_key,
            created_at=now,
            updated_at=now,
        )
        return created, False

    def _replay(self, existing: tuple[Payment, str], digest: str) -> tuple[Payment, bool]:
        payment, old_digest = existing
        if old_digest != digest:
            raise Conflict(
                "this Idempotency-Key was used for a different request", code="idempotency_key_reused"
            )
        return payment, True

    async def _by_key(self, user_id: int, key: str) -> tuple[Payment, str] | None:
        async with self.db.connection() as conn:
            row = await conn.one("payment.by_key", _BY_KEY_SQL, (user_id, key))
        return None if row is None else (_payment(row), row[11])

    async def get(self, user_id: int, payment_id: int) -> Payment:
        async with self.db.connection() as conn:
            row = await conn.one("payment.get", _GET_SQL, (payment_id, user_id))
        if row is None:
            raise NotFound(f"no payment {payment_id}")
        return _payment(row)

    async def settle_due(
        self, now: float, settle_delay: float, batch: int = 100, simulate_card_gateway: bool = True
    ) -> int:
        """One pass of the gateway: answer submitted payments older than ``settle_delay``. Without
        ``simulate_card_gateway`` only merchant payments (top-ups go to a real gateway)."""
        sql = _DUE_SQL if simulate_card_gateway else _DUE_MERCHANT_SQL
        async with self.db.connection() as conn:
            rows = await conn.all("payment.due", sql, (now - settle_delay, batch))
        answered = 0
        for row in rows:
            payment = _payment(row)
            async with self.db.transaction() as conn:
                # The write lock is held from here: re-read, the payment may have been lost meanwhile.
                state = await conn.scalar(
                    "payment.state",
                    "SELECT gateway_state FROM payments WHERE id = ? AND status = 'pending'",
                    (payment.id,),
                )
                if state != GatewayState.SUBMITTED.value:
                    continue
                status, reason = await self._answer(conn, payment, row[11], now)
                await conn.update(
                    "payment.settle",
                    "UPDATE payments SET status = ?, failure_reason = ?, gateway_state = 'answered', "
                    "updated_at = ? WHERE id = ?",
                    (status.value, reason, now, payment.id),
                )
            answered += 1
            self.metrics.payments.labels(payment.kind.value, status.value).inc()
        self.settle_passes += 1
        return answered

    async def _answer(
        self, conn: Conn, payment: Payment, card_token: str | None, now: float
    ) -> tuple[PaymentStatus, str | None]:
        ref = f"payment:{payment.id}"
        wallet = await get_wallet(conn, payment.user_id)
        if payment.kind is PaymentKind.TOPUP:
            if card_token == DECLINED_CARD:
                return PaymentStatus.FAILED, "card_declined"
            await self._credit_topup(conn, payment, wallet.account_id, now)
            return PaymentStatus.SETTLED, None
        merchant = await account_id(conn, f"merchant:{payment.merchant}", AccountType.MERCHANT, now)
        try:
            await debit_wallet(conn, wallet, merchant, payment.amount_cents, "merchant_payment", ref, now)
        except InsufficientFunds:
            return PaymentStatus.FAILED, "insufficient_funds"
        return PaymentStatus.SETTLED, None

    async def complete_topup(self, payment_id: int, failure_reason: str | None, now: float) -> Payment | None:
        """A real gateway answered a top-up: credit the wallet (``failure_reason`` ``None``) or fail it.

        Exactly once: only a payment still pending and submitted changes (``None`` otherwise)."""
        async with self.db.transaction() as conn:
            row = await conn.one("payment.pending", _PENDING_SQL, (payment_id,))
            if row is None:
                return None
            payment = _payment(row)
            status = PaymentStatus.FAILED
            if failure_reason is None:
                wallet = await get_wallet(conn, payment.user_id)
                await self._credit_topup(conn, payment, wallet.account_id, now)
                status = PaymentStatus.SETTLED
            await conn.update(
                "payment.settle",
                "UPDATE payments SET status = ?, failure_reason = ?, gateway_state = 'answered', "
                "updated_at = ? WHERE id = ?",
                (status.value, failure_reason, now, payment.id),
            )
        self.metrics.payments.labels(payment.kind.value, status.value).inc()
        return payment

    async def _credit_topup(self, conn: Conn, payment: Payment, wallet_account: int, now: float) -> None:
        card = await account_id(conn, _CARD_ACCOUNT, AccountType.EXTERNAL, now)
        await post(
            conn,
            "topup",
            f"payment:{payment.id}",
            [Posting(card, -payment.amount_cents), Posting(wallet_account, payment.amount_cents)],
            now,
        )

    async def lose_latest_pending(self, now: float) -> int | None:
        """The stuck fault: the gateway loses the newest submitted payment; its id, if there was one."""
        async with self.db.transaction() as conn:
            payment_id = await conn.scalar(
                "payment.lose",
                "SELECT id FROM payments WHERE status = 'pending' AND gateway_state = 'submitted' "
                "ORDER BY id DESC LIMIT 1",
            )
            if payment_id is None:
                return None
            await conn.update(
                "payment.lose",
                "UPDATE payments SET gateway_state = 'lost', updated_at = ? WHERE id = ?",
                (now, payment_id),
            )
        return int(payment_id)

    async def fail_lost(self, now: float) -> int:
        """Reconcile: payments the gateway lost are failed (``gateway_timeout``); none was charged."""
        async with self.db.transaction() as conn:
            rows = await conn.all("payment.lost", "SELECT kind FROM payments WHERE gateway_state = 'lost'")
            await conn.update(
                "payment.reconcile",
                "UPDATE payments SET status = 'failed', failure_reason = 'gateway_timeout', "
                "gateway_state = 'answered', updated_at = ? WHERE gateway_state = 'lost'",
                (now,),
            )
        for row in rows:
            self.metrics.payments.labels(row[0], PaymentStatus.FAILED.value).inc()
        return len(rows)

    async def book(self, user_id: int, item: str, amount_cents: int, now: float) -> Booking:
        """A booking paid from the wallet at once; 402 without the funds."""
        async with self.db.transaction() as conn:
            wallet = await get_wallet(conn, user_id)
            revenue = await account_id(conn, _BOOKINGS_ACCOUNT, AccountType.REVENUE, now)
            txn = await debit_wallet(conn, wallet, revenue, amount_cents, "booking", f"booking:{item}", now)
            booking_id = await conn.insert(
                "booking.insert",
                "INSERT INTO bookings (user_id, wallet_id, item, amount_cents, transaction_id, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (user_id, wallet.id, item, amount_cents, txn, now),
            )
        self.metrics.bookings.inc()
        return Booking(booking_id, item, amount_cents, now)
