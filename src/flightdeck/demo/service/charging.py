"""Top-ups charged through a real card gateway (when the service is started with a gateway URL).

A new top-up is charged at once in the background (:meth:`Charger.submit`); the settler's sweep
picks up any pending top-up nobody is working on (after a restart, or whose outcome was unknown).
The rules that keep money right:

* one payment, one idempotency key, derived from what is stored (payment id, user, the client's
  own key and the creation time), so every attempt and every later retry charges at most once;
* the reference sent to the gateway is ``payment:{id}``, the ledger transaction's reference too;
* a definite answer settles (credits the wallet, once) or fails the payment; when every attempt
  failed in transit the payment stays ``pending``: the charge may exist;
* a payment whose outcome is unknown (or that this process did not just create) is looked up at
  the gateway by reference before anything else: a succeeded charge settles it, a declined one fails
  it, none at all means it was never processed and it is charged again (with the same key).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from flightdeck.demo.service.gateway_client import ChargeOutcome, GatewayClient, RetryMode
from flightdeck.demo.service.payments import Payments

__all__ = ["ChargeJob", "Charger", "ChargerStats", "charge_key"]

log = logging.getLogger(__name__)

_JOB_SQL = (
    "SELECT p.id, p.user_id, p.amount_cents, p.card_token, p.idempotency_key, p.created_at, w.currency "
    "FROM payments p JOIN wallets w ON w.id = p.wallet_id WHERE p.id = ? AND p.kind = 'topup' "
    "AND p.status = 'pending' AND p.gateway_state = 'submitted'"
)
_WAITING_SQL = (
    "SELECT id FROM payments WHERE kind = 'topup' AND status = 'pending' AND gateway_state = 'submitted' "
    "ORDER BY id LIMIT ?"
)


def charge_key(payment_id: int, user_id: int, client_key: str, created_at: float) -> str:
    """The one idempotency key of a payment at the gateway (stable across retries and restarts)."""
    digest = hashlib.sha256(f"{user_id}\x00{client_key}\x00{created_at!r}".encode()).hexdigest()
    return f"pay-{payment_id}-{digest[:24]}"


@dataclass(frozen=True)
class ChargeJob:
    payment_id: int
    key: str
    amount_minor: int
    currency: str
    card_token: str

    @property
    def reference(self) -> str:
        return f"payment:{self.payment_id}"


@dataclass
class ChargerStats:
    charged: int = 0
    declined: int = 0
    rejected: int = 0
    unknown: int = 0  # rounds that ended with the outcome unknown
    resolved_by_lookup: int = 0
    lookups_unanswered: int = 0  # the gateway could not be asked; the outcome stays unknown


class Charger:
    """Runs the charge of each pending top-up; at most ``concurrency`` at once."""

    def __init__(
        self,
        payments: Payments,
        client: GatewayClient,
        mode: RetryMode,
        now: Callable[[], float],
        resolve_after: float = 1.0,
        concurrency: int = 16,
    ) -> None:
        self.payments = payments
        self.client = client
        self.mode = mode  # switchable at runtime (``POST /admin/gateway``)
        self._now = now
        self.resolve_after = resolve_after
        self._limit = asyncio.Semaphore(concurrency)
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._look_up_first: set[int] = set()
        self._not_before: dict[int, float] = {}
        self.stats = ChargerStats()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def submit(self, payment_id: int) -> None:
        """Charge a top-up this process has just created."""
        self._start(payment_id)

    async def sweep(self) -> int:
        """Start work on every pending top-up nobody is working on and that is due; how many."""
        async with self.payments.db.connection() as conn:
            rows = await conn.all("charge.waiting", _WAITING_SQL, (500,))
        now = self._now()
        started = 0
        for row in rows:
            payment_id = int(row[0])
            if payment_id in self._tasks or self._not_before.get(payment_id, 0.0) > now:
                continue
            self._look_up_first.add(payment_id)  # not created just now: it may have been charged
            self._start(payment_id)
            started += 1
        return started

    def _start(self, payment_id: int) -> None:
        if payment_id in self._tasks:
            return
        task = asyncio.create_task(self._run(payment_id), name=f"charge-{payment_id}")
        self._tasks[payment_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(payment_id, None))

    async def _run(self, payment_id: int) -> None:
        try:
            async with self._limit:
                await self._work(payment_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("charging payment %s failed; it stays pending", payment_id)
            self._later(payment_id)

    async def _job(self, payment_id: int) -> ChargeJob | None:
        async with self.payments.db.connection() as conn:
            row = await conn.one("charge.job", _JOB_SQL, (payment_id,))
        if row is None:
            return None
        key = charge_key(int(row[0]), int(row[1]), str(row[4]), float(row[5]))
        return ChargeJob(int(row[0]), key, int(row[2]), str(row[6]), str(row[3] or "tok_visa"))

    def _later(self, payment_id: int) -> None:
        self._look_up_first.add(payment_id)
        self._not_before[payment_id] = self._now() + self.resolve_after

    async def _work(self, payment_id: int) -> None:
        job = await self._job(payment_id)
        if job is None:
            self._forget(payment_id)
            return
        if payment_id in self._look_up_first:
            found = await self.client.find(job.reference)
            if found is None:
                self.stats.lookups_unanswered += 1
                self._later(payment_id)  # the gateway cannot be asked now: still unknown
                return
            if found:
                succeeded = [c for c in found if c.succeeded]
                self.stats.resolved_by_lookup += 1
                await self._finish(job, None if succeeded else "card_declined")
                return
            # The gateway has no charge for it: it was never processed; charging now is safe.
        result = await self.client.charge(
            job.key, job.reference, job.amount_minor, job.currency, job.card_token, self.mode
        )
        if result.outcome is ChargeOutcome.CHARGED:
            self.stats.charged += 1
            await self._finish(job, None)
        elif result.outcome is ChargeOutcome.DECLINED:
            self.stats.declined += 1
            await self._finish(job, result.reason or "card_declined")
        elif result.outcome is ChargeOutcome.REJECTED:
            self.stats.rejected += 1
            await self._finish(job, result.reason or "gateway_rejected")
        else:
            self.stats.unknown += 1
            log.warning(
                "payment %s: outcome unknown after %d attempts (%s); stays pending",
                payment_id,
                result.attempts,
                result.reason,
            )
            self._later(payment_id)

    async def _finish(self, job: ChargeJob, failure_reason: str | None) -> None:
        await self.payments.complete_topup(job.payment_id, failure_reason, self._now())
        self._forget(job.payment_id)

    def _forget(self, payment_id: int) -> None:
        self._look_up_first.discard(payment_id)
        self._not_before.pop(payment_id, None)

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.client.close()
