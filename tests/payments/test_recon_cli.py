"""``flightdeck recon`` as a user runs it: a real process, a real config file, exit codes and --json."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

STATEMENT = """reference,amount,currency,status,date
pay_1,10.00,EUR,succeeded,2026-11-22
pay_2,25.50,EUR,succeeded,2026-11-22
pay_9,3.00,EUR,succeeded,2026-11-22
"""


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "FLIGHTDECK_DATABASE_URL"}
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "flightdeck", *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    with sqlite3.connect(tmp_path / "app.db") as conn:
        conn.execute(
            "CREATE TABLE payments (reference TEXT, amount_cents INTEGER, status TEXT, created_at TEXT)"
        )
        conn.executemany(
            "INSERT INTO payments VALUES (?, ?, ?, '2026-11-22 10:00:00')",
            [("pay_1", 1000, "settled"), ("pay_2", 2500, "settled"), ("pay_3", 4000, "settled")],
        )
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "gw-2026-11-22.csv").write_text(STATEMENT)
    (tmp_path / "flightdeck.yaml").write_text(
        f"""
datasources:
  db: {{url: "sqlite:///{tmp_path / "app.db"}"}}
services:
  payments: {{}}
payments:
  reconciliations:
    gateway:
      service: payments
      internal:
        datasource: db
        default_currency: EUR
        query: >
          SELECT reference, amount_cents AS amount, status, created_at AS occurred_at FROM payments
          WHERE created_at >= :start AND created_at < :end
      statement:
        inbox: inbox
        pattern: "gw-{{date}}.csv"
        mapping: custom
        columns: {{reference: reference, amount: amount, currency: currency, status: status, occurred_at: date}}
"""
    )
    return tmp_path


def test_run_resolve_and_audit(workdir: Path) -> None:
    done = run(["recon", "run", "gateway", "--date", "2026-11-22", "--json"], workdir)
    assert done.returncode == 1, done.stderr
    out = json.loads(done.stdout)
    assert out["verdict"] == "fail"
    assert out["open_exceptions"] == 3
    assert {e["category"] for e in out["exceptions"]} == {
        "amount_mismatch",
        "missing_in_statement",
        "missing_internally",
    }
    assert {Path(a["uri"]).suffix for a in out["artifacts"]} == {".md", ".html", ".pdf", ".csv"}

    listed = json.loads(run(["recon", "exceptions", "gateway", "--status", "open", "--json"], workdir).stdout)
    assert len(listed) == 3
    for e in listed:
        r = run(
            ["recon", "resolve", str(e["id"]), "-m", "checked with the gateway", "--as", "ana", "--json"],
            workdir,
        )
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["exception"]["status"] == "resolved"
    again = run(["recon", "run", "gateway", "--date", "2026-11-22"], workdir)
    assert again.returncode == 0, again.stdout + again.stderr
    trail = json.loads(run(["recon", "audit", "--json"], workdir).stdout)
    assert sorted(a["action"] for a in trail) == ["opened"] * 3 + ["resolved"] * 3
    assert {a["actor"] for a in trail if a["action"] == "resolved"} == {"ana"}
    runs = json.loads(run(["recon", "runs", "--json"], workdir).stdout)
    assert [r["status"] for r in runs] == ["succeeded", "succeeded"]
    evidence = json.loads(run(["evidence", "list", "--kind", "reconciliation", "--json"], workdir).stdout)
    assert [e["verdict"] for e in evidence["items"]] == ["pass", "fail"]


def test_a_malformed_statement_exits_3_naming_file_line_and_column(workdir: Path) -> None:
    (workdir / "inbox" / "gw-2026-11-22.csv").write_text(STATEMENT.replace("25.50", "25.5x"))
    done = run(["recon", "run", "gateway", "--date", "2026-11-22"], workdir)
    assert done.returncode == 3
    assert "gw-2026-11-22.csv:3" in done.stdout + done.stderr
    assert "amount" in done.stdout + done.stderr
    runs = json.loads(run(["recon", "runs", "--json"], workdir).stdout)
    assert [r["status"] for r in runs] == ["failed"]


def test_unknown_reconciliation_and_bad_date_are_usage_errors(workdir: Path) -> None:
    unknown = run(["recon", "run", "nope"], workdir)
    assert unknown.returncode == 2
    assert "no reconciliation named 'nope' (payments.reconciliations: gateway)" in unknown.stderr
    bad = run(["recon", "run", "gateway", "--date", "yesterday"], workdir)
    assert bad.returncode == 2
    assert "--date 'yesterday' is not a date" in bad.stderr
