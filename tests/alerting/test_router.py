"""The router: grouping into incidents, group wait / interval / repeat, auto-resolve, announces,
idempotency. Time is passed explicitly; outbox rows are asserted (nothing is sent here)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from flightdeck.alerting.incidents import acknowledge, get_incident, resolve_incident
from flightdeck.alerting.links import verify_link
from flightdeck.alerting.model import EventKind, IncidentStatus
from flightdeck.alerting.router import Router
from flightdeck.alerting.timeline import timeline
from flightdeck.alerting.timing import handle_due
from flightdeck.store import Store

from .router_kit import (
    ROUTING_KEY,
    SIGNING_KEY,
    alert_row,
    fire_alert,
    incident_rows,
    make_config,
    make_router,
    outbox_rows,
    resolve_alert,
    sec,
)


def _step(router: Router, seconds: float) -> int:
    return asyncio.run(router.step(sec(seconds)))


def test_group_wait_then_one_trigger_with_links(store: Store, tmp_path: Path) -> None:
    router = make_router(make_config(tmp_path), store)
    fp = fire_alert(store, "db-latency", "checkout", "P2", sec(0), summary="p95 450 ms")
    assert _step(router, 0) == 1
    [inc] = incident_rows(store)
    assert inc["status"] == "triggered"
    assert inc["policy"] == "chat-only"
    assert inc["severity"] == "P2"
    assert alert_row(store, fp)["incident_id"] == inc["id"]
    assert alert_row(store, fp)["dirty"] is False
    _step(router, 29)
    assert outbox_rows(store) == []
    _step(router, 30)
    [row] = outbox_rows(store)
    assert (row.key, row.channel, row.action, row.recipient) == (
        f"inc{inc['id']}:r0:l0:chat:-:0",
        "chat",
        "trigger",
        None,
    )
    msg = row.message
    assert msg.dedup_key == f"flightdeck-incident-{inc['id']}"
    assert msg.level == 0
    assert msg.links["view"] == f"https://fd.example.com/incidents/{inc['id']}"
    token = msg.links["ack"].rsplit("/a/", 1)[1]
    link = verify_link(SIGNING_KEY.encode(), token, sec(60))
    assert (link.incident_id, link.action) == (inc["id"], "ack")
    assert [a.summary for a in msg.alerts] == ["p95 450 ms"]
    with store.engine.begin() as conn:
        kinds = [e.kind for e in timeline(conn, int(str(inc["id"])))]
    assert kinds[:2] == [EventKind.TRIGGERED, EventKind.ALERT_FIRING]
    assert EventKind.NOTIFICATION_QUEUED in kinds


def test_two_alerts_of_one_service_make_one_incident(sqlite_store: Store, tmp_path: Path) -> None:
    store = sqlite_store
    router = make_router(make_config(tmp_path), store)
    fire_alert(store, "high-memory", "checkout", "P3", sec(0), summary="memory 93%")
    fire_alert(store, "db-latency", "checkout", "P2", sec(5), summary="p95 450 ms")
    fire_alert(store, "db-latency", "wallet", "P2", sec(5))
    router.step_sync(sec(10))
    incs = incident_rows(store)
    assert len(incs) == 2
    checkout = next(i for i in incs if i["service"] == "checkout")
    assert checkout["severity"] == "P2"  # the most urgent of its alerts
    assert checkout["title"] == "checkout: p95 450 ms (+1 more)"
    router.step_sync(sec(39))
    assert outbox_rows(store) == []
    router.step_sync(sec(40))  # group_wait counts from the incident's creation
    rows = [r for r in outbox_rows(store) if r.message.incident_id == checkout["id"]]
    assert len(rows) == 1
    assert {a.rule for a in rows[0].message.alerts} == {"high-memory", "db-latency"}


def test_group_interval_and_repeat_interval(store: Store, tmp_path: Path) -> None:
    router = make_router(make_config(tmp_path), store)
    fire_alert(store, "high-memory", "checkout", "P3", sec(0))
    router.step_sync(sec(0))
    router.step_sync(sec(30))
    assert [r.action for r in outbox_rows(store)] == ["trigger"]
    fire_alert(store, "db-latency", "checkout", "P2", sec(60))
    router.step_sync(sec(60))
    router.step_sync(sec(329))  # group_interval (5 min) after the last notification is 330
    assert [r.action for r in outbox_rows(store)] == ["trigger"]
    router.step_sync(sec(330))
    rows = outbox_rows(store)
    assert [r.action for r in rows] == ["trigger", "update"]
    assert {a.rule for a in rows[1].message.alerts} == {"high-memory", "db-latency"}
    # unchanged and unacknowledged: repeated every 4 h after the last notification
    router.step_sync(sec(330 + 4 * 3600 - 1))
    assert len(outbox_rows(store)) == 2
    router.step_sync(sec(330 + 4 * 3600))
    assert [r.action for r in outbox_rows(store)] == ["trigger", "update", "update"]
    # acknowledged: no more repeats
    with store.engine.begin() as conn:
        assert acknowledge(conn, rows[0].message.incident_id or 0, "abebe", sec(330 + 4 * 3600 + 5))
    router.step_sync(sec(330 + 4 * 3600 + 5))
    router.step_sync(sec(330 + 8 * 3600 + 10))
    assert [r.action for r in outbox_rows(store)][:3] == ["trigger", "update", "update"]
    assert "update" not in [r.action for r in outbox_rows(store)][3:]


def test_step_twice_and_redo_after_a_crash_enqueue_nothing_new(store: Store, tmp_path: Path) -> None:
    config = make_config(tmp_path)
    router = make_router(config, store)
    fire_alert(store, "app-down", "checkout", "P1", sec(0))
    router.step_sync(sec(0))
    [inc] = incident_rows(store)
    # a crash mid-step: the transaction doing the first notification rolls back
    with store.engine.connect() as conn:
        trans = conn.begin()
        assert handle_due(conn, config, router.key, int(str(inc["id"])), sec(30))
        trans.rollback()
    assert outbox_rows(store) == []
    router.step_sync(sec(30))
    first = [r.key for r in outbox_rows(store)]
    assert len(first) == 4  # abebe by sms, abebe by mail later, chat, pagerduty
    assert router.step_sync(sec(30)) == 0
    router.step_sync(sec(31))
    assert [r.key for r in outbox_rows(store)] == first
    # a second router (another process taking over) does nothing more either
    make_router(config, store).step_sync(sec(31))
    assert [r.key for r in outbox_rows(store)] == first


def test_auto_resolve_sends_resolve_to_everyone_paged(store: Store, tmp_path: Path) -> None:
    router = make_router(make_config(tmp_path), store)
    fp1 = fire_alert(store, "app-down", "checkout", "P1", sec(0))
    fp2 = fire_alert(store, "payment-failures", "checkout", "P1", sec(1))
    router.step_sync(sec(1))
    router.step_sync(sec(30))
    resolve_alert(store, fp1, sec(60))
    router.step_sync(sec(60))
    [inc] = incident_rows(store)
    assert inc["status"] == "triggered"
    resolve_alert(store, fp2, sec(90))
    router.step_sync(sec(90))
    [inc] = incident_rows(store)
    assert (inc["status"], inc["resolved_by"], inc["next_escalation_at"]) == ("resolved", "flightdeck", None)
    rows = outbox_rows(store)
    resolves = [r for r in rows if r.action == "resolve"]
    assert {(r.channel, r.recipient) for r in resolves} == {("sms", "abebe"), ("chat", None), ("pd", None)}
    assert all(r.message.status == "resolved" for r in resolves)
    # abebe's delayed email (5 min) was not due yet: cancelled, and not sent a resolve
    assert [r.state for r in rows if r.channel == "mail"] == ["cancelled"]
    with store.engine.begin() as conn:
        kinds = [e.kind for e in timeline(conn, int(str(inc["id"])))]
    assert kinds.count(EventKind.ALERT_RESOLVED) == 2
    assert kinds[-1] is not EventKind.TRIGGERED
    assert EventKind.RESOLVED in kinds
    router.step_sync(sec(91))
    assert len(outbox_rows(store)) == len(rows)
    # a new alert of the service opens a new incident
    fire_alert(store, "app-down", "checkout", "P1", sec(120))
    router.step_sync(sec(120))
    assert [i["status"] for i in incident_rows(store)] == ["resolved", "triggered"]


def test_resolved_before_group_wait_notifies_nobody(sqlite_store: Store, tmp_path: Path) -> None:
    router = make_router(make_config(tmp_path), sqlite_store)
    fp = fire_alert(sqlite_store, "app-down", "checkout", "P1", sec(0))
    router.step_sync(sec(0))
    resolve_alert(sqlite_store, fp, sec(10))
    router.step_sync(sec(10))
    router.step_sync(sec(40))
    assert [i["status"] for i in incident_rows(sqlite_store)] == ["resolved"]
    assert outbox_rows(sqlite_store) == []


def test_no_route_opens_an_incident_but_notifies_nobody(sqlite_store: Store, tmp_path: Path) -> None:
    config = make_config(tmp_path, routes="  routes:\n    - {severity: P1, policy: page}\n")
    router = make_router(config, sqlite_store)
    fire_alert(sqlite_store, "high-memory", "checkout", "P3", sec(0))
    router.step_sync(sec(0))
    router.step_sync(sec(4 * 3600 + 60))
    [inc] = incident_rows(sqlite_store)
    assert inc["policy"] is None
    assert inc["status"] == "triggered"
    assert outbox_rows(sqlite_store) == []


def test_announces_ack_to_channels_and_resolve_to_everyone(store: Store, tmp_path: Path) -> None:
    router = make_router(make_config(tmp_path), store)
    fire_alert(store, "app-down", "checkout", "P1", sec(0))
    router.step_sync(sec(0))
    router.step_sync(sec(30))
    [inc] = incident_rows(store)
    incident_id = int(str(inc["id"]))
    with store.engine.begin() as conn:
        assert acknowledge(conn, incident_id, "abebe", sec(40), via="web")
    router.step_sync(sec(40))
    acks = [r for r in outbox_rows(store) if r.action == "acknowledge"]
    assert {(r.channel, r.recipient) for r in acks} == {("chat", None), ("pd", None)}
    assert incident_rows(store)[0]["announce"] is None
    router.step_sync(sec(41))
    assert len([r for r in outbox_rows(store) if r.action == "acknowledge"]) == 2
    with store.engine.begin() as conn:
        assert resolve_incident(conn, incident_id, "abebe", sec(50))
        assert get_incident(conn, incident_id).status is IncidentStatus.RESOLVED
    router.step_sync(sec(50))
    resolves = [r for r in outbox_rows(store) if r.action == "resolve"]
    assert {(r.channel, r.recipient) for r in resolves} == {("sms", "abebe"), ("chat", None), ("pd", None)}
    assert incident_rows(store)[0]["announce"] is None


def test_no_secret_in_the_outbox_or_timeline(sqlite_store: Store, tmp_path: Path) -> None:
    router = make_router(make_config(tmp_path), sqlite_store)
    fire_alert(sqlite_store, "app-down", "checkout", "P1", sec(0))
    router.step_sync(sec(0))
    router.step_sync(sec(30))
    router.step_sync(sec(30 + 600))
    with sqlite_store.engine.begin() as conn:
        dump = repr([r.message.to_payload() for r in outbox_rows(sqlite_store)])
        dump += repr([(e.message, e.detail) for e in timeline(conn, 1)])
    for secret in (ROUTING_KEY, SIGNING_KEY, "chat-hook-secret"):
        assert secret not in dump
