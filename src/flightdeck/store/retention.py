"""Retention: delete what the configured windows no longer keep, never what is still needed.

- Raw evidence older than ``retention.raw`` goes, but only once it is rolled up (it finished before
  the minute watermark), and never a record ``check_state`` points at (a check's latest record and
  its latest failure stay, however old, so the cockpit can always show them).
- Minute / hour rollups older than their window go once the next coarser resolution has them
  (bucket before that resolution's watermark); day rollups older than ``retention.day`` go.

Deletion runs in bounded batches, one short transaction each, so it never holds the SQLite writer
for long while the scheduler writes evidence.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import Connection, and_, delete, select, tuple_, union

from flightdeck.config.models import RetentionConfig
from flightdeck.store.aggregate import Resolution
from flightdeck.store.db import Store
from flightdeck.store.rollup import ROLLED, watermarks
from flightdeck.store.tables import check_state, evidence, rollups

__all__ = ["BATCH_SIZE", "PruneReport", "prune", "prune_cutoffs"]

BATCH_SIZE: Final = 5000
"""Rows deleted per transaction."""


@dataclass(frozen=True)
class PruneReport:
    raw_deleted: int
    minute_deleted: int
    hour_deleted: int
    day_deleted: int
    batches: int
    complete: bool  # False when stopped by max_batches with more to delete
    seconds: float

    @property
    def deleted(self) -> int:
        return self.raw_deleted + self.minute_deleted + self.hour_deleted + self.day_deleted

    def __str__(self) -> str:
        return (
            f"pruned {self.raw_deleted} raw records, rollups {self.minute_deleted} minute / "
            f"{self.hour_deleted} hour / {self.day_deleted} day in {self.batches} batches, "
            f"{self.seconds:.2f}s"
        )


def prune_cutoffs(
    conn: Connection, now: datetime, retention: RetentionConfig
) -> dict[Resolution, datetime | None]:
    """Per resolution, the time before which rows may be deleted (None: nothing may be)."""
    marks = watermarks(conn)
    windows = {
        Resolution.RAW: retention.raw,
        Resolution.MINUTE: retention.minute,
        Resolution.HOUR: retention.hour,
        Resolution.DAY: retention.day,
    }
    # What must already hold the data before it may go: raw → minute, minute → hour, hour → day.
    holder = {
        Resolution.RAW: Resolution.MINUTE,
        Resolution.MINUTE: Resolution.HOUR,
        Resolution.HOUR: Resolution.DAY,
    }
    cutoffs: dict[Resolution, datetime | None] = {}
    for resolution, window in windows.items():
        cut: datetime | None = now - timedelta(seconds=window)
        if resolution in holder:
            mark = marks.get(holder[resolution])
            cut = None if mark is None or cut is None else min(cut, mark)
        cutoffs[resolution] = cut
    return cutoffs


def prune(
    store: Store,
    now: datetime,
    retention: RetentionConfig,
    *,
    batch_size: int = BATCH_SIZE,
    max_batches: int | None = None,
) -> PruneReport:
    """Delete raw evidence and rollups past their windows, ``batch_size`` rows per transaction."""
    started = time.monotonic()
    with store.engine.connect() as conn:
        cutoffs = prune_cutoffs(conn, now, retention)
    deleted = dict.fromkeys(Resolution, 0)
    batches = 0
    complete = True
    for resolution in (Resolution.RAW, *ROLLED):
        cut = cutoffs[resolution]
        if cut is None:
            continue
        while True:
            if max_batches is not None and batches >= max_batches:
                complete = False
                break
            with store.engine.begin() as conn:
                if resolution is Resolution.RAW:
                    n = _delete_raw(conn, cut, batch_size)
                else:
                    n = _delete_rollups(conn, resolution, cut, batch_size)
            batches += 1
            deleted[resolution] += n
            if n < batch_size:
                break
        if not complete:
            break
    return PruneReport(
        raw_deleted=deleted[Resolution.RAW],
        minute_deleted=deleted[Resolution.MINUTE],
        hour_deleted=deleted[Resolution.HOUR],
        day_deleted=deleted[Resolution.DAY],
        batches=batches,
        complete=complete,
        seconds=time.monotonic() - started,
    )


def _delete_raw(conn: Connection, cut: datetime, limit: int) -> int:
    referenced = union(
        select(check_state.c.last_evidence_id).where(check_state.c.last_evidence_id.is_not(None)),
        select(check_state.c.last_failure_evidence_id).where(
            check_state.c.last_failure_evidence_id.is_not(None)
        ),
    ).subquery()
    ids = [
        int(i)
        for i in conn.execute(
            select(evidence.c.id)
            .where(and_(evidence.c.finished_at < cut, evidence.c.id.not_in(select(referenced.c[0]))))
            .order_by(evidence.c.finished_at)
            .limit(limit)
        ).scalars()
    ]
    if not ids:
        return 0
    conn.execute(delete(evidence).where(evidence.c.id.in_(ids)))
    return len(ids)


def _delete_rollups(conn: Connection, resolution: Resolution, cut: datetime, limit: int) -> int:
    victims = (
        select(rollups.c.resolution, rollups.c.subject, rollups.c.bucket_start)
        .where(and_(rollups.c.resolution == resolution.value, rollups.c.bucket_start < cut))
        .order_by(rollups.c.bucket_start)
        .limit(limit)
    )
    result = conn.execute(
        delete(rollups).where(
            tuple_(rollups.c.resolution, rollups.c.subject, rollups.c.bucket_start).in_(victims)
        )
    )
    return int(result.rowcount)
