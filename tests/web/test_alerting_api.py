"""The alerting API: alerts, incidents (list, one, ack, resolve, comment, stats), silences and
on-call, with tokens and sessions, on SQLite and PostgreSQL. Staff addresses are masked for
viewers; notification payloads (their signed links) are never shown."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from flightdeck.access import Role, create_token
from flightdeck.alerting.incidents import acknowledge, resolve_incident
from flightdeck.clock import FakeClock
from flightdeck.config import load_config_text
from flightdeck.config.models import Config
from flightdeck.store import Store
from tests.alerting.incident_seed import PHONE, seed_incident
from tests.web.conftest import AppClient, log_in

ONCALL = """
oncall:
  users:
    abebe: {full_name: Abebe Kebede}
    tendai: {full_name: Tendai Moyo}
  schedules:
    primary:
      timezone: Africa/Addis_Ababa
      layers:
        - name: weekly
          rotation: {users: [abebe, tendai], length: weekly, handoff: "09:00", start: 2025-12-29}
"""


@pytest.fixture
def alerting_config(tmp_path: Path) -> Config:
    return load_config_text(f"store:\n  state_dir: {tmp_path / 'state'}\n{ONCALL}", "flightdeck.yaml", env={})


@pytest.fixture
def app(make_client: AppClient, alerting_config: Config) -> TestClient:
    return make_client(alerting_config)


def bearer(store: Store, role: Role, name: str | None = None) -> dict[str, str]:
    token, _ = create_token(store, name or role.value, role)
    return {"Authorization": f"Bearer {token}"}


def test_incident_detail_masks_addresses_for_viewers_and_never_shows_payloads(
    app: TestClient, store: Store
) -> None:
    incident = seed_incident(store)
    viewer = app.get(f"/api/v1/incidents/{incident}", headers=bearer(store, Role.VIEWER))
    assert viewer.status_code == 200, viewer.text
    body = viewer.json()
    assert (body["id"], body["title"], body["status"], body["severity"]) == (
        incident,
        "checkout is down",
        "triggered",
        "P1",
    )
    assert [a["rule"] for a in body["alerts"]] == ["app-down"]
    assert [n["state"] for n in body["notifications"]] == ["sent", "dead"]
    assert body["dead_letters"] == 1
    assert body["notifications"][1]["last_error"] == "mailbox unavailable"
    assert [e["kind"] for e in body["timeline"]][:2] == ["triggered", "alert_firing"]
    assert "notification_dead" in [e["kind"] for e in body["timeline"]]
    assert (body["mtta_seconds"], body["mttr_seconds"]) == (None, None)
    assert PHONE not in viewer.text
    assert "abebe@example.com" not in viewer.text
    assert body["notifications"][0]["address"] == "+25••••••••01"
    assert body["notifications"][1]["address"] == "a••••@example.com"
    assert "SIGNED-LINK-TOKEN" not in viewer.text
    operator = app.get(f"/api/v1/incidents/{incident}", headers=bearer(store, Role.OPERATOR))
    assert operator.json()["notifications"][0]["address"] == PHONE
    assert "SIGNED-LINK-TOKEN" not in operator.text
    missing = app.get("/api/v1/incidents/999", headers=bearer(store, Role.ADMIN, "a"))
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_alerts_and_incidents_lists(app: TestClient, store: Store, clock: FakeClock) -> None:
    first = seed_incident(store, title="checkout down", service="checkout")
    clock.advance(60)
    second = seed_incident(store, title="wallets slow", service="wallets")
    clock.advance(60)
    third = seed_incident(store, title="db down", service="db")
    with store.engine.begin() as conn:
        resolve_incident(conn, first, "flightdeck", clock.now())
    h = bearer(store, Role.VIEWER)
    open_ = app.get("/api/v1/incidents", headers=h).json()
    assert [i["id"] for i in open_["items"]] == [third, second]
    assert open_["next_before"] is None
    everything = app.get("/api/v1/incidents", params={"status": "all", "limit": 2}, headers=h).json()
    assert [i["id"] for i in everything["items"]] == [third, second]
    older = app.get(
        "/api/v1/incidents", params={"status": "all", "before_id": everything["next_before"]}, headers=h
    ).json()
    assert [i["id"] for i in older["items"]] == [first]
    resolved = app.get("/api/v1/incidents", params={"status": "resolved"}, headers=h).json()
    assert [(i["id"], i["resolved_by"]) for i in resolved["items"]] == [(first, "flightdeck")]
    by_service = app.get("/api/v1/incidents", params={"service": "wallets"}, headers=h).json()
    assert [i["id"] for i in by_service["items"]] == [second]
    assert app.get("/api/v1/incidents", params={"status": "bogus"}, headers=h).status_code == 422

    active = app.get("/api/v1/alerts", headers=h).json()
    assert sorted(a["incident_id"] for a in active) == [second, third]
    assert {a["state"] for a in active} == {"firing"}
    gone = app.get("/api/v1/alerts", params={"state": "resolved"}, headers=h).json()
    assert [a["incident_id"] for a in gone] == [first]
    assert len(app.get("/api/v1/alerts", params={"state": "all"}, headers=h).json()) == 3


def test_ack_resolve_and_comment_with_a_token(app: TestClient, store: Store, clock: FakeClock) -> None:
    incident = seed_incident(store)
    ops = bearer(store, Role.OPERATOR, "ops")
    viewer = bearer(store, Role.VIEWER)
    assert app.post(f"/api/v1/incidents/{incident}/ack", headers=viewer).status_code == 403
    clock.advance(125)
    acked = app.post(f"/api/v1/incidents/{incident}/ack", headers=ops)
    assert acked.status_code == 200, acked.text
    assert acked.json()["changed"] is True
    assert acked.json()["incident"]["acknowledged_by"] == "token:ops"
    assert app.post(f"/api/v1/incidents/{incident}/ack", headers=ops).json()["changed"] is False
    comment = app.post(
        f"/api/v1/incidents/{incident}/comments", json={"text": "rolling back 4.2"}, headers=ops
    )
    assert comment.status_code == 201
    assert (comment.json()["kind"], comment.json()["actor"], comment.json()["message"]) == (
        "comment",
        "token:ops",
        "rolling back 4.2",
    )
    blank = app.post(f"/api/v1/incidents/{incident}/comments", json={"text": "   "}, headers=ops)
    assert blank.status_code == 400
    clock.advance(300)
    done = app.post(f"/api/v1/incidents/{incident}/resolve", headers=ops).json()
    assert (done["changed"], done["incident"]["status"], done["incident"]["resolved_by"]) == (
        True,
        "resolved",
        "token:ops",
    )
    detail = app.get(f"/api/v1/incidents/{incident}", headers=viewer).json()
    assert (detail["mtta_seconds"], detail["mttr_seconds"]) == (125.0, 425.0)
    acks = [e for e in detail["timeline"] if e["kind"] == "acknowledged"]
    assert [(e["actor"], e["detail"]) for e in acks] == [("token:ops", {"via": "api"})]
    assert app.post("/api/v1/incidents/999/ack", headers=ops).status_code == 404
    assert app.post("/api/v1/incidents/999/comments", json={"text": "x"}, headers=ops).status_code == 404


def test_a_session_needs_its_csrf_token_to_ack(app: TestClient, store: Store, users: dict[Role, str]) -> None:
    incident = seed_incident(store)
    csrf = log_in(app, "operator")
    assert app.post(f"/api/v1/incidents/{incident}/ack").status_code == 403
    ok = app.post(f"/api/v1/incidents/{incident}/ack", headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200
    assert ok.json()["incident"]["acknowledged_by"] == "operator"


def test_silences_create_list_expire(app: TestClient, store: Store, clock: FakeClock) -> None:
    ops = bearer(store, Role.OPERATOR, "ops")
    created = app.post(
        "/api/v1/silences",
        json={"matchers": ["service=checkout", "alertname=~disk.*"], "duration": "2h", "comment": "deploy"},
        headers=ops,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["matchers"] == ["service=checkout", "alertname=~disk.*"]
    assert (body["state"], body["created_by"], body["comment"]) == ("active", "token:ops", "deploy")
    assert body["ends_at"] == (clock.now() + timedelta(hours=2)).isoformat().replace("+00:00", "Z")
    later = app.post(
        "/api/v1/silences",
        json={
            "matchers": ["service=db"],
            "starts_at": (clock.now() + timedelta(hours=1)).isoformat(),
            "ends_at": (clock.now() + timedelta(hours=3)).isoformat(),
            "comment": "maintenance",
        },
        headers=ops,
    ).json()
    assert later["state"] == "pending"
    listed = app.get("/api/v1/silences", headers=bearer(store, Role.VIEWER)).json()
    assert [s["id"] for s in listed] == [later["id"], body["id"]]
    expired = app.delete(f"/api/v1/silences/{body['id']}", headers=ops)
    assert expired.status_code == 200
    assert (expired.json()["state"], expired.json()["expired_by"]) == ("expired", "token:ops")
    assert [s["id"] for s in app.get("/api/v1/silences", headers=ops).json()] == [later["id"]]
    assert len(app.get("/api/v1/silences", params={"all": "true"}, headers=ops).json()) == 2
    assert app.delete("/api/v1/silences/999", headers=ops).status_code == 404
    for bad in (
        {"matchers": ["service"], "duration": "1h", "comment": "x"},
        {"matchers": ["service=~("], "duration": "1h", "comment": "x"},
        {"matchers": ["service=x"], "comment": "x"},
        {"matchers": ["service=x"], "duration": "soon", "comment": "x"},
        {"matchers": ["service=~.*"], "duration": "1h", "comment": "x"},
    ):
        response = app.post("/api/v1/silences", json=bad, headers=ops)
        assert response.status_code == 400, (bad, response.text)
        assert response.json()["error"]["code"] == "invalid"
    assert (
        app.post(
            "/api/v1/silences", json={"matchers": [], "duration": "1h", "comment": "x"}, headers=ops
        ).status_code
        == 422
    )
    assert (
        app.post(
            "/api/v1/silences",
            json={"matchers": ["a=b"], "duration": "1h", "comment": "x"},
            headers=bearer(store, Role.VIEWER, "v2"),
        ).status_code
        == 403
    )


def test_oncall_now_next_and_ical(app: TestClient, store: Store) -> None:
    h = bearer(store, Role.VIEWER)
    rows = app.get("/api/v1/oncall", headers=h).json()
    assert rows == [
        {
            "schedule": "primary",
            "timezone": "Africa/Addis_Ababa",
            "now": {
                "user": "tendai",
                "start": "2026-01-05T06:00:00Z",
                "end": "2026-01-12T06:00:00Z",
                "override": False,
            },
            "next": {
                "user": "abebe",
                "start": "2026-01-12T06:00:00Z",
                "end": "2026-01-19T06:00:00Z",
                "override": False,
            },
            "ical": "/api/v1/oncall/primary.ics",
        }
    ]
    feed = app.get("/api/v1/oncall/primary.ics", params={"days": 14}, headers=h)
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("text/calendar")
    icalendar = pytest.importorskip("icalendar")
    calendar = icalendar.Calendar.from_ical(feed.content)
    summaries = [str(e.get("summary")) for e in calendar.walk("VEVENT")]
    assert "On call: tendai" in summaries
    assert "On call: abebe" in summaries
    assert app.get("/api/v1/oncall/nobody.ics", headers=h).status_code == 404
    assert app.get("/api/v1/oncall", params={"schedule": "nobody"}, headers=h).status_code == 404


def test_incident_stats(app: TestClient, store: Store, clock: FakeClock) -> None:
    incident = seed_incident(store)
    clock.advance(60)
    with store.engine.begin() as conn:
        acknowledge(conn, incident, "abebe", clock.now())
    clock.advance(240)
    with store.engine.begin() as conn:
        resolve_incident(conn, incident, "abebe", clock.now())
    response = app.get("/api/v1/incidents/stats", params={"since": "30d"}, headers=bearer(store, Role.VIEWER))
    assert response.status_code == 200, response.text
    (row,) = response.json()
    assert (row["service"], row["month"], row["count"], row["acknowledged"], row["resolved"]) == (
        "checkout",
        "2026-01",
        1,
        1,
        1,
    )
    assert (row["mtta_seconds"], row["mttr_seconds"]) == (60.0, 300.0)
    other = app.get(
        "/api/v1/incidents/stats", params={"service": "db"}, headers=bearer(store, Role.VIEWER, "v3")
    )
    assert other.json() == []
    bad = app.get(
        "/api/v1/incidents/stats", params={"since": "last week"}, headers=bearer(store, Role.VIEWER, "v2")
    )
    assert bad.status_code == 400
