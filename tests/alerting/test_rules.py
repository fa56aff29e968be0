"""Rules over evidence, end to end: evidence rows inserted through the store, RuleEngine.step, alert
rows asserted. Runs on SQLite and PostgreSQL (the ``store`` fixture)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from flightdeck.alerting.alerts import active_alerts
from flightdeck.alerting.evaluate import RuleEngine
from flightdeck.alerting.model import AlertState
from flightdeck.clock import FakeClock
from flightdeck.config import load_config_text
from flightdeck.config.models import Config
from flightdeck.evidence import Measurement, NewEvidence, Verdict
from flightdeck.store import Store, insert_evidence
from flightdeck.store.tables import alerting_cursors, alerts

BASE = """
version: 1
services:
  checkout:
    checks:
      - {name: health, kind: tcp, host: 127.0.0.1, port: 9, interval: 30s, timeout: 5s}
      - {name: api, kind: tcp, host: 127.0.0.1, port: 9, interval: 30s}
      - {name: orders, kind: sql, url: "sqlite:///x.db", query: "SELECT 1", measurement: stuck}
alerting:
  starter_rules: false
  rules:
"""


def make_config(rules: str, tmp: Path) -> Config:
    return load_config_text(BASE + rules, base_dir=tmp)


def put(
    store: Store,
    at: datetime,
    verdict: Verdict = Verdict.FAIL,
    check: str = "health",
    service: str = "checkout",
    kind: str = "tcp",
    summary: str = "connection refused",
    duration: float = 10.0,
    **measurements: float,
) -> int:
    record = NewEvidence(
        subject=f"{service}/{check}",
        service=service,
        check=check,
        kind=kind,
        config_digest="d" * 64,
        started_at=at - timedelta(milliseconds=duration),
        finished_at=at,
        verdict=verdict,
        duration_ms=duration,
        summary=summary,
        measurements=tuple(Measurement(name=k, value=v) for k, v in measurements.items()),
    )
    with store.engine.begin() as conn:
        return insert_evidence(conn, [record])[0]


def step(engine: RuleEngine, now: datetime) -> int:
    return asyncio.run(engine.step(now))


def alert_rows(store: Store) -> list[dict[str, object]]:
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(alerts).order_by(alerts.c.id)).mappings()]


def test_consecutive_failures_fire_once_and_pass_resolves(
    store: Store, clock: FakeClock, tmp_path: Path
) -> None:
    config = make_config(
        "    down: {type: check_failing, service: checkout, check: health, consecutive: 3, severity: P1}",
        tmp_path,
    )
    engine = RuleEngine(config, store, clock, "n1")
    step(engine, clock.now())  # first start: watermark at the (empty) end
    for _i in range(2):
        clock.advance(30)
        put(store, clock.now())
        step(engine, clock.now())
    assert alert_rows(store) == []
    clock.advance(30)
    third = put(store, clock.now())
    step(engine, clock.now())
    rows = alert_rows(store)
    assert len(rows) == 1
    row = rows[0]
    assert row["state"] == "firing"
    assert row["severity"] == "P1"
    assert row["evidence_id"] == third
    assert row["labels"] == {"alertname": "down", "service": "checkout", "check": "health", "severity": "P1"}
    assert row["summary"] == "checkout/health failing for 3 consecutive runs: connection refused"
    clock.advance(30)
    put(store, clock.now())  # a fourth failure refreshes, no second alert
    step(engine, clock.now())
    assert len(alert_rows(store)) == 1
    clock.advance(30)
    put(store, clock.now(), Verdict.UNKNOWN)  # unknown: state unchanged
    step(engine, clock.now())
    assert alert_rows(store)[0]["state"] == "firing"
    clock.advance(30)
    put(store, clock.now(), Verdict.PASS)
    step(engine, clock.now())
    assert alert_rows(store)[0]["state"] == "resolved"


def test_history_is_not_alerted_on_but_seeds_the_count(
    store: Store, clock: FakeClock, tmp_path: Path
) -> None:
    config = make_config("    down: {type: check_failing, consecutive: 3}", tmp_path)
    for _ in range(5):
        put(store, clock.now())
        clock.advance(30)
    engine = RuleEngine(config, store, clock, "n1")
    step(engine, clock.now())
    assert alert_rows(store) == []  # history alone fires nothing
    with store.engine.connect() as conn:
        cursor = conn.execute(
            select(alerting_cursors.c.position).where(alerting_cursors.c.name == "evidence")
        ).scalar()
    assert cursor == 5
    put(store, clock.now())  # one new failure on top of five: the check is failing now
    step(engine, clock.now())
    assert [r["state"] for r in alert_rows(store)] == ["firing"]


def test_a_rule_without_service_alerts_once_per_check(store: Store, clock: FakeClock, tmp_path: Path) -> None:
    config = make_config(
        "    down: {type: check_failing, consecutive: 1, severity: P2, labels: {team: pay}}", tmp_path
    )
    engine = RuleEngine(config, store, clock, "n1")
    step(engine, clock.now())
    put(store, clock.now(), check="health")
    put(store, clock.now(), check="api")
    put(store, clock.now(), check="api")
    step(engine, clock.now())
    rows = alert_rows(store)
    assert sorted(str(r["labels"]["check"]) for r in rows) == ["api", "health"]  # type: ignore[index]
    assert all(r["labels"]["team"] == "pay" for r in rows)  # type: ignore[index]
    assert len({r["fingerprint"] for r in rows}) == 2


def test_failing_for_a_duration_is_pending_first(store: Store, clock: FakeClock, tmp_path: Path) -> None:
    config = make_config("    down: {type: check_failing, check: health, for: 2m}", tmp_path)
    engine = RuleEngine(config, store, clock, "n1")
    step(engine, clock.now())
    put(store, clock.now())
    step(engine, clock.now())
    assert [r["state"] for r in alert_rows(store)] == ["pending"]
    clock.advance(60)
    step(engine, clock.now())
    assert [r["state"] for r in alert_rows(store)] == ["pending"]
    clock.advance(61)  # no new evidence: time alone fires it
    step(engine, clock.now())
    rows = alert_rows(store)
    assert [r["state"] for r in rows] == ["firing"]
    assert "failing for 2m" in str(rows[0]["summary"])


def test_pending_that_passes_resolves_without_firing(store: Store, clock: FakeClock, tmp_path: Path) -> None:
    config = make_config("    down: {type: check_failing, check: health, for: 5m}", tmp_path)
    engine = RuleEngine(config, store, clock, "n1")
    step(engine, clock.now())
    put(store, clock.now())
    step(engine, clock.now())
    clock.advance(30)
    put(store, clock.now(), Verdict.PASS)
    step(engine, clock.now())
    rows = alert_rows(store)
    assert [r["state"] for r in rows] == ["resolved"]
    assert rows[0]["fired_at"] is None


def test_threshold_p95_over_window(store: Store, clock: FakeClock, tmp_path: Path) -> None:
    config = make_config(
        "    slow: {type: threshold, service: checkout, check: api, measurement: latency_ms, aggregate: p95,"
        " window: 10m, op: '>', value: 400, min_samples: 5,"
        " summary: '{{ service }} p95 {{ value }} ms over {{ window }}'}",
        tmp_path,
    )
    engine = RuleEngine(config, store, clock, "n1")
    step(engine, clock.now())
    for ms in (100, 120, 900, 950):
        clock.advance(60)
        put(store, clock.now(), Verdict.PASS, check="api", latency_ms=ms)
    step(engine, clock.now())
    assert alert_rows(store) == []  # 4 samples < min_samples
    clock.advance(60)
    put(store, clock.now(), Verdict.PASS, check="api", latency_ms=1000)
    step(engine, clock.now())
    rows = alert_rows(store)
    assert [r["state"] for r in rows] == ["firing"]
    assert rows[0]["summary"] == "checkout p95 990 ms over 10m"
    assert rows[0]["value"] == 990.0
    for _ in range(10):  # fast again: the slow samples age out of the window
        clock.advance(60)
        put(store, clock.now(), Verdict.PASS, check="api", latency_ms=50)
        step(engine, clock.now())
    assert [r["state"] for r in alert_rows(store)] == ["resolved"]


def test_threshold_on_duration_with_for(store: Store, clock: FakeClock, tmp_path: Path) -> None:
    config = make_config(
        "    slow: {type: threshold, check: health, measurement: duration_ms, aggregate: avg, window: 5m,"
        " value: 500, for: 2m}",
        tmp_path,
    )
    engine = RuleEngine(config, store, clock, "n1")
    step(engine, clock.now())
    put(store, clock.now(), Verdict.PASS, duration=800)
    step(engine, clock.now())
    assert [r["state"] for r in alert_rows(store)] == ["pending"]
    clock.advance(130)
    put(store, clock.now(), Verdict.PASS, duration=900)
    step(engine, clock.now())
    assert [r["state"] for r in alert_rows(store)] == ["firing"]


def test_sql_value_for_consecutive_runs(store: Store, clock: FakeClock, tmp_path: Path) -> None:
    config = make_config(
        "    stuck: {type: sql_value, service: checkout, check: orders, op: '>', value: 10, consecutive: 2, severity: P1}",
        tmp_path,
    )
    engine = RuleEngine(config, store, clock, "n1")
    step(engine, clock.now())
    put(store, clock.now(), Verdict.PASS, check="orders", kind="sql", stuck=25)
    step(engine, clock.now())
    assert alert_rows(store) == []
    clock.advance(15)
    put(store, clock.now(), Verdict.ERROR, check="orders", kind="sql")  # no value: says nothing
    clock.advance(15)
    put(store, clock.now(), Verdict.PASS, check="orders", kind="sql", stuck=30)
    step(engine, clock.now())
    rows = alert_rows(store)
    assert [r["state"] for r in rows] == ["firing"]
    assert rows[0]["value"] == 30.0
    assert rows[0]["summary"] == "checkout/orders: stuck = 30 (> 10) for 2 runs"
    clock.advance(15)
    put(store, clock.now(), Verdict.PASS, check="orders", kind="sql", stuck=0)
    step(engine, clock.now())
    assert [r["state"] for r in alert_rows(store)] == ["resolved"]


def test_missing_evidence_on_time(store: Store, clock: FakeClock, tmp_path: Path) -> None:
    config = make_config(
        "    silent: {type: missing, service: checkout, check: health, severity: P3}", tmp_path
    )
    engine = RuleEngine(config, store, clock, "n1")
    put(store, clock.now(), Verdict.PASS)
    step(engine, clock.now())
    clock.advance(60)  # default max_age: 2 × 30s + 5s = 65s
    step(engine, clock.now())
    assert alert_rows(store) == []
    clock.advance(10)
    step(engine, clock.now())
    rows = alert_rows(store)
    assert [r["state"] for r in rows] == ["firing"]
    assert "has not reported for 1m 10s (expected within 1m 5s)" in str(rows[0]["summary"])
    put(store, clock.now(), Verdict.FAIL)  # any evidence counts as reporting
    step(engine, clock.now())
    assert [r["state"] for r in alert_rows(store)] == ["resolved"]


def test_missing_ignores_disabled_checks(store: Store, clock: FakeClock, tmp_path: Path) -> None:
    config = load_config_text(
        """
version: 1
services:
  jobs:
    checks:
      - {name: nightly, kind: tcp, host: 127.0.0.1, port: 9, interval: 10s, enabled: false}
      - {name: hourly, kind: tcp, host: 127.0.0.1, port: 9, interval: 10s}
alerting:
  starter_rules: false
  rules:
    silent: {type: missing, max_age: 1m}
""",
        base_dir=tmp_path,
    )
    engine = RuleEngine(config, store, clock, "n1")
    step(engine, clock.now())
    clock.advance(120)
    step(engine, clock.now())
    rows = alert_rows(store)
    assert [r["labels"]["check"] for r in rows] == ["hourly"]  # type: ignore[index]


def test_restart_resumes_from_the_watermark(store: Store, clock: FakeClock, tmp_path: Path) -> None:
    config = make_config("    down: {type: check_failing, check: health, consecutive: 2}", tmp_path)
    first = RuleEngine(config, store, clock, "n1")
    step(first, clock.now())
    put(store, clock.now())
    step(first, clock.now())
    asyncio.run(first.close())
    clock.advance(30)
    put(store, clock.now())  # written while no engine ran
    second = RuleEngine(config, store, clock, "n2")
    step(second, clock.now())
    assert [r["state"] for r in alert_rows(store)] == ["firing"]
    clock.advance(30)
    put(store, clock.now(), Verdict.PASS)
    step(second, clock.now())
    with store.engine.connect() as conn:
        assert active_alerts(conn) == []


def test_batches_of_many_checks(store: Store, clock: FakeClock, tmp_path: Path) -> None:
    config = make_config("    down: {type: check_failing, consecutive: 1}", tmp_path)
    engine = RuleEngine(config, store, clock, "n1", batch_size=50)
    step(engine, clock.now())
    records = [
        NewEvidence(
            subject=f"bulk/c{i}",
            service="bulk",
            check=f"c{i}",
            kind="tcp",
            config_digest="d" * 64,
            started_at=clock.now(),
            finished_at=clock.now(),
            verdict=Verdict.FAIL,
            duration_ms=1.0,
        )
        for i in range(230)
    ]
    with store.engine.begin() as conn:
        insert_evidence(conn, records)
    step(engine, clock.now())
    with store.engine.connect() as conn:
        firing = active_alerts(conn)
    assert len(firing) == 230
    assert all(a.state is AlertState.FIRING for a in firing)
