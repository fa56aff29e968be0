"""``flightdeck drill`` and the evidence a backup or a drill leaves, end to end through the CLI, plus the
``backup_freshness`` and ``drill_recency`` checks reading it back."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flightdeck.cli.main import app
from flightdeck.clock import FakeClock
from flightdeck.config import load_config
from flightdeck.errors import ConfigError
from flightdeck.evidence import Verdict
from flightdeck.payments.jobs import prepare_job, record_job
from flightdeck.store import EvidenceFilter, Store, list_evidence
from tests.backups.helpers import new_key

runner = CliRunner()

CONFIG = """\
store: {state_dir: state}
services:
  shop: {}
datasources:
  app: {url: "sqlite:///APP"}
backups:
  appdb:
    service: shop
    datasource: app
    encryption: {key: "${BACKUP_KEY}"}
    storage: {path: store}
    hash_tables: [accounts]
drills:
  monthly:
    backup: appdb
    invariants:
      - {name: no negative balance, query: "SELECT id FROM accounts WHERE balance < 0"}
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    with closing(sqlite3.connect(tmp_path / "app.db")) as conn:
        conn.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER)")
        conn.executemany("INSERT INTO accounts (balance) VALUES (?)", [(i,) for i in range(50)])
        conn.commit()
    monkeypatch.setenv("BACKUP_KEY", new_key())
    monkeypatch.delenv("FLIGHTDECK_DATABASE_URL", raising=False)
    path = tmp_path / "flightdeck.yaml"
    path.write_text(CONFIG.replace("APP", str(tmp_path / "app.db")))
    return path


def _records(config: Path, kind: str) -> list[tuple[str, Verdict, str]]:
    store = Store(f"sqlite:///{config.parent / 'state' / 'flightdeck.db'}")
    try:
        with store.engine.connect() as conn:
            page = list_evidence(conn, EvidenceFilter(kind=kind))
        return [(e.subject, e.verdict, e.summary) for e in page.items]
    finally:
        store.dispose()


def test_backup_then_drill_leave_evidence_and_a_report(config: Path, tmp_path: Path) -> None:
    ran = runner.invoke(app, ["backup", "run", "appdb", "-c", str(config), "--json"])
    assert ran.exit_code == 0, ran.output
    assert json.loads(ran.stdout)["evidence_id"] is not None
    assert [(s, v) for s, v, _ in _records(config, "backup")] == [("shop/backup-appdb", Verdict.PASS)]

    drilled = runner.invoke(app, ["drill", "run", "monthly", "-c", str(config), "--json"])
    assert drilled.exit_code == 0, drilled.output
    out = json.loads(drilled.stdout)
    assert out["drill"]["passed"] is True
    assert out["drill"]["operator"].count("@") == 1
    assert out["drill"]["trigger"] == "manual"
    assert {Path(r["uri"]).suffix for r in out["reports"]} == {".md", ".html", ".pdf"}
    ((subject, verdict, summary),) = _records(config, "dr_drill")
    assert subject == "shop/dr_drill-monthly"
    assert verdict is Verdict.PASS
    assert "passed" in summary

    listed = runner.invoke(app, ["drill", "list", "-c", str(config), "--json"])
    (row,) = json.loads(listed.stdout)
    assert row["drill"] == "monthly"
    assert row["last"]["evidence_id"] == out["evidence_id"]

    again = runner.invoke(
        app, ["drill", "report", "monthly", "-c", str(config), "--json", "--out", str(tmp_path / "r")]
    )
    assert again.exit_code == 0, again.output
    assert len(json.loads(again.stdout)["reports"]) == 3


def test_a_failing_drill_exits_1_and_is_recorded_failed(config: Path, tmp_path: Path) -> None:
    with closing(sqlite3.connect(tmp_path / "app.db")) as conn:
        conn.execute("UPDATE accounts SET balance = -5 WHERE id = 7")
        conn.commit()
    assert runner.invoke(app, ["backup", "run", "appdb", "-c", str(config)]).exit_code == 0
    drilled = runner.invoke(app, ["drill", "run", "monthly", "-c", str(config)])
    assert drilled.exit_code == 1
    assert "no negative balance" in drilled.output
    ((_, verdict, summary),) = _records(config, "dr_drill")
    assert verdict is Verdict.FAIL
    assert "no negative balance" in summary


def test_a_failed_backup_is_recorded(config: Path, tmp_path: Path) -> None:
    (tmp_path / "app.db").unlink()
    ran = runner.invoke(app, ["backup", "run", "appdb", "-c", str(config)])
    assert ran.exit_code == 3
    ((_, verdict, summary),) = _records(config, "backup")
    assert verdict is Verdict.FAIL
    assert "no such SQLite database file" in summary


def test_freshness_and_recency_checks(config: Path, tmp_path: Path) -> None:
    cfg = load_config(config)
    clock = FakeClock()
    store = Store(f"sqlite:///{tmp_path / 'fd.db'}", clock=clock)
    store.migrate()

    def check(kind: str, field: str, name: str) -> tuple[Verdict, str]:
        async def go() -> tuple[Verdict, str]:
            job = prepare_job(cfg, store, kind=kind, field=field, name=name, service="shop")
            try:
                ev = await record_job(cfg, store, job)
            finally:
                await job.aclose()
            assert ev is not None
            return ev.verdict, ev.summary

        return asyncio.run(go())

    try:
        verdict, summary = check("backup_freshness", "backup", "appdb")
        assert verdict is Verdict.FAIL
        assert "no verified backup" in summary
        verdict, summary = check("drill_recency", "drill", "monthly")
        assert verdict is Verdict.FAIL
        assert "no drill monthly has passed" in summary

        assert check("backup", "backup", "appdb")[0] is Verdict.PASS
        assert check("backup_freshness", "backup", "appdb")[0] is Verdict.PASS
        assert check("dr_drill", "drill", "monthly")[0] is Verdict.PASS
        assert check("drill_recency", "drill", "monthly")[0] is Verdict.PASS

        clock.advance(timedelta(days=31))
        verdict, summary = check("drill_recency", "drill", "monthly")
        assert verdict is Verdict.FAIL
        assert "31.0 days ago" in summary
        verdict, summary = check("backup_freshness", "backup", "appdb")
        assert verdict is Verdict.FAIL
        assert "h old" in summary

        # A newer backup with a flipped byte is named, even though an older one verifies.
        clock.advance(timedelta(seconds=1))
        assert check("backup", "backup", "appdb")[0] is Verdict.PASS
        newest = max((tmp_path / "store" / "appdb").iterdir())
        data = next(p for p in newest.iterdir() if p.name.startswith("data"))
        blob = bytearray(data.read_bytes())
        blob[40] ^= 0xFF
        data.write_bytes(bytes(blob))
        verdict, summary = check("backup_freshness", "backup", "appdb")
        assert verdict is Verdict.FAIL
        assert newest.name in summary
        assert "does not verify" in summary
    finally:
        store.dispose()


def test_drill_configuration_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "services:\n"
        "  shop:\n"
        "    checks:\n"
        "      - {name: d, kind: dr_drill, drill: nightly}\n"
        "datasources:\n"
        "  pg: {url: 'postgresql://u:pw-hidden-9@127.0.0.1/app'}\n"
        "backups:\n"
        "  pgdb: {service: shop, datasource: pg, storage: {path: s}}\n"
        "drills:\n"
        "  monthly: {backup: pgdb}\n"
        "  other: {backup: nope}\n"
        "  mixed: {backup: pgdb, scratch: 'mysql://root@127.0.0.1/x'}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = str(caught.value)
    assert f"{path}:10" in text
    assert "needs scratch" in text
    assert f"{path}:11" in text
    assert "no backup named 'nope'" in text
    assert f"{path}:12" in text
    assert "scratch is a mysql URL" in text
    assert f"{path}:4" in text
    assert "no drills entry named 'nightly'" in text
    assert "pw-hidden-9" not in text
