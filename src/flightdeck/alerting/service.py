"""The alerting engine inside ``flightdeck serve``: rules → router → delivery, in one loop.

Every process runs an :class:`AlertingService`. One of them at a time, the holder of the named lease
``alerting`` (compare-and-set in the ``leases`` table, renewed on every pass), evaluates rules and
routes alerts into incidents and notifications; a process that dies loses the lease after
``lease_hold`` seconds and another takes over where it stopped (the evidence watermark and every
decision are in the store). Every process delivers: notifications are claimed one by one by
compare-and-set, so two processes on one PostgreSQL store never send the same one twice.

A pass that did work is followed at once by another; an idle pass waits ``interval`` (200 ms), so a
failing evidence record is a notification leaving flightdeck well within a second, beyond the waits
the configuration asks for (``group_wait``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, update
from sqlalchemy.exc import SQLAlchemyError

from flightdeck.alerting.alerts import resolve_expired
from flightdeck.clock import Clock, SystemClock, sleep_or_until
from flightdeck.config.models import Config
from flightdeck.engine.maintenance import claim_named_lease
from flightdeck.store import Store
from flightdeck.store.tables import leases

__all__ = ["ALERTING_LEASE", "AlertingService", "PassReport", "hold_lease", "release_lease"]

log = logging.getLogger(__name__)

ALERTING_LEASE = "alerting"


def hold_lease(store: Store, name: str, owner: str, now: datetime, hold: float) -> bool:
    """Renew the lease ``name`` if ``owner`` holds it, else take it if free or expired."""
    with store.engine.begin() as conn:
        renewed = conn.execute(
            update(leases)
            .where(and_(leases.c.name == name, leases.c.owner == owner, leases.c.expires_at > now))
            .values(expires_at=now + timedelta(seconds=hold))
        )
        if renewed.rowcount == 1:
            return True
        return claim_named_lease(conn, name, owner, now, hold)


def release_lease(store: Store, name: str, owner: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            update(leases)
            .where(and_(leases.c.name == name, leases.c.owner == owner))
            .values(owner=None, expires_at=None)
        )


@dataclass(frozen=True)
class PassReport:
    leader: bool
    evaluated: int
    routed: int
    delivered: int

    @property
    def work(self) -> int:
        return self.evaluated + self.routed + self.delivered


class AlertingService:
    """Rules, router and delivery for one process. :meth:`run` loops until ``stop`` is set;
    tests call :meth:`run_pass` with a :class:`~flightdeck.clock.FakeClock`."""

    def __init__(
        self,
        config: Config,
        store: Store,
        clock: Clock | None = None,
        node_id: str | None = None,
        *,
        interval: float = 0.2,
        lease_hold: float = 5.0,
    ) -> None:
        from flightdeck.alerting.delivery import Deliverer
        from flightdeck.alerting.evaluate import RuleEngine
        from flightdeck.alerting.router import Router

        self.config = config
        self.store = store
        self.clock: Clock = clock or SystemClock()
        self.node_id = node_id or f"{socket.gethostname()}-{os.getpid()}"
        self.interval = interval
        self.lease_hold = lease_hold
        self.rules = RuleEngine(config, store, self.clock, self.node_id)
        self.router = Router(config, store, self.clock, self.node_id)
        self.delivery = Deliverer(config, store, self.clock, self.node_id)
        self.leader = False
        self.wake = asyncio.Event()

    async def run_pass(self) -> PassReport:
        """One pass: if leader, evaluate rules and route; then deliver what is due."""
        now = self.clock.now()
        evaluated = routed = 0
        try:
            self.leader = await asyncio.to_thread(
                hold_lease, self.store, ALERTING_LEASE, self.node_id, now, self.lease_hold
            )
        except SQLAlchemyError as exc:
            log.error("alerting: cannot reach the store to renew the lease: %s", type(exc).__name__)
            self.leader = False
        if self.leader:
            evaluated = await self.rules.step(now)
            evaluated += await asyncio.to_thread(self._expire, self.clock.now())
            routed = await self.router.step(self.clock.now())
        delivered = await self.delivery.step(self.clock.now())
        return PassReport(self.leader, evaluated, routed, delivered)

    def _expire(self, now: datetime) -> int:
        """Pushed alerts (Alertmanager, events) whose ``endsAt`` passed without a refresh resolve."""
        with self.store.engine.begin() as conn:
            return resolve_expired(conn, now)

    async def run(self, stop: asyncio.Event) -> None:
        """Pass after pass until ``stop`` is set. A failing pass is logged and retried; it never ends
        the loop (the next pass starts from what the store holds)."""
        try:
            while not stop.is_set():
                work = 0
                try:
                    work = (await self.run_pass()).work
                except Exception:
                    log.exception("alerting pass failed; retrying")
                    await sleep_or_until(self.clock, 1.0, stop)
                    continue
                if work == 0:
                    self.wake.clear()
                    waiters = {
                        asyncio.ensure_future(self.wake.wait()),
                        asyncio.ensure_future(sleep_or_until(self.clock, self.interval, stop)),
                    }
                    try:
                        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        for waiter in waiters:
                            waiter.cancel()
                        await asyncio.gather(*waiters, return_exceptions=True)
        finally:
            await self.close()

    async def close(self) -> None:
        for part in (self.delivery, self.router, self.rules):
            try:
                await part.close()
            except Exception:  # closing must not hide the reason the loop ended
                log.exception("alerting: closing %s failed", type(part).__name__)
        if self.leader:
            with contextlib.suppress(SQLAlchemyError):
                await asyncio.to_thread(release_lease, self.store, ALERTING_LEASE, self.node_id)
            self.leader = False
