"""Exactly-once delivery with real ``flightdeck serve`` processes: kill -9 between an alert firing and
its delivery, and two processes sharing one PostgreSQL store.

Each process runs the real command line (``python -m tests.engine.fdproc serve``) with a ``tcp`` check
against a closed port, so the check fails on its own, a ``check_failing`` rule fires, the router opens
an incident and the webhook channel notifies the local receiver.
"""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from flightdeck.store.tables import outbox
from tests.alerting.receiver import Receiver
from tests.engine.conftest import Procs
from tests.engine.test_processes import read_line

pytestmark = [pytest.mark.slow]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once the socket is closed


def write_config(path: Path, store: str, receiver: Receiver, checks: int) -> Path:
    port = closed_port()
    lines = "\n".join(
        f"      - {{name: down{i}, kind: tcp, host: 127.0.0.1, port: {port}, interval: 1s, timeout: 1s}}"
        for i in range(checks)
    )
    path.write_text(
        f"""
store: {{url: "{store}", state_dir: {path.parent}}}
services:
  svc:
    checks:
{lines}
alerting:
  starter_rules: false
  grouping: {{group_by: [service, check], group_wait: 0s}}
  routes: [{{policy: hook}}]
  rules:
    down: {{type: check_failing, service: svc, consecutive: 1, severity: P1}}
channels:
  hook: {{type: webhook, url: "{receiver.url}/hook", timeout: 2s, backoff_base: 1s, backoff_max: 2s}}
oncall:
  escalation_policies:
    hook: {{levels: [{{targets: [{{channel: hook}}], timeout: 1h}}]}}
"""
    )
    return path


def wait_for(condition: Callable[[], bool], what: str, procs: Procs, timeout: float = 90) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}\n{procs.logs()[-4000:]}")
        time.sleep(0.05)


def start_serve(procs: Procs, cfg: Path, name: str) -> None:
    proc = procs.start("serve", "-c", str(cfg), "--port", "0", "--json", name=name)
    assert json.loads(read_line(proc))["event"] == "listening"


def outbox_states(url: str) -> list[str]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            return [str(s) for s in conn.execute(select(outbox.c.state)).scalars()]
    finally:
        engine.dispose()


def test_kill_9_before_delivery_then_restart_delivers_each_notification_exactly_once(
    receiver: Receiver, procs: Procs, tmp_path: Path
) -> None:
    store = f"sqlite:///{tmp_path / 'flightdeck.db'}"
    cfg = write_config(tmp_path / "flightdeck.yaml", store, receiver, checks=1)
    receiver.reply(None, 503)  # the receiver is down: the notification waits in the outbox
    start_serve(procs, cfg, "first")
    wait_for(lambda: len(receiver.received("/hook")) >= 1, "a first (refused) delivery attempt", procs)
    procs.started[0].send_signal(signal.SIGKILL)
    procs.started[0].wait(10)
    assert receiver.delivered_keys() == {}  # nothing was delivered before the crash
    assert outbox_states(store) == ["pending"] or outbox_states(store) == ["sending"]

    receiver.reply(None, 200)
    start_serve(procs, cfg, "second")
    wait_for(lambda: len(receiver.delivered_keys()) >= 1, "delivery after the restart", procs)
    time.sleep(2.0)  # a duplicate, if any, would arrive now
    delivered = receiver.delivered_keys()
    assert list(delivered.values()) == [1], delivered
    assert outbox_states(store) == ["sent"]


@pytest.mark.services
def test_two_serve_processes_on_one_postgresql_send_each_notification_once(
    fresh_pg_url: str, receiver: Receiver, procs: Procs, tmp_path: Path
) -> None:
    checks = 5
    cfg = write_config(tmp_path / "flightdeck.yaml", fresh_pg_url, receiver, checks=checks)
    start_serve(procs, cfg, "a")
    start_serve(procs, cfg, "b")
    wait_for(lambda: len(receiver.delivered_keys()) >= checks, f"{checks} notifications", procs)
    time.sleep(3.0)  # both processes keep running: a second send would arrive now
    delivered = receiver.delivered_keys()
    assert len(delivered) == checks, delivered
    assert set(delivered.values()) == {1}, delivered
    assert len(receiver.received("/hook")) == checks  # not even a refused duplicate attempt
    assert sorted(outbox_states(fresh_pg_url)) == ["sent"] * checks
