"""Intake of pushed alerts: Alertmanager's webhook payload and generic JSON events, over HTTP with
token auth, on SQLite and PostgreSQL. A malformed payload is a 400 that says where, and stores
nothing of itself."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from flightdeck.access import Role, create_token
from flightdeck.alerting.alerts import AlertRow, resolve_expired
from flightdeck.alerting.intake import MAX_BODY_BYTES, PayloadError, map_severity, parse_alertmanager
from flightdeck.alerting.model import AlertSource, AlertState
from flightdeck.clock import FakeClock
from flightdeck.config import load_config_text
from flightdeck.config.alerting import Severity
from flightdeck.store import Store
from flightdeck.store.tables import alerts
from flightdeck.web.app import create_app

AM = "/api/v1/intake/alertmanager"
EVENTS = "/api/v1/intake/events"


def am_payload(starts: str, ends: str) -> dict[str, Any]:
    """A webhook payload in the shape Alertmanager documents (version 4), two firing alerts."""
    return {
        "version": "4",
        "groupKey": '{}:{alertname="HighLatency"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "flightdeck",
        "groupLabels": {"alertname": "HighLatency"},
        "commonLabels": {"alertname": "HighLatency", "job": "checkout"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example.com:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": "HighLatency",
                    "job": "checkout",
                    "instance": "10.0.0.1:9100",
                    "severity": "critical",
                },
                "annotations": {
                    "summary": "p95 latency above 400 ms",
                    "runbook_url": "https://wiki.example.com/latency",
                },
                "startsAt": starts,
                "endsAt": ends,
                "generatorURL": "http://prometheus.example.com:9090/graph?g0.expr=up",
                "fingerprint": "c4a2d4b2e5f8a1b3",
            },
            {
                "status": "firing",
                "labels": {
                    "alertname": "HighLatency",
                    "job": "checkout",
                    "instance": "10.0.0.2:9100",
                    "severity": "warning",
                    "service": "payments",
                },
                "annotations": {"description": "slow"},
                "startsAt": starts,
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.example.com:9090/graph?g0.expr=up",
                "fingerprint": "d5b3e5c3f6a9b2c4",
            },
        ],
    }


@pytest.fixture
def app(store: Store, tmp_path: Path) -> Iterator[TestClient]:
    config = load_config_text(f"store:\n  state_dir: {tmp_path / 'state'}\n", "flightdeck.yaml", env={})
    with TestClient(create_app(config, store), base_url="http://127.0.0.1") as client:
        token, _ = create_token(store, "alertmanager", Role.OPERATOR)
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def stored(store: Store) -> list[AlertRow]:
    with store.engine.connect() as conn:
        return [AlertRow.from_row(r) for r in conn.execute(select(alerts).order_by(alerts.c.id)).mappings()]


def count(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(alerts)).scalar_one())


def iso(clock: FakeClock, delta: timedelta = timedelta(0)) -> str:
    return (clock.now() + delta).isoformat().replace("+00:00", "Z")


def test_alertmanager_payload_fires_alerts(app: TestClient, store: Store, clock: FakeClock) -> None:
    payload = am_payload(iso(clock, -timedelta(minutes=3)), iso(clock, timedelta(minutes=5)))
    response = app.post(AM, json=payload)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["fired"], body["resolved"], body["unmatched"]) == (2, 2, 0, 0)
    first, second = stored(store)
    assert body["alert_ids"] == [first.id, second.id]
    assert first.source is AlertSource.ALERTMANAGER
    assert (first.rule, first.severity, first.service, first.state) == (
        "HighLatency",
        Severity.P1,
        "checkout",  # from job
        AlertState.FIRING,
    )
    assert first.labels["severity"] == "P1"  # the mapped value, so silences match severity=P1
    assert first.labels["instance"] == "10.0.0.1:9100"
    assert first.summary == "p95 latency above 400 ms"
    assert first.runbook == "https://wiki.example.com/latency"
    assert first.annotations["generator_url"].startswith("http://prometheus.example.com")
    assert first.ends_at == clock.now() + timedelta(minutes=5)
    assert (second.severity, second.service, second.summary) == (Severity.P3, "payments", "slow")
    assert second.ends_at is None  # Go's zero time: no end announced


def test_repeats_refresh_and_resolved_resolves(app: TestClient, store: Store, clock: FakeClock) -> None:
    payload = am_payload(iso(clock), iso(clock, timedelta(minutes=5)))
    app.post(AM, json=payload)
    clock.advance(60)
    assert app.post(AM, json=payload).json()["fired"] == 2
    assert count(store) == 2  # the same alerts refreshed, not new ones
    resolved = copy.deepcopy(payload)
    resolved["status"] = "resolved"
    resolved["alerts"][0]["status"] = "resolved"
    resolved["alerts"][0]["endsAt"] = iso(clock)
    body = app.post(AM, json=resolved).json()
    assert (body["fired"], body["resolved"]) == (1, 1)
    first, second = stored(store)
    assert first.state is AlertState.RESOLVED
    assert first.resolved_at == clock.now()
    assert second.state is AlertState.FIRING
    again = app.post(AM, json={"version": "4", "alerts": [resolved["alerts"][0]]}).json()
    assert (again["resolved"], again["unmatched"]) == (0, 1)


def test_an_alert_alertmanager_stops_sending_resolves_itself(
    app: TestClient, store: Store, clock: FakeClock
) -> None:
    app.post(AM, json=am_payload(iso(clock), iso(clock, timedelta(minutes=5))))
    clock.advance(timedelta(minutes=5))
    with store.engine.begin() as conn:
        assert resolve_expired(conn, clock.now()) == 1
    assert [a.state for a in stored(store)] == [AlertState.RESOLVED, AlertState.FIRING]


def test_a_bad_third_alert_stores_none_of_the_first_two(
    app: TestClient, store: Store, clock: FakeClock
) -> None:
    payload = am_payload(iso(clock), iso(clock, timedelta(minutes=5)))
    bad = copy.deepcopy(payload["alerts"][0])
    del bad["labels"]["alertname"]
    payload["alerts"].append(bad)
    response = app.post(AM, json=payload)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_payload"
    assert error["where"] == "alerts[2].labels.alertname"
    assert "alerts[2].labels.alertname: is required" in error["message"]
    assert count(store) == 0


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda p: p.update(alerts="x"), "alerts"),
        (lambda p: p.pop("alerts"), "alerts"),
        (lambda p: p.update(version="3"), "version"),
        (lambda p: p["alerts"][1].update(status="broken"), "alerts[1].status"),
        (lambda p: p["alerts"][1]["labels"].update(instance=5), "alerts[1].labels.instance"),
        (lambda p: p["alerts"][0].update(endsAt="yesterday"), "alerts[0].endsAt"),
        (lambda p: p["alerts"][0].update(annotations=[]), "alerts[0].annotations"),
        (lambda p: p["alerts"][0]["labels"].update(alertname="x" * 201), "alerts[0].labels.alertname"),
    ],
)
def test_malformed_alertmanager_payloads(
    app: TestClient, store: Store, clock: FakeClock, mutate: Any, where: str
) -> None:
    payload = am_payload(iso(clock), iso(clock, timedelta(minutes=5)))
    mutate(payload)
    response = app.post(AM, json=payload)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["where"] == where
    assert count(store) == 0


def test_not_json_too_large_and_credentials(app: TestClient, store: Store) -> None:
    response = app.post(AM, content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("the body is not JSON")
    big = json.dumps({"alerts": [], "pad": "x" * MAX_BODY_BYTES}).encode()
    assert app.post(AM, content=big).status_code == 413
    assert app.post(EVENTS, content=big).status_code == 413
    anonymous = app.post(AM, json={"alerts": []}, headers={"Authorization": ""})
    assert anonymous.status_code == 401
    viewer, _ = create_token(store, "reader", Role.VIEWER)
    denied = app.post(EVENTS, json={"rule": "x"}, headers={"Authorization": f"Bearer {viewer}"})
    assert denied.status_code == 403
    assert count(store) == 0


@pytest.mark.parametrize(
    ("word", "severity"),
    [
        ("critical", Severity.P1),
        ("CRITICAL", Severity.P1),
        ("error", Severity.P2),
        ("major", Severity.P2),
        ("warning", Severity.P3),
        ("minor", Severity.P3),
        ("info", Severity.P3),
        ("security", Severity.SECURITY),
        ("P1", Severity.P1),
        ("p2", Severity.P2),
        ("P3", Severity.P3),
        ("page-everyone", Severity.P3),
        (None, Severity.P3),
    ],
)
def test_severity_mapping(word: str | None, severity: Severity) -> None:
    assert map_severity(word) is severity


def test_strict_severity_names_the_place() -> None:
    with pytest.raises(PayloadError) as caught:
        map_severity("urgent", strict=True, where="[1].severity")
    assert caught.value.where == "[1].severity"
    assert "unknown severity 'urgent'" in str(caught.value)


def test_endsat_in_the_past_is_not_an_expiry(clock: FakeClock) -> None:
    payload = am_payload(iso(clock), iso(clock, -timedelta(seconds=1)))
    items = parse_alertmanager(payload, clock.now())
    assert [i.alert.ends_at for i in items] == [None, None]


def test_generic_events_trigger_and_resolve(app: TestClient, store: Store, clock: FakeClock) -> None:
    event = {
        "event_action": "trigger",
        "rule": "wallet-mismatch",
        "severity": "P2",
        "service": "wallets",
        "summary": "wallet totals differ by 12.50 EUR",
        "labels": {"wallet": "w-17"},
        "dedup_key": "recon-2026-01-05",
        "runbook": "https://wiki.example.com/wallets",
        "value": 1250,
    }
    first = app.post(EVENTS, json=event)
    assert first.status_code == 200, first.text
    again = app.post(EVENTS, json={**event, "summary": "still differ"})
    assert again.json()["alert_ids"] == first.json()["alert_ids"]  # the dedup key maps repeats to one alert
    (alert,) = stored(store)
    assert alert.source is AlertSource.EVENT
    assert (alert.rule, alert.severity, alert.service, alert.value) == (
        "wallet-mismatch",
        Severity.P2,
        "wallets",
        1250,
    )
    assert alert.labels["dedup_key"] == "recon-2026-01-05"
    assert alert.summary == "still differ"
    assert alert.runbook == "https://wiki.example.com/wallets"
    done = app.post(
        EVENTS, json={"event_action": "resolve", "name": "wallet-mismatch", "dedup_key": "recon-2026-01-05"}
    )
    assert done.json()["resolved"] == 1
    assert stored(store)[0].state is AlertState.RESOLVED


def test_a_list_of_events_without_dedup_key(app: TestClient, store: Store) -> None:
    events = [
        {"name": "disk-full", "severity": "warning", "service": "db", "labels": {"host": "db1"}},
        {"name": "disk-full", "severity": "warning", "service": "db", "labels": {"host": "db2"}},
    ]
    body = app.post(EVENTS, json=events).json()
    assert (body["accepted"], body["fired"]) == (2, 2)
    resolved = app.post(EVENTS, json={**events[1], "event_action": "resolve"}).json()
    assert resolved["resolved"] == 1
    assert [a.state for a in stored(store)] == [AlertState.FIRING, AlertState.RESOLVED]
    assert stored(store)[0].severity is Severity.P3


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        ([{"rule": "a"}, {"rule": "b", "severity": "urgent"}], "[1].severity"),
        ([{"rule": "a"}, {"severity": "P1"}], "[1].rule"),
        ({"rule": "a", "event_action": "open"}, "event_action"),
        ({"rule": "a", "labels": {"x": 1}}, "labels.x"),
        ({"rule": "a", "value": "high"}, "value"),
        ({"rule": "a", "dedup_key": ""}, "dedup_key"),
        ({"rule": "a", "service": 3}, "service"),
        ([], ""),
        ("trigger", ""),
    ],
)
def test_malformed_events_store_nothing(app: TestClient, store: Store, payload: Any, where: str) -> None:
    response = app.post(EVENTS, json=payload)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["where"] == where
    assert count(store) == 0
