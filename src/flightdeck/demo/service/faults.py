"""Injected faults: switched on and off on demand (admin endpoint) or now and then (chaos).

========  ============================================================  =============================
fault     while on                                                      switching it off
========  ============================================================  =============================
latency   every request but ``/metrics`` and ``/admin`` waits           stops the delay
          ``latency_ms`` (default 1500) before it is handled
errors    ``error_ratio`` (default 0.5) of ``/api`` requests answer 503  stops the errors
drift     on activation, one wallet's balance changes without a         resets drifted wallets to
          ledger entry                                                  their ledger balance
stuck     the gateway loses the newest pending payment (or the next     fails lost payments with
          one): it stays pending forever                                ``gateway_timeout``
database  the database is down: every database operation fails as over  the database answers again
          a lost connection, so ``/ready`` answers 503 (database
          failing) and API calls answer 503 ``database_unavailable``
========  ============================================================  =============================

A fault switched on by hand stays on until switched off (or its ``duration_s`` ends); chaos only
ever switches off what chaos switched on, and never takes the database down (that outage is for
experiments: ``flightdeck experiment run database-outage``). (The card gateway client's broken
retry switch is not a fault here but ``POST /admin/gateway``: it is a bug for a gateway drill to
find, not an outage.)
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from flightdeck.demo.service.db import Database
from flightdeck.demo.service.errors import Conflict
from flightdeck.demo.service.ledger import repair_wallets
from flightdeck.demo.service.metrics import ServiceMetrics
from flightdeck.demo.service.payments import Payments

__all__ = ["FaultBoard", "FaultName", "FaultOrigin", "FaultParams", "FaultState", "chaos_loop"]

log = logging.getLogger(__name__)


class FaultName(enum.StrEnum):
    LATENCY = "latency"
    ERRORS = "errors"
    DRIFT = "drift"
    STUCK = "stuck"
    DATABASE = "database"


class FaultOrigin(enum.StrEnum):
    MANUAL = "manual"
    CHAOS = "chaos"


@dataclass(frozen=True)
class FaultParams:
    latency_ms: float = 1500.0
    error_ratio: float = 0.5
    drift_cents: int = 1234


@dataclass
class FaultState:
    name: FaultName
    active: bool = False
    origin: FaultOrigin | None = None
    since: float | None = None
    until: float | None = None
    params: FaultParams = field(default_factory=FaultParams)
    note: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name.value,
            "active": self.active,
            "origin": self.origin.value if self.origin else None,
            "since": self.since,
            "until": self.until,
            "latency_ms": self.params.latency_ms,
            "error_ratio": self.params.error_ratio,
            "note": self.note,
        }


class FaultBoard:
    """The current state of every fault, and what switching one on or off does."""

    def __init__(
        self,
        db: Database,
        payments: Payments,
        metrics: ServiceMetrics,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.payments = payments
        self.metrics = metrics
        self.rng = rng or random.Random()
        self.states = {name: FaultState(name) for name in FaultName}
        self._lose_next = False
        self._lock = asyncio.Lock()
        for name in FaultName:
            metrics.fault_active.labels(name.value).set(0)

    # -- read by the request path -------------------------------------------------------------
    def latency(self) -> float:
        """Seconds every request should wait now (0 when the latency fault is off)."""
        st = self.states[FaultName.LATENCY]
        return st.params.latency_ms / 1000.0 if st.active else 0.0

    def should_fail(self) -> bool:
        st = self.states[FaultName.ERRORS]
        return st.active and self.rng.random() < st.params.error_ratio

    def take_lose_next(self) -> bool:
        if self._lose_next:
            self._lose_next = False
            return True
        return False

    # -- switching ------------------------------------------------------------------------------
    async def activate(
        self,
        name: FaultName,
        now: float,
        origin: FaultOrigin = FaultOrigin.MANUAL,
        duration: float | None = None,
        params: FaultParams | None = None,
    ) -> FaultState:
        async with self._lock:
            st = self.states[name]
            note = ""
            if name is FaultName.DRIFT:
                note = await self._drift(now, (params or FaultParams()).drift_cents)
            elif name is FaultName.STUCK:
                lost = await self.payments.lose_latest_pending(now)
                if lost is None:
                    self._lose_next = True
                    note = "the next payment will be lost by the gateway"
                else:
                    note = f"payment {lost} was lost by the gateway"
            elif name is FaultName.DATABASE:
                self.db.go_down("injected fault: database")
                note = "the database is down"
            st.active = True
            st.origin = origin
            st.since = now
            st.until = now + duration if duration else None
            st.params = params or FaultParams()
            st.note = note
            self.metrics.fault_active.labels(name.value).set(1)
            log.warning("fault %s on (%s) %s", name, origin, note)
            return st

    async def deactivate(self, name: FaultName, now: float, origin: FaultOrigin | None = None) -> FaultState:
        """Switch a fault off and repair what it broke. With ``origin``, only if it switched it on."""
        async with self._lock:
            st = self.states[name]
            if origin is not None and st.origin is not origin:
                return st
            note = ""
            if name is FaultName.DRIFT:
                async with self.db.transaction() as conn:
                    repaired = await repair_wallets(conn, now)
                note = f"{repaired} wallet(s) reset to their ledger balance"
            elif name is FaultName.STUCK:
                self._lose_next = False
                failed = await self.payments.fail_lost(now)
                note = f"{failed} lost payment(s) failed with gateway_timeout"
            elif name is FaultName.DATABASE:
                self.db.come_back()
                note = "the database is back"
            st.active = False
            st.origin = None
            st.since = None
            st.until = None
            st.note = note
            self.metrics.fault_active.labels(name.value).set(0)
            log.warning("fault %s off: %s", name, note)
            return st

    async def expire(self, now: float) -> None:
        for st in list(self.states.values()):
            if st.active and st.until is not None and st.until <= now:
                await self.deactivate(st.name, now, st.origin)

    async def _drift(self, now: float, cents: int) -> str:
        async with self.db.transaction() as conn:
            wallet_id = await conn.scalar("fault.drift", "SELECT id FROM wallets ORDER BY RANDOM() LIMIT 1")
            if wallet_id is None:
                raise Conflict("no wallet exists yet to drift", code="fault_unavailable")
            await conn.update(
                "fault.drift",
                "UPDATE wallets SET balance_cents = balance_cents + ?, updated_at = ? WHERE id = ?",
                (cents, now, wallet_id),
            )
        return f"wallet {wallet_id} balance changed by {cents} cents without a ledger entry"


async def chaos_loop(
    board: FaultBoard,
    now: Callable[[], float],
    mean_interval: float,
    rng: random.Random,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Now and then (exponentially distributed gaps, mean ``mean_interval`` s) switch one fault on
    for 30–90 s. Runs until cancelled."""
    while True:
        await sleep(rng.expovariate(1.0 / mean_interval))
        idle = [n for n, st in board.states.items() if not st.active and n is not FaultName.DATABASE]
        if not idle:
            continue
        name = rng.choice(idle)
        try:
            await board.activate(name, now(), FaultOrigin.CHAOS, duration=rng.uniform(30, 90))
        except Conflict as exc:
            log.info("chaos skipped %s: %s", name, exc.message)
