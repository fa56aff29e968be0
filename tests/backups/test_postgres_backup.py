from __future__ import annotations

import logging
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from flightdeck.backups import open_artifact, open_storage, run_backup, verify_backup
from flightdeck.backups.errors import BackupError
from flightdeck.backups.manifest import EngineKind
from tests.backups.helpers import backup_config, datasource, new_key, rows_hash

PASSWORD = "pw-Zx81-never-shown"  # trust auth ignores it; it must still never be written anywhere


def _admin(pg_admin_url: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(pg_admin_url, autocommit=True)


@pytest.fixture
def pg_dbs(pg_admin_url: str) -> Iterator[tuple[str, str]]:
    """A source database with data and an empty scratch database; yields their URLs."""
    tag = uuid.uuid4().hex[:8]
    src, scratch = f"fd_bk_src_{tag}", f"fd_bk_dst_{tag}"
    with _admin(pg_admin_url) as conn:
        conn.execute(f'CREATE DATABASE "{src}"')
        conn.execute(f'CREATE DATABASE "{scratch}"')
    base = pg_admin_url.rsplit("/", 1)[0]
    with psycopg.connect(f"{base}/{src}", autocommit=True) as conn:
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY, customer text, amount_minor bigint)")
        conn.execute("CREATE SCHEMA billing")
        conn.execute("CREATE TABLE billing.invoices (id serial PRIMARY KEY, note text)")
        conn.execute("INSERT INTO orders SELECT g, 'c' || (g % 97), g * 13 FROM generate_series(1, 3000) g")
        conn.execute("INSERT INTO billing.invoices (note) SELECT 'n' || g FROM generate_series(1, 42) g")
    yield f"{base}/{src}", f"{base}/{scratch}"
    with _admin(pg_admin_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{src}" WITH (FORCE)')
        conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


def with_password(url: str) -> str:
    return url.replace("postgres@", f"postgres:{PASSWORD}@")


def content(url: str) -> dict[str, tuple[int, str]]:
    with psycopg.connect(url) as conn:
        out = {}
        for table in ("orders", "billing.invoices"):
            rows = conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
            out[table] = (len(rows), rows_hash(rows))
        return out


@pytest.mark.parametrize("fmt", ["custom", "directory"])
def test_round_trip(
    pg_dbs: tuple[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture, fmt: str
) -> None:
    caplog.set_level(logging.DEBUG)
    src, scratch = pg_dbs
    key = new_key()
    opts = {"format": fmt, "jobs": 2 if fmt == "directory" else 1}
    cfg = backup_config(tmp_path / "store", key, postgres=opts)
    result = run_backup("pg", cfg, datasource(with_password(src)))
    m = result.manifest
    assert m.engine is EngineKind.POSTGRES
    assert m.tool_versions["pg_dump"].startswith("pg_dump (PostgreSQL)")
    assert m.tool_versions["server"].startswith("PostgreSQL ")
    assert "/" in m.consistent_point["lsn"]
    assert m.consistent_point["lsn_source"] == "current"
    assert m.table_counts == {"billing.invoices": 42, "public.orders": 3000}
    storage = open_storage(cfg)
    verify_backup(storage, m, bytes.fromhex(key), deep=True)

    dump = tmp_path / ("dump.bin" if fmt == "custom" else "dump.tar")
    with open_artifact(storage, m, "data", bytes.fromhex(key)) as chunks, open(dump, "wb") as fh:
        for chunk in chunks:
            fh.write(chunk)
    if fmt == "directory":
        target = tmp_path / "dir"
        with tarfile.open(dump) as tar:
            tar.extractall(target, filter="data")
        dump = target
    subprocess.run(["pg_restore", "--no-owner", "-d", scratch, str(dump)], check=True, capture_output=True)
    assert content(scratch) == content(src)

    manifest_text = (tmp_path / "store" / result.manifest_key).read_text()
    for text in (manifest_text, caplog.text, repr(result.observation().detail)):
        assert PASSWORD not in text
        assert key not in text


def test_counts_are_taken_in_the_dumps_snapshot(pg_dbs: tuple[str, str], tmp_path: Path) -> None:
    """Rows are counted in the exported snapshot that pg_dump then dumps: counts equal the dump."""
    src, _scratch = pg_dbs
    cfg = backup_config(tmp_path / "store", tables_to_count=["orders"])
    m = run_backup("pg", cfg, datasource(src)).manifest
    assert m.table_counts == {"public.orders": 3000}
    assert m.consistent_point["snapshot"]


def test_a_failed_backup_reports_why_but_never_the_password(pg_admin_url: str, tmp_path: Path) -> None:
    url = with_password(pg_admin_url.rsplit("/", 1)[0] + "/fd_no_such_db_" + uuid.uuid4().hex[:6])
    with pytest.raises(BackupError) as info:
        run_backup("pg", backup_config(tmp_path / "store"), datasource(url))
    assert PASSWORD not in str(info.value)
    assert "does not exist" in str(info.value)
    assert open_storage(backup_config(tmp_path / "store")).list() == []
