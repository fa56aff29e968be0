"""The cockpit's pages, server-rendered: overview, check, service, evidence, access."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from flightdeck.access import Role
from flightdeck.clock import FakeClock
from flightdeck.config import load_config_text
from flightdeck.config.models import Config
from flightdeck.store import Store
from flightdeck.web.app import create_app
from tests.web.conftest import AppClient, log_in, run_all
from tests.web.estate import closed_port, estate_config, seed
from tests.web.target import running_target


def rows(html: str) -> list[str]:
    """The check links of a page's checks table, in order."""
    return re.findall(r'class="check-link" href="/checks/([^"]+)"', html)


def test_overview_lists_failing_checks_first(
    client: TestClient, store: Store, config: Config, users: dict[Role, str]
) -> None:
    run_all(config, store)
    log_in(client, "viewer")
    page = client.get("/")
    assert page.status_code == 200
    assert rows(page.text) == ["web/down", "api/up", "web/up"]
    assert 'data-refresh="15"' in page.text  # server.refresh_seconds
    assert re.search(r'chip-failing.*?chip-n">1<', page.text, re.S)
    assert re.search(r'chip-passing.*?chip-n">2<', page.text, re.S)
    assert "connection refused" in page.text
    assert rows(client.get("/?status=failing").text) == ["web/down"]
    assert rows(client.get("/?status=passing&service=web").text) == ["web/up"]
    assert rows(client.get("/?q=api").text) == ["api/up"]
    assert "No checks match" in client.get("/?q=nothing-like-this").text
    assert client.get("/?status=bogus").status_code == 400


def test_overview_pages_through_many_checks(
    make_client: AppClient, store: Store, users: dict[Role, str], listening_port: int
) -> None:
    checks = "".join(
        f"      - {{name: c{i:03d}, kind: tcp, host: 127.0.0.1, port: {listening_port}}}\n"
        for i in range(230)
    )
    config = load_config_text(f"services:\n  big:\n    checks:\n{checks}", "f.yaml", env={})
    client = make_client(config)
    log_in(client, "viewer")
    first = client.get("/")
    assert len(rows(first.text)) == 100
    assert "Page 1 of 3" in first.text
    assert "230 checks" in first.text
    third = client.get("/?page=3")
    assert rows(third.text) == [f"big/c{i:03d}" for i in range(200, 230)]
    seen = rows(first.text) + rows(client.get("/?page=2").text) + rows(third.text)
    assert sorted(seen) == [f"big/c{i:03d}" for i in range(230)]


def test_check_page_shows_chart_history_and_last_failure(
    make_client: AppClient, store: Store, config: Config, users: dict[Role, str]
) -> None:
    for _ in range(3):
        run_all(config, store)
    viewer = make_client()
    log_in(viewer, "viewer")
    page = viewer.get("/checks/web/down")
    assert page.status_code == 200
    html = page.text
    assert '<svg class="chart"' in html
    assert 'class="line"' in html
    assert "Last failure" in html
    assert "connection refused" in html
    assert html.count('class="rec"') == 3  # three runs in the history
    assert "Run now" not in html  # a viewer may not
    assert 'aria-current="true">24h<' in html
    assert 'aria-current="true">7d<' in viewer.get("/checks/web/down?range=7d").text
    operator = make_client()
    log_in(operator, "operator")
    assert "Run now" in operator.get("/checks/web/down").text
    assert viewer.get("/checks/web/nope").status_code == 404


def test_check_history_pages_with_a_cursor(
    client: TestClient, store: Store, config: Config, users: dict[Role, str]
) -> None:
    for _ in range(30):
        run_all(config, store)
    log_in(client, "viewer")
    first = client.get("/checks/web/up").text
    ids = re.findall(r'class="rec">#(\d+)<', first)
    assert len(ids) == 25
    older = re.search(r'before=(\d+)" rel="next"', first)
    assert older is not None
    second = client.get(f"/checks/web/up?before={older.group(1)}").text
    more = re.findall(r'class="rec">#(\d+)<', second)
    assert len(more) == 5
    assert not set(ids) & set(more)
    assert "data-refresh" not in second  # an older page does not jump back to the newest


def test_evidence_pages(client: TestClient, store: Store, config: Config, users: dict[Role, str]) -> None:
    run_all(config, store)
    log_in(client, "viewer")
    listing = client.get("/evidence?service=web&verdict=error").text
    ids = re.findall(r'class="rec">#(\d+)<', listing)
    assert len(ids) == 1
    page = client.get(f"/evidence/{ids[0]}").text
    assert "Evidence #" in page
    assert "web/down" in page
    assert "refused" in page
    up = re.findall(r'class="rec">#(\d+)<', client.get("/evidence?check=web/up").text)
    assert "connect_ms" in client.get(f"/evidence/{up[0]}").text
    assert client.get("/evidence/987654").status_code == 404


def test_run_now_from_the_cockpit(client: TestClient, users: dict[Role, str]) -> None:
    csrf = log_in(client, "operator")
    response = client.post("/checks/web/up/run", data={"csrf": csrf}, follow_redirects=True)
    assert response.status_code == 200
    assert "Evidence #" in response.text
    assert "manual" in response.text


def test_access_page_creates_shows_once_and_revokes_tokens(
    client: TestClient, users: dict[Role, str]
) -> None:
    csrf = log_in(client, "admin")
    created = client.post(
        "/access/tokens", data={"csrf": csrf, "name": "ci", "role": "viewer", "expires": "30d"}
    )
    match = re.search(r'id="new-token">(fd_[^<]+)<', created.text)
    assert match is not None
    token = match.group(1)
    again = client.get("/access").text
    assert token not in again
    assert token[:11] in again
    as_ci = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert as_ci.json()["name"] == "token:ci"
    token_id = re.search(r"/access/tokens/(\d+)/revoke", again)
    assert token_id is not None
    revoked = client.post(
        f"/access/tokens/{token_id.group(1)}/revoke", data={"csrf": csrf}, follow_redirects=False
    )
    assert revoked.status_code == 303
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    bad = client.post(
        "/access/tokens", data={"csrf": csrf, "name": "x", "role": "viewer", "expires": "whenever"}
    )
    assert bad.status_code == 400
    assert "duration" in bad.text


def test_access_page_is_for_admins(make_client: AppClient, users: dict[Role, str]) -> None:
    operator = make_client()
    log_in(operator, "operator")
    assert operator.get("/access").status_code == 403
    assert 'href="/access"' not in operator.get("/").text
    admin = make_client()
    csrf = log_in(admin, "admin")
    assert 'href="/access"' in admin.get("/").text
    disabled = admin.post("/access/users/operator/disable", data={"csrf": csrf}, follow_redirects=False)
    assert disabled.status_code == 303
    assert operator.get("/").status_code == 401


def test_configuration_text_is_escaped(
    make_client: AppClient, store: Store, users: dict[Role, str], listening_port: int
) -> None:
    config = load_config_text(
        "services:\n  web:\n    description: '<script>alert(1)</script>'\n    checks:\n"
        f"      - {{name: up, kind: tcp, host: 127.0.0.1, port: {listening_port}, description: '<img src=x>'}}\n",
        "f.yaml",
        env={},
    )
    client = make_client(config)
    log_in(client, "viewer")
    service = client.get("/services/web").text
    assert "<script>alert(1)</script>" not in service
    assert "&lt;script&gt;" in service
    check = client.get("/checks/web/up").text
    assert "<img src=x>" not in check
    assert "&lt;img src=x&gt;" in check


def test_service_page_draws_a_panel_per_business_measurement(
    tmp_path: Path, users: dict[Role, str], store: Store, clock: FakeClock
) -> None:
    with running_target() as target, closed_port() as closed:
        config = estate_config(tmp_path, target, closed)
        seed(store.url, config, target, rounds=3, spacing=timedelta(minutes=5))
        clock.set(datetime.now(UTC) + timedelta(seconds=1))
        with TestClient(create_app(config, store)) as client:
            log_in(client, "viewer")
            page = client.get("/services/shop")
    assert page.status_code == 200
    titles = re.findall(r"<h3>([^<]+)</h3>", page.text)
    assert "Orders (1 h)" in titles
    assert "Shop CPU" in titles
    assert "Request rate" in titles
    assert "Connect" not in titles  # probe timings of the sql check are not business signals
    assert page.text.count('<svg class="chart"') == len(titles)
    assert "3 orders" in page.text
    assert not [t for t in titles if t.startswith("Scrape")]  # about the scrape, not the service
