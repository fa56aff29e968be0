"""The starter rule pack against realistic evidence, and the rule configuration's validation."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from flightdeck.alerting.evaluate import RuleEngine
from flightdeck.alerting.starter import STARTER_RULES, effective_rules
from flightdeck.clock import FakeClock
from flightdeck.config import load_config_text
from flightdeck.demo.config import config_values, render_config
from flightdeck.errors import ConfigError
from flightdeck.evidence import Measurement, NewEvidence, Verdict
from flightdeck.store import Store, insert_evidence
from flightdeck.store.tables import alerts

CONFIG = """
version: 1
services:
  payments:
    checks:
      - {name: health, kind: http, url: "http://127.0.0.1:9/health"}
      - {name: failed-payments-1h, kind: sql, url: "sqlite:///x.db", query: "SELECT 1", measurement: failed_payments_1h}
      - {name: declines, kind: sql, url: "sqlite:///x.db", query: "SELECT 1", labels: {signal: payments}}
      - {name: wallet-ledger-mismatch, kind: sql, url: "sqlite:///x.db", query: "SELECT 1"}
  db:
    checks:
      - {name: server, kind: postgres, url: "postgresql://u@127.0.0.1/x"}
alerting:
  rules:
    app-down: {type: check_failing, check_kind: http, consecutive: 2, severity: P1}
"""


def _put(
    store: Store, clock: FakeClock, service: str, check: str, kind: str, verdict: Verdict, **m: float
) -> None:
    record = NewEvidence(
        subject=f"{service}/{check}",
        service=service,
        check=check,
        kind=kind,
        config_digest="d" * 64,
        started_at=clock.now() - timedelta(milliseconds=5),
        finished_at=clock.now(),
        verdict=verdict,
        duration_ms=5.0,
        summary=f"{check} {verdict.value}",
        measurements=tuple(Measurement(name=k, value=v) for k, v in m.items()),
    )
    with store.engine.begin() as conn:
        insert_evidence(conn, [record])


def test_starter_pack_is_valid_and_user_rules_win(tmp_path: Path) -> None:
    config = load_config_text(CONFIG, base_dir=tmp_path)
    rules = effective_rules(config.alerting)
    assert set(STARTER_RULES) <= set(rules)
    assert rules["app-down"].consecutive == 2  # type: ignore[union-attr]
    assert all(r.runbook for r in STARTER_RULES.values())
    off = load_config_text(
        CONFIG.replace("alerting:\n", "alerting:\n  starter_rules: false\n"), base_dir=tmp_path
    )
    assert set(effective_rules(off.alerting)) == {"app-down"}


def test_starter_pack_on_realistic_evidence(store: Store, clock: FakeClock, tmp_path: Path) -> None:
    config = load_config_text(CONFIG, base_dir=tmp_path)
    engine = RuleEngine(config, store, clock, "n1")
    asyncio.run(engine.step(clock.now()))
    for _ in range(12):
        clock.advance(60)
        _put(store, clock, "payments", "health", "http", Verdict.FAIL, status_code=503, latency_ms=20)
        _put(store, clock, "payments", "failed-payments-1h", "sql", Verdict.WARN, failed_payments_1h=140)
        _put(store, clock, "payments", "declines", "sql", Verdict.FAIL, value=900)
        _put(store, clock, "payments", "wallet-ledger-mismatch", "sql", Verdict.PASS, value=0)
        _put(store, clock, "db", "server", "postgres", Verdict.PASS, ping_ms=400, connections_used_pct=93)
        asyncio.run(engine.step(clock.now()))
    with store.engine.connect() as conn:
        fired = {
            (r["rule"], r["labels"]["check"], r["severity"])
            for r in conn.execute(select(alerts).where(alerts.c.state == "firing")).mappings()
        }
    assert fired == {
        ("app-down", "health", "P1"),
        ("payment-failures-warn", "failed-payments-1h", "P2"),
        ("payment-failures", "declines", "P1"),
        ("db-latency", "server", "P2"),
        ("db-connections", "server", "P2"),
    }
    clock.advance(60)
    _put(store, clock, "payments", "wallet-ledger-mismatch", "sql", Verdict.FAIL, value=3)
    asyncio.run(engine.step(clock.now()))
    with store.engine.connect() as conn:
        row = conn.execute(select(alerts).where(alerts.c.rule == "wallet-mismatch")).mappings().one()
    assert row["severity"] == "P1"
    assert row["summary"].startswith("payments wallet mismatch")


def test_demo_config_validates_with_the_starter_pack(tmp_path: Path) -> None:
    import os

    from flightdeck.config import load_config
    from flightdeck.payments.ledger import generate_keypair

    (tmp_path / "ca.pem").write_text("")
    values = config_values(
        cockpit_port=8450,
        service_http_port=8081,
        service_https_port=8443,
        ca_file=tmp_path / "ca.pem",
        payments_db=tmp_path / "payments.db",
    )
    path = tmp_path / "flightdeck-demo.yaml"
    path.write_text(render_config(values), encoding="utf-8")
    generate_keypair(tmp_path, "ledger-signing")
    (tmp_path / "backup.key").write_text(os.urandom(32).hex() + "\n", encoding="utf-8")
    (tmp_path / "admin-token").write_text("t0ken-for-tests\n", encoding="utf-8")
    config = load_config(path)
    rules = effective_rules(config.alerting)
    assert set(STARTER_RULES) <= set(rules)
    engine = RuleEngine(config, Store(f"sqlite:///{tmp_path / 's.db'}"), FakeClock(), "n1")
    checks = {info.check for info in engine.checks.values() if engine.index.for_check(info)}
    assert {
        "health",
        "failed-payments-1h",
        "stuck-payments",
        "wallet-ledger-mismatch",
        "reconciliation",
    } <= checks


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("{type: check_failing, consecutive: 2, for: 1m}", "not both"),
        ("{type: threshold, measurement: latency_ms, value: 1}", "needs service, check"),
        ("{type: check_failing, summary: '{{ oops'}", "invalid template"),
        ("{type: check_failing, service: nowhere}", "no service named 'nowhere'"),
        ("{type: check_failing, service: payments, check: nope}", "no check named 'nope'"),
        ("{type: sql_value, service: payments, check: health}", "sql_value reads sql checks"),
        ("{type: check_failing, check_kind: htp}", "unknown check kind 'htp'"),
        ("{type: log_rate, source: nolog, by: ip, more_than: 3}", "no log source named 'nolog'"),
        ("{type: log_spike, source: nolog, window: 1h, baseline: 30m}", "baseline must be longer"),
        ("{type: check_failing, labels: {severity: P1}}", "set by flightdeck"),
    ],
)
def test_bad_rules_are_reported_with_their_line(rule: str, message: str, tmp_path: Path) -> None:
    text = CONFIG + f"    bad: {rule}\n"
    with pytest.raises(ConfigError) as err:
        load_config_text(text, file="fd.yaml", base_dir=tmp_path)
    assert message in str(err.value)
    assert "fd.yaml:" in str(err.value)


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ("{name: m, timezone: Mars/Base, cron: '0 2 * * *', duration: 1h}", "unknown time zone"),
        ("{name: m, cron: 'every day', duration: 1h}", "not a valid cron"),
        ("{name: m, start: 2026-01-02T00:00:00Z, end: 2026-01-01T00:00:00Z}", "start must be before end"),
        ("{name: m, cron: '0 2 * * *'}", "needs a duration"),
        ("{name: m, services: [ghost], cron: '0 2 * * *', duration: 1h}", "no service named 'ghost'"),
    ],
)
def test_bad_maintenance_windows(window: str, message: str, tmp_path: Path) -> None:
    text = CONFIG.replace("alerting:\n", f"alerting:\n  maintenance:\n    - {window}\n")
    with pytest.raises(ConfigError) as err:
        load_config_text(text, file="fd.yaml", base_dir=tmp_path)
    assert message in str(err.value)
