"""The scheduler against a real store (SQLite and PostgreSQL), with time driven by a FakeClock.

``lookahead=0`` makes a tick claim only what is due now, so a test moves the clock, ticks, and
waits for the runs and their writes with ``settle()``; nothing sleeps.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from flightdeck.clock import FakeClock, SystemClock
from flightdeck.config import Config, load_config_text
from flightdeck.engine.metrics import SchedulerMetrics
from flightdeck.engine.scheduler import Scheduler
from flightdeck.evidence import Verdict
from flightdeck.store import EvidenceFilter, Store, get_status, list_evidence
from flightdeck.store.tables import check_state, evidence
from tests.engine import kinds


def config(checks: str, scheduler: str = "") -> Config:
    text = "services:\n  svc:\n    checks:\n" + checks
    if scheduler:
        text += "scheduler:\n" + scheduler
    return load_config_text(text, "t.yaml", env={})


def evidence_for(store: Store, subject: str) -> list[datetime]:
    with store.engine.connect() as conn:
        page = list_evidence(conn, EvidenceFilter(subject=subject), limit=1000)
    return sorted(e.started_at for e in page.items)


def due_at(store: Store, subject: str) -> datetime:
    with store.engine.connect() as conn:
        status = get_status(conn, subject)
    assert status is not None
    assert status.next_due_at is not None
    return status.next_due_at


async def cycle(s: Scheduler) -> int:
    n = await s.tick()
    await s.settle()
    return n


def make(cfg: Config, store: Store, clock: FakeClock, node: str = "node-a", **kw: object) -> Scheduler:
    return Scheduler(cfg, store, clock, node_id=node, lookahead=0, maintenance=False, **kw)  # type: ignore[arg-type]


async def test_interval_runs_land_on_stable_slots(store: Store, clock: FakeClock) -> None:
    cfg = config("      - {name: a, kind: test-script, interval: 60s}\n")
    s = make(cfg, store, clock)
    await s.start()
    first = due_at(store, "svc/a")
    assert clock.now() < first <= clock.now() + timedelta(seconds=60)
    assert await cycle(s) == 0  # not due yet
    for k in range(3):
        clock.set(first + timedelta(seconds=60 * k))
        assert await cycle(s) == 1
        assert due_at(store, "svc/a") == first + timedelta(seconds=60 * (k + 1))
    assert evidence_for(store, "svc/a") == [first + timedelta(seconds=60 * k) for k in range(3)]
    await s.close()


async def test_memo_goes_to_the_next_run_and_comes_back(store: Store, clock: FakeClock) -> None:
    cfg = config("      - {name: memo, kind: test-script, interval: 10s}\n")
    kinds.MEMOS_SEEN.pop("svc/memo", None)
    s = make(cfg, store, clock)
    await s.start()
    for _ in range(3):
        clock.set(due_at(store, "svc/memo"))
        assert await cycle(s) == 1
    await s.close()
    assert kinds.MEMOS_SEEN["svc/memo"][-3:] == [None, {"runs": 1}, {"runs": 2}]
    with store.engine.connect() as conn:
        status = get_status(conn, "svc/memo")
    assert status is not None
    assert status.memo == {"runs": 3}


async def test_after_an_outage_run_once_runs_once_and_skip_waits(store: Store, clock: FakeClock) -> None:
    cfg = config(
        "      - {name: once, kind: test-script, interval: 60s, catch_up: run_once}\n"
        "      - {name: skip, kind: test-script, interval: 60s, catch_up: skip}\n"
    )
    first = make(cfg, store, clock)
    await first.start()
    clock.set(max(due_at(store, "svc/once"), due_at(store, "svc/skip")))
    assert await cycle(first) == 2
    await first.close()

    clock.advance(timedelta(minutes=10, seconds=5))  # down for ten minutes: ten slots missed
    back = clock.now()
    second = make(cfg, store, clock, node="node-b")
    await second.start()
    assert await cycle(second) == 2  # both claimed; one runs, one is skipped
    assert await cycle(second) == 0  # nothing is replayed
    assert len(evidence_for(store, "svc/once")) == 2
    assert evidence_for(store, "svc/once")[-1] == back
    assert len(evidence_for(store, "svc/skip")) == 1
    nxt = [due_at(store, subject) for subject in ("svc/once", "svc/skip")]
    assert all(back < t <= back + timedelta(seconds=60) for t in nxt)
    clock.set(max(nxt))
    assert await cycle(second) == 2
    assert len(evidence_for(store, "svc/once")) == 3
    assert len(evidence_for(store, "svc/skip")) == 2
    r = second.metrics.registry
    assert r.get_sample_value("flightdeck_scheduler_catch_up_runs_total") == 1
    assert r.get_sample_value("flightdeck_scheduler_skipped_slots_total") == 1
    # The catch-up run measured downtime, not scheduler lag: only the two on-time runs count.
    assert r.get_sample_value("flightdeck_scheduler_start_lateness_seconds_count") == 2
    await second.close()


async def test_two_schedulers_never_claim_the_same_check(store: Store, clock: FakeClock) -> None:
    cfg = config("".join(f"      - {{name: c{i}, kind: test-script, interval: 30s}}\n" for i in range(40)))
    a, b = make(cfg, store, clock, "node-a"), make(cfg, store, clock, "node-b")
    await a.start()
    await b.start()
    clock.advance(30)
    claimed = await asyncio.gather(a.tick(), b.tick())
    assert sum(claimed) == 40
    assert set(a._tasks).isdisjoint(b._tasks)
    await asyncio.gather(a.settle(), b.settle())
    with store.engine.connect() as conn:
        per_subject = dict(
            conn.execute(select(evidence.c.subject, func.count()).group_by(evidence.c.subject)).all()
        )
        leased = conn.execute(select(func.count()).where(check_state.c.lease_owner.is_not(None))).scalar()
    assert per_subject == {f"svc/c{i}": 1 for i in range(40)}
    assert leased == 0
    await a.close()
    await b.close()


async def test_a_held_lease_blocks_others_until_it_expires(store: Store, clock: FakeClock) -> None:
    cfg = config(
        "      - {name: slow, kind: test-script, behaviour: sleep, seconds: 30, interval: 60s, timeout: 20s}\n",
        "  lease_grace: 5s\n",
    )
    a, b = make(cfg, store, clock, "node-a"), make(cfg, store, clock, "node-b")
    await a.start()
    await b.start()
    clock.set(due_at(store, "svc/slow"))
    assert await a.tick() == 1  # a holds the lease while its run is in flight (it never finishes here)
    clock.advance(24)
    assert await b.tick() == 0  # lease = timeout 20s + grace 5s
    clock.advance(2)
    assert await b.tick() == 1  # expired: b takes over
    for s in (a, b):
        s.stop(force=True)
        await s.close()
    with store.engine.connect() as conn:  # neither run finished: nothing written, nothing held
        assert conn.execute(select(func.count()).select_from(evidence)).scalar() == 0
        assert conn.execute(select(check_state.c.lease_owner)).scalar() is None


async def test_configuration_changes_and_removals_are_synced(store: Store, clock: FakeClock) -> None:
    old = config(
        "      - {name: keep, kind: test-script, interval: 1h}\n"
        "      - {name: gone, kind: test-script, interval: 60s}\n"
    )
    s = make(old, store, clock)
    await s.start()
    await s.close()
    new = config("      - {name: keep, kind: test-script, interval: 30s}\n")
    s2 = make(new, store, clock)
    await s2.start()
    assert clock.now() < due_at(store, "svc/keep") <= clock.now() + timedelta(seconds=30)
    with store.engine.connect() as conn:
        gone = get_status(conn, "svc/gone")
    assert gone is not None
    assert gone.retired
    clock.advance(3600)
    await cycle(s2)
    assert evidence_for(store, "svc/gone") == []
    await s2.close()


async def test_disabled_checks_are_not_run(store: Store, clock: FakeClock) -> None:
    cfg = config("      - {name: off, kind: test-script, interval: 10s, enabled: false}\n")
    s = make(cfg, store, clock)
    await s.start()
    clock.advance(100)
    assert await cycle(s) == 0
    await s.close()


async def test_metrics_count_runs_lateness_and_in_flight(store: Store, clock: FakeClock) -> None:
    cfg = config(
        "      - {name: ok, kind: test-script, interval: 10s}\n"
        "      - {name: boom, kind: test-script, behaviour: raise, interval: 10s}\n"
    )
    metrics = SchedulerMetrics()
    s = make(cfg, store, clock, metrics=metrics)
    await s.start()
    for name in sorted(("ok", "boom"), key=lambda n: due_at(store, f"svc/{n}")):
        clock.set(due_at(store, f"svc/{name}") + timedelta(milliseconds=250))  # each starts 0.25 s late
        assert await cycle(s) == 1
    r = metrics.registry
    labels = {"service": "svc", "check": "ok", "verdict": "pass"}
    assert r.get_sample_value("flightdeck_check_runs_total", labels) == 1
    assert (
        r.get_sample_value("flightdeck_check_runs_total", {**labels, "check": "boom", "verdict": "error"})
        == 1
    )
    assert r.get_sample_value("flightdeck_scheduler_start_lateness_seconds_count") == 2
    assert r.get_sample_value("flightdeck_scheduler_start_lateness_seconds_sum") == pytest.approx(0.5)
    assert r.get_sample_value("flightdeck_scheduler_start_lateness_seconds_bucket", {"le": "0.25"}) == 2
    assert r.get_sample_value("flightdeck_scheduler_start_lateness_seconds_bucket", {"le": "0.1"}) == 0
    assert r.get_sample_value("flightdeck_scheduler_in_flight") == 0
    assert r.get_sample_value("flightdeck_evidence_written_total") == 2
    assert r.get_sample_value("flightdeck_scheduler_last_tick_timestamp_seconds") == clock.now().timestamp()
    health = s.health()
    assert health.in_flight == 0
    assert health.lag_p99_s == pytest.approx(0.25)
    await s.close()


@pytest.mark.slow
async def test_hanging_and_raising_checks_do_not_stop_the_loop(store: Store) -> None:
    cfg = config(
        "      - {name: ok, kind: test-script, interval: 500ms}\n"
        "      - {name: hang, kind: test-script, behaviour: hang, interval: 500ms, timeout: 300ms}\n"
        "      - {name: boom, kind: test-script, behaviour: raise, interval: 500ms}\n"
    )
    real = Store(store.url, clock=SystemClock())
    s = Scheduler(cfg, real, SystemClock(), node_id="loop", maintenance=False, tick=0.05)
    task = asyncio.create_task(s.run())

    async def enough() -> None:
        while True:
            counts = {n: len(evidence_for(real, f"svc/{n}")) for n in ("ok", "hang", "boom")}
            if min(counts.values()) >= 3:
                return
            assert not task.done(), task
            await asyncio.sleep(0.1)

    await asyncio.wait_for(enough(), timeout=60)
    assert s.health().running
    s.stop()
    await asyncio.wait_for(task, timeout=30)
    with real.engine.connect() as conn:
        page = list_evidence(conn, EvidenceFilter(service="svc"), limit=1000)
    by = {e.check: e for e in page.items}
    assert by["ok"].verdict is Verdict.PASS
    assert (by["hang"].verdict, by["hang"].summary) == (Verdict.ERROR, "timed out after 300ms")
    assert by["boom"].verdict is Verdict.ERROR
    assert "ZeroDivisionError" in by["boom"].summary
    real.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("drain", ["2s", "100ms"])
async def test_drain_writes_what_finishes_and_releases_what_does_not(store: Store, drain: str) -> None:
    cfg = config(
        "      - {name: slow, kind: test-script, behaviour: sleep, seconds: 0.6, interval: 1h, timeout: 10s}\n",
        f"  drain_timeout: {drain}\n",
    )
    real = Store(store.url, clock=SystemClock())
    kinds.CALLS.pop("svc/slow", None)
    with real.engine.begin() as conn:  # make the check due now rather than at its hourly slot
        s0 = Scheduler(cfg, real, SystemClock(), node_id="pre", maintenance=False)
        await s0.start()
        await s0.close()
        conn.execute(check_state.update().values(next_due_at=SystemClock().now() - timedelta(seconds=1)))
    s = Scheduler(cfg, real, SystemClock(), node_id="drainer", maintenance=False, tick=0.05)
    task = asyncio.create_task(s.run())

    async def in_flight() -> None:
        while kinds.CALLS["svc/slow"] == 0:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(in_flight(), timeout=30)
    s.stop()
    await asyncio.wait_for(task, timeout=30)
    with real.engine.connect() as conn:
        rows = conn.execute(select(evidence.c.subject)).all()
        state = get_status(conn, "svc/slow")
    assert state is not None
    assert state.lease_owner is None
    if drain == "2s":  # finished during the drain: written, next run an hour away
        assert len(rows) == 1
        assert state.last_evidence_id is not None
        assert state.next_due_at is not None
        assert state.next_due_at > SystemClock().now()
    else:  # cancelled: nothing written, still due, lease free for another process
        assert rows == []
        assert state.last_evidence_id is None
        assert state.next_due_at is not None
        assert state.next_due_at < SystemClock().now()
    real.dispose()
