"""Periodic maintenance runs at most once a minute across processes, through a named lease."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from flightdeck.clock import FakeClock
from flightdeck.config import RetentionConfig
from flightdeck.engine.maintenance import Maintenance, MaintenanceOutcome, claim_named_lease
from flightdeck.evidence import NewEvidence, Verdict
from flightdeck.store import Store, insert_evidence
from flightdeck.store.tables import evidence, leases, rollups


def test_named_lease_is_compare_and_set(store: Store, clock: FakeClock) -> None:
    with store.engine.begin() as conn:
        assert claim_named_lease(conn, "job", "a", clock.now(), 60)
        assert not claim_named_lease(conn, "job", "b", clock.now(), 60)
        assert claim_named_lease(conn, "other", "b", clock.now(), 60)  # leases are per name
    clock.advance(59.9)
    with store.engine.begin() as conn:
        assert not claim_named_lease(conn, "job", "b", clock.now(), 60)
    clock.advance(0.1)
    with store.engine.begin() as conn:
        assert claim_named_lease(conn, "job", "b", clock.now(), 60)
        owner = conn.execute(select(leases.c.owner).where(leases.c.name == "job")).scalar()
    assert owner == "b"


def record(clock: FakeClock, minutes_ago: float) -> NewEvidence:
    at = clock.now() - timedelta(minutes=minutes_ago)
    return NewEvidence(
        subject="svc/a",
        service="svc",
        check="a",
        kind="tcp",
        config_digest="0" * 64,
        started_at=at,
        finished_at=at + timedelta(milliseconds=5),
        verdict=Verdict.PASS,
        duration_ms=5.0,
    )


def test_maintenance_rolls_up_and_prunes_once_per_minute_across_processes(
    store: Store, clock: FakeClock
) -> None:
    retention = RetentionConfig(raw=3600)
    with store.engine.begin() as conn:
        insert_evidence(conn, [record(clock, m) for m in (5, 30, 59, 90, 120)])
    a = Maintenance(store, retention, "node-a", clock)
    b = Maintenance(store, retention, "node-b", clock)

    ran = a.run_once()
    assert ran.outcome is MaintenanceOutcome.RAN, ran.error
    assert ran.rollup is not None
    assert ran.prune is not None
    assert b.run_once().outcome is MaintenanceOutcome.BUSY
    assert a.run_once().outcome is MaintenanceOutcome.BUSY  # the same process waits its minute too
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(rollups)).scalar() > 0
        remaining = conn.execute(select(func.count()).select_from(evidence)).scalar()
    assert remaining == 3  # older than raw retention (1h), and rolled up: pruned

    clock.advance(60)
    assert b.run_once().outcome is MaintenanceOutcome.RAN


async def test_periodic_maintenance_runs_in_a_worker_process(sqlite_store: Store, clock: FakeClock) -> None:
    import asyncio

    with sqlite_store.engine.begin() as conn:
        insert_evidence(conn, [record(clock, m) for m in (5, 30)])
    m = Maintenance(sqlite_store, RetentionConfig(), "node-a", clock)
    assert m.isolated
    stop = asyncio.Event()
    task = asyncio.create_task(m.run(stop))
    while m.last is None:
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 30)
    assert m.last.outcome is MaintenanceOutcome.RAN, m.last.error
    assert m.last.rollup is not None
    assert m.last.rollup.resolutions
    with sqlite_store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(rollups)).scalar() > 0
