"""Statistics the cockpit and the API read: uptime, latency quantiles and time series.

Both functions read rollups (day / hour / minute) and combine them with the raw evidence that is
not rolled up yet, so a view includes every record finished up to the moment it is asked for.

A window ``[since, until)`` is cut into pieces (:func:`plan_window`): whole days before the day
watermark from day rollups, whole hours before the hour watermark from hour rollups, whole minutes
before the minute watermark from minute rollups, and what is left — the not-yet-rolled tail and
the partial buckets at the window's start — from raw records. Where the finer data of the start
has already been pruned (minute rollups after 3 days, raw records after 7 by default), the window
effectively begins at the next whole hour.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    Label,
    Select,
    and_,
    case,
    cast,
    false,
    func,
    literal_column,
    null,
    or_,
    select,
    union_all,
)

from flightdeck.evidence import Verdict
from flightdeck.store.aggregate import DURATION, VERDICT_COLUMNS, BucketAggregate, Resolution, floor_time
from flightdeck.store.rollup import ROLLED, watermarks
from flightdeck.store.sketch import LatencySketch
from flightdeck.store.tables import evidence, rollups

__all__ = [
    "MAX_ROWS_PER_POINT",
    "RAW_SECONDS_PER_POINT",
    "CheckSummary",
    "Coverage",
    "Series",
    "SeriesPoint",
    "VerdictCounts",
    "WindowPlan",
    "check_summaries",
    "choose_resolution",
    "coverage",
    "latency_window_start",
    "plan_window",
    "series",
    "step_for",
]

Range = tuple[datetime, datetime]
WindowPlan = dict[Resolution, list[Range]]

_WINDOWS: Final = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
_SUBJECT_CHUNK: Final = 500

MAX_ROWS_PER_POINT: Final = 8
"""A chart reads the finest rollup that needs at most this many rows per point."""

RAW_SECONDS_PER_POINT: Final = 30
"""A chart reads raw records when its span is at most this many seconds per point (2.5 h for 300)."""

_STEPS: Final = (
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
    86400, 2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400,
)  # fmt: skip


@dataclass(frozen=True)
class VerdictCounts:
    """How many runs ended with each verdict."""

    passed: int = 0
    warned: int = 0
    failed: int = 0
    errored: int = 0
    unknown: int = 0

    @classmethod
    def of(cls, counts: Mapping[Verdict, int]) -> VerdictCounts:
        return cls(
            passed=counts.get(Verdict.PASS, 0),
            warned=counts.get(Verdict.WARN, 0),
            failed=counts.get(Verdict.FAIL, 0),
            errored=counts.get(Verdict.ERROR, 0),
            unknown=counts.get(Verdict.UNKNOWN, 0),
        )

    @property
    def total(self) -> int:
        return self.passed + self.warned + self.failed + self.errored + self.unknown

    @property
    def up(self) -> int:
        """pass + warn."""
        return self.passed + self.warned

    @property
    def down(self) -> int:
        """fail + error (unknown is neither up nor down)."""
        return self.failed + self.errored

    @property
    def uptime(self) -> float | None:
        """up / (up + down) as a ratio in [0, 1]; None when nothing was up or down."""
        known = self.up + self.down
        return self.up / known if known else None


@dataclass(frozen=True)
class CheckSummary:
    """One check's figures for the overview. Ratios are in [0, 1]; None means "no data"."""

    subject: str
    uptime_24h: float | None
    uptime_7d: float | None
    uptime_30d: float | None
    latency_p50_ms: float | None  # since latency_window_start(now): 23–24 h, from sketches (±1 %)
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    runs_24h: int  # every verdict, unknown included
    failures_24h: int  # fail + error
    verdicts_24h: VerdictCounts
    verdicts_7d: VerdictCounts
    verdicts_30d: VerdictCounts


@dataclass(frozen=True)
class SeriesPoint:
    """One point of a chart: the runs whose ``finished_at`` falls in [start, start + step)."""

    start: datetime
    count: int  # values of the measurement in this point (runs, for duration_ms)
    mean: float | None  # None when count == 0
    min: float | None
    max: float | None
    verdicts: VerdictCounts  # runs by verdict, whatever the measurement
    p50: float | None = None  # duration_ms only: from the sketch (relative error ≤ 1 %)
    p95: float | None = None


@dataclass(frozen=True)
class Series:
    subject: str
    measurement: str  # "duration_ms" when asked with measurement=None
    resolution: Resolution  # the coarsest stored resolution the points were built from
    step_seconds: int  # width of each point
    since: datetime
    until: datetime
    points: list[SeriesPoint]  # oldest first; steps without runs are left out


# -- planning ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Coverage:
    """What each stored resolution holds: complete buckets from ``oldest`` (the oldest row retention
    left) up to ``rolled_until`` (its watermark)."""

    rolled_until: Mapping[Resolution, datetime]
    oldest: Mapping[Resolution, datetime]


def coverage(conn: Connection) -> Coverage:
    """The watermarks, and the oldest bucket of each rollup resolution (three index look-ups)."""
    oldest_of = [
        select(func.min(rollups.c.bucket_start)).where(rollups.c.resolution == res.value).scalar_subquery()
        for res in ROLLED
    ]
    row = conn.execute(select(*oldest_of)).one()
    oldest = {res: value for res, value in zip(ROLLED, row, strict=True) if value is not None}
    return Coverage(rolled_until=watermarks(conn), oldest=oldest)


def plan_window(
    since: datetime, until: datetime, cover: Coverage, top: Resolution = Resolution.DAY
) -> WindowPlan:
    """Cut [since, until) into disjoint ranges per resolution, coarsest first, at most ``top``.

    A resolution covers the whole buckets it holds (after its oldest row, before its watermark); the
    rest goes to the next finer resolution, down to raw records.
    """
    plan: WindowPlan = defaultdict(list)
    _cut(since, until, cover, top, plan)
    return {r: _merge(ranges) for r, ranges in plan.items()}


def _cut(lo: datetime, hi: datetime, cover: Coverage, level: Resolution, plan: WindowPlan) -> None:
    if lo >= hi:
        return
    if level is Resolution.RAW:
        plan[level].append((lo, hi))
        return
    mark, oldest = cover.rolled_until.get(level), cover.oldest.get(level)
    if mark is None or oldest is None:
        _cut(lo, hi, cover, level.finer, plan)
        return
    start = level.ceil(max(lo, oldest))
    end = level.floor(min(hi, mark))
    if start < end:
        plan[level].append((start, end))
        _cut(lo, start, cover, level.finer, plan)
        _cut(end, hi, cover, level.finer, plan)
    else:
        _cut(lo, hi, cover, level.finer, plan)


def _merge(ranges: Iterable[Range]) -> list[Range]:
    out: list[Range] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _in_ranges(column: Any, ranges: Sequence[Range]) -> ColumnElement[bool]:
    if not ranges:
        return false()
    return or_(*[and_(column >= lo, column < hi) for lo, hi in ranges])


def latency_window_start(now: datetime) -> datetime:
    """Where the summaries' latency quantiles begin: the first whole hour of the last 24 hours."""
    return Resolution.HOUR.ceil(now - timedelta(hours=24))


# -- summaries --------------------------------------------------------------------------------
def check_summaries(conn: Connection, subjects: Sequence[str], now: datetime) -> dict[str, CheckSummary]:
    """Figures for one page of checks, in three queries per 500 subjects whatever the span.

    Every subject asked for is in the result; a subject without data has ``None`` ratios and
    quantiles and zero counts.
    """
    wanted = list(dict.fromkeys(subjects))
    if not wanted:
        return {}
    cover = coverage(conn)
    plans = {name: plan_window(now - width, now, cover) for name, width in _WINDOWS.items()}
    # Quantiles start at the first whole hour of the 24 h window: a partial first hour would mean
    # reading up to 59 minute sketches per check for a sliver of the window.
    latency_plan = plan_window(latency_window_start(now), now, cover)
    out: dict[str, CheckSummary] = {}
    for i in range(0, len(wanted), _SUBJECT_CHUNK):
        chunk = wanted[i : i + _SUBJECT_CHUNK]
        counts = _window_counts(conn, chunk, plans)
        sketches = _latency_sketches(conn, chunk, latency_plan)
        for subject in chunk:
            c = counts.get(subject, {})
            v24, v7, v30 = (c.get(name, VerdictCounts()) for name in ("24h", "7d", "30d"))
            p50, p95, p99 = sketches.get(subject, LatencySketch()).quantiles((0.5, 0.95, 0.99))
            out[subject] = CheckSummary(
                subject=subject,
                uptime_24h=v24.uptime,
                uptime_7d=v7.uptime,
                uptime_30d=v30.uptime,
                latency_p50_ms=p50,
                latency_p95_ms=p95,
                latency_p99_ms=p99,
                runs_24h=v24.total,
                failures_24h=v24.down,
                verdicts_24h=v24,
                verdicts_7d=v7,
                verdicts_30d=v30,
            )
    return out


def _pieces(plans: Mapping[str, WindowPlan]) -> list[tuple[Resolution, Range, frozenset[str]]]:
    """The ranges any window needs, cut where a window's ranges begin or end, each with the windows
    it belongs to — so every stored row is read once and counted into the right windows."""
    out: list[tuple[Resolution, Range, frozenset[str]]] = []
    for res in (Resolution.DAY, Resolution.HOUR, Resolution.MINUTE, Resolution.RAW):
        owned = [(name, r) for name, plan in plans.items() for r in plan.get(res, [])]
        cuts = sorted({t for _, (lo, hi) in owned for t in (lo, hi)})
        for lo, hi in itertools.pairwise(cuts):
            names = frozenset(name for name, (a, b) in owned if a <= lo and hi <= b)
            if not names:
                continue
            if out and out[-1][0] is res and out[-1][1][1] == lo and out[-1][2] == names:
                out[-1] = (res, (out[-1][1][0], hi), names)  # adjacent, same windows: one piece
            else:
                out.append((res, (lo, hi), names))
    return out


def _window_counts(
    conn: Connection, subjects: Sequence[str], plans: Mapping[str, WindowPlan]
) -> dict[str, dict[str, VerdictCounts]]:
    """Per subject and window, runs by verdict: one query, a UNION ALL of one grouped, indexed
    range read per piece."""
    pieces = _pieces(plans)
    if not pieces:
        return {}
    parts = [_count_piece(k, res, subjects, lo, hi) for k, (res, (lo, hi), _) in enumerate(pieces)]
    totals: dict[str, dict[str, dict[Verdict, int]]] = defaultdict(
        lambda: {name: dict.fromkeys(Verdict, 0) for name in plans}
    )
    for row in conn.execute(union_all(*parts)):
        m = row._mapping
        per_window = totals[m["subject"]]
        for name in pieces[int(m["piece"])][2]:
            for v in Verdict:
                per_window[name][v] += int(m[v.value] or 0)
    return {
        subject: {name: VerdictCounts.of(counts) for name, counts in windows.items()}
        for subject, windows in totals.items()
    }


def _count_piece(k: int, res: Resolution, subjects: Sequence[str], lo: datetime, hi: datetime) -> Select[Any]:
    piece: Label[Any] = literal_column(str(int(k))).label("piece")
    if res is Resolution.RAW:
        return (
            select(
                evidence.c.subject.label("subject"),
                piece,
                *[
                    func.sum(case((evidence.c.verdict == v.value, 1), else_=0)).label(v.value)
                    for v in Verdict
                ],
            )
            .where(
                evidence.c.subject.in_(subjects), evidence.c.finished_at >= lo, evidence.c.finished_at < hi
            )
            .group_by(evidence.c.subject)
        )
    return (
        select(
            rollups.c.subject.label("subject"),
            piece,
            *[func.sum(rollups.c[VERDICT_COLUMNS[v]]).label(v.value) for v in Verdict],
        )
        .where(
            rollups.c.resolution == res.value,
            rollups.c.subject.in_(subjects),
            rollups.c.bucket_start >= lo,
            rollups.c.bucket_start < hi,
        )
        .group_by(rollups.c.subject)
    )


def _latency_sketches(
    conn: Connection, subjects: Sequence[str], plan: WindowPlan
) -> dict[str, LatencySketch]:
    """Merged 24 h latency sketches: the rollups' sketches added up, the raw tail added value by value."""
    counters: dict[str, dict[str, int]] = defaultdict(dict)
    zeros: dict[str, int] = defaultdict(int)
    parts: list[Select[Any]] = []  # rollup parts first: they give the union its column types
    for res, ranges in plan.items():
        if res is Resolution.RAW:
            continue
        for lo, hi in ranges:
            parts.append(
                select(
                    rollups.c.subject, cast(null(), Float).label("duration_ms"), rollups.c.latency_sketch
                ).where(
                    rollups.c.resolution == res.value,
                    rollups.c.subject.in_(subjects),
                    rollups.c.bucket_start >= lo,
                    rollups.c.bucket_start < hi,
                )
            )
    for lo, hi in plan.get(Resolution.RAW, []):
        parts.append(
            select(
                evidence.c.subject,
                evidence.c.duration_ms,
                cast(null(), rollups.c.latency_sketch.type).label("sketch"),
            ).where(
                evidence.c.subject.in_(subjects),
                evidence.c.finished_at >= lo,
                evidence.c.finished_at < hi,
            )
        )
    sketches: dict[str, LatencySketch] = defaultdict(LatencySketch)
    if not parts:
        return {}
    # The sketches are summed as stored (string keys) and converted once per subject at the end:
    # this loop runs over a few thousand rows of a few dozen counters each.
    for subject, duration, sketch in conn.execute(union_all(*parts)):
        if sketch is None:
            sketches[subject].add(float(duration))
            continue
        mine = counters[subject]
        buckets = sketch.get("b") or {}
        for key, n in buckets.items():
            mine[key] = mine.get(key, 0) + n
        zeros[subject] += sketch.get("z") or 0
    for subject, mine in counters.items():
        sketches[subject].add_bucket_counts({int(k): int(n) for k, n in mine.items()})
        sketches[subject].zero_count += int(zeros[subject])
    return dict(sketches)


# -- series -----------------------------------------------------------------------------------
def choose_resolution(span: timedelta, max_points: int) -> Resolution:
    """Raw records for short spans, else the finest rollup needing ≤ MAX_ROWS_PER_POINT rows a point."""
    seconds = span.total_seconds()
    if seconds <= max_points * RAW_SECONDS_PER_POINT:
        return Resolution.RAW
    for res in (Resolution.MINUTE, Resolution.HOUR):
        if seconds / res.seconds <= max_points * MAX_ROWS_PER_POINT:
            return res
    return Resolution.DAY


def step_for(since: datetime, until: datetime, max_points: int, resolution: Resolution) -> int:
    """The smallest round step (a multiple of the resolution's bucket) whose epoch-aligned steps
    covering [since, until) number at most ``max_points``."""
    unit = max(1, resolution.seconds)
    need = max(1, math.ceil((until - since).total_seconds() / max_points), unit)
    candidates = [s for s in _STEPS if s >= need and s % unit == 0]
    day = max(86400, unit)
    candidates += [math.ceil(need / day) * day * k for k in (1, 2, 3)]
    for step in candidates:
        first, last = floor_time(since, step), floor_time(until - timedelta(microseconds=1), step)
        if (last - first) // timedelta(seconds=step) + 1 <= max_points:
            return step
    return candidates[-1] * 2  # unreachable: three day-multiples of the need always fit


def _oldest(conn: Connection, subject: str, res: Resolution) -> datetime | None:
    if res is Resolution.RAW:
        stmt = select(func.min(evidence.c.finished_at)).where(evidence.c.subject == subject)
    else:
        stmt = select(func.min(rollups.c.bucket_start)).where(
            rollups.c.resolution == res.value, rollups.c.subject == subject
        )
    value: datetime | None = conn.execute(stmt).scalar_one_or_none()
    return value


def _available_resolution(
    conn: Connection, subject: str, since: datetime, preferred: Resolution
) -> Resolution:
    """``preferred``, or a coarser one when retention has pruned the finer data of the window's start
    while the coarser resolution still reaches further back."""
    order = (Resolution.RAW, Resolution.MINUTE, Resolution.HOUR, Resolution.DAY)
    res = preferred
    oldest = _oldest(conn, subject, res)
    for coarser in order[order.index(preferred) + 1 :]:
        if oldest is not None and oldest <= since:
            break
        other = _oldest(conn, subject, coarser)
        if other is None or (oldest is not None and other >= oldest):
            break
        res, oldest = coarser, other
    return res


def series(
    conn: Connection,
    subject: str,
    since: datetime,
    until: datetime,
    measurement: str | None = None,
    max_points: int = 300,
) -> Series:
    """A chart of one check over [since, until), at most ``max_points`` points.

    The stored resolution (raw, minute, hour, day) is chosen from the span so a 30-day chart reads
    hour rollups, not raw records; ``measurement=None`` charts ``duration_ms``.
    """
    if until <= since:
        raise ValueError("series: until must be after since")
    if max_points < 2:
        raise ValueError("series: max_points must be at least 2")
    name = measurement or DURATION
    span = until - since
    resolution = _available_resolution(conn, subject, since, choose_resolution(span, max_points))
    step = step_for(since, until, max_points, resolution)
    plan = plan_window(since, until, coverage(conn), top=resolution)
    steps: dict[datetime, BucketAggregate] = {}

    def bucket(when: datetime) -> BucketAggregate:
        key = floor_time(when, step)
        agg = steps.get(key)
        if agg is None:
            agg = steps[key] = BucketAggregate()
        return agg

    # Coarse to fine is oldest to newest within each step except for a window's leading edge;
    # only ``last`` depends on that order, and series points do not show it.
    for res in (Resolution.DAY, Resolution.HOUR, Resolution.MINUTE):
        ranges = plan.get(res, [])
        if not ranges:
            continue
        stmt = (
            select(rollups)
            .where(rollups.c.resolution == res.value, rollups.c.subject == subject)
            .where(_in_ranges(rollups.c.bucket_start, ranges))
            .order_by(rollups.c.bucket_start)
        )
        for row in conn.execute(stmt):
            bucket(row.bucket_start).merge(BucketAggregate.from_row(row._mapping))
    raw_ranges = plan.get(Resolution.RAW, [])
    if raw_ranges:
        raw_stmt = (
            select(
                evidence.c.finished_at, evidence.c.verdict, evidence.c.duration_ms, evidence.c.measurements
            )
            .where(evidence.c.subject == subject)
            .where(_in_ranges(evidence.c.finished_at, raw_ranges))
            .order_by(evidence.c.finished_at, evidence.c.id)
        )
        for row in conn.execute(raw_stmt):
            bucket(row.finished_at).add_record(
                Verdict(row.verdict), float(row.duration_ms), row.measurements or ()
            )
    points = [_point(start, agg, name) for start, agg in sorted(steps.items())]
    return Series(subject, name, resolution, step, since, until, points)


def _point(start: datetime, agg: BucketAggregate, name: str) -> SeriesPoint:
    m = agg.measurement(name)
    p50 = p95 = None
    if name == DURATION:
        p50, p95 = agg.sketch.quantiles((0.5, 0.95))
    return SeriesPoint(
        start=start,
        count=m.count if m else 0,
        mean=m.mean if m else None,
        min=m.min if m else None,
        max=m.max if m else None,
        verdicts=VerdictCounts.of(agg.verdicts),
        p50=p50,
        p95=p95,
    )
