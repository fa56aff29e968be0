"""A reconciliation run end to end: an internal payments table in a real database, statement files in
an inbox folder, the run recorded in the store with its exceptions, report files and evidence."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pymysql
import pytest
from sqlalchemy import create_engine, text

from flightdeck.config import Config
from flightdeck.config.loader import load_config_text
from flightdeck.evidence import Verdict
from flightdeck.payments.errors import ReconError, StatementError
from flightdeck.payments.jobs import prepare_job, record_job
from flightdeck.payments.kinds import ReconciliationCheck
from flightdeck.payments.recon_store import (
    ExceptionStatus,
    RunStatus,
    audit_trail,
    get_run,
    list_exceptions,
    list_runs,
)
from flightdeck.payments.reconcile import run_reconciliation
from flightdeck.store import Store

DAY = date(2026, 11, 22)
T = "2026-11-22 10:00:00"

# reference, amount (cents), status
INTERNAL = [
    ("pay_1", 1000, "settled"),  # matched
    ("pay_2", 2500, "settled"),  # amount mismatch: statement says 25.50
    ("pay_3", 4000, "settled"),  # missing in statement
    ("pay_4", 1500, "failed"),  # status mismatch: the gateway settled it
    ("pay_5", 700, "settled"),  # duplicate on the statement
]
STATEMENT = """reference,amount,currency,status,date
pay_1,10.00,EUR,succeeded,2026-11-22
pay_2,25.50,EUR,succeeded,2026-11-22
pay_4,15.00,EUR,succeeded,2026-11-22
pay_5,7.00,EUR,succeeded,2026-11-22
pay_5,7.00,EUR,succeeded,2026-11-22
pay_9,3.00,EUR,succeeded,2026-11-22
"""
EXPECTED = {
    "matched": 2,  # pay_1, and pay_5's first line
    "amount_mismatch": 1,
    "missing_in_statement": 1,
    "status_mismatch": 1,
    "duplicate": 1,
    "missing_internally": 1,
}

CONFIG = """
datasources:
  db: {{url: "{url}"}}
services:
  payments:
    checks:
      - {{name: daily-reconciliation, kind: reconciliation, reconciliation: gateway}}
payments:
  reconciliations:
    gateway:
      service: payments
      internal:
        datasource: db
        query: >
          SELECT reference, amount_cents AS amount, currency, status, created_at AS occurred_at
          FROM {table} WHERE created_at >= :start AND created_at < :end
      statement:
        inbox: inbox
        pattern: "gw-{{date}}.csv"
        mapping: custom
        columns: {{reference: reference, amount: amount, currency: currency, status: status,
                   occurred_at: date}}
      reports_dir: reports
"""


def _rows() -> list[tuple[str, int, str, str, str]]:
    return [(ref, cents, "EUR", status, T) for ref, cents, status in INTERNAL]


@pytest.fixture
def sqlite_source(tmp_path: Path) -> str:
    db = tmp_path / "app.db"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TABLE payments (reference TEXT, amount_cents INTEGER, currency TEXT, status TEXT, "
            "created_at TEXT)"
        )
        conn.executemany("INSERT INTO payments VALUES (?, ?, ?, ?, ?)", _rows())
    return f"sqlite:///{db}"


def _config(tmp_path: Path, url: str, table: str = "payments") -> Config:
    (tmp_path / "inbox").mkdir(exist_ok=True)
    text_ = CONFIG.format(url=url, table=table)
    path = tmp_path / "flightdeck.yaml"
    path.write_text(text_)
    return load_config_text(text_, str(path), base_dir=tmp_path)


def _drop(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / "inbox" / name
    path.write_text(content)
    return path


def test_a_run_finds_every_seeded_discrepancy_and_keeps_them(
    tmp_path: Path, sqlite_source: str, store: Store
) -> None:
    cfg = _config(tmp_path, sqlite_source)
    _drop(tmp_path, "gw-2026-11-22.csv", STATEMENT)
    outcome = asyncio.run(run_reconciliation(cfg, store, "gateway", DAY))
    assert {k: v for k, v in outcome.category_counts.items() if v} == EXPECTED
    assert outcome.new_exceptions == 5
    assert outcome.open_exceptions == 5
    run = get_run(store, outcome.run_id)
    assert run.status is RunStatus.SUCCEEDED
    assert (run.internal_rows, run.statement_rows) == (5, 6)
    by_cat = {e.category.value: e for e in list_exceptions(store, "gateway")}
    assert set(by_cat) == set(EXPECTED) - {"matched"}
    assert by_cat["amount_mismatch"].difference_minor in (50, -50)
    assert "pay_3" in by_cat["missing_in_statement"].refs["internal"]
    assert "pay_9" in by_cat["missing_internally"].refs["statement"]
    kinds = {Path(a.uri).suffix for a in outcome.artifacts}
    assert {".md", ".html", ".pdf", ".csv"} <= kinds
    for a in outcome.artifacts:
        assert Path(a.uri.removeprefix("file://")).stat().st_size == a.size_bytes


def test_rerunning_a_day_changes_nothing(tmp_path: Path, sqlite_source: str, store: Store) -> None:
    cfg = _config(tmp_path, sqlite_source)
    _drop(tmp_path, "gw-2026-11-22.csv", STATEMENT)
    first = asyncio.run(run_reconciliation(cfg, store, "gateway", DAY, write_reports=False))
    second = asyncio.run(run_reconciliation(cfg, store, "gateway", DAY, write_reports=False))
    assert second.new_exceptions == 0
    assert [i.fingerprint for i in second.exceptions] == [i.fingerprint for i in first.exceptions]
    assert get_run(store, first.run_id).inputs_digest == get_run(store, second.run_id).inputs_digest
    assert len(list_exceptions(store, "gateway")) == 5


def test_a_statement_already_ingested_for_another_day_is_not_counted_twice(
    tmp_path: Path, sqlite_source: str, store: Store
) -> None:
    cfg = _config(tmp_path, sqlite_source)
    _drop(tmp_path, "gw-2026-11-22.csv", STATEMENT)
    asyncio.run(run_reconciliation(cfg, store, "gateway", DAY, write_reports=False))
    # The same file, dropped again under the next day's name: skipped, so the next day has no
    # statement at all; the run fails saying so, and the first day's findings stay open.
    _drop(tmp_path, "gw-2026-11-23.csv", STATEMENT)
    with pytest.raises(ReconError) as err:
        asyncio.run(run_reconciliation(cfg, store, "gateway", date(2026, 11, 23), write_reports=False))
    assert "no statement file for 2026-11-23" in str(err.value)
    assert "gw-2026-11-23.csv: already ingested for 2026-11-22 as gw-2026-11-22.csv" in str(err.value)
    assert [r.status for r in list_runs(store, "gateway")] == [RunStatus.FAILED, RunStatus.SUCCEEDED]
    assert len(list_exceptions(store, "gateway", ExceptionStatus.OPEN)) == 5


def test_an_emptied_inbox_fails_the_run_and_clears_nothing(
    tmp_path: Path, sqlite_source: str, store: Store
) -> None:
    cfg = _config(tmp_path, sqlite_source)
    path = _drop(tmp_path, "gw-2026-11-22.csv", STATEMENT)
    asyncio.run(run_reconciliation(cfg, store, "gateway", DAY, write_reports=False))
    path.unlink()  # archived away before a re-run
    with pytest.raises(ReconError, match="no statement file for 2026-11-22"):
        asyncio.run(run_reconciliation(cfg, store, "gateway", DAY, write_reports=False))
    assert len(list_exceptions(store, "gateway", ExceptionStatus.OPEN)) == 5


def test_a_cleared_exception_found_again_is_reopened(
    tmp_path: Path, sqlite_source: str, store: Store
) -> None:
    cfg = _config(tmp_path, sqlite_source)
    _drop(tmp_path, "gw-2026-11-22.csv", STATEMENT)
    asyncio.run(run_reconciliation(cfg, store, "gateway", DAY, write_reports=False))
    # A corrected statement: pay_2 now agrees, so that exception is cleared by the re-run ...
    _drop(tmp_path, "gw-2026-11-22.csv", STATEMENT.replace("pay_2,25.50", "pay_2,25.00"))
    fixed = asyncio.run(run_reconciliation(cfg, store, "gateway", DAY, write_reports=False))
    assert fixed.open_exceptions == 4
    # ... and the original statement again: the mismatch is open again, and the trail says why.
    _drop(tmp_path, "gw-2026-11-22.csv", STATEMENT)
    again = asyncio.run(run_reconciliation(cfg, store, "gateway", DAY, write_reports=False))
    assert again.open_exceptions == 5
    (mismatch,) = [e for e in list_exceptions(store, "gateway") if e.category.value == "amount_mismatch"]
    assert mismatch.status is ExceptionStatus.OPEN
    actions = [a.action for a in audit_trail(store, mismatch.id)]
    assert actions == ["reopened", "cleared", "opened"]


def test_row_order_and_file_name_do_not_change_the_exceptions(
    tmp_path: Path, sqlite_source: str, store: Store
) -> None:
    cfg = _config(tmp_path, sqlite_source)
    _drop(tmp_path, "gw-2026-11-22.csv", STATEMENT)
    first = asyncio.run(run_reconciliation(cfg, store, "gateway", DAY, write_reports=False))
    header, *lines = STATEMENT.strip().splitlines()
    (tmp_path / "inbox" / "gw-2026-11-22.csv").write_text("\n".join([header, *reversed(lines)]) + "\n")
    second = asyncio.run(run_reconciliation(cfg, store, "gateway", DAY, write_reports=False))
    assert second.new_exceptions == 0
    assert {i.fingerprint for i in second.exceptions} == {i.fingerprint for i in first.exceptions}
    assert len(list_exceptions(store, "gateway")) == 5


def test_a_malformed_statement_fails_the_run_and_stores_nothing_else(
    tmp_path: Path, sqlite_source: str, store: Store
) -> None:
    cfg = _config(tmp_path, sqlite_source)
    _drop(tmp_path, "gw-2026-11-22.csv", STATEMENT.replace("pay_4,15.00", "pay_4,fifteen"))
    with pytest.raises(StatementError) as err:
        asyncio.run(run_reconciliation(cfg, store, "gateway", DAY))
    assert err.value.line == 4
    assert err.value.column == "amount"
    (run,) = list_runs(store, "gateway")
    assert run.status is RunStatus.FAILED
    assert "gw-2026-11-22.csv:4" in (run.error or "")
    assert list_exceptions(store, "gateway") == []
    assert not (tmp_path / "reports").exists()


def test_the_job_leaves_evidence_under_its_check(tmp_path: Path, sqlite_source: str, store: Store) -> None:
    cfg = _config(tmp_path, sqlite_source)
    _drop(tmp_path, "gw-2026-11-22.csv", STATEMENT)
    store.clock.set(datetime(2026, 11, 23, 7, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    job = prepare_job(
        cfg, store, kind="reconciliation", field="reconciliation", name="gateway", service="payments"
    )
    evidence = asyncio.run(record_job(cfg, store, job))
    asyncio.run(job.aclose())
    assert evidence is not None
    assert evidence.subject == "payments/daily-reconciliation"
    assert evidence.verdict is Verdict.FAIL
    assert "5 open exceptions for 2026-11-22" in evidence.summary
    values = {m.name: m.value for m in evidence.measurements}
    assert values["duplicate_items"] == 1
    assert values["matched_items"] == 2
    assert {a.media_type.split(";")[0] for a in evidence.artifacts} >= {"application/pdf", "text/csv"}
    check = job.prepared.check
    assert isinstance(check, ReconciliationCheck)
    assert check.outcome is not None
    # Resolving every exception turns the next run green.
    from flightdeck.payments.recon_store import resolve_exception

    for e in list_exceptions(store, "gateway", ExceptionStatus.OPEN):
        resolve_exception(store, e.id, "ana", "checked with the gateway")
    job = prepare_job(
        cfg, store, kind="reconciliation", field="reconciliation", name="gateway", service="payments"
    )
    evidence = asyncio.run(record_job(cfg, store, job))
    asyncio.run(job.aclose())
    assert evidence is not None
    assert evidence.verdict is Verdict.PASS


@pytest.fixture
def pg_source(pg_admin_url: str) -> Iterator[tuple[str, str]]:
    table = f"payments_{uuid.uuid4().hex[:8]}"
    engine = create_engine(pg_admin_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(
            text(
                f"CREATE TABLE {table} (reference text, amount_cents bigint, currency text, status text, "
                "created_at timestamptz)"
            )
        )
        for ref, cents, cur, status, at in _rows():
            conn.execute(
                text(f"INSERT INTO {table} VALUES (:r, :a, :c, :s, :t)"),
                {"r": ref, "a": cents, "c": cur, "s": status, "t": at + "+00"},
            )
    yield pg_admin_url, table
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {table}"))
    engine.dispose()


@pytest.fixture
def mysql_source(mysql_url: str) -> Iterator[tuple[str, str]]:
    table = f"payments_{uuid.uuid4().hex[:8]}"
    conn = pymysql.connect(host="127.0.0.1", user="root", database="test", autocommit=True)
    with conn.cursor() as cur:
        cur.execute(
            f"CREATE TABLE {table} (reference VARCHAR(40), amount_cents BIGINT, currency CHAR(3), "
            "status VARCHAR(20), created_at DATETIME(6))"
        )
        cur.executemany(f"INSERT INTO {table} VALUES (%s, %s, %s, %s, %s)", _rows())
    yield mysql_url, table
    with conn.cursor() as cur:
        cur.execute(f"DROP TABLE {table}")
    conn.close()


@pytest.mark.services
@pytest.mark.parametrize("source", ["pg_source", "mysql_source"])
def test_internal_records_from_postgresql_and_mariadb(
    request: pytest.FixtureRequest, source: str, tmp_path: Path, sqlite_store: Store
) -> None:
    url, table = request.getfixturevalue(source)
    cfg = _config(tmp_path, url, table)
    _drop(tmp_path, "gw-2026-11-22.csv", STATEMENT)
    outcome = asyncio.run(run_reconciliation(cfg, sqlite_store, "gateway", DAY, write_reports=False))
    assert {k: v for k, v in outcome.category_counts.items() if v} == EXPECTED


@pytest.mark.services
def test_a_run_cut_off_by_its_timeout_is_recorded_as_failed(
    tmp_path: Path, pg_source: tuple[str, str], sqlite_store: Store
) -> None:
    url, table = pg_source
    cfg = _config(tmp_path, url, f"{table}, pg_sleep(30) AS s(x)")
    _drop(tmp_path, "gw-2026-11-22.csv", STATEMENT)

    async def cut_off() -> None:
        async with asyncio.timeout(1.0):
            await run_reconciliation(cfg, sqlite_store, "gateway", DAY, write_reports=False)

    with pytest.raises(TimeoutError):
        asyncio.run(cut_off())
    (run,) = list_runs(sqlite_store, "gateway")
    assert run.status is RunStatus.FAILED
    assert run.error == "interrupted before it finished (CancelledError)"
