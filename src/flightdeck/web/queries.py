"""Read-side queries the cockpit and the API need beyond the store's own: a filtered, paged list
of checks with failing checks first, verdict counts, and the overview's sparklines.

Every query is bounded by the page: a page of 100 checks costs the same whether 100 or 10,000
checks are configured (apart from two ``GROUP BY`` counts over ``check_state``).
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Integer, and_, case, cast, func, literal, or_, select

from flightdeck.evidence import Verdict
from flightdeck.store import CheckStatus, list_statuses
from flightdeck.store.aggregate import Resolution, floor_time
from flightdeck.store.stats import coverage, plan_window
from flightdeck.store.tables import UTCDateTime, check_state, evidence, rollups

__all__ = [
    "CheckPage",
    "CheckQuery",
    "ServiceCounts",
    "StatusFilter",
    "check_page",
    "service_counts",
    "sparklines",
    "total_counts",
    "verdict_counts",
]

MAX_PER_PAGE = 500


class StatusFilter(enum.StrEnum):
    """Which checks to list, by their current verdict."""

    ALL = "all"
    FAILING = "failing"  # fail or error
    WARN = "warn"
    UNKNOWN = "unknown"
    PASSING = "passing"  # pass

    @property
    def verdicts(self) -> tuple[Verdict, ...]:
        return _FILTER_VERDICTS[self]


_FILTER_VERDICTS: dict[StatusFilter, tuple[Verdict, ...]] = {
    StatusFilter.ALL: (),
    StatusFilter.FAILING: (Verdict.FAIL, Verdict.ERROR),
    StatusFilter.WARN: (Verdict.WARN,),
    StatusFilter.UNKNOWN: (Verdict.UNKNOWN,),
    StatusFilter.PASSING: (Verdict.PASS,),
}


@dataclass(frozen=True)
class CheckQuery:
    service: str | None = None
    status: StatusFilter = StatusFilter.ALL
    kind: str | None = None
    text: str | None = None  # substring of ``service/check``, case-insensitive
    offset: int = 0
    limit: int = 100


@dataclass(frozen=True)
class CheckPage:
    items: list[CheckStatus]
    total: int  # checks matching the filter
    offset: int
    limit: int

    @property
    def page(self) -> int:
        return self.offset // self.limit + 1

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.limit))


@dataclass(frozen=True)
class ServiceCounts:
    service: str
    counts: dict[Verdict, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def failing(self) -> int:
        return self.counts.get(Verdict.FAIL, 0) + self.counts.get(Verdict.ERROR, 0)

    @property
    def verdict(self) -> Verdict:
        """The worst current verdict among the service's checks."""
        present = [v for v, n in self.counts.items() if n]
        return max(present, key=lambda v: v.rank) if present else Verdict.UNKNOWN


def _verdict_expr() -> ColumnElement[Any]:
    return func.coalesce(check_state.c.last_verdict, literal(Verdict.UNKNOWN.value))


def _badness() -> ColumnElement[Any]:
    """Failing first: the verdict's rank, highest first (error, fail, unknown, warn, pass)."""
    return case(
        *[(_verdict_expr() == v.value, literal(v.rank)) for v in Verdict],
        else_=literal(Verdict.UNKNOWN.rank),
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _where(q: CheckQuery) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [check_state.c.retired_at.is_(None)]
    if q.service:
        where.append(check_state.c.service == q.service)
    if q.kind:
        where.append(check_state.c.kind == q.kind)
    if q.status.verdicts:
        where.append(_verdict_expr().in_([v.value for v in q.status.verdicts]))
    if q.text:
        pattern = f"%{_escape_like(q.text.strip().lower())}%"
        where.append(func.lower(check_state.c.subject).like(pattern, escape="\\"))
    return where


def check_page(conn: Connection, q: CheckQuery, counts: dict[str, ServiceCounts] | None = None) -> CheckPage:
    """One page of checks matching ``q``, failing first, then by service and check name.

    ``counts`` (from :func:`service_counts`) saves the query counting the matches when the filter
    is by service and status only.
    """
    limit = max(1, min(q.limit, MAX_PER_PAGE))
    offset = max(0, q.offset)
    where = _where(q)
    if counts is not None and not q.text and not q.kind:
        wanted = set(q.status.verdicts) or set(Verdict)
        total = sum(
            n
            for service, entry in counts.items()
            if q.service is None or service == q.service
            for v, n in entry.counts.items()
            if v in wanted
        )
    else:
        total = int(conn.execute(select(func.count()).select_from(check_state).where(*where)).scalar_one())
    subjects = list(
        conn.execute(
            select(check_state.c.subject)
            .where(*where)
            .order_by(_badness().desc(), check_state.c.service, check_state.c.check_name)
            .limit(limit)
            .offset(offset)
        ).scalars()
    )
    by_subject = {s.subject: s for s in list_statuses(conn, subjects=subjects)} if subjects else {}
    items = [by_subject[s] for s in subjects if s in by_subject]
    return CheckPage(items=items, total=total, offset=offset, limit=limit)


def total_counts(counts: dict[str, ServiceCounts]) -> dict[Verdict, int]:
    """Current verdicts over every check, from :func:`service_counts`."""
    out = dict.fromkeys(Verdict, 0)
    for entry in counts.values():
        for v, n in entry.counts.items():
            out[v] += n
    return out


def verdict_counts(conn: Connection, service: str | None = None) -> dict[Verdict, int]:
    """Current verdicts over every (non-retired) check, or one service's."""
    v = _verdict_expr().label("v")
    stmt = select(v, func.count()).where(check_state.c.retired_at.is_(None)).group_by(v)
    if service is not None:
        stmt = stmt.where(check_state.c.service == service)
    counts = dict.fromkeys(Verdict, 0)
    for verdict, n in conn.execute(stmt):
        counts[Verdict(verdict)] += int(n)
    return counts


def service_counts(conn: Connection) -> dict[str, ServiceCounts]:
    """Per service, how many of its checks are at each verdict now."""
    v = _verdict_expr().label("v")
    stmt = (
        select(check_state.c.service, v, func.count())
        .where(check_state.c.retired_at.is_(None))
        .group_by(check_state.c.service, v)
    )
    out: dict[str, ServiceCounts] = {}
    for service, verdict, n in conn.execute(stmt):
        entry = out.setdefault(service, ServiceCounts(service, dict.fromkeys(Verdict, 0)))
        entry.counts[Verdict(verdict)] += int(n)
    return out


def _hour_slices(lo: datetime, hi: datetime) -> list[tuple[datetime, datetime]]:
    out = []
    start = lo
    while start < hi:
        end = min(hi, floor_time(start, 3600) + timedelta(hours=1))
        out.append((start, end))
        start = end
    return out


def _hour_index(conn: Connection, column: Any, start: datetime) -> ColumnElement[Any] | None:
    """SQL for the whole hours between ``start`` (an hour boundary) and ``column``; None where
    flightdeck has no such expression for the database (then one query per hour is made)."""
    origin = literal(start, UTCDateTime())
    if conn.dialect.name == "postgresql":
        return func.floor(func.extract("epoch", column - origin) / 3600)
    if conn.dialect.name == "sqlite":
        return cast((func.julianday(column) - func.julianday(origin)) * 24, Integer)
    return None


def _hourly(
    conn: Connection,
    ranges: Sequence[tuple[datetime, datetime]],
    start: datetime,
    where: Callable[[datetime, datetime], list[ColumnElement[bool]]],
    subject: Any,
    when: Any,
    count: Any,
    total: Any,
) -> Iterator[tuple[str, int, int, float]]:
    """(subject, hour index, runs, duration sum) over ``ranges``, aggregated by the database: one
    query per range where the database can bucket by hour, else one per hour slice."""
    for lo, hi in ranges:
        index = _hour_index(conn, when, start)
        if index is not None:
            bucket = index.label("bucket")
            stmt = select(subject, bucket, count, total).where(*where(lo, hi)).group_by(subject, bucket)
            for s, i, n, t in conn.execute(stmt):
                yield s, int(i), int(n or 0), float(t or 0.0)
            continue
        for a, b in _hour_slices(lo, hi):
            i = int((floor_time(a, 3600) - start) // timedelta(hours=1))
            sliced = select(subject, count, total).where(*where(a, b)).group_by(subject)
            for s, n, t in conn.execute(sliced):
                yield s, i, int(n or 0), float(t or 0.0)


def sparklines(
    conn: Connection, subjects: Sequence[str], now: datetime, hours: int = 24
) -> dict[str, list[float | None]]:
    """Mean run duration (ms) per hour over the last ``hours`` hours, oldest first, for each subject;
    ``None`` for an hour without runs.

    Reads hour rollups where they exist, and minute rollups and raw records for the rest, summed
    per hour by the database: about four queries for a page of checks.
    """
    wanted = list(dict.fromkeys(subjects))
    if not wanted:
        return {}
    end = floor_time(now, 3600) + timedelta(hours=1)
    start = end - timedelta(hours=hours)
    plan = plan_window(start, now, coverage(conn), top=Resolution.HOUR)
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0] * hours)
    counts: dict[str, list[int]] = defaultdict(lambda: [0] * hours)

    def add(subject: str, i: int, n: int, total: float) -> None:
        if 0 <= i < hours and n:
            sums[subject][i] += total
            counts[subject][i] += n

    hour_ranges = plan.get(Resolution.HOUR, [])
    if hour_ranges:
        hour_stmt = select(
            rollups.c.subject, rollups.c.bucket_start, rollups.c.count, rollups.c.duration_sum
        ).where(
            rollups.c.resolution == Resolution.HOUR.value,
            rollups.c.subject.in_(wanted),
            or_(*[and_(rollups.c.bucket_start >= lo, rollups.c.bucket_start < hi) for lo, hi in hour_ranges]),
        )
        for subject, bucket, n, total in conn.execute(hour_stmt):
            add(subject, int((bucket - start) // timedelta(hours=1)), int(n), float(total))

    def minute_where(lo: datetime, hi: datetime) -> list[ColumnElement[bool]]:
        return [
            rollups.c.resolution == Resolution.MINUTE.value,
            rollups.c.subject.in_(wanted),
            rollups.c.bucket_start >= lo,
            rollups.c.bucket_start < hi,
        ]

    def raw_where(lo: datetime, hi: datetime) -> list[ColumnElement[bool]]:
        return [evidence.c.subject.in_(wanted), evidence.c.finished_at >= lo, evidence.c.finished_at < hi]

    for row in _hourly(
        conn,
        plan.get(Resolution.MINUTE, []),
        start,
        minute_where,
        rollups.c.subject,
        rollups.c.bucket_start,
        func.sum(rollups.c.count),
        func.sum(rollups.c.duration_sum),
    ):
        add(*row)
    for row in _hourly(
        conn,
        plan.get(Resolution.RAW, []),
        start,
        raw_where,
        evidence.c.subject,
        evidence.c.finished_at,
        func.count(),
        func.sum(evidence.c.duration_ms),
    ):
        add(*row)
    return {
        s: [sums[s][i] / counts[s][i] if counts[s][i] else None for i in range(hours)] if s in counts else []
        for s in wanted
    }
