"""Retention deletes what its windows no longer keep — never un-rolled records, never the records a
check's state points at, never minute or hour rollups the next resolution does not hold yet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select

from flightdeck.config.models import RetentionConfig
from flightdeck.evidence import Verdict
from flightdeck.store import CheckRow, Store, record_outcome, sync_checks
from flightdeck.store.aggregate import Resolution
from flightdeck.store.retention import prune
from flightdeck.store.rollup import roll_up, watermarks
from flightdeck.store.tables import evidence, rollups
from tests.store.helpers import random_records, record, write

NOW = datetime(2026, 6, 1, 12, 0, 30, tzinfo=UTC)
DEFAULTS = RetentionConfig()


def raw_times(store: Store) -> list[datetime]:
    with store.engine.connect() as conn:
        return list(conn.execute(select(evidence.c.finished_at).order_by(evidence.c.finished_at)).scalars())


def rollup_counts(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(rollups.c.resolution, func.count()).group_by(rollups.c.resolution)).all()
    return {r[0]: int(r[1]) for r in rows}


def test_old_records_stay_until_they_are_rolled_up(store: Store) -> None:
    write(store, random_records(["a/x", "b/y"], NOW - timedelta(days=9), NOW, timedelta(hours=1)))
    total = len(raw_times(store))

    report = prune(store, NOW, DEFAULTS)  # nothing rolled yet: nothing may go
    assert report.raw_deleted == 0
    assert len(raw_times(store)) == total

    roll_up(store, NOW)
    report = prune(store, NOW, DEFAULTS)
    kept = raw_times(store)
    assert report.raw_deleted == total - len(kept) > 0
    assert min(kept) >= NOW - timedelta(seconds=DEFAULTS.raw)


def test_records_a_check_points_at_are_kept_however_old(store: Store) -> None:
    old_fail = record("a/x", NOW - timedelta(days=20), Verdict.FAIL)
    old_last = record("b/y", NOW - timedelta(days=15), Verdict.PASS)
    filler = [record("a/x", NOW - timedelta(days=19, minutes=i)) for i in range(10)]
    recent = record("a/x", NOW - timedelta(hours=1), Verdict.PASS)
    fail_id, last_id, *_ = write(store, [old_fail, old_last, *filler, recent])
    with store.engine.begin() as conn:
        sync_checks(
            conn,
            [CheckRow(s, s.split("/")[0], s.split("/")[1], "tcp", "0" * 64, True) for s in ("a/x", "b/y")],
            NOW - timedelta(days=30),
        )
        record_outcome(conn, fail_id, old_fail)  # a/x: last failure (and, for now, last record)
        record_outcome(conn, last_id, old_last)  # b/y: last record, 15 days old
        recent_id = fail_id + len(filler) + 2
        record_outcome(conn, recent_id, recent)  # a/x moves on; its last failure stays old_fail
    roll_up(store, NOW)
    report = prune(store, NOW, DEFAULTS)
    assert report.raw_deleted == len(filler)
    with store.engine.connect() as conn:
        ids = set(conn.execute(select(evidence.c.id)).scalars())
    assert ids == {fail_id, last_id, recent_id}


def test_minute_rollups_stay_until_hours_hold_them(store: Store) -> None:
    records = random_records(["a/x"], NOW - timedelta(days=5), NOW, timedelta(minutes=30))
    write(store, records)
    writes = 0

    def die_before_hours(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        nonlocal writes
        if "rollup_watermarks" in statement and statement.lstrip().upper().startswith(("UPDATE", "INSERT")):
            writes += 1
            if writes == 2:  # the minute watermark moved; the process dies before hours commit
                raise RuntimeError("killed")

    event.listen(store.engine, "before_cursor_execute", die_before_hours)
    with pytest.raises(RuntimeError):
        roll_up(store, NOW)
    event.remove(store.engine, "before_cursor_execute", die_before_hours)
    with store.engine.connect() as conn:
        assert set(watermarks(conn)) == {Resolution.MINUTE}
    minutes_before = rollup_counts(store)["minute"]

    report = prune(store, NOW, RetentionConfig(raw="1d", minute="1d"))
    assert report.minute_deleted == 0  # older than their window, but no hour holds them yet
    assert rollup_counts(store)["minute"] == minutes_before
    assert report.raw_deleted > 0  # raw records are in minute rollups, so they may go

    roll_up(store, NOW)
    report = prune(store, NOW, RetentionConfig(raw="1d", minute="1d"))
    assert report.minute_deleted > 0
    with store.engine.connect() as conn:
        oldest_minute = conn.execute(
            select(func.min(rollups.c.bucket_start)).where(rollups.c.resolution == "minute")
        ).scalar_one()
        hours = conn.execute(
            select(func.sum(rollups.c.count)).where(rollups.c.resolution == "hour")
        ).scalar_one()
        hour_mark = watermarks(conn)[Resolution.HOUR]
    assert oldest_minute >= NOW - timedelta(days=1)
    assert hours == sum(1 for r in records if r.finished_at < hour_mark)  # nothing was lost


def test_every_resolution_is_pruned_to_its_window(store: Store) -> None:
    records = random_records(["a/x", "b/y"], NOW - timedelta(days=120), NOW, timedelta(hours=5))
    write(store, records)
    roll_up(store, NOW)
    retention = RetentionConfig(raw="2d", minute="1d", hour="30d", day="100d")
    report = prune(store, NOW, retention)
    assert report.complete
    with store.engine.connect() as conn:
        oldest = dict(
            conn.execute(
                select(rollups.c.resolution, func.min(rollups.c.bucket_start)).group_by(rollups.c.resolution)
            ).all()
        )
        day_total = conn.execute(
            select(func.sum(rollups.c.count)).where(rollups.c.resolution == "day")
        ).scalar_one()
    assert oldest["minute"] >= NOW - timedelta(days=1)
    assert oldest["hour"] >= NOW - timedelta(days=30)
    assert NOW - timedelta(days=100) <= oldest["day"] < NOW - timedelta(days=99)
    assert min(raw_times(store)) >= NOW - timedelta(days=2)
    # Day rollups still account for every record of the days they keep.
    kept_from = oldest["day"]
    assert day_total == sum(
        1 for r in records if kept_from <= r.finished_at < datetime(2026, 6, 1, tzinfo=UTC)
    )
    assert prune(store, NOW, retention).deleted == 0  # nothing more to do


def test_deletes_in_bounded_batches(store: Store) -> None:
    old = [record("a/x", NOW - timedelta(days=10, minutes=i)) for i in range(95)]
    write(store, [*old, record("a/x", NOW - timedelta(minutes=5))])
    roll_up(store, NOW)
    partial = prune(store, NOW, DEFAULTS, batch_size=10, max_batches=3)
    assert (partial.raw_deleted, partial.batches, partial.complete) == (30, 3, False)
    rest = prune(store, NOW, DEFAULTS, batch_size=10)
    assert rest.raw_deleted == 65
    assert rest.complete
    assert len(raw_times(store)) == 1
