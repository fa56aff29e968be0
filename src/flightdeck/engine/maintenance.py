"""Periodic store maintenance: roll evidence up, then prune what retention no longer keeps.

Every flightdeck process with a scheduler tries once a minute; the named lease ``maintenance`` in
the ``leases`` table, claimed by compare-and-set and held for a minute, makes sure the pass runs at
most once per minute across all processes sharing a store. Both steps are idempotent, so a pass
that dies half-way is simply completed by the next one.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import multiprocessing
import pickle
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, insert, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from flightdeck.clock import Clock, sleep_or_until
from flightdeck.config.models import RetentionConfig
from flightdeck.engine.metrics import SchedulerMetrics
from flightdeck.store import Store
from flightdeck.store.retention import PruneReport, prune
from flightdeck.store.rollup import RollupReport, roll_up
from flightdeck.store.tables import leases

__all__ = [
    "MAINTENANCE_LEASE",
    "Maintenance",
    "MaintenanceOutcome",
    "MaintenanceReport",
    "claim_named_lease",
    "maintenance_pass",
]

log = logging.getLogger(__name__)

MAINTENANCE_LEASE = "maintenance"


class MaintenanceOutcome(enum.StrEnum):
    RAN = "ran"
    BUSY = "busy"  # another process holds the lease (or ran the pass less than a minute ago)
    FAILED = "failed"


@dataclass(frozen=True)
class MaintenanceReport:
    outcome: MaintenanceOutcome
    rollup: RollupReport | None = None
    prune: PruneReport | None = None
    error: str | None = None


def _ensure_row(conn: Connection, name: str) -> None:
    if conn.execute(select(leases.c.name).where(leases.c.name == name)).first() is not None:
        return
    values = {"name": name, "owner": None, "acquired_at": None, "expires_at": None}
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        conn.execute(pg_insert(leases).values(**values).on_conflict_do_nothing(index_elements=["name"]))
    elif conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        conn.execute(sqlite_insert(leases).values(**values).on_conflict_do_nothing(index_elements=["name"]))
    else:
        conn.execute(insert(leases).values(**values))


def claim_named_lease(conn: Connection, name: str, owner: str, now: datetime, hold: float) -> bool:
    """Take the lease ``name`` for ``hold`` seconds if it is free or expired (compare-and-set)."""
    _ensure_row(conn, name)
    result = conn.execute(
        update(leases)
        .where(and_(leases.c.name == name, or_(leases.c.expires_at.is_(None), leases.c.expires_at <= now)))
        .values(owner=owner, acquired_at=now, expires_at=now + timedelta(seconds=hold))
    )
    return result.rowcount == 1


def maintenance_pass(
    store: Store, retention: RetentionConfig, owner: str, now: datetime, hold: float
) -> MaintenanceReport:
    """One pass at ``now``, if ``owner`` wins the lease. Never raises."""
    try:
        with store.engine.begin() as conn:
            won = claim_named_lease(conn, MAINTENANCE_LEASE, owner, now, hold)
        if not won:
            return MaintenanceReport(MaintenanceOutcome.BUSY)
        rolled = roll_up(store, now)
        pruned = prune(store, now, retention)
        log.info("maintenance: %s; %s", rolled, pruned)
        return MaintenanceReport(MaintenanceOutcome.RAN, rollup=rolled, prune=pruned)
    except SQLAlchemyError as exc:
        log.error("maintenance pass failed: %s: %s", type(exc).__name__, _first_line(exc))
        return MaintenanceReport(MaintenanceOutcome.FAILED, error=f"{type(exc).__name__}: {_first_line(exc)}")
    except Exception as exc:  # a bug here must not take the scheduler down
        log.exception("maintenance pass failed")
        return MaintenanceReport(MaintenanceOutcome.FAILED, error=f"{type(exc).__name__}: {_first_line(exc)}")


_child_stores: dict[str, Store] = {}


def _pass_in_child(
    url: str, retention: RetentionConfig, owner: str, now: datetime, hold: float
) -> MaintenanceReport:
    """Runs in the maintenance worker process, which keeps one engine per store URL."""
    store = _child_stores.get(url)
    if store is None:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        store = _child_stores[url] = Store(url)
    return maintenance_pass(store, retention, owner, now, hold)


class Maintenance:
    """Runs :func:`flightdeck.store.rollup.roll_up` and :func:`flightdeck.store.retention.prune`.

    In :meth:`run`, passes execute in a worker process of their own (``isolated``, the default for
    any store but in-memory SQLite): rolling up a minute of 10,000 checks is seconds of Python work
    that, in a thread, would hold the interpreter lock and delay the scheduler's runs.
    """

    def __init__(
        self,
        store: Store,
        retention: RetentionConfig,
        owner: str,
        clock: Clock,
        metrics: SchedulerMetrics | None = None,
        every: float = 60.0,
        isolated: bool | None = None,
    ) -> None:
        self.store = store
        self.retention = retention
        self.owner = owner
        self.clock = clock
        self.metrics = metrics
        self.every = every
        self.isolated = (":memory:" not in store.url) if isolated is None else isolated
        self.last: MaintenanceReport | None = None

    def run_once(self) -> MaintenanceReport:
        """One pass in this process, if it wins the lease. Never raises."""
        return self._record(
            maintenance_pass(self.store, self.retention, self.owner, self.clock.now(), self.every)
        )

    def _record(self, report: MaintenanceReport) -> MaintenanceReport:
        if self.metrics is not None:
            self.metrics.maintenance_runs.labels(report.outcome.value).inc()
        self.last = report
        return report

    async def run(self, stop: asyncio.Event) -> None:
        """Try a pass every ``every`` seconds until ``stop`` is set."""
        pool: ProcessPoolExecutor | None = None
        loop = asyncio.get_running_loop()
        try:
            while not stop.is_set():
                if not self.isolated:
                    await asyncio.to_thread(self.run_once)
                else:
                    if pool is None:
                        pool = ProcessPoolExecutor(
                            1, mp_context=multiprocessing.get_context("spawn"), initializer=_ignore_sigint
                        )
                    try:
                        report = await loop.run_in_executor(
                            pool,
                            _pass_in_child,
                            self.store.url,
                            self.retention,
                            self.owner,
                            self.clock.now(),
                            self.every,
                        )
                    except (BrokenProcessPool, OSError, pickle.PicklingError) as exc:
                        log.error("maintenance worker failed: %s: %s", type(exc).__name__, exc)
                        report = MaintenanceReport(
                            MaintenanceOutcome.FAILED, error=f"{type(exc).__name__}: {exc}"
                        )
                        pool.shutdown(wait=False, cancel_futures=True)
                        pool = None
                    self._record(report)
                await sleep_or_until(self.clock, self.every, stop)
        finally:
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)


def _ignore_sigint() -> None:
    """In the maintenance worker: Ctrl-C in a terminal reaches the whole process group, but the
    parent decides when to stop; a pass under way finishes its transaction (no traceback)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""
