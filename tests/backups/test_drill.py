"""DR drills against real databases: SQLite files, the local PostgreSQL and MariaDB servers."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest
import yaml

from flightdeck.backups import list_backups, open_storage, run_backup
from flightdeck.backups.drill import drill_observation, run_drill
from flightdeck.backups.drill_result import Phase, StepStatus, VerificationKind
from flightdeck.clock import FakeClock
from flightdeck.config.loader import load_config_text
from flightdeck.config.models import Config
from tests.backups.helpers import new_key

LEDGER_OK = "SELECT transaction_id FROM ledger GROUP BY transaction_id HAVING SUM(amount) <> 0"
WALLETS_OK = (
    "SELECT COUNT(*) FROM wallets w WHERE w.balance <> "
    "(SELECT COALESCE(SUM(l.amount), 0) FROM ledger l WHERE l.account = w.account)"
)


def make_config(
    tmp_path: Path, url: str, drill: dict[str, Any], backup: dict[str, Any] | None = None
) -> Config:
    doc = {
        "version": 1,
        "datasources": {"db": {"url": url}},
        "services": {"shop": {"url": "http://127.0.0.1:9/", "checks": []}},
        "backups": {
            "db": {
                "service": "shop",
                "datasource": "db",
                "storage": {"kind": "local", "path": str(tmp_path / "store")},
                "hash_tables": ["ledger", "wallets"],
                **(backup or {}),
            }
        },
        "drills": {"monthly": {"backup": "db", "reports_dir": str(tmp_path / "reports"), **drill}},
    }
    return load_config_text(yaml.safe_dump(doc), file=str(tmp_path / "flightdeck.yaml"), base_dir=tmp_path)


def backup(config: Config, clock: FakeClock | None = None) -> str:
    cfg = config.backups["db"]
    return run_backup("db", cfg, config.datasources["db"], clock=clock).manifest.backup_id


# -- SQLite -------------------------------------------------------------------------------------------

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def sqlite_source(path: Path, newest: datetime) -> None:
    with closing(sqlite3.connect(path)) as conn:
        conn.executescript(
            """
            CREATE TABLE wallets (account TEXT PRIMARY KEY, balance INTEGER NOT NULL);
            CREATE TABLE ledger (id INTEGER PRIMARY KEY, transaction_id INTEGER, account TEXT,
                                 amount INTEGER, created_at REAL);
            CREATE INDEX ledger_account ON ledger(account);
            CREATE VIEW balances AS SELECT account, SUM(amount) AS total FROM ledger GROUP BY account;
            """
        )
        rows = []
        for t in range(1, 201):
            at = newest.timestamp() - (200 - t) * 60
            rows += [(2 * t - 1, t, "cash", -t, at), (2 * t, t, f"w{t % 7}", t, at)]
        conn.executemany("INSERT INTO ledger VALUES (?, ?, ?, ?, ?)", rows)
        conn.execute("INSERT INTO wallets SELECT account, SUM(amount) FROM ledger GROUP BY account")
        conn.commit()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Path:
    path = tmp_path / "shop.sqlite"
    sqlite_source(path, NOW - timedelta(hours=2))
    return path


SQLITE_DRILL: dict[str, Any] = {
    "rto_target": "1h",
    "rpo_target": "3h",
    "rpo": {"table": "ledger", "column": "created_at"},
    "invariants": [
        {"name": "ledger debits equal credits", "query": LEDGER_OK},
        {"name": "wallet balances equal ledger sums", "query": WALLETS_OK, "expect": "zero"},
    ],
}


def test_sqlite_drill_passes_with_phases_rpo_and_every_verification(tmp_path: Path, sqlite_db: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    config = make_config(tmp_path, f"sqlite:///{sqlite_db}", {**SQLITE_DRILL, "scratch": str(scratch)})
    backup_id = backup(config)
    clock = FakeClock(NOW)
    result = run_drill(config, "monthly", clock=clock, operator="ops@test", trigger="manual")

    assert result.passed, result.failures
    assert result.backup_id == backup_id
    assert [s.name for s in result.steps] == [
        "select backup",
        "fetch and verify checksum",
        "decrypt and decompress",
        "create scratch database",
        "restore into scratch",
        "verify schema and rows",
        "verify invariants",
        "measure RPO",
        "drop scratch database",
    ]
    assert set(result.phases) == set(Phase)
    assert result.rto_seconds == pytest.approx(sum(result.phases.values()))
    # RPO is the drill's clock minus the newest ledger row in the restored copy: exactly 2 h here.
    assert result.rpo_seconds == pytest.approx(7200, abs=0.01)
    assert result.newest_restored_at == NOW - timedelta(hours=2)
    kinds = {v.kind for v in result.verifications}
    assert kinds == set(VerificationKind)
    assert all(v.status is StepStatus.PASSED for v in result.verifications)
    schema = next(v for v in result.verifications if v.kind is VerificationKind.SCHEMA)
    assert "ledger_account" in json.dumps(result.manifest)
    assert schema.actual is not None
    hashed = {v.name for v in result.verifications if v.kind is VerificationKind.ROW_HASHES}
    assert hashed == {"table ledger", "table wallets"}
    # the scratch file was dropped, the source untouched
    assert list(scratch.iterdir()) == []
    assert result.scratch is not None
    assert str(scratch) in result.scratch
    obs = drill_observation(result)
    assert not obs.failures
    assert "passed" in obs.summary
    assert {m.name for m in obs.measurements} >= {"rto_seconds", "rpo_seconds", "fetch_seconds"}


def test_failing_invariant_fails_the_drill_with_query_and_rows(tmp_path: Path, sqlite_db: Path) -> None:
    with closing(sqlite3.connect(sqlite_db)) as conn:  # a wallet drifts from its ledger
        conn.execute("UPDATE wallets SET balance = balance + 5 WHERE account = 'w3'")
        conn.execute("INSERT INTO ledger VALUES (9999, 9999, 'w1', 17, 0)")  # unbalanced transaction
        conn.commit()
    config = make_config(tmp_path, f"sqlite:///{sqlite_db}", SQLITE_DRILL)
    backup(config)
    result = run_drill(config, "monthly", clock=FakeClock(NOW))

    assert not result.passed
    ledger = next(v for v in result.verifications if v.name == "ledger debits equal credits")
    assert ledger.status is StepStatus.FAILED
    assert ledger.query == LEDGER_OK
    assert ledger.result == {"columns": ["transaction_id"], "rows": [[9999]], "truncated": False}
    wallets = next(v for v in result.verifications if v.name == "wallet balances equal ledger sums")
    assert wallets.status is StepStatus.FAILED
    assert wallets.actual == "2"
    assert any("ledger debits equal credits" in f for f in result.failures)
    assert result.rto_seconds is not None  # the restore itself finished: RTO is still measured


def test_flipped_byte_fails_at_fetch_and_nothing_is_restored(tmp_path: Path, sqlite_db: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    config = make_config(
        tmp_path, f"sqlite:///{sqlite_db}", {"scratch": str(scratch)}, {"encryption": {"key": new_key()}}
    )
    backup(config)
    storage = open_storage(config.backups["db"])
    (manifest,) = list_backups(storage, "db")
    data = tmp_path / "store" / manifest.artifact("data").key
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    data.write_bytes(bytes(raw))

    result = run_drill(config, "monthly")
    assert not result.passed
    fetch = next(s for s in result.steps if s.phase is Phase.FETCH)
    assert fetch.status is StepStatus.FAILED
    assert "SHA-256" in fetch.message
    assert "create scratch database" not in [s.name for s in result.steps]
    assert result.rto_seconds is None
    assert result.scratch is None
    assert list(scratch.iterdir()) == []


def test_no_backup_is_a_failed_drill_not_a_crash(tmp_path: Path, sqlite_db: Path) -> None:
    config = make_config(tmp_path, f"sqlite:///{sqlite_db}", {})
    result = run_drill(config, "monthly")
    assert not result.passed
    assert result.backup_id is None
    assert "no complete backup of 'db'" in result.failures[0]
    assert "failed" in drill_observation(result).summary


def test_rto_over_target_fails_the_drill(tmp_path: Path, sqlite_db: Path) -> None:
    config = make_config(tmp_path, f"sqlite:///{sqlite_db}", {"rto_target": "1ms"})
    backup(config)
    result = run_drill(config, "monthly")
    assert all(v.status is StepStatus.PASSED for v in result.verifications)
    assert not result.passed
    assert result.rto_met is False
    assert any("over the 0.001 s target" in f for f in result.failures)


def test_tampered_manifest_hash_is_caught_by_row_hashes(tmp_path: Path, sqlite_db: Path) -> None:
    config = make_config(tmp_path, f"sqlite:///{sqlite_db}", {})
    backup(config)
    (path,) = (tmp_path / "store").rglob("manifest.json")
    doc = json.loads(path.read_text())
    doc["table_hashes"]["wallets"]["sha256"] = "0" * 64
    doc["schema_objects"]["indexes"].append("an_index_that_was_lost")
    path.write_text(json.dumps(doc))
    result = run_drill(config, "monthly")
    failed = {(v.kind, v.name) for v in result.verifications if v.status is StepStatus.FAILED}
    assert failed == {
        (VerificationKind.ROW_HASHES, "table wallets"),
        (VerificationKind.SCHEMA, "schema objects"),
    }
    schema = next(v for v in result.verifications if v.kind is VerificationKind.SCHEMA)
    assert "indexes missing: an_index_that_was_lost" in schema.message


# -- PostgreSQL ---------------------------------------------------------------------------------------


@pytest.fixture
def pg_source(pg_admin_url: str) -> Iterator[str]:
    name = f"fd_drill_src_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = pg_admin_url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            CREATE TABLE wallets (account text PRIMARY KEY, balance numeric(18, 2) NOT NULL,
                                  meta jsonb DEFAULT '{"tier": "gold"}');
            CREATE TABLE ledger (id bigserial PRIMARY KEY, transaction_id int, account text,
                                 amount numeric(18, 2), created_at timestamptz NOT NULL);
            CREATE INDEX ledger_account ON ledger(account);
            CREATE VIEW balances AS SELECT account, SUM(amount) AS total FROM ledger GROUP BY account;
            CREATE FUNCTION no_update() RETURNS trigger LANGUAGE plpgsql AS
              $$ BEGIN RAISE EXCEPTION 'append only'; END $$;
            CREATE TRIGGER ledger_append_only BEFORE UPDATE ON ledger FOR EACH ROW EXECUTE FUNCTION no_update();
            INSERT INTO ledger (transaction_id, account, amount, created_at)
              SELECT g, CASE WHEN s = 0 THEN 'cash' ELSE 'w' || (g % 11) END,
                     CASE WHEN s = 0 THEN -g * 1.25 ELSE g * 1.25 END,
                     '2026-11-23 01:00:00+00'::timestamptz - (g || ' seconds')::interval
              FROM generate_series(1, 2000) g, generate_series(0, 1) s;
            INSERT INTO wallets (account, balance) SELECT account, SUM(amount) FROM ledger GROUP BY account;
            """
        )
    yield url
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _drill_databases(pg_admin_url: str) -> set[str]:
    with psycopg.connect(pg_admin_url) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'fd\\_drill\\_%'").fetchall()
    return {str(r[0]) for r in rows if not str(r[0]).startswith("fd_drill_src_")}


@pytest.mark.parametrize("fmt", ["custom", "directory"])
def test_postgres_drill_restores_into_a_scratch_database_and_drops_it(
    tmp_path: Path, pg_admin_url: str, pg_source: str, fmt: str
) -> None:
    drill = {
        "scratch": pg_admin_url,
        "jobs": 2 if fmt == "directory" else 1,
        "rpo": {"table": "ledger", "column": "created_at"},
        "invariants": [
            {"name": "ledger balanced", "query": LEDGER_OK},
            {"name": "wallets", "query": WALLETS_OK, "expect": "zero"},
        ],
    }
    postgres = {"format": fmt, "jobs": 2} if fmt == "directory" else {"format": fmt}
    config = make_config(tmp_path, pg_source, drill, {"postgres": postgres, "encryption": {"key": new_key()}})
    backup(config)
    result = run_drill(config, "monthly", clock=FakeClock(datetime(2026, 11, 23, 3, 0, tzinfo=UTC)))

    assert result.passed, result.failures
    assert result.rpo_seconds == pytest.approx(2 * 3600 + 1, abs=0.01)
    assert result.scratch is not None
    assert "fd_drill_" in result.scratch
    schema = next(v for v in result.verifications if v.kind is VerificationKind.SCHEMA)
    manifest_objects = result.manifest["schema_objects"] if result.manifest else None
    assert isinstance(manifest_objects, dict)
    assert "public.ledger.ledger_append_only" in manifest_objects["triggers"]
    assert "public.no_update()" in manifest_objects["functions"]
    assert schema.status is StepStatus.PASSED
    assert {v.name for v in result.verifications if v.kind is VerificationKind.ROW_HASHES} == {
        "table public.ledger",
        "table public.wallets",
    }
    assert "restore: pg_restore" in result.tool_versions
    assert result.scratch.rsplit("/", 1)[1] not in _drill_databases(pg_admin_url)  # dropped


def test_postgres_drill_without_reachable_scratch_fails_cleanly(tmp_path: Path, pg_source: str) -> None:
    config = make_config(
        tmp_path, pg_source, {"scratch": "postgresql://postgres:s3cret-pw@127.0.0.1:9/postgres"}
    )
    backup(config)
    result = run_drill(config, "monthly")
    assert not result.passed
    step = next(s for s in result.steps if s.status is StepStatus.FAILED)
    assert step.name == "create scratch database"
    assert "s3cret-pw" not in result.model_dump_json()


# -- MariaDB ------------------------------------------------------------------------------------------


@pytest.fixture
def my_source(mysql_url: str) -> Iterator[str]:
    name = f"fd_drill_src_{uuid.uuid4().hex[:8]}"
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
        cur.execute(f"USE `{name}`")
        cur.execute("CREATE TABLE wallets (account VARCHAR(20) PRIMARY KEY, balance DECIMAL(18,2))")
        cur.execute(
            "CREATE TABLE ledger (id INT PRIMARY KEY, transaction_id INT, account VARCHAR(20), "
            "amount DECIMAL(18,2), created_at DATETIME(6), KEY ledger_account (account))"
        )
        rows = []
        for t in range(1, 301):
            rows += [
                (2 * t - 1, t, "cash", -t / 4, "2026-11-23 00:00:00"),
                (2 * t, t, f"w{t % 5}", t / 4, "2026-11-23 00:00:00"),
            ]
        cur.executemany("INSERT INTO ledger VALUES (%s, %s, %s, %s, %s)", rows)
        cur.execute("INSERT INTO wallets SELECT account, SUM(amount) FROM ledger GROUP BY account")
    yield mysql_url.rsplit("/", 1)[0] + f"/{name}"
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    conn.close()


def test_mariadb_drill_passes(tmp_path: Path, mysql_url: str, my_source: str) -> None:
    drill = {
        "scratch": mysql_url,
        "rpo": {"table": "ledger", "column": "created_at"},
        "invariants": [
            {"name": "ledger balanced", "query": LEDGER_OK},
            {"name": "wallets", "query": WALLETS_OK, "expect": "zero"},
        ],
    }
    config = make_config(tmp_path, my_source, drill)
    backup(config)
    result = run_drill(config, "monthly", clock=FakeClock(datetime(2026, 11, 23, 1, 0, tzinfo=UTC)))
    assert result.passed, result.failures
    assert result.rpo_seconds == pytest.approx(3600, abs=0.01)
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root")
    with conn.cursor() as cur:
        cur.execute("SHOW DATABASES LIKE 'fd\\_drill\\_%'")
        left = [r[0] for r in cur.fetchall() if not str(r[0]).startswith("fd_drill_src_")]
    conn.close()
    assert result.scratch is not None
    assert result.scratch.rsplit("/", 1)[1] not in left


def test_postgres_invariant_with_a_sql_error_does_not_spoil_the_checks_after_it(
    tmp_path: Path, pg_admin_url: str, pg_source: str
) -> None:
    drill = {
        "scratch": pg_admin_url,
        "rpo": {"table": "ledger", "column": "created_at"},
        "invariants": [
            {"name": "broken", "query": "SELECT no_such_column FROM ledger"},
            {"name": "ledger balanced", "query": LEDGER_OK},
        ],
    }
    config = make_config(tmp_path, pg_source, drill)
    backup(config)
    result = run_drill(config, "monthly", clock=FakeClock(datetime(2026, 11, 23, 3, 0, tzinfo=UTC)))
    status = {v.name: v.status for v in result.verifications if v.kind is VerificationKind.INVARIANT}
    assert status == {"broken": StepStatus.FAILED, "ledger balanced": StepStatus.PASSED}
    broken = next(v for v in result.verifications if v.name == "broken")
    assert "no_such_column" in broken.message
    assert result.rpo_seconds == pytest.approx(2 * 3600 + 1, abs=0.01)
