"""``flightdeck ledger`` end to end with a real configuration file, a SQLite ledger, checkpoints in a
folder and in S3 (moto's server on 127.0.0.1)."""

from __future__ import annotations

import json
import socket
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer
from typer.testing import CliRunner

from flightdeck.cli.main import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLIGHTDECK_DATABASE_URL", raising=False)
    monkeypatch.delenv("FLIGHTDECK_CONFIG", raising=False)


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="audit")
    yield endpoint
    server.stop()


def make_ledger(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE entries (id INTEGER PRIMARY KEY, tx TEXT, account TEXT, amount_cents INTEGER, "
            "booked_at TIMESTAMP)"
        )
        conn.executemany(
            "INSERT INTO entries VALUES (?, ?, ?, ?, ?)",
            [
                (
                    i,
                    f"t{(i + 1) // 2}",
                    "a" if i % 2 else "b",
                    100 * i if i % 2 else -100 * (i - 1),
                    "2026-03-01 09:00:00",
                )
                for i in range(1, 21)
            ],
        )


def write_config(tmp_path: Path, s3_endpoint: str | None = None) -> Path:
    s3 = (
        f"      checkpoint_s3: s3://audit/ledgers\n      s3_endpoint_url: {s3_endpoint}\n"
        if s3_endpoint
        else ""
    )
    path = tmp_path / "flightdeck.yaml"
    path.write_text(
        f"""\
services:
  payments: {{}}
store:
  state_dir: {tmp_path / "state"}
datasources:
  books: {{url: "sqlite:///{tmp_path / "books.db"}"}}
payments:
  ledgers:
    main:
      service: payments
      datasource: books
      table: entries
      columns: [id, tx, account, amount_cents, booked_at]
      transaction_column: tx
      amount_column: amount_cents
      signing_key_file: keys/ledger-signing.key
      checkpoint_dir: checkpoints
{s3}"""
    )
    return path


def test_keygen_anchor_verify_and_tampering(tmp_path: Path, s3_endpoint: str) -> None:
    make_ledger(tmp_path / "books.db")
    keygen = runner.invoke(app, ["ledger", "keygen", "--out", str(tmp_path / "keys")])
    assert keygen.exit_code == 0, keygen.output
    private = tmp_path / "keys" / "ledger-signing.key"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert "PRIVATE KEY" in private.read_text()
    again = runner.invoke(app, ["ledger", "keygen", "--out", str(tmp_path / "keys")])
    assert again.exit_code == 3
    assert "not overwriting" in again.output

    config = write_config(tmp_path, s3_endpoint)
    anchored = runner.invoke(app, ["ledger", "anchor", "main", "-c", str(config), "--json"])
    assert anchored.exit_code == 0, anchored.output
    payload = json.loads(anchored.stdout)
    assert payload["detail"]["seq"] == 20
    assert payload["detail"]["checkpoint_seq"] == 20
    assert private.read_text() not in anchored.output  # the key is never printed
    uris = payload["detail"]["checkpoint_uris"]
    assert uris[1] == "s3://audit/ledgers/main/checkpoint-000000000000020.json"
    assert (tmp_path / "checkpoints" / "main" / "checkpoint-000000000000020.json").exists()

    verified = runner.invoke(app, ["ledger", "verify", "main", "-c", str(config), "--json"])
    assert verified.exit_code == 0, verified.output
    result = json.loads(verified.stdout)
    assert result["ok"] is True
    states = {c["where"]: c["state"] for c in result["detail"]["checkpoints"]}
    assert states == {uris[0]: "ok", uris[1]: "ok", "store": "ok"}

    with sqlite3.connect(tmp_path / "books.db") as conn:
        conn.execute("UPDATE entries SET amount_cents = amount_cents + 1 WHERE id = 7")
    tampered = runner.invoke(app, ["ledger", "verify", "main", "-c", str(config)])
    assert tampered.exit_code == 1
    assert "first modified row: key 7 (chain seq 7)" in tampered.output
    assert "transaction t4 does not balance" in tampered.output


def test_an_s3_copy_alone_catches_a_rewritten_folder(tmp_path: Path, s3_endpoint: str) -> None:
    make_ledger(tmp_path / "books.db")
    runner.invoke(app, ["ledger", "keygen", "--out", str(tmp_path / "keys")])
    config = write_config(tmp_path, s3_endpoint)
    assert runner.invoke(app, ["ledger", "anchor", "main", "-c", str(config)]).exit_code == 0
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    key = "ledgers/main/checkpoint-000000000000020.json"
    body = json.loads(s3.get_object(Bucket="audit", Key=key)["Body"].read())
    body["checkpoint"]["seq"] = 19
    s3.put_object(Bucket="audit", Key=key, Body=json.dumps(body).encode())
    result = runner.invoke(app, ["ledger", "verify", "main", "-c", str(config), "--json"])
    assert result.exit_code == 1
    states = {c["where"]: c["state"] for c in json.loads(result.stdout)["detail"]["checkpoints"]}
    assert states[f"s3://audit/{key}"] == "bad_signature"


def test_configuration_mistakes_exit_2(tmp_path: Path) -> None:
    make_ledger(tmp_path / "books.db")
    runner.invoke(app, ["ledger", "keygen", "--out", str(tmp_path / "keys")])
    config = write_config(tmp_path)
    unknown = runner.invoke(app, ["ledger", "verify", "nope", "-c", str(config)])
    assert unknown.exit_code == 2
    assert "no ledger named 'nope'" in unknown.output
    trigger = runner.invoke(app, ["ledger", "install-trigger", "main", "-c", str(config)])
    assert trigger.exit_code == 2
    assert "for PostgreSQL" in trigger.output
    bad = config.read_text().replace("columns: [id,", 'columns: ["id; DROP TABLE entries",')
    config.write_text(bad)
    injected = runner.invoke(app, ["ledger", "anchor", "main", "-c", str(config)])
    assert injected.exit_code in (2, 3)
    assert sqlite3.connect(tmp_path / "books.db").execute("SELECT COUNT(*) FROM entries").fetchone() == (20,)


def test_a_checkpoint_deleted_from_one_export_place_is_missing(tmp_path: Path, s3_endpoint: str) -> None:
    make_ledger(tmp_path / "books.db")
    runner.invoke(app, ["ledger", "keygen", "--out", str(tmp_path / "keys")])
    config = write_config(tmp_path, s3_endpoint)
    assert runner.invoke(app, ["ledger", "anchor", "main", "-c", str(config)]).exit_code == 0
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.delete_object(Bucket="audit", Key="ledgers/main/checkpoint-000000000000020.json")
    result = runner.invoke(app, ["ledger", "verify", "main", "-c", str(config), "--json"])
    assert result.exit_code == 1
    states = {c["where"]: c["state"] for c in json.loads(result.stdout)["detail"]["checkpoints"]}
    assert states == {
        str(tmp_path / "checkpoints" / "main" / "checkpoint-000000000000020.json"): "ok",
        "store": "ok",
        "s3://audit/ledgers/main/": "missing",
    }
