from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from flightdeck.backups import (
    DecryptionError,
    IntegrityError,
    find_backup,
    list_backups,
    open_artifact,
    open_storage,
    run_backup,
    verify_backup,
)
from flightdeck.backups.manifest import EngineKind
from tests.backups.helpers import backup_config, datasource, new_key, rows_hash


def make_db(path: Path, rows: int = 500) -> None:
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, blob BLOB)")
        conn.execute("CREATE TABLE empty (id INTEGER)")
        conn.executemany(
            "INSERT INTO items VALUES (?, ?, ?)", [(i, f"item-{i}", os.urandom(64)) for i in range(rows)]
        )
        conn.commit()


def table_hash(path: Path) -> tuple[int, str]:
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute("SELECT id, name, hex(blob) FROM items ORDER BY id").fetchall()
    return len(rows), rows_hash(rows)


def test_round_trip_encrypted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    src = tmp_path / "app.db"
    make_db(src)
    key = new_key()
    cfg = backup_config(tmp_path / "store", key, compression_level=5)
    result = run_backup("appdb", cfg, datasource(f"sqlite:///{src}"))
    m = result.manifest
    assert m.engine is EngineKind.SQLITE
    assert m.table_counts == {"empty": 0, "items": 500}
    assert m.tool_versions["sqlite"] == sqlite3.sqlite_version
    [artifact] = m.artifacts
    assert artifact.key.endswith("data.sqlite.zst.enc")
    assert artifact.key_id == cfg.encryption.key_id if cfg.encryption else False
    assert artifact.raw_size_bytes == src.stat().st_size

    storage = open_storage(cfg)
    assert [b.backup_id for b in list_backups(storage, "appdb")] == [m.backup_id]
    assert find_backup(storage, "appdb", m.backup_id) == m
    assert verify_backup(storage, m, bytes.fromhex(key), deep=True).artifacts == 1

    restored = tmp_path / "restored.db"
    with open_artifact(storage, m, "data", bytes.fromhex(key)) as chunks, open(restored, "wb") as fh:
        for chunk in chunks:
            fh.write(chunk)
    assert table_hash(restored) == table_hash(src)

    manifest_text = (tmp_path / "store" / result.manifest_key).read_text()
    for text in (manifest_text, caplog.text, repr(result.observation())):
        assert key not in text
    obs = result.observation()
    values = {x.name: x.value for x in obs.measurements}
    assert values["rows"] == 500
    assert values["tables"] == 2
    assert obs.detail["backup_id"] == m.backup_id


def test_flipped_byte_is_an_integrity_error_and_nothing_is_restored(tmp_path: Path) -> None:
    src = tmp_path / "app.db"
    make_db(src)
    cfg = backup_config(tmp_path / "store")
    m = run_backup("appdb", cfg, datasource(f"sqlite:///{src}")).manifest
    path = tmp_path / "store" / m.artifacts[0].key
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    storage = open_storage(cfg)
    with pytest.raises(IntegrityError, match=r"artifact data .*SHA-256 .* does not match"):
        verify_backup(storage, m)
    produced: list[bytes] = []
    with pytest.raises(IntegrityError), open_artifact(storage, m, "data") as chunks:
        produced.extend(chunks)
    assert produced == []


def test_wrong_key_is_a_clear_decryption_error(tmp_path: Path) -> None:
    src = tmp_path / "app.db"
    make_db(src, rows=10)
    key = new_key()
    cfg = backup_config(tmp_path / "store", key)
    m = run_backup("appdb", cfg, datasource(f"sqlite:///{src}")).manifest
    other = new_key()
    produced: list[bytes] = []
    with (
        pytest.raises(DecryptionError, match="wrong key") as info,
        open_artifact(open_storage(cfg), m, "data", bytes.fromhex(other)) as chunks,
    ):
        produced.extend(chunks)
    assert produced == []
    assert key not in str(info.value)
    assert other not in str(info.value)


KILL_SCRIPT = """
import sys, time
from pathlib import Path
from flightdeck.backups import run_backup
from tests.backups.helpers import backup_config, datasource
marker = Path(sys.argv[3])
seen = 0
def progress(n):
    global seen
    seen += n
    if seen > 1 << 20 and not marker.exists():
        marker.write_text("started")
        time.sleep(600)
run_backup("appdb", backup_config(Path(sys.argv[2]), sys.argv[4]), datasource("sqlite:///" + sys.argv[1]),
           progress=progress)
"""


def test_a_backup_killed_midway_is_never_listed(tmp_path: Path) -> None:
    src = tmp_path / "big.db"
    with closing(sqlite3.connect(src)) as conn:
        conn.execute("CREATE TABLE t (b BLOB)")
        conn.executemany("INSERT INTO t VALUES (?)", [(os.urandom(4096),) for _ in range(1500)])
        conn.commit()
    store, marker = tmp_path / "store", tmp_path / "started"
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(src), str(store), str(marker), new_key()], cwd=root
    )
    try:
        for _ in range(600):
            if marker.exists() or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert marker.exists(), "the backup never got to its data artifact"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    leftovers = [p.name for p in store.rglob("*") if p.is_file()]
    assert leftovers
    assert all(".tmp-" in name for name in leftovers)
    storage = open_storage(backup_config(store))
    assert list_backups(storage, "appdb") == []
    assert storage.list() == []
