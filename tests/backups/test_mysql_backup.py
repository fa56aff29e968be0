from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest

from flightdeck.backups import open_artifact, open_storage, run_backup, verify_backup
from flightdeck.backups.manifest import EngineKind
from tests.backups.helpers import backup_config, datasource, new_key, rows_hash


def _connect(db: str | None = None) -> Any:
    return pymysql.connect(
        host="127.0.0.1", port=3306, user="root", password="", database=db, autocommit=True
    )


@pytest.fixture
def my_dbs(mysql_url: str) -> Iterator[tuple[str, str]]:
    tag = uuid.uuid4().hex[:8]
    src, scratch = f"fd_bk_src_{tag}", f"fd_bk_dst_{tag}"
    conn = _connect()
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{src}`")
        cur.execute(f"CREATE DATABASE `{scratch}`")
        cur.execute(f"USE `{src}`")
        cur.execute("CREATE TABLE orders (id INT PRIMARY KEY, customer VARCHAR(40), note TEXT) ENGINE=InnoDB")
        cur.execute("CREATE TABLE empty_one (id INT PRIMARY KEY) ENGINE=InnoDB")
        cur.executemany(
            "INSERT INTO orders VALUES (%s, %s, %s)",
            [(i, f"c{i % 31}", 'it\'s "quoted" \\ ü' * (i % 3)) for i in range(1, 1201)],
        )
    base = mysql_url.rsplit("/", 1)[0]
    yield f"{base}/{src}", scratch
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{src}`")
        cur.execute(f"DROP DATABASE IF EXISTS `{scratch}`")
    conn.close()


def content(db: str) -> tuple[int, str]:
    conn = _connect(db)
    with conn.cursor() as cur:
        cur.execute("SELECT id, customer, note FROM orders ORDER BY id")
        rows = cur.fetchall()
    conn.close()
    return len(rows), rows_hash(rows)


def test_round_trip(my_dbs: tuple[str, str], tmp_path: Path) -> None:
    src_url, scratch = my_dbs
    key = new_key()
    cfg = backup_config(tmp_path / "store", key, compression_level=9)
    result = run_backup("my", cfg, datasource(src_url))
    m = result.manifest
    assert m.engine is EngineKind.MYSQL
    tool = next(k for k in m.tool_versions if k != "server")
    assert tool in ("mariadb-dump", "mysqldump")
    assert "Ver" in m.tool_versions[tool]
    assert m.table_counts == {"empty_one": 0, "orders": 1200}
    # This server has no binary log: no position is claimed, and the counts' exactness is unknown.
    assert m.consistent_point.get("binlog") == "off"
    assert m.consistent_point["counts_exact"] == "unknown"
    storage = open_storage(cfg)
    verify_backup(storage, m, bytes.fromhex(key), deep=True)

    dump = tmp_path / "dump.sql"
    with open_artifact(storage, m, "data", bytes.fromhex(key)) as chunks, open(dump, "wb") as fh:
        for chunk in chunks:
            fh.write(chunk)
    with open(dump, "rb") as fh:
        subprocess.run(
            ["mariadb", "--host=127.0.0.1", "--port=3306", "--protocol=TCP", "--user=root", scratch],
            stdin=fh,
            check=True,
            capture_output=True,
        )
    assert content(scratch) == content(src_url.rsplit("/", 1)[1])
