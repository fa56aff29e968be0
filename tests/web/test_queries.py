"""The cockpit's own read queries: the paged, failing-first list of checks and the sparklines,
on SQLite and PostgreSQL, from raw records and from rollups alike."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import timedelta

from flightdeck.clock import FakeClock
from flightdeck.evidence import NewEvidence, Trigger, Verdict
from flightdeck.store import CheckRow, Store, insert_evidence, record_outcome, sync_checks
from flightdeck.store.aggregate import floor_time
from flightdeck.store.rollup import roll_up
from flightdeck.web.queries import (
    CheckQuery,
    StatusFilter,
    check_page,
    service_counts,
    sparklines,
    total_counts,
)


def write(
    store: Store, subject: str, finished_ago: timedelta, duration: float, verdict: Verdict = Verdict.PASS
) -> None:
    service, check = subject.split("/")
    finished = store.clock.now() - finished_ago
    e = NewEvidence(
        subject=subject,
        service=service,
        check=check,
        kind="tcp",
        trigger=Trigger.SCHEDULE,
        config_digest="d" * 64,
        started_at=finished,
        finished_at=finished,
        verdict=verdict,
        duration_ms=duration,
    )
    with store.engine.begin() as conn:
        (eid,) = insert_evidence(conn, [e])
        record_outcome(conn, eid, e)


def test_sparklines_are_hourly_means_from_raw_records_and_rollups(store: Store, clock: FakeClock) -> None:
    clock.set(clock.now().replace(minute=37, second=12))
    rng = random.Random(3)
    expected: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    start = floor_time(clock.now(), 3600) + timedelta(hours=1) - timedelta(hours=24)
    for subject in ("a/one", "a/two", "b/three"):
        for _ in range(150):
            ago = timedelta(seconds=rng.uniform(0, 30 * 3600))
            duration = round(rng.uniform(1, 500), 3)
            write(store, subject, ago, duration)
            hour = int((floor_time(clock.now() - ago, 3600) - start) // timedelta(hours=1))
            if 0 <= hour < 24:
                expected[subject][hour].append(duration)
    want = {s: [sum(v[i]) / len(v[i]) if v[i] else None for i in range(24)] for s, v in expected.items()}

    def close(got: dict[str, list[float | None]]) -> None:
        for subject, values in want.items():
            assert len(got[subject]) == 24
            for a, b in zip(got[subject], values, strict=True):
                assert (a is None) == (b is None)
                if a is not None and b is not None:
                    assert abs(a - b) < 1e-6 * max(1.0, b)

    with store.engine.connect() as conn:
        close(sparklines(conn, list(want), clock.now()))  # raw records only
    roll_up(store, clock.now())
    with store.engine.connect() as conn:
        close(sparklines(conn, list(want), clock.now()))  # hour and minute rollups, raw tail
        assert sparklines(conn, ["nobody/here"], clock.now()) == {"nobody/here": []}


def test_check_page_orders_failing_first_and_counts_match(store: Store, clock: FakeClock) -> None:
    verdicts = [Verdict.PASS, Verdict.WARN, Verdict.UNKNOWN, Verdict.FAIL, Verdict.ERROR]
    rows = [
        CheckRow(f"s{i % 3}/c{i:02d}", f"s{i % 3}", f"c{i:02d}", "tcp", "d" * 64, True) for i in range(40)
    ]
    with store.engine.begin() as conn:
        sync_checks(conn, rows, clock.now())
    for i, row in enumerate(rows[:35]):  # five never run: unknown
        write(store, row.subject, timedelta(minutes=1), 1.0, verdicts[i % 5])
    with store.engine.connect() as conn:
        counts = service_counts(conn)
        everything = check_page(conn, CheckQuery(limit=500)).items
        ranks = [s.verdict.rank for s in everything]
        assert ranks == sorted(ranks, reverse=True)
        assert total_counts(counts)[Verdict.UNKNOWN] == 7 + 5
        for status in StatusFilter:
            for service in (None, "s1"):
                q = CheckQuery(status=status, service=service, limit=7)
                fast, counted = check_page(conn, q, counts), check_page(conn, q)
                assert fast.total == counted.total
                assert [s.subject for s in fast.items] == [s.subject for s in counted.items]
        pages = [check_page(conn, CheckQuery(offset=o, limit=7), counts) for o in range(0, 40, 7)]
        assert [s.subject for p in pages for s in p.items] == [s.subject for s in everything]
        assert pages[0].pages == 6
        text = check_page(conn, CheckQuery(text="S1/C0", limit=50), counts)
        assert {s.subject for s in text.items} == {"s1/c01", "s1/c04", "s1/c07"}
        assert text.total == 3
        literal = check_page(conn, CheckQuery(text="%", limit=50))
        assert literal.total == 0  # a LIKE wildcard is matched literally
