"""The command line, run as a user runs it: a real subprocess."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


def run(args: list[str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("FLIGHTDECK_") or k == "FLIGHTDECK_REQUIRE_SERVICES"
    }
    return subprocess.run(
        [sys.executable, "-m", "flightdeck", *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def listener() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock.getsockname()[1]
    sock.close()


@pytest.fixture
def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


def write_config(tmp_path: Path, up: int, down: int) -> Path:
    path = tmp_path / "flightdeck.yaml"
    path.write_text(f"""\
services:
  payments:
    checks:
      - {{name: up, kind: tcp, host: 127.0.0.1, port: {up}}}
      - {{name: down, kind: tcp, host: 127.0.0.1, port: {down}}}
  web:
    checks:
      - {{name: up, kind: tcp, host: 127.0.0.1, port: {up}}}
""")
    return path


def test_validate_reports_the_line_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / "flightdeck.yaml").write_text(
        "services:\n  payments:\n    checks:\n      - {name: a, kind: tcp, host: h, port: 99999}\n"
    )
    result = run(["config", "validate"], tmp_path)
    assert result.returncode == 2
    assert (
        "flightdeck.yaml:4: services.payments.checks[0].port: must be less than or equal to 65535"
        in result.stderr
    )
    as_json = run(["config", "validate", "--json"], tmp_path)
    assert as_json.returncode == 2
    payload = json.loads(as_json.stdout)
    assert payload["valid"] is False
    assert payload["errors"][0]["line"] == 4
    assert payload["errors"][0]["path"] == "services.payments.checks[0].port"


def test_validate_ok(tmp_path: Path, listener: int, closed_port: int) -> None:
    write_config(tmp_path, listener, closed_port)
    result = run(["config", "validate", "--json"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "valid": True,
        "file": "flightdeck.yaml",
        "services": 2,
        "checks": 3,
        "datasources": 0,
    }


def test_missing_config_is_a_usage_error(tmp_path: Path) -> None:
    result = run(["check", "run"], tmp_path)
    assert result.returncode == 2
    assert "no configuration file" in result.stderr


def test_check_run_exit_codes_json_and_evidence(tmp_path: Path, listener: int, closed_port: int) -> None:
    write_config(tmp_path, listener, closed_port)
    ok = run(["check", "run", "web", "--json"], tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert [r["verdict"] for r in json.loads(ok.stdout)["results"]] == ["pass"]

    everything = run(["check", "run", "--json"], tmp_path)
    assert everything.returncode == 1
    results = json.loads(everything.stdout)["results"]
    assert {r["subject"]: r["verdict"] for r in results} == {
        "payments/up": "pass",
        "payments/down": "error",
        "web/up": "pass",
    }
    down_id = next(r["id"] for r in results if r["subject"] == "payments/down")

    table = run(["check", "run", "payments/down"], tmp_path)
    assert table.returncode == 1
    assert "connection refused" in table.stdout
    assert "0 of 1 passed" in table.stdout

    listed = json.loads(run(["evidence", "list", "--json", "--check", "payments/down"], tmp_path).stdout)
    assert [e["verdict"] for e in listed["items"]] == ["error", "error"]
    shown = json.loads(run(["evidence", "show", str(down_id), "--json"], tmp_path).stdout)
    assert shown["summary"] == f"127.0.0.1:{closed_port}: connection refused"
    assert shown["trigger"] == "manual"

    checks = json.loads(run(["check", "list", "--json"], tmp_path).stdout)["checks"]
    assert {c["subject"]: c["verdict"] for c in checks}["payments/down"] == "error"


def test_no_record_writes_nothing(tmp_path: Path, listener: int, closed_port: int) -> None:
    write_config(tmp_path, listener, closed_port)
    assert run(["check", "run", "web/up", "--no-record"], tmp_path).returncode == 0
    listed = json.loads(run(["evidence", "list", "--json"], tmp_path).stdout)
    assert listed["items"] == []


def test_unknown_check_name_is_a_usage_error(tmp_path: Path, listener: int, closed_port: int) -> None:
    write_config(tmp_path, listener, closed_port)
    result = run(["check", "run", "nope/none"], tmp_path)
    assert result.returncode == 2
    assert "no check matches 'nope/none'" in result.stderr


def test_evidence_show_unknown_id(tmp_path: Path) -> None:
    result = run(["evidence", "show", "999"], tmp_path)
    assert result.returncode == 2
    assert "no evidence record 999" in result.stderr


def test_version() -> None:
    from flightdeck import __version__

    result = run(["--version"], Path.cwd())
    assert result.stdout.strip() == f"flightdeck {__version__}"
