"""Batched writes of the scheduler's outcomes.

Each finished run becomes one :class:`Completion`; the writer gathers what arrived while the
previous batch was being written and writes the next batch in ONE transaction: the evidence rows,
then each check's state folded in by compare-and-set on the run's lease (which also releases the
lease and sets the next due time). A batch is written whole or not at all, so evidence is never
half-written; a batch that fails (store unreachable) is kept and retried.

:class:`Release` gives a lease back without evidence: a run cancelled during a drain, a run that
was claimed but not started, or a missed slot skipped under ``catch_up: skip``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, bindparam, update
from sqlalchemy.exc import SQLAlchemyError

from flightdeck.engine.metrics import SchedulerMetrics
from flightdeck.engine.runner import RunResult
from flightdeck.store import Store, insert_evidence, record_outcome
from flightdeck.store.tables import check_state

__all__ = ["Completion", "EvidenceWriter", "Release", "WriteItem", "WriteReport"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Completion:
    """A finished run: its evidence, the memo for the next run, and when the next run is due."""

    result: RunResult
    next_due: datetime


@dataclass(frozen=True)
class Release:
    """Give a lease back without evidence; ``next_due`` None leaves the due time as it was."""

    subject: str
    next_due: datetime | None = None


WriteItem = Completion | Release


@dataclass(frozen=True)
class WriteReport:
    evidence_ids: list[int]
    leases_lost: list[str]  # runs whose lease had expired: evidence kept, state not updated
    released: int


class EvidenceWriter:
    """Writes :class:`Completion` and :class:`Release` items in batches, one transaction each."""

    def __init__(
        self,
        store: Store,
        owner: str,
        metrics: SchedulerMetrics | None = None,
        *,
        linger: float = 0.05,
        max_batch: int = 1000,
    ) -> None:
        self.store = store
        self.owner = owner
        self.metrics = metrics
        self.linger = linger
        self.max_batch = max_batch
        self._queue: deque[WriteItem] = deque()
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._closed = False
        self.written = 0

    @property
    def pending(self) -> int:
        return len(self._queue)

    def submit(self, item: WriteItem) -> None:
        self._queue.append(item)
        self._wake.set()

    async def run(self) -> None:
        """Write batches as items arrive, until :meth:`close`. Failures are logged and retried."""
        backoff = 0.5
        while not (self._closed and not self._queue):
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            if self.linger > 0 and not self._closed:
                await asyncio.sleep(self.linger)  # let a batch gather
            try:
                await self.flush()
                backoff = 0.5
            except SQLAlchemyError as exc:
                self._error(exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def flush(self) -> None:
        """Write everything queued now. Raises (keeping the items) when the store fails."""
        async with self._lock:
            while self._queue:
                batch = [self._queue.popleft() for _ in range(min(self.max_batch, len(self._queue)))]
                try:
                    report = await asyncio.to_thread(self._write, batch)
                except BaseException:
                    self._queue.extendleft(reversed(batch))
                    raise
                self.written += len(report.evidence_ids)
                if self.metrics is not None:
                    self.metrics.evidence_written.inc(len(report.evidence_ids))
                    if report.leases_lost:
                        self.metrics.leases_lost.inc(len(report.leases_lost))
                for subject in report.leases_lost:
                    log.warning(
                        "lease on %s expired before its run was written; evidence kept, state not updated",
                        subject,
                    )

    async def close(self, deadline: float = 10.0) -> int:
        """Stop accepting new work and write what is queued, retrying until ``deadline`` seconds
        have passed. Returns how many items could not be written (0 normally)."""
        self._closed = True
        self._wake.set()
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline
        backoff = 0.2
        while self._queue:
            try:
                await self.flush()
            except SQLAlchemyError as exc:
                self._error(exc)
                if loop.time() + backoff > end:
                    break
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
        left = len(self._queue)
        if left:
            log.error("could not write %d outcome(s) before shutting down; their leases will expire", left)
        return left

    def _error(self, exc: BaseException) -> None:
        if self.metrics is not None:
            self.metrics.errors.labels("write").inc()
        log.error("writing %d outcome(s) failed, will retry: %s", len(self._queue), _one_line(exc))

    # -- in a worker thread ----------------------------------------------------------------
    def _write(self, batch: list[WriteItem]) -> WriteReport:
        t0 = time.perf_counter()
        completions = [i for i in batch if isinstance(i, Completion)]
        releases = [i for i in batch if isinstance(i, Release)]
        lost: list[str] = []
        with self.store.engine.begin() as conn:
            ids = insert_evidence(conn, [c.result.evidence for c in completions])
            for eid, c in zip(ids, completions, strict=True):
                ok = record_outcome(
                    conn,
                    eid,
                    c.result.evidence,
                    memo=c.result.memo,
                    lease_owner=self.owner,
                    next_due_at=c.next_due,
                )
                if not ok:
                    lost.append(c.result.evidence.subject)
            self._release(conn, releases)
        if self.metrics is not None:
            self.metrics.write_seconds.observe(time.perf_counter() - t0)
        return WriteReport(evidence_ids=ids, leases_lost=lost, released=len(releases))

    def _release(self, conn: Connection, releases: list[Release]) -> None:
        keep = [r.subject for r in releases if r.next_due is None]
        move = [{"s": r.subject, "due": r.next_due} for r in releases if r.next_due is not None]
        mine = check_state.c.lease_owner == self.owner
        if keep:
            conn.execute(
                update(check_state)
                .where(and_(check_state.c.subject.in_(keep), mine))
                .values(lease_owner=None, lease_until=None)
            )
        if move:
            conn.execute(
                update(check_state)
                .where(and_(check_state.c.subject == bindparam("s"), mine))
                .values(lease_owner=None, lease_until=None, next_due_at=bindparam("due")),
                move,
            )


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
