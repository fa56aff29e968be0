"""The demo estate on disk: configuration, secrets, ports, the service process and the CLI around it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flightdeck.access.users import authenticate_password
from flightdeck.cli.main import app
from flightdeck.config import known_kinds, load_config
from flightdeck.demo.config import config_values, render_config
from flightdeck.demo.errors import DemoBusyError, DemoNotPreparedError
from flightdeck.demo.estate import Estate
from flightdeck.demo.process import pid_alive
from flightdeck.demo.run import ADMIN_USER, ensure_admin
from flightdeck.demo.servers import LocalServer, ServerKind, probe_servers
from flightdeck.payments.ledger import generate_keypair
from flightdeck.store import Store
from tests.conftest import need_service

FLIGHTDECK = [sys.executable, "-m", "flightdeck"]


@pytest.fixture
def estate(tmp_path: Path) -> Iterator[Estate]:
    e = Estate(tmp_path / "demo")
    yield e
    e.stop_service()


def _prepare(estate: Estate) -> None:
    estate.prepare(cockpit_port=0, service_port=0, service_https_port=0, chaos_every=0, probe=False)


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


def _cli(*args: str, estate: Estate) -> Done:
    """``flightdeck demo ARGS --dir ...`` in this process (the subprocess test below covers the
    console script itself)."""
    result = CliRunner().invoke(app, ["demo", *args, "--dir", str(estate.dir)])
    return Done(result.exit_code, result.stdout, result.stderr)


def _flat(text: str) -> str:
    """Terminal output without the line breaks Rich adds at its width."""
    return " ".join(text.split())


# -- configuration -------------------------------------------------------------------------------


def _all_servers() -> list[LocalServer]:
    return [LocalServer(k, f"X_{k.upper()}_URL", f"{k}://127.0.0.1/x", "", True, "") for k in ServerKind]


def test_demo_configuration_uses_every_check_kind(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("not read by validation of this test's kinds\n")
    values = config_values(
        cockpit_port=8450,
        service_http_port=8460,
        service_https_port=8461,
        ca_file=tmp_path / "ca.pem",
        payments_db=tmp_path / "payments.db",
        servers=_all_servers(),
    )
    path = tmp_path / "demo.yaml"
    path.write_text(render_config(values, enabled={k.value for k in ServerKind}))
    generate_keypair(tmp_path, "ledger-signing")  # the estate makes the ledger's signing key
    (tmp_path / "backup.key").write_text("ab" * 32 + "\n")  # and the backups' key
    (tmp_path / "admin-token").write_text("demo-admin-token\n")  # and the service's admin token
    config = load_config(path, env={})
    kinds = {check.kind for _, check in config.iter_checks()}
    # Tests register kinds of their own ("test-…") in the same registry; the demo covers the built-in
    # ones, except the gateway drill: the demo runs it in a throwaway estate of its own, not on a schedule.
    # Nor the experiment kind: the demo's experiment takes its database down, so it is run by hand.
    builtin = {kind for kind in known_kinds() if not kind.startswith("test-")}
    builtin -= {"gateway_drill", "experiment"}
    assert kinds == builtin, "the demo should show every check kind that runs locally"
    # Short intervals: statuses within a minute, an outage red within one interval.
    assert config.defaults.interval <= 15
    assert all((c.interval or config.defaults.interval) <= 60 for _, c in config.iter_checks())


def test_server_blocks_are_kept_only_for_reachable_servers() -> None:
    template = "a: 1\n# @if redis\nr: @REDIS_URL@\n# @end\n# @if postgres\np: @POSTGRES_URL@\n# @end\n"
    assert render_config({"REDIS_URL": "x"}, {"redis"}, template) == "a: 1\nr: x\n"
    assert render_config({}, set(), template) == "a: 1\n"
    with pytest.raises(KeyError, match="POSTGRES_URL"):
        render_config({}, {"postgres"}, template)


def test_database_urls_stay_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLIGHTDECK_DEMO_REDIS_URL", "redis://:s3cret-pw@127.0.0.1:1/0")
    (server,) = probe_servers(timeout=1, kinds=(ServerKind.REDIS,))
    assert not server.available
    assert server.reason
    assert "s3cret-pw" not in server.display_url + server.reason
    assert server.config_url == "${FLIGHTDECK_DEMO_REDIS_URL:-redis://127.0.0.1:6379/0}"


@pytest.mark.services
def test_reachable_servers_are_watched(estate: Estate) -> None:
    need_service("PostgreSQL", "127.0.0.1", 5432)
    need_service("MariaDB", "127.0.0.1", 3306)
    need_service("Redis", "127.0.0.1", 6379)
    os.environ.pop("FLIGHTDECK_DEMO_POSTGRES_URL", None)
    state, servers = estate.prepare(cockpit_port=0, service_port=0, service_https_port=0, chaos_every=0)
    assert {s.kind for s in servers if s.available} == set(ServerKind), [s.reason for s in servers]
    assert set(state.servers) == set(ServerKind)
    config = load_config(estate.config_file)
    assert {"postgres", "mariadb", "redis"} <= set(config.services)


def test_prepare_writes_a_valid_configuration_and_private_secrets(estate: Estate) -> None:
    _prepare(estate)
    state = estate.load()
    config = load_config(estate.config_file)
    ports = {state.ports.cockpit, state.ports.service_http, state.ports.service_https}
    assert len(ports) == 3
    assert config.server.port == state.ports.cockpit
    assert config.server.bind == "127.0.0.1"
    # The demo's store is its own SQLite file in the demo folder.
    assert config.store.state_dir == estate.dir
    for secret in (estate.token_file, estate.certs_dir / "server-key.pem"):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600, secret
    assert stat.S_IMODE(estate.dir.stat().st_mode) == 0o700
    assert estate.token_file.read_text().strip() not in estate.config_file.read_text()

    # A second start keeps ports, token and certificates.
    token = estate.token_file.read_text()
    cert = (estate.certs_dir / "server.pem").read_bytes()
    estate.prepare(chaos_every=0, probe=False)
    assert estate.load().ports == state.ports
    assert estate.token_file.read_text() == token
    assert (estate.certs_dir / "server.pem").read_bytes() == cert


def test_one_demo_per_folder(estate: Estate) -> None:
    with estate.lock(), pytest.raises(DemoBusyError, match=str(os.getpid())), Estate(estate.dir).lock():
        pass


def test_admin_user_gets_a_generated_password_kept_across_starts(estate: Estate) -> None:
    estate.dir.mkdir(parents=True)
    store = Store(estate.store_url)
    store.migrate()
    try:
        password = ensure_admin(store, estate.password_file)
        assert len(password.reveal()) >= 16
        assert stat.S_IMODE(estate.password_file.stat().st_mode) == 0o600
        assert authenticate_password(store, ADMIN_USER, password).role.value == "admin"
        assert ensure_admin(store, estate.password_file) == password
        # A lost password file means a new password, and the old one stops working.
        estate.password_file.unlink()
        fresh = ensure_admin(store, estate.password_file)
        assert fresh != password
        authenticate_password(store, ADMIN_USER, fresh)
    finally:
        store.dispose()


# -- the service process ------------------------------------------------------------------------


def test_service_stops_and_starts_as_a_separate_process(estate: Estate) -> None:
    _prepare(estate)
    status = estate.start_service()
    assert status.running
    assert status.healthy
    assert status.pid is not None
    assert status.pid != os.getpid()
    assert os.getsid(status.pid) == status.pid  # its own session: a terminal's Ctrl-C is not for it
    assert estate.pid_file.read_text().strip() == str(status.pid)

    assert estate.stop_service() is True
    assert not pid_alive(status.pid)
    assert not estate.pid_file.exists()
    assert not estate.service_status().running
    assert estate.stop_service() is False

    again = estate.start_service()
    assert again.healthy
    assert again.pid != status.pid
    assert estate.start_service().pid == again.pid  # already running: left alone


def test_a_stale_pid_file_is_never_acted_on(estate: Estate) -> None:
    _prepare(estate)
    estate.pid_file.write_text(f"{os.getpid()}\n")  # alive, but not the demo service
    assert not estate.service_status().running
    assert estate.stop_service() is False
    assert pid_alive(os.getpid(), marker=None)


def test_a_service_that_cannot_start_is_reported_with_its_log(estate: Estate) -> None:
    _prepare(estate)
    state = estate.load()
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", state.ports.service_https))
        busy.listen()
        with pytest.raises(Exception, match="exited") as info:
            estate.start_service(timeout=20)
    assert "Address already in use" in str(info.value)
    assert not estate.pid_file.exists()


# -- the CLI around it ----------------------------------------------------------------------------


@pytest.mark.slow
def test_cli_service_status_stop_start_and_faults(estate: Estate) -> None:
    _prepare(estate)
    estate.start_service()

    done = _cli("service", "status", "--json", estate=estate)
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["running"] is True
    assert status["healthy"] is True

    done = _cli("fault", "drift", "--json", estate=estate)
    assert done.returncode == 3  # no wallet yet: the service refuses, the CLI says why
    assert "no wallet exists yet" in _flat(done.stderr)
    done = _cli("fault", "errors", "--for", "10m", "--json", estate=estate)
    assert done.returncode == 0, done.stderr
    fault = json.loads(done.stdout)["fault"]
    assert fault["active"] is True
    assert fault["until"] - fault["since"] == 600
    listing = json.loads(_cli("fault", "--json", estate=estate).stdout)["faults"]
    assert {f["name"]: f["active"] for f in listing} == {
        "latency": False,
        "errors": True,
        "drift": False,
        "stuck": False,
        "database": False,
    }
    done = _cli("fault", "errors", "--off", estate=estate)
    assert done.returncode == 0
    assert "fault errors off" in done.stdout

    done = _cli("service", "stop", "--json", estate=estate)
    assert json.loads(done.stdout)["action"] == "stopped"
    done = _cli("service", "status", estate=estate)
    assert done.returncode == 1
    assert "stopped" in done.stdout
    done = _cli("fault", "--json", estate=estate)
    assert done.returncode == 3
    assert "cannot reach the demo service" in _flat(done.stderr)
    done = _cli("service", "start", "--json", estate=estate)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["healthy"] is True


def test_cli_without_a_prepared_demo_says_what_to_do(tmp_path: Path) -> None:
    done = subprocess.run(
        [*FLIGHTDECK, "demo", "service", "status", "--dir", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "run `flightdeck demo` first" in _flat(done.stderr)
    with pytest.raises(DemoNotPreparedError):
        Estate(tmp_path / "none").load()
