from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest
from typer.testing import CliRunner

from flightdeck.backups import (
    DecryptionError,
    IntegrityError,
    Manifest,
    RestoreRefused,
    list_backups,
    open_storage,
    run_backup,
)
from flightdeck.backups.restore import restore_backup
from flightdeck.cli.main import app as main_app
from flightdeck.datasources import DatabaseUrl
from tests.backups.helpers import backup_config, datasource, new_key, rows_hash

PASSWORD = "pw-Rs77-never-shown"
runner = CliRunner()


def flip_byte(root: Path, manifest: Manifest) -> None:
    data = root / manifest.artifacts[0].key
    blob = bytearray(data.read_bytes())
    blob[len(blob) // 2] ^= 0x01
    data.write_bytes(bytes(blob))


# -- PostgreSQL ---------------------------------------------------------------------------------------


def _pg(url: str) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(url, autocommit=True)


def pg_content(url: str) -> dict[str, tuple[int, str]]:
    with _pg(url) as conn:
        tables = conn.execute(
            "SELECT schemaname || '.' || tablename FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
        ).fetchall()
        out = {}
        for (table,) in tables:
            rows = conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
            out[table] = (len(rows), rows_hash(rows))
        return out


@pytest.fixture
def pg(pg_admin_url: str) -> Iterator[dict[str, str]]:
    """Source with data, an empty scratch db, an occupied db, a 'prod_' db; a not-yet-created name."""
    tag = uuid.uuid4().hex[:8]
    names = {k: f"fd_rs_{k}_{tag}" for k in ("src", "dst", "busy", "new")}
    names["prod"] = f"prod_x_{tag}"
    base = pg_admin_url.rsplit("/", 1)[0]
    with _pg(pg_admin_url) as conn:
        for key in ("src", "dst", "busy", "prod"):
            conn.execute(f'CREATE DATABASE "{names[key]}"')
    with _pg(f"{base}/{names['src']}") as conn:
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY, customer text, amount_minor bigint)")
        conn.execute("CREATE SCHEMA billing")
        conn.execute("CREATE TABLE billing.invoices (id serial PRIMARY KEY, note text)")
        conn.execute("INSERT INTO orders SELECT g, 'c' || (g % 97), g * 13 FROM generate_series(1, 2500) g")
        conn.execute("INSERT INTO billing.invoices (note) SELECT 'n' || g FROM generate_series(1, 42) g")
    with _pg(f"{base}/{names['busy']}") as conn:
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY, customer text, amount_minor bigint)")
        conn.execute("INSERT INTO orders VALUES (1, 'old', 5), (2, 'old', 6)")
        conn.execute("CREATE TABLE keepme (id int)")
        conn.execute("INSERT INTO keepme VALUES (7)")
    yield {k: f"{base}/{v}" for k, v in names.items()} | {f"{k}_name": v for k, v in names.items()}
    with _pg(pg_admin_url) as conn:
        for name in names.values():
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def with_password(url: str) -> str:
    return url.replace("postgres@", f"postgres:{PASSWORD}@")


@pytest.mark.parametrize("fmt", ["custom", "directory"])
def test_postgres_restore_into_scratch(pg: dict[str, str], tmp_path: Path, fmt: str) -> None:
    key = new_key()
    cfg = backup_config(
        tmp_path / "store", key, postgres={"format": fmt, "jobs": 2 if fmt == "directory" else 1}
    )
    m = run_backup("pg", cfg, datasource(pg["src"])).manifest
    phases: list[str] = []
    result = restore_backup(
        open_storage(cfg),
        m,
        bytes.fromhex(key),
        DatabaseUrl.parse(with_password(pg["dst"])),
        jobs=2,
        progress=lambda phase, n: phases.append(phase.value),
    )
    assert result.ok, result.mismatches
    assert result.actual_counts == {"billing.invoices": 42, "public.orders": 2500}
    assert pg_content(pg["dst"]) == pg_content(pg["src"])
    assert {"decode", "load"} <= set(phases)
    obs = result.observation()
    assert not obs.failures
    assert obs.detail["safety_backup_id"] is None
    assert PASSWORD not in json.dumps(obs.detail) + obs.summary


def test_postgres_restore_creates_a_missing_database(pg: dict[str, str], tmp_path: Path) -> None:
    cfg = backup_config(tmp_path / "store")
    m = run_backup("pg", cfg, datasource(pg["src"])).manifest
    result = restore_backup(open_storage(cfg), m, None, DatabaseUrl.parse(pg["new"]))
    assert result.ok
    assert result.created_database
    assert pg_content(pg["new"]) == pg_content(pg["src"])


def test_postgres_flipped_byte_and_wrong_key_change_nothing(pg: dict[str, str], tmp_path: Path) -> None:
    key = new_key()
    cfg = backup_config(tmp_path / "store", key)
    m = run_backup("pg", cfg, datasource(pg["src"])).manifest
    before = pg_content(pg["busy"])
    calls: list[str] = []

    def safety() -> str:
        calls.append("safety")
        return "x"

    target = DatabaseUrl.parse(pg["busy"])
    with pytest.raises(DecryptionError, match="wrong key"):
        restore_backup(
            open_storage(cfg), m, bytes.fromhex(new_key()), target, force=True,
            confirm_name=pg["busy_name"], safety_backup=safety,
        )  # fmt: skip
    assert pg_content(pg["busy"]) == before
    flip_byte(tmp_path / "store", m)
    with pytest.raises(IntegrityError, match="SHA-256"):
        restore_backup(
            open_storage(cfg), m, bytes.fromhex(key), target, force=True,
            confirm_name=pg["busy_name"], safety_backup=safety,
        )  # fmt: skip
    assert pg_content(pg["busy"]) == before
    assert calls == []  # not even a safety backup was taken: nothing was decided to be overwritten


@pytest.mark.parametrize("which", ["busy", "prod", "src"])
def test_postgres_production_like_targets_are_refused(pg: dict[str, str], tmp_path: Path, which: str) -> None:
    cfg = backup_config(tmp_path / "store")
    m = run_backup("pg", cfg, datasource(pg["src"])).manifest
    before = pg_content(pg[which])
    target = DatabaseUrl.parse(with_password(pg[which]))
    with pytest.raises(RestoreRefused) as info:
        restore_backup(open_storage(cfg), m, None, target, safety_backup=lambda: "x")
    text = str(info.value)
    assert "--force" in text
    assert f"--confirm-name {pg[which + '_name']}" in text
    assert PASSWORD not in text
    expected = {"busy": "already holds", "prod": "'prod'", "src": "own source"}[which]
    assert expected in text
    with pytest.raises(RestoreRefused, match="'wrong' was given"):
        restore_backup(open_storage(cfg), m, None, target, force=True, confirm_name="wrong",
                       safety_backup=lambda: "x")  # fmt: skip
    assert pg_content(pg[which]) == before


def test_postgres_forced_restore_keeps_a_restorable_safety_backup(pg: dict[str, str], tmp_path: Path) -> None:
    key = new_key()
    cfg = backup_config(tmp_path / "store", key)
    m = run_backup("pg", cfg, datasource(pg["src"])).manifest
    before = pg_content(pg["busy"])
    safety_cfg = backup_config(tmp_path / "safety", key)

    def safety() -> str:
        return run_backup("safety-busy", safety_cfg, datasource(pg["busy"])).manifest.backup_id

    target = DatabaseUrl.parse(pg["busy"])
    result = restore_backup(
        open_storage(cfg), m, bytes.fromhex(key), target, force=True, confirm_name=pg["busy_name"],
        safety_backup=safety,
    )  # fmt: skip
    assert result.ok
    assert result.safety_backup_id is not None
    assert result.observation().detail["safety_backup_id"] == result.safety_backup_id
    after = pg_content(pg["busy"])
    assert after["public.orders"] == pg_content(pg["src"])["public.orders"]
    assert after["public.keepme"] == before["public.keepme"]  # --clean drops only what the archive holds

    [safety_manifest] = list_backups(open_storage(safety_cfg), "safety-busy")
    assert safety_manifest.backup_id == result.safety_backup_id
    back = restore_backup(
        open_storage(safety_cfg), safety_manifest, bytes.fromhex(key), DatabaseUrl.parse(pg["new"])
    )
    assert back.ok
    assert pg_content(pg["new"]) == before


# -- MariaDB ------------------------------------------------------------------------------------------


def _my(db: str | None = None) -> Any:
    return pymysql.connect(
        host="127.0.0.1", port=3306, user="root", password="", database=db, autocommit=True
    )


def my_content(db: str) -> dict[str, tuple[int, str]]:
    conn = _my(db)
    out = {}
    with conn.cursor() as cur:
        cur.execute("SHOW TABLES")
        for (table,) in cur.fetchall():
            cur.execute(f"SELECT * FROM `{table}` ORDER BY 1")
            rows = cur.fetchall()
            out[str(table)] = (len(rows), rows_hash(rows))
    conn.close()
    return out


@pytest.fixture
def my(mysql_url: str) -> Iterator[dict[str, str]]:
    tag = uuid.uuid4().hex[:8]
    names = {"src": f"fd_rs_src_{tag}", "dst": f"fd_rs_dst_{tag}", "prod": f"shop_prod_{tag}"}
    conn = _my()
    with conn.cursor() as cur:
        for name in names.values():
            cur.execute(f"CREATE DATABASE `{name}`")
        cur.execute(f"USE `{names['src']}`")
        cur.execute("CREATE TABLE orders (id INT PRIMARY KEY, customer VARCHAR(40), note TEXT) ENGINE=InnoDB")
        cur.executemany(
            "INSERT INTO orders VALUES (%s, %s, %s)",
            [(i, f"c{i % 31}", 'it\'s "quoted" \\ ü' * (i % 3)) for i in range(1, 901)],
        )
    base = mysql_url.rsplit("/", 1)[0]
    yield {k: f"{base}/{v}" for k, v in names.items()} | {f"{k}_name": v for k, v in names.items()}
    with conn.cursor() as cur:
        for name in names.values():
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    conn.close()


def test_mariadb_restore_and_refusals(my: dict[str, str], tmp_path: Path) -> None:
    key = new_key()
    cfg = backup_config(tmp_path / "store", key)
    m = run_backup("my", cfg, datasource(my["src"])).manifest
    storage = open_storage(cfg)
    result = restore_backup(storage, m, bytes.fromhex(key), DatabaseUrl.parse(my["dst"]))
    assert result.ok
    assert result.actual_counts == {"orders": 900}
    assert my_content(my["dst_name"]) == my_content(my["src_name"])

    with pytest.raises(RestoreRefused, match="'prod'"):
        restore_backup(storage, m, bytes.fromhex(key), DatabaseUrl.parse(my["prod"]))
    with pytest.raises(RestoreRefused, match="own source"):
        restore_backup(
            storage, m, bytes.fromhex(key), DatabaseUrl.parse(my["src"]), safety_backup=lambda: "x"
        )
    with pytest.raises(DecryptionError):
        restore_backup(storage, m, bytes.fromhex(new_key()), DatabaseUrl.parse(my["prod"]), force=True,
                       confirm_name=my["prod_name"])  # fmt: skip
    assert my_content(my["prod_name"]) == {}
    # Forced into the (empty) prod-named database: restored, no safety backup needed for an empty one.
    forced = restore_backup(storage, m, bytes.fromhex(key), DatabaseUrl.parse(my["prod"]), force=True,
                            confirm_name=my["prod_name"])  # fmt: skip
    assert forced.ok
    assert forced.safety_backup_id is None
    assert my_content(my["prod_name"]) == my_content(my["src_name"])


# -- SQLite -------------------------------------------------------------------------------------------


def make_db(path: Path, rows: int, label: str) -> None:
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
        conn.executemany("INSERT INTO items VALUES (?, ?)", [(i, f"{label}-{i}") for i in range(rows)])
        conn.commit()


def sq_content(path: Path) -> tuple[int, str]:
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute("SELECT id, name FROM items ORDER BY id").fetchall()
    return len(rows), rows_hash(rows)


def test_sqlite_restore_flipped_byte_and_safety(tmp_path: Path) -> None:
    src, dst = tmp_path / "app.db", tmp_path / "copy.db"
    make_db(src, 300, "new")
    key = new_key()
    cfg = backup_config(tmp_path / "store", key)
    m = run_backup("app", cfg, datasource(f"sqlite:///{src}")).manifest
    result = restore_backup(open_storage(cfg), m, bytes.fromhex(key), DatabaseUrl.parse(f"sqlite:///{dst}"))
    assert result.ok
    assert sq_content(dst) == sq_content(src)

    make_db(tmp_path / "old.db", 5, "old")
    old = tmp_path / "old.db"
    before = sq_content(old)
    url = DatabaseUrl.parse(f"sqlite:///{old}")
    with pytest.raises(RestoreRefused, match=r"--confirm-name old\.db"):
        restore_backup(open_storage(cfg), m, bytes.fromhex(key), url, safety_backup=lambda: "x")
    safety_cfg = backup_config(tmp_path / "safety", key)
    safety = lambda: run_backup("safety-old", safety_cfg, datasource(f"sqlite:///{old}")).manifest.backup_id  # noqa: E731
    flip_byte(tmp_path / "store", m)
    with pytest.raises(IntegrityError):
        restore_backup(open_storage(cfg), m, bytes.fromhex(key), url, force=True, confirm_name="old.db",
                       safety_backup=safety)  # fmt: skip
    assert sq_content(old) == before
    assert list_backups(open_storage(safety_cfg), "safety-old") == []


def _cli_config(tmp_path: Path, key: str) -> Path:
    make_db(tmp_path / "app.db", 77, "v")
    path = tmp_path / "flightdeck.yaml"
    path.write_text(
        "store: {state_dir: state}\nservices:\n  shop: {}\ndatasources:\n  app:\n"
        f"    url: sqlite:///{tmp_path / 'app.db'}\n"
        "backups:\n  appdb:\n    service: shop\n    datasource: app\n"
        f"    encryption:\n      key: {key}\n    storage:\n      path: store\n"
    )
    return path


def test_cli_restore_exit_codes_and_no_password(
    tmp_path: Path, pg: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLIGHTDECK_DATABASE_URL", raising=False)
    key = new_key()
    config = _cli_config(tmp_path, key)
    ran = runner.invoke(main_app, ["backup", "run", "appdb", "-c", str(config), "--json"])
    assert ran.exit_code == 0, ran.output
    backup_id = json.loads(ran.stdout)["manifest"]["backup_id"]

    fresh = tmp_path / "fresh.db"
    ok = runner.invoke(
        main_app, ["restore", backup_id, "--to", f"sqlite:///{fresh}", "-c", str(config), "--json"]
    )
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["ok"] is True
    assert sq_content(fresh) == sq_content(tmp_path / "app.db")

    unknown = runner.invoke(main_app, ["restore", "nope", "--to", f"sqlite:///{fresh}", "-c", str(config)])
    assert unknown.exit_code == 2

    pg_url = with_password(pg["busy"])
    refused = runner.invoke(main_app, ["backup", "restore", backup_id, "--to", pg_url, "-c", str(config)])
    assert refused.exit_code == 2
    assert PASSWORD not in refused.output

    # The app's own file, forced with the typed name: a safety backup is made with the configured backup.
    forced = runner.invoke(
        main_app,
        ["restore", backup_id, "--to", f"sqlite:///{tmp_path / 'app.db'}", "--force", "--confirm-name",
         "app.db", "-c", str(config), "--json"],
    )  # fmt: skip
    assert forced.exit_code == 0, forced.output
    safety_id = json.loads(forced.stdout)["safety_backup_id"]
    listed = runner.invoke(main_app, ["backup", "list", "appdb", "-c", str(config), "--json"])
    assert safety_id in [m["backup_id"] for m in json.loads(listed.stdout)]

    # An occupied target that is no configured datasource: the safety backup goes to --safety-dir.
    make_db(tmp_path / "other.db", 3, "o")
    other = runner.invoke(
        main_app,
        ["restore", backup_id, "--to", f"sqlite:///{tmp_path / 'other.db'}", "--force", "--confirm-name",
         "other.db", "--safety-dir", str(tmp_path / "sb"), "-c", str(config), "--json"],
    )  # fmt: skip
    assert other.exit_code == 0, other.output
    sid = json.loads(other.stdout)["safety_backup_id"]
    [sm] = list_backups(open_storage(backup_config(tmp_path / "sb")), "safety-other.db")
    assert sm.backup_id == sid
    assert sm.table_counts == {"items": 3}

    data = next((tmp_path / "store" / "appdb" / backup_id).glob("data.*"))
    blob = bytearray(data.read_bytes())
    blob[-1] ^= 0xFF
    data.write_bytes(bytes(blob))
    bad = runner.invoke(
        main_app, ["restore", backup_id, "--to", f"sqlite:///{tmp_path / 'x.db'}", "-c", str(config)]
    )
    assert bad.exit_code == 1
    assert not (tmp_path / "x.db").exists()
