"""The claims that need real processes: leases on one PostgreSQL, kill -9, SIGTERM on `flightdeck serve`.

Every process runs the real scheduler (``python -m tests.engine.fdproc``: the flightdeck command
line plus two test check kinds) against a fresh PostgreSQL database and a local HTTP target that
records, per check, every request and how many were in progress at once.
"""

from __future__ import annotations

import json
import math
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select

from flightdeck.engine.schedule import phase_for
from flightdeck.store.tables import check_state, evidence
from tests.engine.conftest import Procs
from tests.engine.target import RecordingTarget

pytestmark = [pytest.mark.services, pytest.mark.slow]


def read_line(proc: subprocess.Popen[str], timeout: float = 60) -> str:
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    try:
        if not sel.select(timeout):
            raise AssertionError(f"no output from process {proc.pid} within {timeout}s")
        line = proc.stdout.readline()
    finally:
        sel.close()
    if not line:
        raise AssertionError(f"process {proc.pid} ended (code {proc.wait(10)}) before printing a line")
    return line.strip()


def wait_for(condition: Callable[[], bool], what: str, procs: Procs, timeout: float = 90) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}\n{procs.logs()[-4000:]}")
        time.sleep(0.05)


def engine_for(url: str) -> Engine:
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://"))


def runs(engine: Engine, subject: str) -> list[tuple[int, datetime, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(evidence.c.id, evidence.c.started_at, evidence.c.verdict)
            .where(evidence.c.subject == subject)
            .order_by(evidence.c.started_at)
        ).all()
    return [(int(r.id), r.started_at, str(r.verdict)) for r in rows]


def count(engine: Engine, subject: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(evidence).where(evidence.c.subject == subject)
            ).scalar()
            or 0
        )


def slot_index(subject: str, interval: float, started: datetime) -> int:
    # A run starts at (or, by timer rounding, a millisecond before) its slot: 50 ms of slack.
    return math.floor((started.timestamp() - phase_for(subject, interval) + 0.05) / interval)


def write_config(path: Path, pg_url: str, checks: str, scheduler: str = "") -> Path:
    path.write_text(
        f"store:\n  url: {pg_url}\n"
        + (f"scheduler:\n{scheduler}" if scheduler else "")
        + "services:\n  svc:\n    checks:\n"
        + checks
    )
    return path


def assert_state_matches_evidence(engine: Engine) -> None:
    """Every check's state points at its newest record, and no lease is left held."""
    with engine.connect() as conn:
        newest = dict(
            conn.execute(
                select(evidence.c.subject, func.max(evidence.c.id)).group_by(evidence.c.subject)
            ).all()
        )
        state = {r.subject: r for r in conn.execute(select(check_state)).all()}
    for subject, last_id in newest.items():
        assert state[subject].last_evidence_id == last_id, subject
    assert all(r.lease_owner is None and r.lease_until is None for r in state.values())


def test_two_processes_never_run_a_check_twice_at_once_and_run_each_slot_once(
    fresh_pg_url: str, target: RecordingTarget, procs: Procs, tmp_path: Path
) -> None:
    n, interval = 12, 2.0
    checks = "".join(
        f"      - {{name: c{i}, kind: test-probe, url: '{target.url(f'/slow/c{i}')}?delay=0.4', "
        f"interval: 2s, timeout: 5s}}\n"
        for i in range(n)
    )
    cfg = write_config(tmp_path / "flightdeck.yaml", fresh_pg_url, checks, "  drain_timeout: 10s\n")
    a = procs.start("scheduler", str(cfg), name="a")
    assert read_line(a).startswith("ready")
    b = procs.start("scheduler", str(cfg), name="b")
    assert read_line(b).startswith("ready")
    engine = engine_for(fresh_pg_url)
    base = {i: count(engine, f"svc/c{i}") for i in range(n)}
    wait_for(
        lambda: min(count(engine, f"svc/c{i}") - base[i] for i in range(n)) >= 5,
        "five runs of every check with both processes up",
        procs,
    )
    for p in (a, b):
        p.send_signal(signal.SIGTERM)
    assert [a.wait(60), b.wait(60)] == [0, 0], procs.logs()[-4000:]

    pids = set()
    for i in range(n):
        path, subject = f"/slow/c{i}", f"svc/c{i}"
        assert target.max_active[path] == 1, f"{subject} ran twice at once"
        hits = target.hits_for(path)
        pids |= {h.pid for h in hits}
        recorded = runs(engine, subject)
        assert len(recorded) == len(hits), f"{subject}: {len(hits)} requests, {len(recorded)} records"
        slots = [slot_index(subject, interval, started) for _, started, _ in recorded]
        assert len(set(slots)) == len(slots), f"{subject} ran a slot twice: {slots}"
        assert slots == list(range(slots[0], slots[0] + len(slots))), f"{subject} missed a slot: {slots}"
        assert {v for _, _, v in recorded} == {"pass"}
    assert pids == {str(a.pid), str(b.pid)}, "both processes should have run checks"
    assert_state_matches_evidence(engine)
    engine.dispose()


def test_kill_9_mid_run_then_the_lease_expires_and_another_process_runs_it_once(
    fresh_pg_url: str, target: RecordingTarget, procs: Procs, tmp_path: Path
) -> None:
    subject, interval = "svc/victim", 2.0
    checks = f"      - {{name: victim, kind: test-probe, url: '{target.url('/hold/victim')}', interval: 2s, timeout: 5s}}\n"
    cfg = write_config(
        tmp_path / "flightdeck.yaml", fresh_pg_url, checks, "  lease_grace: 1s\n  drain_timeout: 5s\n"
    )
    engine = engine_for(fresh_pg_url)
    a = procs.start("scheduler", str(cfg), name="a")
    assert read_line(a).startswith("ready")
    wait_for(lambda: target.in_progress("/hold/victim") == 1, "a run in flight on process a", procs)
    with engine.connect() as conn:
        lease = conn.execute(select(check_state.c.lease_owner, check_state.c.lease_until)).one()
    assert lease.lease_owner is not None
    assert lease.lease_owner.endswith(f"-{a.pid}")
    a.send_signal(signal.SIGKILL)
    a.wait(10)
    killed_at = time.time()
    target.release()

    b = procs.start("scheduler", str(cfg), name="b")
    assert read_line(b).startswith("ready")
    wait_for(lambda: count(engine, subject) >= 4, "four runs on process b", procs)
    b.send_signal(signal.SIGTERM)
    assert b.wait(60) == 0, procs.logs()[-4000:]

    recorded = runs(engine, subject)
    hits = target.hits_for("/hold/victim")
    assert [h.pid for h in hits[:1]] == [str(a.pid)]
    assert all(h.pid == str(b.pid) for h in hits[1:])
    # The killed run left nothing behind; b waited for the lease to expire, then ran it once.
    assert len(recorded) == len(hits) - 1
    assert all(started.timestamp() > killed_at for _, started, _ in recorded)
    assert recorded[0][1] >= lease.lease_until
    slots = [slot_index(subject, interval, started) for _, started, _ in recorded]
    assert len(set(slots)) == len(slots), f"missed slots were replayed: {slots}"
    assert_state_matches_evidence(engine)
    engine.dispose()


@pytest.mark.parametrize("drain", ["short", "long"])
def test_sigterm_on_flightdeck_serve_drains_without_half_written_or_duplicate_runs(
    fresh_pg_url: str, target: RecordingTarget, procs: Procs, tmp_path: Path, drain: str
) -> None:
    checks = (
        f"      - {{name: slow, kind: test-probe, url: '{target.url('/hold/slow')}', interval: 1h, timeout: 30s}}\n"
        f"      - {{name: fast, kind: test-probe, url: '{target.url('/slow/fast')}?delay=0.05', interval: 1s}}\n"
    )
    timeout = "1s" if drain == "short" else "20s"
    cfg = write_config(tmp_path / "flightdeck.yaml", fresh_pg_url, checks, f"  drain_timeout: {timeout}\n")
    engine = engine_for(fresh_pg_url)
    # Start once to create the state, then make the hourly check due now.
    proc = procs.start("serve", "-c", str(cfg), "--port", "0", "--json", name="serve")
    listening = json.loads(read_line(proc))
    assert listening["event"] == "listening"
    assert listening["checks"] == 2
    assert listening["url"].startswith("http://127.0.0.1:")
    with engine.begin() as conn:
        conn.execute(
            check_state.update().where(check_state.c.subject == "svc/slow").values(next_due_at=func.now())
        )
    wait_for(lambda: target.in_progress("/hold/slow") == 1, "the slow check in flight", procs)
    wait_for(lambda: count(engine, "svc/fast") >= 3, "three runs of the fast check", procs)

    proc.send_signal(signal.SIGTERM)
    if drain == "long":
        time.sleep(0.3)  # let the drain begin with the slow run still in flight
        target.release()
    assert proc.wait(60) == 0, procs.logs()[-4000:]
    assert json.loads(read_line(proc)) == {"event": "stopped"}

    slow = runs(engine, "svc/slow")
    assert len(target.hits_for("/hold/slow")) == 1  # never started twice
    if drain == "long":
        assert [v for _, _, v in slow] == ["pass"]  # finished during the drain, and written
    else:
        assert slow == []  # cancelled at the drain deadline: no evidence at all
        with engine.connect() as conn:
            state = conn.execute(select(check_state).where(check_state.c.subject == "svc/slow")).one()
        assert state.last_evidence_id is None
        assert state.lease_owner is None
    fast_hits = target.hits_for("/slow/fast")
    assert len(runs(engine, "svc/fast")) == len(fast_hits)  # every run recorded once, none lost
    assert all(h.completed for h in fast_hits)
    assert_state_matches_evidence(engine)
    engine.dispose()


def test_ctrl_c_in_a_terminal_stops_serve_and_its_maintenance_worker_without_a_traceback(
    target: RecordingTarget, procs: Procs, tmp_path: Path
) -> None:
    # Ctrl-C sends SIGINT to the whole foreground process group: flightdeck and its worker.
    checks = f"      - {{name: fast, kind: test-probe, url: '{target.url('/slow/fast')}?delay=0.01', interval: 1s}}\n"
    cfg = tmp_path / "flightdeck.yaml"
    cfg.write_text(f"store:\n  state_dir: {tmp_path / 'state'}\nservices:\n  svc:\n    checks:\n{checks}")
    proc = procs.start(
        "--log-level",
        "info",
        "serve",
        "-c",
        str(cfg),
        "--port",
        "0",
        "--json",
        name="serve",
        new_session=True,
    )
    assert json.loads(read_line(proc))["event"] == "listening"
    wait_for(lambda: "maintenance:" in procs.logs(), "a maintenance pass in the worker process", procs)

    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(60) == 0, procs.logs()[-4000:]
    assert json.loads(read_line(proc)) == {"event": "stopped"}
    logs = procs.logs()
    assert "SIGINT received" in logs
    assert "Traceback" not in logs, logs[-4000:]
    assert "KeyboardInterrupt" not in logs
