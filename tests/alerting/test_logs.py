"""Log sources followed like tail -F (a real temp file: rotation, truncation, partial lines) and the
security rules over them."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from flightdeck.alerting.evaluate import RuleEngine
from flightdeck.alerting.logs import event_time
from flightdeck.alerting.logtail import LogTail
from flightdeck.clock import FakeClock
from flightdeck.config import load_config_text
from flightdeck.store import Store
from flightdeck.store.tables import alerting_cursors, alerts


def test_tail_follows_partial_lines_rotation_and_truncation(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"old line\n")
    tail = LogTail(path, start_at_end=True)
    assert tail.read() == []  # existing content skipped on first start
    with path.open("ab") as f:
        f.write(b'{"a": 1}\n{"a": 2')  # the second line is not complete yet
    assert tail.read() == [b'{"a": 1}']
    with path.open("ab") as f:
        f.write(b"}\n")
    assert tail.read() == [b'{"a": 2}']
    with path.open("ab") as f:
        f.write(b"last of old\n")
    path.rename(tmp_path / "app.log.1")  # rotate: rename + new file
    path.write_bytes(b"first of new\n")
    assert tail.read() == [b"last of old", b"first of new"]
    assert tail.rotations == 1
    path.write_bytes(b"x\n")  # truncated (same inode, shorter than the offset)
    assert tail.read() == [b"x"]
    assert tail.truncations == 1
    position = tail.position
    assert position is not None
    assert position.inode == os.stat(path).st_ino
    assert position.offset == 2
    tail.close()


def test_tail_resumes_from_a_saved_position(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"a\nb\n")
    first = LogTail(path, start_at_end=False)
    assert first.read() == [b"a", b"b"]
    saved = first.position
    first.close()
    with path.open("ab") as f:
        f.write(b"c\n")
    second = LogTail(path, saved)
    assert second.read() == [b"c"]
    second.close()


def test_event_time_forms() -> None:
    fallback = datetime(2026, 1, 1, tzinfo=datetime.now().astimezone().tzinfo)
    assert event_time("2026-01-05T09:00:00Z", fallback).isoformat() == "2026-01-05T09:00:00+00:00"
    assert event_time(1767603600, fallback).isoformat() == "2026-01-05T09:00:00+00:00"
    assert event_time(1767603600000, fallback).isoformat() == "2026-01-05T09:00:00+00:00"
    assert event_time("yesterday", fallback) is fallback


CONFIG = """
version: 1
services:
  web: {checks: []}
alerting:
  starter_rules: false
  log_sources:
    auth: {path: auth.log, service: web}
  rules:
    failed-logins:
      type: log_rate
      source: auth
      match: {event: login, outcome: [failed, locked]}
      by: ip
      more_than: 3
      window: 5m
      severity: security
    ip-spike:
      type: log_spike
      source: auth
      by: ip
      factor: 5
      window: 1m
      baseline: 1h
      min_count: 10
"""


def _write(path: Path, lines: Sequence[object]) -> None:
    with path.open("a") as f:
        for line in lines:
            f.write((line if isinstance(line, str) else json.dumps(line)) + "\n")


def test_log_rate_per_ip_fires_and_resolves(sqlite_store: Store, clock: FakeClock, tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text("")
    config = load_config_text(CONFIG, base_dir=tmp_path)
    engine = RuleEngine(config, sqlite_store, clock, "n1")
    asyncio.run(engine.step(clock.now()))
    t = clock.now().isoformat()
    bad = {"event": "login", "outcome": "failed", "ip": "203.0.113.9", "user": "ann", "time": t}
    _write(log, [bad] * 4 + [{"event": "login", "outcome": "ok", "ip": "198.51.100.1", "time": t}])
    _write(log, ["not json", "[1, 2]"])
    clock.advance(1)
    asyncio.run(engine.step(clock.now()))
    with sqlite_store.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(alerts)).mappings()]
        cursor = (
            conn.execute(select(alerting_cursors).where(alerting_cursors.c.name == "log:auth"))
            .mappings()
            .one()
        )
    assert len(rows) == 1
    assert rows[0]["labels"] == {
        "alertname": "failed-logins",
        "service": "web",
        "severity": "security",
        "ip": "203.0.113.9",
    }
    assert rows[0]["state"] == "firing"
    assert "4 matching lines from ip=203.0.113.9" in rows[0]["summary"]
    assert cursor["detail"]["malformed"] == 2
    assert cursor["position"] == log.stat().st_size
    clock.advance(301)  # the window slides past the failures
    asyncio.run(engine.step(clock.now()))
    with sqlite_store.engine.connect() as conn:
        assert conn.execute(select(alerts.c.state)).scalars().all() == ["resolved"]
    asyncio.run(engine.close())


def test_log_spike_against_own_baseline(sqlite_store: Store, clock: FakeClock, tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text("")
    config = load_config_text(CONFIG, base_dir=tmp_path)
    engine = RuleEngine(config, sqlite_store, clock, "n1")
    start = clock.now()
    asyncio.run(engine.step(start))
    # steady: 2 requests a minute for 50 minutes (baseline rate), written with their own times
    steady = [
        {"event": "page", "ip": "192.0.2.7", "time": (start.timestamp() - 3000 + 30 * i)} for i in range(100)
    ]
    _write(log, steady)
    clock.advance(1)
    asyncio.run(engine.step(clock.now()))
    with sqlite_store.engine.connect() as conn:
        assert conn.execute(select(alerts)).all() == []
    now = clock.now().timestamp()
    _write(log, [{"event": "page", "ip": "192.0.2.7", "time": now} for _ in range(30)])
    clock.advance(1)
    asyncio.run(engine.step(clock.now()))
    with sqlite_store.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(alerts)).mappings()]
    assert [r["rule"] for r in rows] == ["ip-spike"]
    assert rows[0]["labels"]["ip"] == "192.0.2.7"
    asyncio.run(engine.close())
