"""Evidence and check state in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from flightdeck.clock import FakeClock
from flightdeck.errors import NotFoundError
from flightdeck.evidence import Measurement, NewEvidence, Trigger, Verdict
from flightdeck.store import (
    CheckRow,
    EvidenceFilter,
    Store,
    count_evidence,
    get_evidence,
    get_status,
    insert_evidence,
    list_evidence,
    list_statuses,
    record_outcome,
    sync_checks,
)


def make(
    clock: FakeClock,
    subject: str = "pay/health",
    verdict: Verdict = Verdict.PASS,
    offset: float = 0,
    trigger: Trigger = Trigger.SCHEDULE,
) -> NewEvidence:
    service, check = subject.split("/")
    start = clock.now() + timedelta(seconds=offset)
    return NewEvidence(
        subject=subject,
        service=service,
        check=check,
        kind="http",
        trigger=trigger,
        config_digest="d" * 64,
        started_at=start,
        finished_at=start + timedelta(milliseconds=40),
        verdict=verdict,
        duration_ms=40.0,
        summary=f"{verdict} summary",
        measurements=(Measurement(name="latency_ms", value=40.0, unit="ms"),),
        detail={"status": 200, "nested": {"list": [1, "two"]}},
    )


def test_insert_and_read_back_exactly(store: Store, clock: FakeClock) -> None:
    record = make(clock)
    with store.engine.begin() as conn:
        (eid,) = insert_evidence(conn, [record])
    with store.engine.connect() as conn:
        back = get_evidence(conn, eid)
    assert back.id == eid
    assert back.model_dump(exclude={"id"}) == record.model_dump()
    assert back.started_at.tzinfo is not None


def test_bulk_insert_returns_ids_in_order(store: Store, clock: FakeClock) -> None:
    records = [make(clock, f"svc/c{i}", offset=i) for i in range(25)]
    with store.engine.begin() as conn:
        ids = insert_evidence(conn, records)
    with store.engine.connect() as conn:
        assert [get_evidence(conn, i).subject for i in ids] == [r.subject for r in records]


def test_evidence_rejects_update(store: Store, clock: FakeClock) -> None:
    with store.engine.begin() as conn:
        (eid,) = insert_evidence(conn, [make(clock)])
    with pytest.raises(DBAPIError, match="immutable"), store.engine.begin() as conn:
        conn.execute(text("UPDATE evidence SET verdict = 'fail' WHERE id = :i"), {"i": eid})
    with store.engine.connect() as conn:
        assert get_evidence(conn, eid).verdict is Verdict.PASS


def test_missing_record_is_not_found(store: Store) -> None:
    with store.engine.connect() as conn, pytest.raises(NotFoundError, match="no evidence record 424242"):
        get_evidence(conn, 424242)


def test_filters_and_keyset_paging(store: Store, clock: FakeClock) -> None:
    records = [
        make(
            clock,
            "pay/health" if i % 2 else "web/home",
            Verdict.FAIL if i % 3 == 0 else Verdict.PASS,
            offset=i,
        )
        for i in range(30)
    ]
    with store.engine.begin() as conn:
        insert_evidence(conn, records)
    with store.engine.connect() as conn:
        seen: list[int] = []
        cursor = None
        while True:
            page = list_evidence(conn, EvidenceFilter(service="pay"), limit=4, before_id=cursor)
            seen += [e.id for e in page.items]
            assert all(e.service == "pay" for e in page.items)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert len(seen) == 15
        assert seen == sorted(seen, reverse=True)
        assert len(set(seen)) == 15
        fails = list_evidence(conn, EvidenceFilter(verdicts=(Verdict.FAIL,)), limit=100).items
        assert len(fails) == 10
        assert {e.verdict for e in fails} == {Verdict.FAIL}
        since = clock.now() + timedelta(seconds=20)
        assert count_evidence(conn, EvidenceFilter(since=since)) == 10
        assert count_evidence(conn, EvidenceFilter(until=since)) == 20


def test_sync_checks_adds_updates_and_retires(store: Store, clock: FakeClock) -> None:
    a = CheckRow("pay/health", "pay", "health", "http", "a" * 64, True)
    b = CheckRow("pay/db", "pay", "db", "postgres", "b" * 64, True)
    with store.engine.begin() as conn:
        sync_checks(conn, [a, b], clock.now())
        sync_checks(conn, [a, b], clock.now())  # idempotent
        assert [s.subject for s in list_statuses(conn)] == ["pay/db", "pay/health"]
        sync_checks(conn, [CheckRow("pay/health", "pay", "health", "http", "c" * 64, False)], clock.now())
        statuses = list_statuses(conn, include_retired=True)
    by = {s.subject: s for s in statuses}
    assert by["pay/db"].retired
    assert not by["pay/health"].retired
    assert by["pay/health"].enabled is False
    assert by["pay/health"].verdict is Verdict.UNKNOWN  # never ran: unknown, not pass


def test_record_outcome_tracks_failures_and_changes(store: Store, clock: FakeClock) -> None:
    row = CheckRow("pay/health", "pay", "health", "http", "a" * 64, True)
    with store.engine.begin() as conn:
        sync_checks(conn, [row], clock.now())
    sequence = [Verdict.PASS, Verdict.FAIL, Verdict.ERROR, Verdict.PASS]
    ids = []
    for i, v in enumerate(sequence):
        rec = make(clock, verdict=v, offset=i * 60)
        with store.engine.begin() as conn:
            (eid,) = insert_evidence(conn, [rec])
            ids.append(eid)
            assert record_outcome(conn, eid, rec, memo={"n": i})
            st = get_status(conn, "pay/health")
        assert st is not None
        assert st.last_verdict is v
        assert st.memo == {"n": i}
        if i == 2:
            assert st.consecutive_failures == 2
            assert st.last_failure_evidence_id == ids[2]
            assert st.last_change_at == rec.finished_at
    assert st.consecutive_failures == 0
    assert st.last_failure_evidence_id == ids[2]  # the last failure stays findable
    # An older record arriving late does not overwrite the newer state.
    late = make(clock, verdict=Verdict.FAIL, offset=10)
    with store.engine.begin() as conn:
        (eid,) = insert_evidence(conn, [late])
        assert not record_outcome(conn, eid, late)
        assert get_status(conn, "pay/health").last_verdict is Verdict.PASS  # type: ignore[union-attr]


def test_record_outcome_with_lease_is_compare_and_set(store: Store, clock: FakeClock) -> None:
    row = CheckRow("pay/health", "pay", "health", "http", "a" * 64, True)
    with store.engine.begin() as conn:
        sync_checks(conn, [row], clock.now())
        conn.execute(text("UPDATE check_state SET lease_owner = 'node-a'"))
    rec = make(clock)
    with store.engine.begin() as conn:
        (eid,) = insert_evidence(conn, [rec])
        assert not record_outcome(conn, eid, rec, lease_owner="node-b")
        assert record_outcome(
            conn, eid, rec, lease_owner="node-a", next_due_at=clock.now() + timedelta(minutes=1)
        )
        st = get_status(conn, "pay/health")
    assert st is not None
    assert st.lease_owner is None
    assert st.next_due_at == clock.now() + timedelta(minutes=1)


def test_migrate_is_idempotent_and_current(store: Store) -> None:
    store.migrate()
    assert store.is_current()
    assert store.schema_revision() == store.head_revision()


def test_migrations_build_the_schema_the_tables_declare(store: Store) -> None:
    """What Alembic created is what the code reads and writes: no column, key or index missing."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from flightdeck.store.tables import metadata

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_sqlite_keeps_rollups_in_primary_key_order(sqlite_store: Store) -> None:
    # A check's buckets stored together make the cockpit's range reads sequential (BENCHMARKS.md).
    with sqlite_store.engine.connect() as conn:
        sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'rollups'").scalar_one()
    assert "WITHOUT ROWID" in sql.upper()
