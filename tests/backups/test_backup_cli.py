from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flightdeck.cli.backup_cmd import app
from tests.backups.helpers import new_key

runner = CliRunner()


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    with closing(sqlite3.connect(tmp_path / "app.db")) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        conn.executemany("INSERT INTO t (v) VALUES (?)", [(f"v{i}",) for i in range(77)])
        conn.commit()
    monkeypatch.setenv("BACKUP_KEY", new_key())
    monkeypatch.delenv("FLIGHTDECK_DATABASE_URL", raising=False)
    path = tmp_path / "flightdeck.yaml"
    path.write_text(
        "store: {state_dir: state}\n"
        "services:\n"
        "  shop: {}\n"
        "datasources:\n"
        "  app:\n"
        "    url: sqlite:///" + str(tmp_path / "app.db") + "\n"
        "backups:\n"
        "  appdb:\n"
        "    service: shop\n"
        "    datasource: app\n"
        "    encryption:\n"
        "      key: ${BACKUP_KEY}\n"
        "    storage:\n"
        "      path: store\n"
    )
    return path


def test_run_list_verify(config: Path, tmp_path: Path) -> None:
    ran = runner.invoke(app, ["run", "appdb", "--config", str(config), "--json"])
    assert ran.exit_code == 0, ran.output
    manifest = json.loads(ran.stdout)["manifest"]
    assert manifest["table_counts"] == {"t": 77}
    assert (tmp_path / "store" / "appdb" / manifest["backup_id"] / "manifest.json").is_file()

    listed = runner.invoke(app, ["list", "appdb", "-c", str(config), "--json"])
    assert [m["backup_id"] for m in json.loads(listed.stdout)] == [manifest["backup_id"]]

    ok = runner.invoke(app, ["verify", manifest["backup_id"], "-c", str(config), "--deep", "--json"])
    assert ok.exit_code == 0
    assert json.loads(ok.stdout)["ok"] is True

    data = tmp_path / "store" / manifest["artifacts"][0]["key"]
    blob = bytearray(data.read_bytes())
    blob[-1] ^= 0xFF
    data.write_bytes(bytes(blob))
    bad = runner.invoke(app, ["verify", manifest["backup_id"], "-c", str(config), "--json"])
    assert bad.exit_code == 1
    assert "SHA-256" in json.loads(bad.stdout)["error"]


def test_configuration_errors_have_lines(config: Path) -> None:
    config.write_text(config.read_text().replace("service: shop", "service: shop\n    compression_level: 99"))
    result = runner.invoke(app, ["run", "appdb", "-c", str(config)])
    assert result.exit_code == 2
    assert "backups.appdb.compression_level" in result.output


def test_prune_keeps_what_the_policy_says_and_never_the_newest_verified(config: Path, tmp_path: Path) -> None:
    config.write_text(config.read_text() + "    retention: {keep_last: 2}\n")
    ids = []
    for _ in range(4):
        ran = runner.invoke(app, ["run", "appdb", "-c", str(config), "--json"])
        assert ran.exit_code == 0, ran.output
        ids.append(json.loads(ran.stdout)["manifest"]["backup_id"])
    newest = ids[-1]
    # The newest backup's data is damaged: it no longer verifies, so the newest *verified* one is ids[-2].
    listed = json.loads(runner.invoke(app, ["list", "appdb", "-c", str(config), "--json"]).stdout)
    by_id = {m["backup_id"]: m for m in listed}
    data = tmp_path / "store" / by_id[newest]["artifacts"][0]["key"]
    data.write_bytes(data.read_bytes()[:-1] + bytes([data.read_bytes()[-1] ^ 0xFF]))
    config.write_text(config.read_text().replace("keep_last: 2", "keep_last: 1"))

    dry = runner.invoke(app, ["prune", "appdb", "-c", str(config), "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    plan = json.loads(dry.stdout)["plan"]
    assert json.loads(dry.stdout)["deleted"] == []
    assert len(json.loads(runner.invoke(app, ["list", "appdb", "-c", str(config), "--json"]).stdout)) == 4

    done = runner.invoke(app, ["prune", "appdb", "-c", str(config), "--json"])
    assert done.exit_code == 0, done.output
    deleted = json.loads(done.stdout)["deleted"]
    assert sorted(deleted) == sorted(ids[:2])
    remaining = [
        m["backup_id"]
        for m in json.loads(runner.invoke(app, ["list", "appdb", "-c", str(config), "--json"]).stdout)
    ]
    assert sorted(remaining) == sorted([newest, ids[-2]])  # last 1, and the newest verified
    reasons = {k["id"]: k["reasons"] for k in plan["kept"]}
    assert reasons[ids[-2]] == ["newest verified backup"]
    assert "last 1" in reasons[newest]
    assert sorted(r["id"] for r in plan["removed"]) == sorted(ids[:2])
    for backup_id in deleted:
        assert not (tmp_path / "store" / "appdb" / backup_id / "manifest.json").exists()


def test_prune_without_a_policy_is_a_usage_error(config: Path) -> None:
    result = runner.invoke(app, ["prune", "appdb", "-c", str(config)])
    assert result.exit_code == 2
    assert "has no retention policy" in result.output
