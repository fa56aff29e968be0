"""The HTTP API: services, checks with status and figures, evidence with filters and keyset
paging, series, run now, tokens and users. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from flightdeck.access import Role, create_token
from flightdeck.clock import FakeClock
from flightdeck.config.models import Config
from flightdeck.evidence import Measurement, NewEvidence, Trigger, Verdict
from flightdeck.store import Store, insert_evidence, record_outcome
from tests.web.conftest import AppClient, log_in, run_all


@pytest.fixture
def api(client: TestClient, store: Store) -> TestClient:
    """The client with an admin token in its headers."""
    value, _ = create_token(store, "tests", Role.ADMIN)
    client.headers["Authorization"] = f"Bearer {value}"
    return client


def record(
    store: Store,
    subject: str,
    verdict: Verdict,
    duration_ms: float,
    ago: timedelta = timedelta(0),
    measurements: tuple[Measurement, ...] = (),
    kind: str = "tcp",
) -> int:
    service, check = subject.split("/")
    finished = store.clock.now() - ago
    e = NewEvidence(
        subject=subject,
        service=service,
        check=check,
        kind=kind,
        trigger=Trigger.SCHEDULE,
        config_digest="d" * 64,
        started_at=finished - timedelta(milliseconds=duration_ms),
        finished_at=finished,
        verdict=verdict,
        duration_ms=duration_ms,
        summary=f"{verdict.value} in {duration_ms} ms",
        measurements=measurements,
    )
    with store.engine.begin() as conn:
        (eid,) = insert_evidence(conn, [e])
        record_outcome(conn, eid, e)
    return eid


def test_checks_list_failing_first_with_figures(api: TestClient, store: Store, config: Config) -> None:
    run_all(config, store)
    body = api.get("/api/v1/checks").json()
    assert [c["subject"] for c in body["items"]] == ["web/down", "api/up", "web/up"]
    down = body["items"][0]
    assert down["verdict"] == "error"
    assert "refused" in down["last_summary"]
    assert down["stats"]["runs_24h"] == 1
    assert down["stats"]["failures_24h"] == 1
    assert down["stats"]["uptime_24h"] == 0.0
    assert body["items"][1]["stats"]["uptime_24h"] == 1.0
    assert body["total"] == 3
    assert body["counts"] == {
        "pass": 2,
        "warn": 0,
        "fail": 0,
        "error": 1,
        "unknown": 0,
    }
    failing = api.get("/api/v1/checks", params={"status": "failing"}).json()
    assert [c["subject"] for c in failing["items"]] == ["web/down"]
    assert failing["total"] == 1
    assert [c["subject"] for c in api.get("/api/v1/checks", params={"service": "api"}).json()["items"]] == [
        "api/up"
    ]
    assert [c["subject"] for c in api.get("/api/v1/checks", params={"q": "B/U"}).json()["items"]] == [
        "web/up"
    ]
    page = api.get("/api/v1/checks", params={"limit": 2, "offset": 2, "stats": "false"}).json()
    assert [c["subject"] for c in page["items"]] == ["web/up"]
    assert page["items"][0]["stats"] is None
    assert api.get("/api/v1/checks", params={"status": "nonsense"}).status_code == 422


def test_checks_never_run_are_listed_as_unknown(api: TestClient) -> None:
    body = api.get("/api/v1/checks").json()
    assert {c["verdict"] for c in body["items"]} == {"unknown"}
    assert body["items"][0]["stats"]["uptime_24h"] is None  # no data is not 0 %, nor 100 %


def test_services(api: TestClient, store: Store, config: Config) -> None:
    run_all(config, store)
    services = {s["name"]: s for s in api.get("/api/v1/services").json()}
    assert services["web"]["verdict"] == "error"
    assert services["web"]["checks"] == 2
    assert services["web"]["description"] == "The web tier"
    assert services["api"]["verdict"] == "pass"
    assert services["api"]["counts"]["pass"] == 1


def test_one_check_with_its_last_failure(api: TestClient, store: Store, config: Config) -> None:
    run_all(config, store)
    body = api.get("/api/v1/checks/web/down").json()
    assert body["verdict"] == "error"
    assert body["configured"]
    assert body["description"] == "refused"
    assert body["interval_s"] == 60
    assert body["timeout_s"] == 10
    assert body["last_failure"]["id"] == body["last_failure_evidence_id"]
    assert "refused" in body["last_failure"]["detail"]["error"]
    assert api.get("/api/v1/checks/web/up").json()["last_failure"] is None
    missing = api.get("/api/v1/checks/web/nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert api.get("/api/v1/checks/Web/up").status_code == 422  # not a valid name


def test_evidence_keyset_paging_is_complete_and_stable(
    api: TestClient, store: Store, clock: FakeClock
) -> None:
    ids = [record(store, "web/up", Verdict.PASS, 10 + i) for i in range(23)]
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 5, "check": "web/up"}
        if cursor:
            params["cursor"] = cursor
        body = api.get("/api/v1/evidence", params=params).json()
        seen += [e["id"] for e in body["items"]]
        pages += 1
        if pages == 2:  # records arriving while paging do not shift the pages being read
            record(store, "web/up", Verdict.FAIL, 1)
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)
    assert pages == 5


def test_evidence_filters(api: TestClient, store: Store, clock: FakeClock) -> None:
    old = record(store, "web/up", Verdict.PASS, 5, ago=timedelta(hours=3))
    failed = record(store, "web/down", Verdict.FAIL, 7, ago=timedelta(hours=1))
    errored = record(store, "web/down", Verdict.ERROR, 9)
    other = record(store, "api/up", Verdict.PASS, 3, kind="http")

    def ids(**params: object) -> list[int]:
        response = api.get("/api/v1/evidence", params=params)
        assert response.status_code == 200, response.text
        return [e["id"] for e in response.json()["items"]]

    assert ids() == [other, errored, failed, old]
    assert ids(service="web") == [errored, failed, old]
    assert ids(check="web/down") == ids(service="web", check="down") == [errored, failed]
    assert ids(verdict=["fail", "error"]) == [errored, failed]
    assert ids(kind="http") == [other]
    assert ids(since="2h") == [other, errored, failed]
    assert ids(until="30m") == [failed, old]
    iso = (clock.now() - timedelta(hours=2)).isoformat()
    assert ids(since=iso, until="30m") == [failed]
    assert api.get("/api/v1/evidence", params={"check": "down"}).status_code == 400
    assert api.get("/api/v1/evidence", params={"since": "yesterday"}).status_code == 400
    one = api.get(f"/api/v1/evidence/{failed}").json()
    assert one["subject"] == "web/down"
    assert one["verdict"] == "fail"
    assert one["duration_ms"] == 7
    assert api.get("/api/v1/evidence/999999").status_code == 404


def test_series(api: TestClient, store: Store) -> None:
    for minutes, duration, verdict in [
        (50, 10.0, Verdict.PASS),
        (49, 30.0, Verdict.FAIL),
        (20, 100.0, Verdict.PASS),
    ]:
        record(
            store,
            "web/up",
            verdict,
            duration,
            ago=timedelta(minutes=minutes),
            measurements=(Measurement(name="connect_ms", value=duration / 10, unit="ms"),),
        )
    body = api.get("/api/v1/checks/web/up/series", params={"since": "1h", "max_points": 12}).json()
    assert body["measurement"] == "duration_ms"
    assert body["step_seconds"] == 300
    points = body["points"]
    assert sum(p["runs"] for p in points) == 3
    assert sum(p["failures"] for p in points) == 1
    assert [p["mean"] for p in points] in ([20.0, 100.0], [10.0, 30.0, 100.0])
    connect = api.get(
        "/api/v1/checks/web/up/series", params={"since": "1h", "max_points": 12, "measurement": "connect_ms"}
    ).json()
    assert max(p["max"] for p in connect["points"]) == 10.0
    day = api.get("/api/v1/checks/web/up/series", params={"range": "24h"}).json()
    assert sum(p["runs"] for p in day["points"]) == 3
    assert api.get("/api/v1/checks/web/up/series", params={"since": "1h", "until": "2h"}).status_code == 400
    assert api.get("/api/v1/checks/nope/up/series").status_code == 404


def test_run_now_records_evidence(api: TestClient, store: Store) -> None:
    response = api.post("/api/v1/checks/web/down/run")
    assert response.status_code == 200
    ran = response.json()
    assert ran["trigger"] == "api"
    assert ran["verdict"] == "error"
    assert ran["id"] > 0
    status = api.get("/api/v1/checks/web/down").json()
    assert status["last_evidence_id"] == ran["id"]
    assert status["consecutive_failures"] == 1
    assert api.post("/api/v1/checks/web/nope/run").status_code == 404


def test_tokens_through_the_api(api: TestClient, client: TestClient) -> None:
    created = api.post("/api/v1/tokens", json={"name": "grafana", "role": "viewer", "expires_in": "30d"})
    assert created.status_code == 201
    body = created.json()
    token = body["token"]
    assert body["state"] == "active"
    assert token.startswith(body["prefix"])
    listed = api.get("/api/v1/tokens").json()
    assert all("token" not in t for t in listed)
    assert token not in str(listed)
    as_grafana = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=as_grafana).json() == {
        "name": "token:grafana",
        "role": "viewer",
        "method": "token",
    }
    revoked = api.delete(f"/api/v1/tokens/{body['id']}")
    assert revoked.json()["state"] == "revoked"
    assert client.get("/api/v1/me", headers=as_grafana).status_code == 401
    bad = api.post("/api/v1/tokens", json={"name": "x", "expires_in": "soon"})
    assert bad.status_code == 400
    assert "expires_in" in bad.json()["error"]["message"]


def test_users_through_the_api(make_client: AppClient, users: dict[Role, str]) -> None:
    admin, victim = make_client(), make_client()
    csrf = log_in(admin, "admin")
    log_in(victim, "viewer")
    assert {u["username"] for u in admin.get("/api/v1/users").json()} == {"admin", "operator", "viewer"}
    refused = admin.post("/api/v1/users/admin/disable", headers={"X-CSRF-Token": csrf})
    assert refused.status_code == 400
    assert "yourself" in refused.json()["error"]["message"]
    disabled = admin.post("/api/v1/users/viewer/disable", headers={"X-CSRF-Token": csrf})
    assert disabled.status_code == 200
    assert disabled.json()["disabled_at"] is not None
    assert victim.get("/api/v1/me").status_code == 401  # their session ended at once


def test_openapi_describes_the_api(api: TestClient) -> None:
    schema = api.get("/openapi.json").json()
    for path in ("/api/v1/checks", "/api/v1/evidence", "/api/v1/checks/{service}/{check}/run", "/ready"):
        assert path in schema["paths"]
    assert schema["components"]["securitySchemes"]["token"]["scheme"] == "bearer"
    assert "/checks/{service}/{check}" not in schema["paths"]  # cockpit pages are not API
    docs = api.get("/docs")
    assert docs.status_code == 200
    assert "/static/swagger/swagger-ui-bundle.js" in docs.text
    assert api.get("/static/swagger/swagger-ui-bundle.js").status_code == 200
