"""Signed ack/resolve links, ``/a/{token}``, through HTTP without a login: GET changes nothing, POST
acts once, forged or altered links are refused (403), expired ones are gone (410)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from flightdeck.alerting.incidents import get_incident
from flightdeck.alerting.links import link_key, sign_link
from flightdeck.alerting.model import AlertState, EventKind, IncidentStatus
from flightdeck.alerting.queries import incident_detail
from flightdeck.alerting.timeline import timeline
from flightdeck.clock import FakeClock
from flightdeck.config import load_config_text
from flightdeck.config.models import Config
from flightdeck.store import Store
from flightdeck.web.app import create_app
from tests.alerting.incident_seed import seed_incident


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return load_config_text(f"store:\n  state_dir: {tmp_path / 'state'}\n", "flightdeck.yaml", env={})


@pytest.fixture
def client(config: Config, store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(config, store), base_url="http://127.0.0.1") as c:
        yield c


def kinds(store: Store, incident_id: int) -> list[EventKind]:
    with store.engine.connect() as conn:
        return [e.kind for e in timeline(conn, incident_id)]


def status(store: Store, incident_id: int) -> IncidentStatus:
    with store.engine.connect() as conn:
        return get_incident(conn, incident_id).status


def test_get_shows_a_confirmation_and_changes_nothing(
    client: TestClient, config: Config, store: Store, clock: FakeClock
) -> None:
    incident = seed_incident(store)
    token = sign_link(link_key(config), incident, "ack", clock.now() + timedelta(hours=1))
    before = kinds(store, incident)
    page = client.get(f"/a/{token}")
    assert page.status_code == 200
    assert f"Acknowledge incident #{incident} — checkout is down?" in page.text
    assert f'action="/a/{token}"' in page.text
    assert 'method="post"' in page.text
    assert "Log out" not in page.text
    assert "/access" not in page.text
    assert status(store, incident) is IncidentStatus.TRIGGERED
    assert kinds(store, incident) == before


def test_post_acknowledges_once(client: TestClient, config: Config, store: Store, clock: FakeClock) -> None:
    incident = seed_incident(store)
    token = sign_link(link_key(config), incident, "ack", clock.now() + timedelta(hours=1))
    clock.advance(90)
    done = client.post(f"/a/{token}")
    assert done.status_code == 200
    assert f"Incident #{incident} acknowledged" in done.text
    with store.engine.connect() as conn:
        row = get_incident(conn, incident)
        events = [e for e in timeline(conn, incident) if e.kind is EventKind.ACKNOWLEDGED]
    assert row.status is IncidentStatus.ACKNOWLEDGED
    assert (row.acknowledged_by, row.acknowledged_at) == ("link", clock.now())
    assert len(events) == 1
    assert (events[0].actor, events[0].detail) == ("link", {"via": "link"})

    again = client.post(f"/a/{token}")
    assert again.status_code == 200
    assert "Nothing to do" in again.text
    assert kinds(store, incident).count(EventKind.ACKNOWLEDGED) == 1
    shown = client.get(f"/a/{token}")
    assert "is already acknowledged" in shown.text
    assert "<form" not in shown.text.split("<main", 1)[1]


def test_resolve_link(client: TestClient, config: Config, store: Store, clock: FakeClock) -> None:
    incident = seed_incident(store)
    token = sign_link(link_key(config), incident, "resolve", clock.now() + timedelta(hours=1))
    assert f"Resolve incident #{incident}" in client.get(f"/a/{token}").text
    assert client.post(f"/a/{token}").status_code == 200
    with store.engine.connect() as conn:
        detail = incident_detail(conn, incident)
    assert detail.incident.status is IncidentStatus.RESOLVED
    assert detail.incident.resolved_by == "link"
    assert [a.state for a in detail.alerts] == [AlertState.RESOLVED]
    # an ack link of a resolved incident does nothing either
    ack = sign_link(link_key(config), incident, "ack", clock.now() + timedelta(hours=1))
    assert "Nothing to do" in client.post(f"/a/{ack}").text
    assert kinds(store, incident).count(EventKind.ACKNOWLEDGED) == 0


def test_forged_and_altered_links_are_refused(
    client: TestClient, config: Config, store: Store, clock: FakeClock
) -> None:
    first = seed_incident(store, title="one")
    second = seed_incident(store, title="two")
    token = sign_link(link_key(config), first, "ack", clock.now() + timedelta(hours=1))
    incident, action, expires, mac = token.split(".")
    flipped = mac[:-1] + ("0" if mac[-1] != "0" else "1")
    forged = [
        f"{incident}.{action}.{expires}.{flipped}",  # tampered signature
        f"{second}.{action}.{expires}.{mac}",  # another incident, same signature
        f"{incident}.resolve.{expires}.{mac}",  # another action
        f"{incident}.{action}.{int(expires) + 3600}.{mac}",  # a later expiry
        sign_link(b"not-the-key", first, "ack", clock.now() + timedelta(hours=1)),
        "garbage",
    ]
    for bad in forged:
        for method in ("GET", "POST"):
            response = client.request(method, f"/a/{bad}")
            assert response.status_code == 403, (method, bad, response.status_code)
            assert "This link is not valid" in response.text
    assert status(store, first) is IncidentStatus.TRIGGERED
    assert status(store, second) is IncidentStatus.TRIGGERED
    assert EventKind.ACKNOWLEDGED not in kinds(store, first) + kinds(store, second)


def test_expired_links_answer_410(client: TestClient, config: Config, store: Store, clock: FakeClock) -> None:
    incident = seed_incident(store)
    token = sign_link(link_key(config), incident, "ack", clock.now() + timedelta(minutes=30))
    clock.advance(timedelta(minutes=30))
    for method in ("GET", "POST"):
        response = client.request(method, f"/a/{token}")
        assert response.status_code == 410
        assert "This link has expired" in response.text
        assert 'href="/incidents"' in response.text
    assert status(store, incident) is IncidentStatus.TRIGGERED


def test_a_valid_link_to_a_missing_incident(client: TestClient, config: Config, clock: FakeClock) -> None:
    token = sign_link(link_key(config), 999, "ack", clock.now() + timedelta(hours=1))
    assert client.post(f"/a/{token}").status_code == 404
