"""Settlements against real SQLite and PostgreSQL data, judged at an injected ``now``."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from flightdeck.cli.main import app
from flightdeck.config.models import DatasourceConfig
from flightdeck.config.payments import SettlementsConfig
from flightdeck.payments.errors import PaymentsError
from flightdeck.payments.records import PaymentStatus
from flightdeck.payments.settlements import AgeingBucket, AgeingLine, NotCredited, check_settlements

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
PAYMENTS = [  # reference, amount, currency, status, created_at, settled_at, credited
    ("p1", 1000, "EUR", "succeeded", "2026-03-09 10:00:00", None, None),  # due 03-11 00:00: in terms
    ("p2", 2000, "EUR", "succeeded", "2026-03-08 10:00:00", None, None),  # due 03-10 00:00: 12 h late
    ("p3", 300, "USD", "pending", "2026-03-07 23:00:00", None, None),  # 36 h late, pending 61 h
    ("p4", 400, "USD", "succeeded", "2026-02-20 08:00:00", None, None),  # 16.5 days late
    ("p5", 500, "EUR", "failed", "2026-03-09 09:00:00", None, None),
    ("p6", 600, "EUR", "succeeded", "2026-03-08 09:00:00", "2026-03-09 06:00:00", False),
    ("p7", 700, "EUR", "succeeded", "2026-03-08 09:00:00", "2026-03-09 06:00:00", True),
    ("p8", 800, "EUR", "pending", "2026-03-10 11:00:00", None, None),  # pending 1 h
    ("p9", 900, "EUR", "captured", "2026-03-09 12:00:00", None, None),
]
GATEWAY_SETTLED = {"p5", "p8", "p9", "zz"}


@pytest.fixture(params=["sqlite", "postgresql"])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    table = f"payments_{uuid.uuid4().hex[:8]}"
    columns = (
        "reference VARCHAR(10), amount BIGINT, currency CHAR(3), status VARCHAR(20), created_at {ts}, "
        "settled_at {ts}, credited BOOLEAN"
    )
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'pay.db'}"
        with sqlite3.connect(tmp_path / "pay.db") as conn:
            conn.execute(f"CREATE TABLE {table} ({columns.format(ts='TIMESTAMP')})")
            conn.executemany(f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?, ?, ?)", PAYMENTS)
        yield url, table
        return
    url = request.getfixturevalue("pg_admin_url")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} ({columns.format(ts='TIMESTAMPTZ')})".encode())
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {table} VALUES (%s, %s, %s, %s, (%s || '+00')::timestamptz, (%s || '+00')::timestamptz, %s)".encode(),
                PAYMENTS,
            )
    yield url, table
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP TABLE {table}".encode())


def cfg(table: str) -> SettlementsConfig:
    return SettlementsConfig(
        service="payments",
        datasource="pay",
        query=f"SELECT reference, amount, currency, status, created_at, settled_at, credited FROM {table}",
        pending_after="24h",
        terms_days=1,
    )


def test_buckets_and_findings_are_exact(source: tuple[str, str]) -> None:
    url, table = source
    result = asyncio.run(check_settlements(cfg(table), DatasourceConfig(url=url), NOW, GATEWAY_SETTLED))
    assert result.payments == 9
    assert [p.reference for p in result.pending_too_long] == ["p3"]
    assert [(p.reference, p.status) for p in result.failed] == [("p5", PaymentStatus.FAILED)]
    assert result.not_credited == [
        NotCredited("p5", "internal status is failed"),
        NotCredited("p6", "settled 2026-03-09T06:00:00+00:00, credited is false"),
        NotCredited("p8", "internal status is pending"),
        NotCredited("zz", "unknown internally"),
    ]
    assert result.ageing == [
        AgeingLine(AgeingBucket.WITHIN_TERMS, "EUR", 1, 1000),
        AgeingLine(AgeingBucket.LATE_UP_TO_1D, "EUR", 1, 2000),
        AgeingLine(AgeingBucket.LATE_1_TO_7D, "USD", 1, 300),
        AgeingLine(AgeingBucket.LATE_OVER_7D, "USD", 1, 400),
    ]
    obs = result.observation()
    assert "2 payments more than 1 day past T+1 without settlement" in obs.failures
    assert obs.warnings == ["1 payments up to 1 day past T+1"]
    assert {m.name: m.value for m in obs.measurements}["settled_not_credited"] == 4


def test_terms_move_the_buckets(source: tuple[str, str]) -> None:
    url, table = source
    longer = cfg(table).model_copy(update={"terms_days": 2})
    result = asyncio.run(check_settlements(longer, DatasourceConfig(url=url), NOW))
    # T+2: p2 (created 03-08) is due 03-11 00:00, p3 (03-07) is 12 h late, p4 still over 7 days.
    assert [(a.bucket, a.currency, a.count, a.amount_minor) for a in result.ageing] == [
        (AgeingBucket.WITHIN_TERMS, "EUR", 4, 1000 + 2000 + 800 + 900),
        (AgeingBucket.LATE_UP_TO_1D, "USD", 1, 300),
        (AgeingBucket.LATE_OVER_7D, "USD", 1, 400),
    ]


def test_unknown_statuses_must_be_mapped(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE p (reference, amount, currency, status, created_at)")
        conn.execute("INSERT INTO p VALUES ('x', 1, 'EUR', 'weird', '2026-03-01 00:00:00')")
    base = SettlementsConfig(service="s", datasource="d", query="SELECT * FROM p")
    with pytest.raises(PaymentsError, match="unknown payment status 'weird'"):
        asyncio.run(check_settlements(base, DatasourceConfig(url=f"sqlite:///{path}"), NOW))
    mapped = base.model_copy(update={"status_map": {"pending": ["weird"]}})
    result = asyncio.run(check_settlements(mapped, DatasourceConfig(url=f"sqlite:///{path}"), NOW))
    assert [p.reference for p in result.pending_too_long] == ["x"]


def test_cli_settlements_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLIGHTDECK_DATABASE_URL", raising=False)
    with sqlite3.connect(tmp_path / "pay.db") as conn:
        conn.execute(
            "CREATE TABLE payments (reference TEXT, amount INTEGER, currency TEXT, status TEXT, "
            "created_at TIMESTAMP, settled_at TIMESTAMP, credited BOOLEAN)"
        )
        conn.executemany("INSERT INTO payments VALUES (?, ?, ?, ?, ?, ?, ?)", PAYMENTS)
    (tmp_path / "settled.txt").write_text("p5\np8\n\np9\nzz\n")
    config = tmp_path / "flightdeck.yaml"
    config.write_text(
        f"""\
services:
  payments: {{}}
store:
  state_dir: {tmp_path / "state"}
datasources:
  pay: {{url: "sqlite:///{tmp_path / "pay.db"}"}}
payments:
  settlements:
    gateway:
      service: payments
      datasource: pay
      query: SELECT * FROM payments
      terms_days: 1
"""
    )
    args = ["settlements", "check", "gateway", "-c", str(config), "--now", "2026-03-10T12:00:00"]
    result = CliRunner().invoke(app, [*args, "--settled-refs", str(tmp_path / "settled.txt"), "--json"])
    assert result.exit_code == 1, result.output
    detail = json.loads(result.stdout)["detail"]
    assert [n["reference"] for n in detail["not_credited"]] == ["p5", "p6", "p8", "zz"]
    assert detail["ageing"][0] == {
        "bucket": "within_terms",
        "currency": "EUR",
        "count": 1,
        "amount_minor": 1000,
    }
    text = CliRunner().invoke(app, args)
    assert "settlement failed: p5 (5.00 EUR)" in text.output
