"""Rollups hold exactly what the raw records say, roll only closed buckets, and survive crashes and
concurrent runs — on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from flightdeck.evidence import NewEvidence, Verdict
from flightdeck.store import Store
from flightdeck.store import rollup as rollup_module
from flightdeck.store.aggregate import Resolution, floor_time
from flightdeck.store.rollup import SETTLE, roll_up, watermarks
from flightdeck.store.sketch import LatencySketch
from flightdeck.store.tables import rollups
from tests.store.helpers import random_records, record, write

SUBJECTS = ["payments/api", "payments/db", "shop/home"]
NOW = datetime(2026, 3, 10, 2, 17, 41, tzinfo=UTC)
COLUMN = {
    Verdict.PASS: "pass_count",
    Verdict.WARN: "warn_count",
    Verdict.FAIL: "fail_count",
    Verdict.ERROR: "error_count",
    Verdict.UNKNOWN: "unknown_count",
}


def stored_rows(store: Store) -> dict[tuple[str, str, datetime], dict[str, Any]]:
    with store.engine.connect() as conn:
        return {
            (r.resolution, r.subject, r.bucket_start): dict(r._mapping)
            for r in conn.execute(select(rollups)).all()
        }


def expected_rows(
    records: list[NewEvidence], width: int, until: datetime
) -> dict[tuple[str, datetime], dict[str, Any]]:
    """Each bucket's figures computed straight from the records, without the rollup code."""
    groups: dict[tuple[str, datetime], list[NewEvidence]] = {}
    for r in sorted(records, key=lambda r: r.finished_at):
        start = floor_time(r.finished_at, width)
        if start + timedelta(seconds=width) <= until:
            groups.setdefault((r.subject, start), []).append(r)
    out: dict[tuple[str, datetime], dict[str, Any]] = {}
    for key, rs in groups.items():
        verdicts = Counter(r.verdict for r in rs)
        durations = [r.duration_ms for r in rs]
        sketch = LatencySketch()
        sketch.extend(durations)
        names = sorted({m.name for r in rs for m in r.measurements})
        measurements = {}
        for name in names:
            values = [v for r in rs if (v := r.measurement(name)) is not None]
            measurements[name] = {
                "count": len(values),
                "sum": sum(values),
                "min": min(values),
                "max": max(values),
                "last": values[-1],
            }
        out[key] = {
            "count": len(rs),
            **{COLUMN[v]: verdicts.get(v, 0) for v in Verdict},
            "duration_sum": sum(durations),
            "duration_min": min(durations),
            "duration_max": max(durations),
            "latency_sketch": sketch.to_json(),
            "measurements": measurements,
        }
    return out


def assert_rollups_match(store: Store, records: list[NewEvidence]) -> None:
    """Every resolution holds exactly the buckets before its watermark, each equal to the raw figures."""
    with store.engine.connect() as conn:
        marks = watermarks(conn)
    rows = stored_rows(store)
    for resolution in (Resolution.MINUTE, Resolution.HOUR, Resolution.DAY):
        mark = marks[resolution]
        want = expected_rows(records, resolution.seconds, mark)
        got = {(s, b): row for (res, s, b), row in rows.items() if res == resolution.value}
        assert set(got) == set(want), f"{resolution}: buckets differ"
        for key, exp in want.items():
            row = got[key]
            for column in ("count", *COLUMN.values(), "duration_min", "duration_max", "latency_sketch"):
                assert row[column] == exp[column], f"{resolution} {key} {column}"
            assert row["duration_sum"] == pytest.approx(exp["duration_sum"], rel=1e-12)
            assert set(row["measurements"]) == set(exp["measurements"])
            for name, m in exp["measurements"].items():
                stored = row["measurements"][name]
                assert stored["count"] == m["count"]
                assert (stored["min"], stored["max"], stored["last"]) == (m["min"], m["max"], m["last"])
                assert stored["sum"] == pytest.approx(m["sum"], rel=1e-12)


@pytest.fixture
def history(store: Store) -> list[NewEvidence]:
    """Two and a half days of records (three UTC day changes), one per check every ~4 minutes."""
    records = random_records(SUBJECTS, NOW - timedelta(days=2, hours=11), NOW, timedelta(minutes=4))
    write(store, records)
    return records


def test_rollups_match_the_raw_records_exactly(store: Store, history: list[NewEvidence]) -> None:
    report = roll_up(store, NOW)
    assert report.complete
    with store.engine.connect() as conn:
        marks = watermarks(conn)
    # Only closed buckets: minutes up to a settle delay ago, hours and days behind the finer mark.
    assert marks[Resolution.MINUTE] == floor_time(NOW - SETTLE, 60)
    assert marks[Resolution.HOUR] == floor_time(marks[Resolution.MINUTE], 3600)
    assert marks[Resolution.DAY] == floor_time(marks[Resolution.HOUR], 86400)
    assert report[Resolution.MINUTE].rows_read == sum(
        1 for r in history if r.finished_at < marks[Resolution.MINUTE]
    )
    assert_rollups_match(store, history)


def test_rolling_again_changes_nothing(store: Store, history: list[NewEvidence]) -> None:
    roll_up(store, NOW)
    before = stored_rows(store)
    with store.engine.connect() as conn:
        marks_before = watermarks(conn)
    for now in (NOW, NOW + timedelta(seconds=10)):  # still inside the same open minute
        again = roll_up(store, now)
        assert again.rows_written == 0
    assert stored_rows(store) == before
    with store.engine.connect() as conn:
        assert watermarks(conn) == marks_before


def test_rolling_as_time_passes_equals_rolling_once(store: Store) -> None:
    start = NOW - timedelta(hours=26)
    records: list[NewEvidence] = []
    t = start
    step = timedelta(minutes=37)
    while t < NOW:  # records arrive in slices; roll_up runs after each, as the maintenance loop does
        fresh = random_records(SUBJECTS, t, t + step, timedelta(minutes=3), seed=int(t.timestamp()))
        write(store, fresh)
        records += fresh
        t += step
        roll_up(store, t)
    assert_rollups_match(store, records)


def test_only_closed_buckets_are_rolled(store: Store) -> None:
    minute = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    write(store, [record("a/x", minute + timedelta(seconds=20))])
    roll_up(store, minute + timedelta(minutes=1) + SETTLE - timedelta(seconds=1))
    assert stored_rows(store) == {}  # the minute ended, but records may still be arriving
    write(store, [record("a/x", minute + timedelta(seconds=59), Verdict.FAIL)])  # arrives late
    roll_up(store, minute + timedelta(minutes=1) + SETTLE)
    rows = stored_rows(store)
    assert list(rows) == [("minute", "a/x", minute)]
    assert (rows[("minute", "a/x", minute)]["pass_count"], rows[("minute", "a/x", minute)]["fail_count"]) == (
        1,
        1,
    )
    with store.engine.connect() as conn:
        assert Resolution.HOUR not in watermarks(conn)  # the hour is still open


def test_an_empty_store_rolls_nothing(store: Store) -> None:
    report = roll_up(store, NOW)
    assert report.rows_written == 0
    assert all(r.rolled_until is None for r in report.resolutions)
    with store.engine.connect() as conn:
        assert watermarks(conn) == {}


def test_a_crash_midway_leaves_no_half_rolled_bucket(
    store: Store, history: list[NewEvidence], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rollup_module, "BATCH_ROWS", 100)  # many small transactions
    moves = 0

    def die_on_third_watermark_move(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        nonlocal moves
        if "rollup_watermarks" in statement and statement.lstrip().upper().startswith(("UPDATE", "INSERT")):
            moves += 1
            if moves == 3:
                raise RuntimeError("power cut")

    event.listen(store.engine, "before_cursor_execute", die_on_third_watermark_move)
    with pytest.raises(RuntimeError, match="power cut"):
        roll_up(store, NOW)
    event.remove(store.engine, "before_cursor_execute", die_on_third_watermark_move)

    with store.engine.connect() as conn:
        marks = watermarks(conn)
    rows = stored_rows(store)
    assert set(marks) == {Resolution.MINUTE}
    assert rows, "the batches committed before the crash stay"
    assert all(res == "minute" and bucket < marks[Resolution.MINUTE] for res, _, bucket in rows)
    want = expected_rows(history, 60, marks[Resolution.MINUTE])
    assert {(s, b) for _, s, b in rows} == set(want)  # each committed bucket whole, nothing beyond

    report = roll_up(store, NOW)  # the next pass completes the work
    assert report.complete
    assert_rollups_match(store, history)


def test_two_processes_rolling_at_once_write_each_bucket_once(
    store: Store, history: list[NewEvidence], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rollup_module, "BATCH_ROWS", 200)
    other = Store(store.url, clock=store.clock)  # a second process: its own engine and connections
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run(s: Store) -> None:
        try:
            start.wait()
            roll_up(s, NOW)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in (store, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.dispose()
    assert errors == []
    roll_up(store, NOW)  # whichever stopped early after losing a race is completed here
    assert_rollups_match(store, history)
