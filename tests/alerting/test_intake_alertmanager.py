"""The real Alertmanager (Debian's ``prometheus-alertmanager``) posting to flightdeck's intake.

Alertmanager runs on loopback with a webhook receiver pointing at a running flightdeck server
(uvicorn, port 0) and an operator token in its ``http_config``. Alerts posted to Alertmanager's
API arrive in flightdeck's store as firing alerts; the same alerts posted again with an end in the
past arrive as resolved. Skipped when the binary is missing, unless FLIGHTDECK_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from sqlalchemy import select

from flightdeck.access import Role, create_token
from flightdeck.alerting.alerts import AlertRow
from flightdeck.alerting.model import AlertSource, AlertState
from flightdeck.config import load_config_text
from flightdeck.config.alerting import Severity
from flightdeck.store import Store
from flightdeck.store.tables import alerts
from tests.conftest import REQUIRE_SERVICES
from tests.web.live import serving

pytestmark = pytest.mark.slow

BINARY = Path("/usr/bin/prometheus-alertmanager")
DEADLINE = 60.0  # seconds to wait for Alertmanager to deliver (it runs on its own timers)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, probe: Callable[[], bool], proc: subprocess.Popen[bytes], log: Path) -> None:
    """Poll ``probe`` until it holds; fail with Alertmanager's log if it never does."""
    give_up = time.monotonic() + DEADLINE
    while time.monotonic() < give_up:
        if probe():
            return
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    pytest.fail(f"{what}: not seen within {DEADLINE:g} s\n{log.read_text()[-4000:]}")


@pytest.fixture
def alertmanager_binary() -> Path:
    if not BINARY.exists():
        if REQUIRE_SERVICES:
            pytest.fail(
                f"{BINARY} is missing and FLIGHTDECK_REQUIRE_SERVICES=1 (apt-get install prometheus-alertmanager)"
            )
        pytest.skip(f"{BINARY} is missing (apt-get install prometheus-alertmanager)")
    return BINARY


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[str, Store, str]]:
    """A running flightdeck server over a SQLite store on the system clock, and an operator token."""
    store = Store(f"sqlite:///{tmp_path / 'flightdeck.db'}")
    store.migrate()
    config = load_config_text(f"store:\n  state_dir: {tmp_path / 'state'}\n", "flightdeck.yaml", env={})
    token, _ = create_token(store, "alertmanager", Role.OPERATOR)
    with serving(config, store) as url:
        yield url, store, token
    store.dispose()


def alertmanager_config(url: str, token: str) -> str:
    return (
        "route:\n"
        "  receiver: flightdeck\n"
        "  group_by: [alertname]\n"
        "  group_wait: 0s\n"
        "  group_interval: 1s\n"
        "  repeat_interval: 1h\n"
        "receivers:\n"
        "  - name: flightdeck\n"
        "    webhook_configs:\n"
        f"      - url: {url}/api/v1/intake/alertmanager\n"
        "        send_resolved: true\n"
        "        http_config:\n"
        "          authorization:\n"
        "            type: Bearer\n"
        f"            credentials: {token}\n"
    )


@pytest.fixture
def alertmanager(
    alertmanager_binary: Path, live: tuple[str, Store, str], tmp_path: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    url, _, token = live
    folder = tmp_path / "am"
    folder.mkdir()
    (folder / "alertmanager.yml").write_text(alertmanager_config(url, token))
    port = free_port()
    log = folder / "alertmanager.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(alertmanager_binary),
                f"--config.file={folder / 'alertmanager.yml'}",
                f"--storage.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
                "--log.level=debug",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{base}/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for("Alertmanager ready", ready, proc, log)
        yield base, proc, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def stored(store: Store) -> list[AlertRow]:
    with store.engine.connect() as conn:
        return [AlertRow.from_row(r) for r in conn.execute(select(alerts).order_by(alerts.c.id)).mappings()]


def post_alerts(base: str, items: list[dict[str, Any]]) -> None:
    response = httpx.post(f"{base}/api/v2/alerts", json=items, timeout=5)
    assert response.status_code == 200, response.text


def test_real_alertmanager_fires_and_resolves_through_the_webhook(
    live: tuple[str, Store, str], alertmanager: tuple[str, subprocess.Popen[bytes], Path]
) -> None:
    _, store, _ = live
    base, proc, log = alertmanager
    started = datetime.now(UTC) - timedelta(minutes=1)
    items = [
        {
            "labels": {
                "alertname": "CheckoutDown",
                "job": "checkout",
                "severity": "critical",
                "instance": "a",
            },
            "annotations": {"summary": "checkout is down", "runbook_url": "https://wiki.example.com/down"},
            "startsAt": started.isoformat(),
            "generatorURL": "http://prometheus.example.com/graph",
        },
        {
            "labels": {
                "alertname": "CheckoutDown",
                "job": "checkout",
                "severity": "warning",
                "instance": "b",
            },
            "annotations": {"description": "one replica down"},
            "startsAt": started.isoformat(),
        },
    ]
    post_alerts(base, items)
    wait_for("two firing alerts in flightdeck", lambda: len(stored(store)) == 2, proc, log)
    by_instance = {a.labels["instance"]: a for a in stored(store)}
    a, b = by_instance["a"], by_instance["b"]
    assert a.source is AlertSource.ALERTMANAGER
    assert (a.rule, a.severity, a.service, a.state) == (
        "CheckoutDown",
        Severity.P1,
        "checkout",
        AlertState.FIRING,
    )
    assert (a.summary, a.runbook) == ("checkout is down", "https://wiki.example.com/down")
    assert a.annotations["generator_url"] == "http://prometheus.example.com/graph"
    assert (b.severity, b.summary) == (Severity.P3, "one replica down")
    # Alertmanager 0.25 sends Go's zero time as the endsAt of a firing alert (no expiry); an endsAt in
    # the future would be kept, so that an alert no longer sent resolves by itself.
    assert a.ends_at is None or a.ends_at > datetime.now(UTC)

    ended = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    post_alerts(base, [{**items[0], "endsAt": ended}])

    def resolved() -> bool:
        states = {x.labels["instance"]: x.state for x in stored(store)}
        return states == {"a": AlertState.RESOLVED, "b": AlertState.FIRING}

    wait_for("alert a resolved, b still firing", resolved, proc, log)
    assert "status=401" not in log.read_text()
