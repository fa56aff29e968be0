"""Payment jobs run from the CLI leave the same evidence as their scheduled runs: under the check that
names the job (its state updated), or under ``SERVICE/KIND-NAME`` when no check does."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flightdeck.cli.main import app
from flightdeck.config import load_config
from flightdeck.store import EvidenceFilter, Store, get_status, list_evidence

CONFIG = """
store: {{state_dir: state}}
datasources:
  app: {{url: "sqlite:///{db}"}}
services:
  payments:
    checks:
{checks}
payments:
  wallets:
    main: {{service: payments, datasource: app}}
"""


@pytest.fixture
def app_db(tmp_path: Path) -> Path:
    db = tmp_path / "app.db"
    with sqlite3.connect(db) as conn:
        conn.executescript(
            """
            CREATE TABLE wallets (id INTEGER PRIMARY KEY, account_id INTEGER, currency TEXT, balance_cents INTEGER);
            CREATE TABLE ledger_entries (id INTEGER PRIMARY KEY, account_id INTEGER, amount_cents INTEGER);
            INSERT INTO wallets VALUES (1, 10, 'EUR', 500), (2, 20, 'EUR', 999);
            INSERT INTO ledger_entries VALUES (1, 10, 500), (2, 20, 700);
            """
        )
    return db


def _run(tmp_path: Path, app_db: Path, checks: str) -> tuple[int, dict[str, object], Store]:
    path = tmp_path / "flightdeck.yaml"
    path.write_text(CONFIG.format(db=app_db, checks=checks or "      []"))
    result = CliRunner().invoke(app, ["wallets", "check", "main", "-c", str(path), "--json"])
    store = Store(load_config(path).store.database_url())
    return result.exit_code, json.loads(result.output), store


def test_under_the_check_that_names_the_job(
    tmp_path: Path, app_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLIGHTDECK_DATABASE_URL", raising=False)
    code, out, store = _run(tmp_path, app_db, "      - {name: wallet-balances, kind: wallets, wallets: main}")
    try:
        assert code == 1
        assert out["verdict"] == "fail"
        with store.engine.connect() as conn:
            (record,) = list_evidence(conn, EvidenceFilter(kind="wallets")).items
            status = get_status(conn, "payments/wallet-balances")
        assert record.id == out["evidence_id"]
        assert record.subject == "payments/wallet-balances"
        assert {m.name: m.value for m in record.measurements}["mismatched_wallets"] == 1
        assert status is not None
        assert status.last_evidence_id == record.id
        assert status.consecutive_failures == 1
    finally:
        store.dispose()


def test_under_service_kind_name_when_no_check_names_it(
    tmp_path: Path, app_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLIGHTDECK_DATABASE_URL", raising=False)
    code, _, store = _run(tmp_path, app_db, "")
    try:
        assert code == 1
        with store.engine.connect() as conn:
            (record,) = list_evidence(conn, EvidenceFilter(kind="wallets")).items
            assert get_status(conn, record.subject) is None
        assert record.subject == "payments/wallets-main"
        assert record.verdict.value == "fail"
    finally:
        store.dispose()
