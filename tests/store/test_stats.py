"""The cockpit's figures equal what the raw records say, whether they come from rollups, from the
not-yet-rolled tail, or both — and stay right after retention prunes."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flightdeck.config.models import RetentionConfig
from flightdeck.evidence import NewEvidence, Verdict
from flightdeck.store import Store
from flightdeck.store.aggregate import Resolution, floor_time
from flightdeck.store.retention import prune
from flightdeck.store.rollup import roll_up
from flightdeck.store.sketch import RELATIVE_ACCURACY
from flightdeck.store.stats import (
    VerdictCounts,
    check_summaries,
    choose_resolution,
    latency_window_start,
    series,
    step_for,
)
from tests.store.helpers import random_records, record, write

NOW = datetime(2026, 4, 20, 15, 42, 9, tzinfo=UTC)
SUBJECTS = ["shop/api", "shop/db"]


def exact_counts(
    records: list[NewEvidence], subject: str, since: datetime, until: datetime = NOW
) -> VerdictCounts:
    c = Counter(r.verdict for r in records if r.subject == subject and since <= r.finished_at < until)
    return VerdictCounts.of(c)


def exact_quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[math.floor(q * (len(ordered) - 1))]


def within_accuracy(estimate: float | None, truth: float) -> bool:
    return estimate is not None and abs(estimate - truth) <= RELATIVE_ACCURACY * truth * (1 + 1e-9)


@pytest.fixture
def month(store: Store) -> list[NewEvidence]:
    """35 days of records every ~20 minutes, rolled up to 17 minutes ago: the last 17 minutes are
    only raw, as when the maintenance pass is behind."""
    records = random_records(SUBJECTS, NOW - timedelta(days=35), NOW, timedelta(minutes=20))
    write(store, records)
    roll_up(store, NOW - timedelta(minutes=17))
    return records


def test_summaries_equal_the_exact_figures_of_the_raw_records(store: Store, month: list[NewEvidence]) -> None:
    with store.engine.connect() as conn:
        summaries = check_summaries(conn, SUBJECTS, NOW)
    for subject in SUBJECTS:
        s = summaries[subject]
        v24 = exact_counts(month, subject, NOW - timedelta(hours=24))
        v7 = exact_counts(month, subject, NOW - timedelta(days=7))
        v30 = exact_counts(month, subject, NOW - timedelta(days=30))
        assert (s.verdicts_24h, s.verdicts_7d, s.verdicts_30d) == (v24, v7, v30)
        assert s.uptime_24h == v24.up / (v24.up + v24.down)
        assert s.uptime_7d == v7.up / (v7.up + v7.down)
        assert s.uptime_30d == v30.up / (v30.up + v30.down)
        assert s.runs_24h == v24.total
        assert s.failures_24h == v24.failed + v24.errored
        since = latency_window_start(NOW)  # the first whole hour of the last 24
        assert NOW - timedelta(hours=24) <= since < NOW - timedelta(hours=23)
        durations = [r.duration_ms for r in month if r.subject == subject and r.finished_at >= since]
        for q, estimate in ((0.5, s.latency_p50_ms), (0.95, s.latency_p95_ms), (0.99, s.latency_p99_ms)):
            assert within_accuracy(estimate, exact_quantile(durations, q)), q


def test_summaries_are_the_same_before_and_after_rolling_up(store: Store) -> None:
    records = random_records(SUBJECTS, NOW - timedelta(days=9), NOW, timedelta(minutes=13), seed=7)
    write(store, records)
    with store.engine.connect() as conn:
        from_raw = check_summaries(conn, SUBJECTS, NOW)
    roll_up(store, NOW)
    with store.engine.connect() as conn:
        from_rollups = check_summaries(conn, SUBJECTS, NOW)
    assert from_rollups == from_raw  # sketches merge exactly, so even the quantiles are identical


def test_no_data_means_none_never_a_perfect_score(store: Store) -> None:
    write(
        store,
        [
            record("only/unknown", NOW - timedelta(hours=1), Verdict.UNKNOWN),
            record("old/only", NOW - timedelta(days=10), Verdict.FAIL, 30.0),
            record("old/only", NOW - timedelta(days=10, minutes=1), Verdict.PASS, 30.0),
        ],
    )
    roll_up(store, NOW)
    with store.engine.connect() as conn:
        got = check_summaries(conn, ["only/unknown", "old/only", "never/ran"], NOW)
    unknown, old, never = got["only/unknown"], got["old/only"], got["never/ran"]
    assert (unknown.uptime_24h, unknown.uptime_7d, unknown.uptime_30d) == (None, None, None)
    assert (unknown.runs_24h, unknown.failures_24h) == (1, 0)
    assert unknown.latency_p50_ms is not None  # it ran, so it has a duration
    assert (old.uptime_24h, old.uptime_7d, old.uptime_30d) == (None, None, 0.5)
    assert old.latency_p95_ms is None
    assert (never.uptime_30d, never.runs_24h, never.latency_p99_ms) == (None, 0, None)
    with store.engine.connect() as conn:
        assert check_summaries(conn, [], NOW) == {}


def test_after_pruning_the_windows_read_what_retention_keeps(store: Store, month: list[NewEvidence]) -> None:
    roll_up(store, NOW)
    with store.engine.connect() as conn:
        before = check_summaries(conn, SUBJECTS, NOW)
    prune(store, NOW, RetentionConfig())  # raw 7 d, minute rollups 3 d
    with store.engine.connect() as conn:
        after = check_summaries(conn, SUBJECTS, NOW)
    for subject in SUBJECTS:
        a = after[subject]
        assert (a.verdicts_24h, a.verdicts_7d) == (before[subject].verdicts_24h, before[subject].verdicts_7d)
        assert a.latency_p99_ms == before[subject].latency_p99_ms
        # The 30-day window's first partial hour was only in raw records and minute rollups, now pruned.
        start = Resolution.HOUR.ceil(NOW - timedelta(days=30))
        assert a.verdicts_30d == exact_counts(month, subject, start)


def test_a_page_of_many_checks_is_answered_for_every_subject(store: Store) -> None:
    subjects = [f"svc{i:03d}/check" for i in range(620)]  # more than one query chunk
    write(
        store,
        [
            record(s, NOW - timedelta(minutes=30), Verdict.PASS if i % 3 else Verdict.FAIL)
            for i, s in enumerate(subjects)
        ],
    )
    roll_up(store, NOW)
    with store.engine.connect() as conn:
        got = check_summaries(conn, subjects, NOW)
    assert list(got) == subjects
    assert [got[s].uptime_24h for s in subjects] == [1.0 if i % 3 else 0.0 for i in range(len(subjects))]


# -- series -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("span", "resolution"),
    [
        (timedelta(hours=1), Resolution.RAW),
        (timedelta(hours=24), Resolution.MINUTE),
        (timedelta(days=3), Resolution.HOUR),
        (timedelta(days=30), Resolution.HOUR),
        (timedelta(days=365), Resolution.DAY),
    ],
)
def test_the_resolution_follows_the_span(span: timedelta, resolution: Resolution) -> None:
    assert choose_resolution(span, 300) is resolution


@settings(max_examples=300, deadline=None)
@given(
    since=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
    seconds=st.integers(min_value=1, max_value=400 * 86400),
    max_points=st.integers(min_value=2, max_value=1000),
)
def test_the_step_never_gives_more_points_than_asked(since: datetime, seconds: int, max_points: int) -> None:
    until = since + timedelta(seconds=seconds)
    resolution = choose_resolution(until - since, max_points)
    step = step_for(since, until, max_points, resolution)
    assert step % max(1, resolution.seconds) == 0
    steps = {floor_time(since + (until - since) * k / 997, step) for k in range(997)}
    assert len(steps) <= max_points
    first, last = floor_time(since, step), floor_time(until - timedelta(microseconds=1), step)
    assert (last - first) // timedelta(seconds=step) + 1 <= max_points


@pytest.mark.parametrize(
    ("span", "measurement", "resolution"),
    [
        (timedelta(hours=2), None, Resolution.RAW),
        (timedelta(hours=20), "connect_ms", Resolution.MINUTE),
        (timedelta(days=30), None, Resolution.HOUR),
        (timedelta(days=34), "body_bytes", Resolution.HOUR),
    ],
)
def test_series_points_equal_the_raw_records_of_their_step(
    store: Store, month: list[NewEvidence], span: timedelta, measurement: str | None, resolution: Resolution
) -> None:
    since = NOW - span
    with store.engine.connect() as conn:
        chart = series(conn, "shop/api", since, NOW, measurement=measurement, max_points=300)
    assert chart.resolution is resolution
    assert chart.measurement == (measurement or "duration_ms")
    assert 0 < len(chart.points) <= 300
    assert chart.step_seconds % max(1, resolution.seconds) == 0
    mine = [r for r in month if r.subject == "shop/api" and since <= r.finished_at < NOW]
    assert sum(p.verdicts.total for p in chart.points) == len(mine)  # the unrolled tail is included
    for p in chart.points:
        in_step = [r for r in mine if floor_time(r.finished_at, chart.step_seconds) == p.start]
        values = [
            v
            for r in in_step
            if (v := (r.duration_ms if measurement is None else r.measurement(measurement))) is not None
        ]
        assert p.verdicts == VerdictCounts.of(Counter(r.verdict for r in in_step))
        assert p.count == len(values)
        if values:
            assert (p.min, p.max) == (min(values), max(values))
            assert p.mean == pytest.approx(sum(values) / len(values), rel=1e-12)
        else:
            assert p.mean is None
        if measurement is None:
            assert within_accuracy(p.p95, exact_quantile(values, 0.95))


def test_a_chart_older_than_the_minute_rollups_reads_hours(store: Store, month: list[NewEvidence]) -> None:
    roll_up(store, NOW)
    prune(store, NOW, RetentionConfig())
    since, until = NOW - timedelta(days=5, hours=20), NOW - timedelta(days=5)  # minute rollups: gone
    with store.engine.connect() as conn:
        chart = series(conn, "shop/db", since, until)
    assert chart.resolution is Resolution.HOUR
    # Whole hours from hour rollups; the partial hours at both ends from raw records, kept 7 days.
    assert sum(p.verdicts.total for p in chart.points) == len(
        [r for r in month if r.subject == "shop/db" and since <= r.finished_at < until]
    )


def test_series_refuses_an_empty_span(store: Store) -> None:
    with store.engine.connect() as conn, pytest.raises(ValueError, match="until must be after since"):
        series(conn, "shop/api", NOW, NOW)
