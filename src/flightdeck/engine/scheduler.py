"""The scheduler: claims due checks by lease, runs them, writes their evidence in batches.

One pass (a *tick*, four times a second) claims the checks due within the next second with one
compare-and-set ``UPDATE … RETURNING`` on ``check_state``::

    UPDATE check_state SET lease_owner = :me, lease_until = :until
     WHERE subject IN (:due candidates) AND enabled AND retired_at IS NULL
       AND next_due_at <= :horizon AND (lease_owner IS NULL OR lease_until < :now)
    RETURNING subject, next_due_at, memo

so two processes on one PostgreSQL never run the same check at once (a row whose lease another
process holds is not updated, and PostgreSQL re-checks the condition on a row changed under it).
A lease lasts the check's timeout plus ``scheduler.lease_grace``; when a process dies its leases
expire and another process runs the check, once (catch-up, see :mod:`flightdeck.engine.schedule`).

Each claimed run waits for its due time, runs through :func:`flightdeck.engine.runner.run_check`
(timeout, exception capture, conditions, scrubbing) and hands its evidence to the
:class:`~flightdeck.engine.writer.EvidenceWriter`, which writes evidence and state in one
transaction per batch and releases the lease. ``stop()`` drains: no more claims, runs in flight
get ``scheduler.drain_timeout`` to finish, the rest are cancelled and their leases released
without evidence, the writer is flushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import JsonValue
from sqlalchemy import and_, bindparam, or_, select, true, update
from sqlalchemy.exc import SQLAlchemyError

from flightdeck.checks.base import CheckContext
from flightdeck.clock import Clock, sleep_or_until
from flightdeck.config.check_spec import CatchUp
from flightdeck.config.models import Config
from flightdeck.engine.maintenance import Maintenance
from flightdeck.engine.metrics import SchedulerMetrics
from flightdeck.engine.oneshot import check_rows
from flightdeck.engine.runner import PreparedCheck, prepare_checks, run_check
from flightdeck.engine.schedule import (
    ClaimAction,
    CronSchedule,
    IntervalSchedule,
    Schedule,
    decide_on_claim,
    first_due,
    plan_after_run,
)
from flightdeck.engine.writer import Completion, EvidenceWriter, Release
from flightdeck.errors import StoreError
from flightdeck.evidence import Trigger
from flightdeck.store import Store, sync_checks
from flightdeck.store.tables import check_state

__all__ = ["Claim", "ScheduledCheck", "Scheduler", "SchedulerHealth"]

log = logging.getLogger(__name__)

_LAG_WINDOW = 300.0  # seconds of start lateness the health p99 looks at


@dataclass(frozen=True)
class ScheduledCheck:
    """A prepared check with its schedule and catch-up policy."""

    prepared: PreparedCheck
    schedule: Schedule
    catch_up: CatchUp

    @property
    def subject(self) -> str:
        return self.prepared.subject


@dataclass(frozen=True)
class Claim:
    subject: str
    due: datetime
    memo: JsonValue


@dataclass(frozen=True)
class SchedulerHealth:
    running: bool
    draining: bool
    node_id: str
    checks: int  # enabled checks this process schedules
    in_flight: int  # runs in progress
    waiting: int  # claimed, waiting for their due time
    lag_p99_s: float | None  # p99 start lateness over the last five minutes; None without runs
    last_tick: datetime | None
    pending_writes: int


def _schedule_for(p: PreparedCheck) -> Schedule:
    if p.spec.cron is not None:
        return CronSchedule(p.spec.cron, p.spec.timezone)
    return IntervalSchedule.for_subject(p.subject, p.interval)


class Scheduler:
    """Runs the configured checks on their schedules until :meth:`stop`."""

    def __init__(
        self,
        config: Config,
        store: Store,
        clock: Clock | None = None,
        metrics: SchedulerMetrics | None = None,
        *,
        node_id: str | None = None,
        tick: float = 0.25,
        lookahead: float = 1.0,
        maintenance: bool = True,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.clock: Clock = clock or store.clock
        self.metrics = metrics or SchedulerMetrics()
        self.node_id = node_id or config.scheduler.node_id
        self.tick_interval = tick
        self.lookahead = lookahead
        self.context = CheckContext(config=config, clock=self.clock, store=store)
        self.writer = EvidenceWriter(store, self.node_id, self.metrics)
        self.maintenance = (
            Maintenance(store, config.store.retention, self.node_id, self.clock, self.metrics)
            if maintenance
            else None
        )
        self._rng = rng or random.Random()
        self._checks: dict[str, ScheduledCheck] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._started_runs: set[str] = set()
        self._stop = asyncio.Event()
        self.ready = asyncio.Event()  # set once the checks are prepared and synced, in run()
        self._force = False
        self._prepared = False
        self._running = False
        self._draining = False
        self._last_tick: datetime | None = None
        self._lateness: deque[tuple[float, float]] = deque(maxlen=50_000)
        self.runs_started = 0

    # -- public ---------------------------------------------------------------------------------
    @property
    def checks(self) -> dict[str, ScheduledCheck]:
        return dict(self._checks)

    def health(self) -> SchedulerHealth:
        cutoff = time.monotonic() - _LAG_WINDOW
        recent = sorted(v for t, v in self._lateness if t >= cutoff)
        p99 = recent[min(len(recent) - 1, int(0.99 * len(recent)))] if recent else None
        return SchedulerHealth(
            running=self._running,
            draining=self._draining,
            node_id=self.node_id,
            checks=len(self._checks),
            in_flight=len(self._started_runs),
            waiting=len(self._tasks) - len(self._started_runs),
            lag_p99_s=p99,
            last_tick=self._last_tick,
            pending_writes=self.writer.pending,
        )

    def stop(self, force: bool = False) -> None:
        """Begin draining (idempotent). With ``force``, cancel runs in flight at once."""
        if force:
            self._force = True
            for subject, task in list(self._tasks.items()):
                if subject in self._started_runs:
                    task.cancel()
        self._stop.set()

    async def run(self) -> None:
        """Schedule until :meth:`stop`, then drain and return."""
        try:
            await self.start()
        except BaseException:
            await self.context.aclose()
            raise
        self._running = True
        self.ready.set()
        writer_task = asyncio.create_task(self.writer.run(), name="flightdeck-writer")
        maint_task = (
            asyncio.create_task(self.maintenance.run(self._stop), name="flightdeck-maintenance")
            if self.maintenance is not None
            else None
        )
        backoff = self.tick_interval
        try:
            while not self._stop.is_set():
                try:
                    await self.tick()
                    backoff = self.tick_interval
                except Exception as exc:  # the store went away, a bug: log, wait, go on
                    self.metrics.errors.labels("claim").inc()
                    log.error("scheduler pass failed, retrying: %s: %s", type(exc).__name__, _first(exc))
                    backoff = min(max(backoff * 2, 0.5), 10.0)
                await sleep_or_until(self.clock, backoff, self._stop)
        finally:
            self._running = False
            await self.close()
            if maint_task is not None:
                maint_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await maint_task
            writer_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer_task

    async def start(self) -> None:
        """Prepare the checks and bring ``check_state`` in line with the configuration."""
        if self._prepared:
            return
        everything = prepare_checks(self.config, self.context, include_disabled=True)
        for p in everything:
            if p.spec.enabled:
                catch_up = p.spec.catch_up or self.config.defaults.catch_up
                self._checks[p.subject] = ScheduledCheck(p, _schedule_for(p), catch_up)
        try:
            await asyncio.to_thread(self._sync, everything)
        except SQLAlchemyError as exc:
            raise StoreError(
                f"cannot schedule checks in the store {self.store.display_url}: {_first(exc)}"
            ) from exc
        self._prepared = True
        log.info(
            "scheduler %s: %d checks enabled, %d configured", self.node_id, len(self._checks), len(everything)
        )

    async def tick(self) -> int:
        """Claim what is due within the lookahead and start it. Returns the number claimed."""
        now = self.clock.now()
        self._last_tick = now
        self.metrics.last_tick.set(now.timestamp())
        capacity = self.config.scheduler.max_concurrency - len(self._tasks)
        if capacity <= 0 or self._stop.is_set():
            return 0
        claims = await asyncio.to_thread(self._claim, now, capacity)
        for c in claims:
            if self._stop.is_set():
                self.writer.submit(Release(c.subject))
                continue
            sc = self._checks[c.subject]
            self._tasks[c.subject] = asyncio.create_task(self._run(sc, c), name=f"check {c.subject}")
        return len(claims)

    async def settle(self) -> None:
        """Wait for every claimed run to finish and its outcome to be written."""
        while self._tasks:
            await asyncio.wait(list(self._tasks.values()))
        await self.writer.flush()

    async def close(self) -> None:
        """Drain: stop claiming, give runs in flight ``drain_timeout`` to finish, cancel and release
        the rest, write every outcome, release any lease still held, close shared clients."""
        self._stop.set()
        self._draining = True
        try:
            for subject, task in list(self._tasks.items()):
                if subject not in self._started_runs:
                    task.cancel()  # claimed but not started: give the lease back
            pending = [t for t in self._tasks.values() if not t.done()]
            if pending and not self._force:
                timeout = self.config.scheduler.drain_timeout
                log.info("draining %d run(s) in flight (up to %gs)", len(pending), timeout)
                _, pending_set = await asyncio.wait(pending, timeout=timeout)
                pending = list(pending_set)
            for t in pending:
                t.cancel()
            if pending:
                log.warning("cancelled %d run(s) still in flight; their leases are released", len(pending))
                await asyncio.wait(pending)
            await self.writer.close()
            try:
                await asyncio.to_thread(self._release_all)
            except SQLAlchemyError as exc:  # the store is gone: the leases expire by themselves
                log.error("could not release leases on shutdown: %s", _first(exc))
        finally:
            await self.context.aclose()
            self._draining = False

    # -- runs ---------------------------------------------------------------------------------
    async def _run(self, sc: ScheduledCheck, claim: Claim) -> None:
        subject = claim.subject
        p = sc.prepared
        try:
            # Loop timers may fire a millisecond early: never start before the due time.
            while (delay := (claim.due - self.clock.now()).total_seconds()) > 0:
                await self.clock.sleep(delay)
            now = self.clock.now()
            decision = decide_on_claim(sc.schedule, claim.due, now, sc.catch_up, p.jitter, self._rng)
            if decision.action is ClaimAction.SKIP:
                self.metrics.skipped_slots.inc()
                self.writer.submit(Release(subject, decision.skip_to))
                return
            if decision.action is ClaimAction.CATCH_UP:
                # Lateness here measures downtime, not the scheduler keeping up: counted apart.
                self.metrics.catch_up_runs.inc()
            else:
                lateness = max(0.0, decision.lateness)
                self.metrics.start_lateness.observe(lateness)
                self._lateness.append((time.monotonic(), lateness))
            self._started_runs.add(subject)
            self.metrics.in_flight.inc()
            self.runs_started += 1
            try:
                result = await run_check(p, Trigger.SCHEDULE, claim.memo)
            finally:
                self._started_runs.discard(subject)
                self.metrics.in_flight.dec()
            nxt = plan_after_run(
                sc.schedule, decision.reference, self.clock.now(), sc.catch_up, p.jitter, self._rng
            )
            if nxt.skipped:
                self.metrics.skipped_slots.inc(nxt.skipped)
            self.metrics.observe_run(result.evidence)
            self.writer.submit(Completion(result, nxt.due))
        except asyncio.CancelledError:
            self.writer.submit(Release(subject))
            raise
        except Exception:  # nothing a run does may take the scheduler down
            self.metrics.errors.labels("run").inc()
            log.exception("run of %s failed outside the check; its lease is released", subject)
            self.writer.submit(Release(subject))
        finally:
            self._tasks.pop(subject, None)

    # -- in worker threads -------------------------------------------------------------------
    def _sync(self, everything: list[PreparedCheck]) -> None:
        now = self.clock.now()
        with self.store.engine.begin() as conn:
            before = {
                r.subject: (r.config_digest, r.next_due_at, r.retired_at)
                for r in conn.execute(
                    select(
                        check_state.c.subject,
                        check_state.c.config_digest,
                        check_state.c.next_due_at,
                        check_state.c.retired_at,
                    )
                ).all()
            }
            sync_checks(conn, check_rows(everything), now)
            reset = []
            for subject, sc in self._checks.items():
                old = before.get(subject)
                if old is None or old[1] is None or old[0] != sc.prepared.digest or old[2] is not None:
                    due = first_due(sc.schedule, now, sc.prepared.jitter, self._rng)
                    reset.append({"s": subject, "due": due})
            if reset:
                conn.execute(
                    update(check_state)
                    .where(check_state.c.subject == bindparam("s"))
                    .values(next_due_at=bindparam("due")),
                    reset,
                )
        if reset:
            log.info("scheduled %d new or changed check(s)", len(reset))

    def _claim(self, now: datetime, limit: int) -> list[Claim]:
        horizon = now + timedelta(seconds=self.lookahead)
        cs = check_state.c
        claimable = and_(
            cs.enabled == true(),
            cs.retired_at.is_(None),
            cs.next_due_at.is_not(None),
            cs.next_due_at <= horizon,
            or_(cs.lease_owner.is_(None), cs.lease_until < now),
        )
        claims: list[Claim] = []
        with self.store.engine.begin() as conn:
            rows = conn.execute(
                select(cs.subject).where(claimable).order_by(cs.next_due_at).limit(limit + len(self._tasks))
            ).all()
            by_timeout: dict[float, list[str]] = {}
            for (subject,) in rows:
                sc = self._checks.get(subject)
                if sc is None or subject in self._tasks:
                    continue  # another process's configuration, or still running here
                by_timeout.setdefault(sc.prepared.timeout, []).append(subject)
                if sum(len(v) for v in by_timeout.values()) >= limit:
                    break
            grace = self.config.scheduler.lease_grace
            for timeout, subjects in by_timeout.items():
                until = horizon + timedelta(seconds=timeout + grace)
                result = conn.execute(
                    update(check_state)
                    .where(and_(cs.subject.in_(subjects), claimable))
                    .values(lease_owner=self.node_id, lease_until=until)
                    .returning(cs.subject, cs.next_due_at, cs.memo)
                )
                claims.extend(Claim(r.subject, r.next_due_at, r.memo) for r in result.all())
        claims.sort(key=lambda c: c.due)
        return claims

    def _release_all(self) -> None:
        with self.store.engine.begin() as conn:
            result = conn.execute(
                update(check_state)
                .where(check_state.c.lease_owner == self.node_id)
                .values(lease_owner=None, lease_until=None)
            )
        if result.rowcount:
            log.info("released %d lease(s) on shutdown", result.rowcount)


def _first(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""
