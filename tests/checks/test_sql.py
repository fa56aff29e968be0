"""The ``sql`` check on PostgreSQL, MariaDB and SQLite: business signals as numbers, read-only for real.

Every test that touches a database runs once per dialect, on uniquely named tables it drops again.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from flightdeck.checks.base import CheckContext
from flightdeck.config import load_config_text
from flightdeck.datasources import DatabaseUrl, read_only_query
from flightdeck.engine.runner import prepare_checks, run_check
from flightdeck.errors import ConfigError
from flightdeck.evidence import NewEvidence, Verdict


@dataclass
class Db:
    dialect: str
    url: str
    engine: Engine
    prefix: str  # unique per test: table names start with it

    def run(self, *statements: str) -> None:
        with self.engine.begin() as conn:
            for s in statements:
                conn.execute(text(s))

    def scalar(self, sql: str) -> object:
        with self.engine.connect() as conn:
            return conn.execute(text(sql)).scalar()

    def tables(self) -> set[str]:
        with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                rows = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'"))
            elif self.dialect == "postgresql":
                rows = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
            else:
                rows = conn.execute(
                    text("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()")
                )
            return {r[0] for r in rows if str(r[0]).startswith(self.prefix)}


@pytest.fixture(
    params=[
        pytest.param("postgresql", marks=pytest.mark.services),
        pytest.param("mysql", marks=pytest.mark.services),
        "sqlite",
    ]
)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    prefix = f"fd_sql_{uuid.uuid4().hex[:8]}_"
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_admin_url")
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    elif request.param == "mysql":
        url = request.getfixturevalue("mysql_url")
        engine = create_engine(url.replace("mysql://", "mysql+pymysql://"))
    else:
        url = f"sqlite:///{tmp_path / 'app.db'}"
        engine = create_engine(url)
        engine.connect().close()  # creates the file
    database = Db(request.param, url, engine, prefix)
    yield database
    with engine.begin() as conn:
        for table in database.tables():
            conn.execute(text(f"DROP TABLE {table}"))
    engine.dispose()


async def run_sql(db: Db, query: str, extra: str = "") -> NewEvidence:
    quoted = query.replace("'", "''")
    text_ = (
        f"datasources:\n  app: {{url: '{db.url}'}}\n"
        "services:\n  app:\n    checks:\n"
        f"      - {{name: q, kind: sql, datasource: app, query: '{quoted}'{', ' + extra if extra else ''}}}\n"
    )
    config = load_config_text(text_, "t.yaml", env={})
    (prepared,) = prepare_checks(config, CheckContext(config=config))
    return (await run_check(prepared)).evidence


def values(ev: NewEvidence) -> dict[str, float]:
    return {m.name: m.value for m in ev.measurements}


@pytest.fixture
def ledger(db: Db) -> tuple[str, str]:
    """Wallets whose balance is the sum of their ledger entries."""
    w, e = f"{db.prefix}wallets", f"{db.prefix}entries"
    db.run(
        f"CREATE TABLE {w} (id INT PRIMARY KEY, balance DECIMAL(12, 2) NOT NULL)",
        f"CREATE TABLE {e} (id INT PRIMARY KEY, wallet_id INT NOT NULL, amount DECIMAL(12, 2) NOT NULL)",
        f"INSERT INTO {w} VALUES (1, 30.00), (2, 5.50), (3, 0)",
        f"INSERT INTO {e} VALUES (1, 1, 10.00), (2, 1, 20.00), (3, 2, 5.50)",
    )
    return w, e


def mismatch_query(w: str, e: str) -> str:
    return (
        f"SELECT COUNT(*) FROM {w} w WHERE w.balance <> "
        f"(SELECT COALESCE(SUM(e.amount), 0) FROM {e} e WHERE e.wallet_id = w.id)"
    )


async def test_wallet_ledger_drift_turns_the_check_red(db: Db, ledger: tuple[str, str]) -> None:
    w, e = ledger
    extra = "measurement: mismatched_wallets, unit: wallets, conditions: ['mismatched_wallets == 0']"
    ok = await run_sql(db, mismatch_query(w, e), extra)
    assert ok.verdict is Verdict.PASS, ok.summary
    assert ok.summary == "mismatched_wallets = 0 wallets"
    (m,) = [m for m in ok.measurements if m.name == "mismatched_wallets"]
    assert (m.value, m.unit) == (0, "wallets")
    assert {"connect_ms", "query_ms"} <= set(values(ok))

    db.run(f"UPDATE {w} SET balance = 31.00 WHERE id = 1")  # drift
    bad = await run_sql(db, mismatch_query(w, e), extra)
    assert bad.verdict is Verdict.FAIL
    assert bad.summary == "condition failed: mismatched_wallets == 0 (observed 1)"


async def test_decimal_sum_becomes_the_measurement(db: Db, ledger: tuple[str, str]) -> None:
    _, e = ledger
    ev = await run_sql(db, f"SELECT SUM(amount) FROM {e}", "conditions: ['value > 35', {warn: 'value < 30'}]")
    assert values(ev)["value"] == 35.5
    assert ev.verdict is Verdict.WARN


@pytest.mark.parametrize(
    "write",
    [
        "UPDATE {w} SET balance = 0",
        "DELETE FROM {w}",
        "INSERT INTO {w} VALUES (99, 1)",
        "DROP TABLE {w}",
        "CREATE TABLE {w}_new (x INT)",
        "SELECT 1; DELETE FROM {w}",
        # With multi-statements allowed, this would leave the read-only transaction and commit a delete.
        "SET SESSION TRANSACTION READ WRITE; COMMIT; DELETE FROM {w}; COMMIT",
    ],
    ids=["update", "delete", "insert", "drop", "create", "two-statements", "escape-attempt"],
)
async def test_a_write_is_an_error_and_changes_nothing(db: Db, ledger: tuple[str, str], write: str) -> None:
    w, _e = ledger
    before = (db.scalar(f"SELECT COUNT(*) FROM {w}"), db.scalar(f"SELECT SUM(balance) FROM {w}"), db.tables())
    ev = await run_sql(db, write.format(w=w))
    assert ev.verdict is Verdict.ERROR
    after = (db.scalar(f"SELECT COUNT(*) FROM {w}"), db.scalar(f"SELECT SUM(balance) FROM {w}"), db.tables())
    assert after == before
    if "; " not in write:  # a single write statement is refused by the database's read-only mode
        assert ev.summary.startswith("refused by the database: the query tried to write"), ev.summary


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
async def test_postgres_data_modifying_cte_and_sequence_are_refused(db: Db, ledger: tuple[str, str]) -> None:
    w, _ = ledger
    db.run(f"CREATE SEQUENCE {db.prefix}seq")
    try:
        for query in (
            f"WITH d AS (DELETE FROM {w} RETURNING 1) SELECT COUNT(*) FROM d",
            f"SELECT nextval('{db.prefix}seq')",
        ):
            ev = await run_sql(db, query)
            assert ev.verdict is Verdict.ERROR
            assert ev.summary.startswith("refused by the database"), ev.summary
        assert db.scalar(f"SELECT COUNT(*) FROM {w}") == 3
        assert db.scalar(f"SELECT last_value FROM {db.prefix}seq") == 1
        assert db.scalar(f"SELECT is_called FROM {db.prefix}seq") is False
    finally:
        db.run(f"DROP SEQUENCE {db.prefix}seq")


async def test_null_and_no_row_leave_the_measurement_out(db: Db, ledger: tuple[str, str]) -> None:
    w, _ = ledger
    for query, why in (
        (f"SELECT MAX(balance) FROM {w} WHERE id > 100", "NULL"),
        (f"SELECT balance FROM {w} WHERE id > 100", "no row"),
    ):
        ev = await run_sql(db, query, "measurement: top, conditions: ['top < 10']")
        assert "top" not in values(ev)
        assert ev.verdict is Verdict.UNKNOWN
        assert ev.summary == "condition unknown: top < 10: no measurement"
        assert ev.detail["value"] is None
        assert ev.detail["rows"] == (1 if why == "NULL" else 0)


async def test_non_numeric_value_is_an_error_naming_the_type(db: Db) -> None:
    ev = await run_sql(db, "SELECT 'pending'")
    assert ev.verdict is Verdict.ERROR
    assert ev.summary.startswith("the query returned a value of type text"), ev.summary


async def test_several_rows_or_columns_are_errors(db: Db, ledger: tuple[str, str]) -> None:
    w, _ = ledger
    rows = await run_sql(db, f"SELECT id FROM {w}")
    assert rows.verdict is Verdict.ERROR
    assert rows.summary.startswith("the query returned more than one row")
    cols = await run_sql(db, f"SELECT id, balance FROM {w} WHERE id = 1")
    assert cols.verdict is Verdict.ERROR
    assert cols.summary.startswith("the query returned 2 columns (id, balance)")


async def test_failed_payments_in_the_last_hour(db: Db) -> None:
    p = f"{db.prefix}payments"
    db.run(f"CREATE TABLE {p} (id INT PRIMARY KEY, status VARCHAR(20), created_at TIMESTAMP)")
    recent = {
        "postgresql": "now() - interval '5 minutes'",
        "mysql": "NOW() - INTERVAL 5 MINUTE",
        "sqlite": "datetime('now', '-5 minutes')",
    }[db.dialect]
    old = {
        "postgresql": "now() - interval '3 hours'",
        "mysql": "NOW() - INTERVAL 3 HOUR",
        "sqlite": "datetime('now', '-3 hours')",
    }[db.dialect]
    hour = {
        "postgresql": "now() - interval '1 hour'",
        "mysql": "NOW() - INTERVAL 1 HOUR",
        "sqlite": "datetime('now', '-1 hour')",
    }[db.dialect]
    db.run(
        f"INSERT INTO {p} VALUES (1, 'failed', {recent}), (2, 'failed', {old}), (3, 'settled', {recent}), (4, 'failed', {recent})"
    )
    query = f"SELECT COUNT(*) FROM {p} WHERE status = 'failed' AND created_at > {hour}"
    ev = await run_sql(db, query, "measurement: failed_payments_1h, conditions: ['failed_payments_1h < 3']")
    assert values(ev)["failed_payments_1h"] == 2
    assert ev.verdict is Verdict.PASS
    db.run(f"INSERT INTO {p} VALUES (5, 'failed', {recent})")
    ev = await run_sql(db, query, "measurement: failed_payments_1h, conditions: ['failed_payments_1h < 3']")
    assert ev.verdict is Verdict.FAIL


# --- timeouts cancel the query on the server ---------------------------------------------------------


SLOW = {
    "postgresql": "SELECT pg_sleep(60) /* {marker} */",
    # Not SLEEP(): MariaDB ends a SLEEP() when the client disconnects, so only KILL QUERY stops this.
    "mysql": "SELECT BENCHMARK(2000000000, SHA2('{marker}', 256)) /* {marker} */",
    # Endless, and it reads a table, so it holds SQLite's SHARED lock for as long as it runs.
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
    "SELECT COUNT(*) FROM c JOIN {table} ON 1 = 1 /* {marker} */",
}


def running(db: Db, marker: str) -> bool:
    """Is a statement carrying ``marker`` still running on the server?"""
    if db.dialect == "postgresql":
        sql = f"SELECT COUNT(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%{marker}%' AND pid <> pg_backend_pid()"
    else:
        sql = f"SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE '%{marker}%' AND ID <> CONNECTION_ID()"
    return bool(db.scalar(sql))


def sqlite_reader_gone(db: Db) -> bool:
    """A reader holds a SHARED lock; an exclusive lock is only granted once it is gone."""
    conn = sqlite3.connect(db.url.removeprefix("sqlite:///"), timeout=0)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        conn.close()


def kill_leftovers(db: Db, marker: str) -> None:
    """Cleanup after a failed assertion: stop whatever still runs with ``marker``."""
    if db.dialect == "postgresql":
        db.scalar(
            f"SELECT COUNT(pg_cancel_backend(pid)) FROM pg_stat_activity WHERE query LIKE '%{marker}%' AND pid <> pg_backend_pid()"
        )
    elif db.dialect == "mysql":
        with db.engine.connect() as conn:
            ids = conn.execute(
                text(
                    f"SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE '%{marker}%' AND ID <> CONNECTION_ID()"
                )
            )
            for (thread_id,) in list(ids):
                conn.execute(text(f"KILL QUERY {int(thread_id)}"))


def wait_until_gone(db: Db, marker: str) -> bool:
    for _ in range(100):  # at most ~10 s, far less than the 60 s the statement would run
        if not (running(db, marker) if db.dialect != "sqlite" else not sqlite_reader_gone(db)):
            return True
        time.sleep(0.1)
    return False


async def test_check_timeout_cancels_the_query(db: Db) -> None:
    table = f"{db.prefix}t"
    db.run(f"CREATE TABLE {table} (x INT)", f"INSERT INTO {table} VALUES (1)")
    marker = f"fd_slow_{uuid.uuid4().hex[:8]}"
    try:
        ev = await run_sql(db, SLOW[db.dialect].format(marker=marker, table=table), "timeout: 1s")
        assert ev.verdict is Verdict.ERROR
        assert ev.summary == "timed out after 1s"
        assert wait_until_gone(db, marker), "the statement is still running after the check gave up"
    finally:
        kill_leftovers(db, marker)


async def test_cancelling_read_only_query_stops_the_statement_without_server_timeout(db: Db) -> None:
    """No statement_timeout here: only the client's cancellation can stop a 60 s statement early."""
    table = f"{db.prefix}t"
    db.run(f"CREATE TABLE {table} (x INT)", f"INSERT INTO {table} VALUES (1)")
    marker = f"fd_cancel_{uuid.uuid4().hex[:8]}"
    url = DatabaseUrl.parse(db.url)
    query = SLOW[db.dialect].format(marker=marker, table=table)
    task = asyncio.create_task(read_only_query(url, query, max_rows=1))
    for _ in range(100):
        await asyncio.sleep(0.05)
        if running(db, marker) if db.dialect != "sqlite" else not sqlite_reader_gone(db):
            break
    else:
        task.cancel()
        pytest.fail("the statement never started")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    try:
        assert wait_until_gone(db, marker), "the statement is still running after its task was cancelled"
    finally:
        kill_leftovers(db, marker)


# --- configuration and errors ------------------------------------------------------------------------


def test_measurement_names_are_checked() -> None:
    base = "services:\n  s:\n    checks:\n      - {name: q, kind: sql, url: 'sqlite:///x.db', query: 'SELECT 1', measurement: "
    with pytest.raises(ConfigError, match="'query_ms' is recorded by every sql check"):
        load_config_text(base + "query_ms}\n", "t.yaml", env={})
    with pytest.raises(ConfigError, match="not a measurement name"):
        load_config_text(base + "'two words'}\n", "t.yaml", env={})


def test_unknown_datasource_names_the_line() -> None:
    with pytest.raises(ConfigError) as err:
        load_config_text(
            "services:\n  s:\n    checks:\n      - name: q\n        kind: sql\n        datasource: nope\n        query: SELECT 1\n",
            "t.yaml",
            env={},
        )
    assert "t.yaml:6: services.s.checks[0].datasource: no datasource named 'nope'" in str(err.value)


async def test_url_file_and_wrong_password_keep_the_password_out(tmp_path: Path, mysql_url: str) -> None:
    server = mysql_url.split("@", 1)[1].split("/", 1)[0]
    user, password = f"fd_{uuid.uuid4().hex[:8]}", f"pw-{uuid.uuid4().hex}"
    admin = create_engine(mysql_url.replace("mysql://", "mysql+pymysql://"))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'"))
        conn.execute(text(f"CREATE USER '{user}'@'localhost' IDENTIFIED BY '{password}'"))
    try:
        (tmp_path / "good").write_text(f"mysql://{user}:{password}@{server}/\n")
        (tmp_path / "bad").write_text(f"mysql://{user}:{password}x@{server}/\n")
        config = load_config_text(
            "datasources:\n  good: {url_file: good}\n  bad: {url_file: bad}\n"
            "services:\n  s:\n    checks:\n"
            "      - {name: ok, kind: sql, datasource: good, query: 'SELECT 41 + 1'}\n"
            "      - {name: denied, kind: sql, datasource: bad, query: 'SELECT 1'}\n",
            "t.yaml",
            env={},
            base_dir=tmp_path,
        )
        ok, denied = [
            (await run_check(p)).evidence for p in prepare_checks(config, CheckContext(config=config))
        ]
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP USER IF EXISTS '{user}'@'%'"))
            conn.execute(text(f"DROP USER IF EXISTS '{user}'@'localhost'"))
        admin.dispose()
    assert values(ok)["value"] == 42
    assert denied.verdict is Verdict.ERROR
    assert f"Access denied for user '{user}'" in denied.summary
    for ev in (ok, denied):
        assert password not in ev.model_dump_json()


async def test_missing_sqlite_file_is_an_error_and_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    config = load_config_text(
        f"services:\n  s:\n    checks:\n      - {{name: q, kind: sql, url: 'sqlite:///{path}', query: 'SELECT 1'}}\n",
        "t.yaml",
        env={},
    )
    (p,) = prepare_checks(config, CheckContext(config=config))
    ev = (await run_check(p)).evidence
    assert ev.verdict is Verdict.ERROR
    assert ev.summary == f"{path}: no such SQLite database file"
    assert not path.exists()
