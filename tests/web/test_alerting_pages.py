"""The cockpit's alerting pages rendered with data: alerts, incidents (ack and resolve buttons with
CSRF), one incident (timeline, dead letters, MTTA/MTTR, comments), on call, silences."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from flightdeck.alerting.incidents import get_incident
from flightdeck.alerting.model import IncidentStatus
from flightdeck.clock import FakeClock
from flightdeck.config.models import Config
from flightdeck.store import Store
from tests.alerting.incident_seed import PHONE, seed_incident
from tests.web.conftest import AppClient, log_in
from tests.web.test_alerting_api import alerting_config  # noqa: F401 - the fixture

pytestmark = pytest.mark.usefixtures("users")


@pytest.fixture
def app(make_client: AppClient, alerting_config: Config) -> TestClient:  # noqa: F811 - the fixture
    return make_client(alerting_config)


def test_nav_links_to_the_alerting_pages(app: TestClient) -> None:
    log_in(app, "viewer")
    page = app.get("/").text
    for path in ("/alerts", "/incidents", "/oncall", "/silences"):
        assert f'href="{path}"' in page


def test_alerts_page(app: TestClient, store: Store) -> None:
    incident = seed_incident(store)
    log_in(app, "viewer")
    page = app.get("/alerts")
    assert page.status_code == 200
    assert "app-down" in page.text
    assert "checkout answers 503" in page.text
    assert f'href="/incidents/{incident}"' in page.text
    assert "1 firing, 0 pending" in page.text
    assert "No resolved alerts." in app.get("/alerts", params={"state": "resolved"}).text


def test_incidents_page_acks_with_the_csrf_token(app: TestClient, store: Store, clock: FakeClock) -> None:
    incident = seed_incident(store)
    csrf = log_in(app, "operator")
    page = app.get("/incidents")
    assert page.status_code == 200
    assert "checkout is down" in page.text
    assert f'action="/incidents/{incident}/ack"' in page.text
    assert "1 notification could not be delivered" in page.text
    refused = app.post(f"/incidents/{incident}/ack", data={"csrf": "wrong"}, follow_redirects=False)
    assert refused.status_code == 403
    clock.advance(42)
    done = app.post(
        f"/incidents/{incident}/ack", data={"csrf": csrf, "next": "/incidents"}, follow_redirects=False
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/incidents"
    with store.engine.connect() as conn:
        row = get_incident(conn, incident)
    assert (row.status, row.acknowledged_by) == (IncidentStatus.ACKNOWLEDGED, "operator")
    after = app.get("/incidents").text
    assert f'action="/incidents/{incident}/ack"' not in after
    assert f'action="/incidents/{incident}/resolve"' in after
    outside = app.post(
        f"/incidents/{incident}/resolve",
        data={"csrf": csrf, "next": "https://evil.example"},
        follow_redirects=False,
    )
    assert outside.headers["location"] == "/"
    assert "No resolved incidents." not in app.get("/incidents", params={"status": "resolved"}).text


def test_incident_page_for_an_operator(app: TestClient, store: Store, clock: FakeClock) -> None:
    incident = seed_incident(store)
    csrf = log_in(app, "operator")
    clock.advance(95)
    app.post(f"/incidents/{incident}/ack", data={"csrf": csrf}, follow_redirects=False)
    posted = app.post(
        f"/incidents/{incident}/comments", data={"csrf": csrf, "text": "rolled back"}, follow_redirects=False
    )
    assert posted.status_code == 303
    page = app.get(f"/incidents/{incident}")
    assert page.status_code == 200
    text = page.text
    assert "checkout is down" in text
    assert 'class="row-dead"' in text
    assert "dead letter" in text
    assert "mailbox unavailable" in text
    assert PHONE in text  # operators see the full address of a failed contact
    assert re.search(r'id="mtta">1 min 35 s<', text)
    assert re.search(r'id="mttr">—<', text)
    assert "rolled back" in text
    assert "acknowledged by operator (cockpit)" in text
    assert 'action="/incidents/' + str(incident) + '/comments"' in text
    assert "SIGNED-LINK-TOKEN" not in text
    assert app.post(f"/incidents/{incident}/comments", data={"csrf": csrf, "text": " "}).status_code == 400


def test_incident_page_for_a_viewer(app: TestClient, store: Store) -> None:
    incident = seed_incident(store)
    log_in(app, "viewer")
    text = app.get(f"/incidents/{incident}").text
    assert PHONE not in text
    assert "+25••••••••01" in text
    assert '/ack"' not in text
    assert "/comments" not in text
    assert app.get("/incidents/999").status_code == 404


def test_oncall_page(app: TestClient) -> None:
    log_in(app, "viewer")
    page = app.get("/oncall")
    assert page.status_code == 200
    assert "Tendai Moyo" in page.text  # on call now
    assert "Abebe Kebede" in page.text  # next
    assert 'href="/api/v1/oncall/primary.ics"' in page.text


def test_silences_page_creates_and_expires(app: TestClient, store: Store) -> None:
    csrf = log_in(app, "operator")
    created = app.post(
        "/silences",
        data={
            "csrf": csrf,
            "matchers": "service=checkout\nalertname=~disk.*",
            "duration": "2h",
            "comment": "deploy",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    page = app.get("/silences").text
    assert "service=checkout" in page
    assert "alertname=~disk.*" in page
    assert "deploy" in page
    match = re.search(r'action="/silences/(\d+)/expire"', page)
    assert match
    expired = app.post(f"/silences/{match.group(1)}/expire", data={"csrf": csrf}, follow_redirects=False)
    assert expired.status_code == 303
    assert "No active or pending silences." in app.get("/silences").text
    assert "expired by operator" in app.get("/silences", params={"all": "true"}).text
    bad = app.post("/silences", data={"csrf": csrf, "matchers": "nonsense", "duration": "2h", "comment": "x"})
    assert bad.status_code == 400
    assert "invalid matcher" in bad.text


def test_viewers_get_no_forms(app: TestClient, store: Store) -> None:
    seed_incident(store)
    log_in(app, "viewer")
    assert "<textarea" not in app.get("/silences").text
    assert "/ack" not in app.get("/incidents").text
    assert app.post("/silences", data={"matchers": "a=b", "comment": "x"}).status_code == 403
