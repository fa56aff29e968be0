"""Rolling evidence up per minute, hour and day.

Minute rollups are computed from raw evidence, hour rollups from minute rollups and day rollups from
hour rollups (buckets by ``finished_at``, aligned to UTC). ``rollup_watermarks`` records, per
resolution, the time before which every bucket is complete; :func:`roll_up` continues from there.

A minute bucket ``[m, m + 1 min)`` is *closed* once ``now ≥ m + 1 min + SETTLE`` (records reach the
store a little after they finish); an hour bucket once the minute watermark has passed its end; a
day bucket once the hour watermark has. Only closed buckets are rolled.

Each batch is one transaction that writes the rows and moves the watermark by compare-and-set, so
a crash leaves either the whole batch or none of it, re-running changes nothing, and two processes
rolling at once cannot both write a batch (the one that loses the compare-and-set rolls back).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Connection, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from flightdeck.evidence import Verdict
from flightdeck.store.aggregate import BucketAggregate, Resolution
from flightdeck.store.db import Store
from flightdeck.store.tables import evidence, rollup_watermarks, rollups

__all__ = [
    "BATCH_ROWS",
    "ROLLED",
    "SETTLE",
    "Resolution",
    "ResolutionReport",
    "RollupReport",
    "closed_until",
    "roll_up",
    "watermarks",
]

log = logging.getLogger(__name__)

ROLLED: Final = (Resolution.MINUTE, Resolution.HOUR, Resolution.DAY)
"""The resolutions stored in ``rollups``, finest first."""

SETTLE: Final = timedelta(seconds=60)
"""How long after a minute ends before it is rolled: records written late by up to this much still
count. A record written later than that into an already rolled minute stays in the raw table
(and in raw views) but is not in the rollups."""

BATCH_ROWS: Final = 20_000
"""Source rows (raw records or finer rollup rows) read per transaction, at most — except that one
bucket is never split: an hour of 10,000 checks is one batch of 600,000 minute rows."""

_FETCH_CHUNK: Final = 5000


@dataclass(frozen=True)
class ResolutionReport:
    resolution: Resolution
    batches: int  # transactions committed
    rows_written: int  # rollup rows inserted
    rows_read: int  # raw records or finer rollup rows read
    rolled_until: datetime | None  # the watermark afterwards (None: nothing to roll yet)

    def __str__(self) -> str:
        until = self.rolled_until.isoformat() if self.rolled_until else "-"
        return f"{self.resolution}: {self.rows_written} rows from {self.rows_read} until {until}"


@dataclass(frozen=True)
class RollupReport:
    resolutions: tuple[ResolutionReport, ...]
    complete: bool  # False when stopped by max_batches or lost a race to another process
    seconds: float

    def __getitem__(self, resolution: Resolution) -> ResolutionReport:
        for r in self.resolutions:
            if r.resolution is resolution:
                return r
        raise KeyError(resolution)

    @property
    def rows_written(self) -> int:
        return sum(r.rows_written for r in self.resolutions)

    def __str__(self) -> str:
        return "rolled up " + "; ".join(str(r) for r in self.resolutions) + f" in {self.seconds:.2f}s"


def watermarks(conn: Connection) -> dict[Resolution, datetime]:
    """How far each resolution is complete (resolutions never rolled are absent)."""
    rows = conn.execute(select(rollup_watermarks.c.resolution, rollup_watermarks.c.rolled_until)).all()
    return {Resolution(r.resolution): r.rolled_until for r in rows if r.resolution in set(ROLLED)}


def closed_until(resolution: Resolution, now: datetime, marks: dict[Resolution, datetime]) -> datetime | None:
    """The end of the last closed bucket of ``resolution`` (None: nothing can be closed yet)."""
    if resolution is Resolution.MINUTE:
        return Resolution.MINUTE.floor(now - SETTLE)
    finer = marks.get(resolution.finer)
    return resolution.floor(finer) if finer is not None else None


def roll_up(store: Store, now: datetime, *, max_batches: int | None = None) -> RollupReport:
    """Roll every closed bucket from the watermarks on: minutes, then hours, then days.

    Idempotent: buckets before a watermark are never rolled again. ``max_batches`` bounds the
    transactions per resolution (for catching up a large backlog in slices).
    """
    started = time.monotonic()
    reports: list[ResolutionReport] = []
    complete = True
    for resolution in ROLLED:
        report, done = _roll_resolution(store, resolution, now, max_batches)
        reports.append(report)
        complete = complete and done
    return RollupReport(tuple(reports), complete, time.monotonic() - started)


def _roll_resolution(
    store: Store, resolution: Resolution, now: datetime, max_batches: int | None
) -> tuple[ResolutionReport, bool]:
    batches = written = read = 0
    mark: datetime | None = None
    done = True
    while True:
        with store.engine.connect() as conn:
            marks = watermarks(conn)
            mark = marks.get(resolution)
            limit = closed_until(resolution, now, marks)
            start = mark
            if start is None:
                first = _first_source_time(conn, resolution)
                if first is None:
                    break  # nothing was ever recorded at the finer resolution
                start = resolution.floor(first)
        if limit is None or start >= limit:
            break
        if max_batches is not None and batches >= max_batches:
            done = False
            break
        begin = start
        try:
            with store.engine.begin() as conn:
                end = _batch_end(conn, resolution, begin, limit)
                aggregates, rows_read = _aggregate(conn, resolution, begin, end)
                conn.execute(
                    delete(rollups).where(
                        and_(
                            rollups.c.resolution == resolution.value,
                            rollups.c.bucket_start >= begin,
                            rollups.c.bucket_start < end,
                        )
                    )
                )
                values = [
                    {
                        "resolution": resolution.value,
                        "subject": subject,
                        "bucket_start": bucket,
                        **agg.to_row(),
                    }
                    for (subject, bucket), agg in aggregates.items()
                ]
                for chunk in _chunks(values, _FETCH_CHUNK):
                    conn.execute(insert(rollups), chunk)
                if not _move_watermark(conn, resolution, mark, end):
                    raise _LostRace
        except (_LostRace, IntegrityError) as exc:
            # Another process rolled the same buckets first; its rows stand.
            log.info("rollup %s: another process got there first (%s)", resolution, type(exc).__name__)
            done = False
            break
        except OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            log.info("rollup %s: store busy, continuing on the next pass", resolution)
            done = False
            break
        batches += 1
        written += len(values)
        read += rows_read
        mark = end
    return ResolutionReport(resolution, batches, written, read, mark), done


class _LostRace(Exception):
    pass


def _chunks(items: Sequence[dict[str, Any]], size: int) -> Iterator[Sequence[dict[str, Any]]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _first_source_time(conn: Connection, resolution: Resolution) -> datetime | None:
    """The time of the oldest record (raw) or bucket (finer rollup): where rolling starts."""
    if resolution is Resolution.MINUTE:
        stmt = select(func.min(evidence.c.finished_at))
    else:
        stmt = select(func.min(rollups.c.bucket_start)).where(rollups.c.resolution == resolution.finer.value)
    value: datetime | None = conn.execute(stmt).scalar_one_or_none()
    return value


def _batch_end(conn: Connection, resolution: Resolution, begin: datetime, limit: datetime) -> datetime:
    """End of a batch from ``begin``: whole buckets holding at most BATCH_ROWS source rows."""
    if resolution is Resolution.MINUTE:
        column = evidence.c.finished_at
        stmt = select(column).where(column >= begin)
    else:
        column = rollups.c.bucket_start
        stmt = select(column).where(rollups.c.resolution == resolution.finer.value, column >= begin)
    nth = conn.execute(stmt.order_by(column).offset(BATCH_ROWS).limit(1)).scalar_one_or_none()
    if nth is None:
        return limit
    return min(limit, max(resolution.floor(nth), begin + timedelta(seconds=resolution.seconds)))


def _aggregate(
    conn: Connection, resolution: Resolution, begin: datetime, end: datetime
) -> tuple[dict[tuple[str, datetime], BucketAggregate], int]:
    """Aggregates per (subject, bucket) of the finer data in [begin, end), read oldest first."""
    out: dict[tuple[str, datetime], BucketAggregate] = {}
    read = 0
    if resolution is Resolution.MINUTE:
        stmt = (
            select(
                evidence.c.subject,
                evidence.c.finished_at,
                evidence.c.verdict,
                evidence.c.duration_ms,
                evidence.c.measurements,
            )
            .where(and_(evidence.c.finished_at >= begin, evidence.c.finished_at < end))
            .order_by(evidence.c.finished_at, evidence.c.id)
        )
        result = conn.execute(stmt.execution_options(yield_per=_FETCH_CHUNK))
        for row in result:
            read += 1
            key = (row.subject, resolution.floor(row.finished_at))
            agg = out.get(key)
            if agg is None:
                agg = out[key] = BucketAggregate()
            agg.add_record(Verdict(row.verdict), float(row.duration_ms), row.measurements or ())
        return out, read
    stmt2 = (
        select(rollups)
        .where(
            and_(
                rollups.c.resolution == resolution.finer.value,
                rollups.c.bucket_start >= begin,
                rollups.c.bucket_start < end,
            )
        )
        .order_by(rollups.c.bucket_start)
    )
    result2 = conn.execute(stmt2.execution_options(yield_per=_FETCH_CHUNK))
    for row in result2:
        read += 1
        m = row._mapping
        key = (m["subject"], resolution.floor(m["bucket_start"]))
        agg = out.get(key)
        if agg is None:
            agg = out[key] = BucketAggregate()
        agg.merge(BucketAggregate.from_row(m))
    return out, read


def _move_watermark(conn: Connection, resolution: Resolution, old: datetime | None, new: datetime) -> bool:
    """Compare-and-set the watermark from ``old`` to ``new``; False when it had moved meanwhile."""
    if old is None:
        conn.execute(insert(rollup_watermarks).values(resolution=resolution.value, rolled_until=new))
        return True
    result = conn.execute(
        update(rollup_watermarks)
        .where(
            and_(rollup_watermarks.c.resolution == resolution.value, rollup_watermarks.c.rolled_until == old)
        )
        .values(rolled_until=new)
    )
    return result.rowcount == 1
