"""Suppression in the router: silences, inhibition (the default rule and configured ones) and
maintenance windows (one-off and cron) suppress alerts, and routing resumes when they end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from flightdeck.alerting.maintenance import window_active, window_matches
from flightdeck.alerting.silences import Matcher, create_silence, expire_silence
from flightdeck.config.alerting import MaintenanceWindow
from flightdeck.store import Store

from .router_kit import (
    alert_row,
    fire_alert,
    incident_rows,
    make_config,
    make_router,
    outbox_rows,
    resolve_alert,
    sec,
)


def test_a_silence_suppresses_and_its_expiry_routes_again(store: Store, tmp_path: Path) -> None:
    router = make_router(make_config(tmp_path), store)
    with store.engine.begin() as conn:
        sid = create_silence(
            conn, [Matcher.parse("service=checkout")], sec(0), sec(3600), "abebe", "deploy", sec(0)
        )
    fp = fire_alert(store, "db-latency", "checkout", "P2", sec(10))
    other = fire_alert(store, "db-latency", "wallet", "P2", sec(10))
    router.step_sync(sec(10))
    row = alert_row(store, fp)
    assert (row["suppressed"], row["suppressed_by"], row["incident_id"]) == ("silenced", str(sid), None)
    assert alert_row(store, other)["suppressed"] is None
    assert [i["service"] for i in incident_rows(store)] == ["wallet"]
    router.step_sync(sec(100))
    assert {r.message.service for r in outbox_rows(store)} == {"wallet"}
    with store.engine.begin() as conn:
        assert expire_silence(conn, sid, "abebe", sec(200))
    router.step_sync(sec(200))
    row = alert_row(store, fp)
    assert row["suppressed"] is None
    assert row["incident_id"] is not None
    router.step_sync(sec(230))  # group_wait after the incident opened at 200
    assert {r.message.service for r in outbox_rows(store)} == {"wallet", "checkout"}


def test_a_silence_ending_by_time_routes_again(sqlite_store: Store, tmp_path: Path) -> None:
    router = make_router(make_config(tmp_path), sqlite_store)
    with sqlite_store.engine.begin() as conn:
        create_silence(
            conn, [Matcher.parse("alertname=~db-.*")], None, sec(600), "abebe", "migration", sec(0)
        )
    fp = fire_alert(sqlite_store, "db-latency", "checkout", "P2", sec(0))
    router.step_sync(sec(0))
    router.step_sync(sec(599))
    assert alert_row(sqlite_store, fp)["suppressed"] == "silenced"
    assert incident_rows(sqlite_store) == []
    router.step_sync(sec(600))
    assert alert_row(sqlite_store, fp)["suppressed"] is None
    assert len(incident_rows(sqlite_store)) == 1


def test_an_open_p1_inhibits_p2_p3_of_its_service_by_default(store: Store, tmp_path: Path) -> None:
    router = make_router(make_config(tmp_path), store)
    p1 = fire_alert(store, "app-down", "checkout", "P1", sec(0))
    p3 = fire_alert(store, "high-memory", "checkout", "P3", sec(0))
    elsewhere = fire_alert(store, "high-memory", "wallet", "P3", sec(0))
    router.step_sync(sec(0))
    row = alert_row(store, p3)
    assert (row["suppressed"], row["suppressed_by"], row["incident_id"]) == ("inhibited", p1, None)
    assert alert_row(store, elsewhere)["suppressed"] is None
    assert alert_row(store, p1)["suppressed"] is None
    router.step_sync(sec(30))
    assert {(r.message.service, r.message.severity) for r in outbox_rows(store)} == {
        ("checkout", "P1"),
        ("wallet", "P3"),
    }
    resolve_alert(store, p1, sec(100))
    router.step_sync(sec(100))
    row = alert_row(store, p3)
    assert row["suppressed"] is None
    assert row["incident_id"] is not None
    router.step_sync(sec(130))
    assert ("checkout", "P3") in {(r.message.service, r.message.severity) for r in outbox_rows(store)}


def test_a_silenced_p1_does_not_inhibit(sqlite_store: Store, tmp_path: Path) -> None:
    router = make_router(make_config(tmp_path), sqlite_store)
    with sqlite_store.engine.begin() as conn:
        create_silence(conn, [Matcher.parse("alertname=app-down")], None, sec(600), "abebe", "known", sec(0))
    fire_alert(sqlite_store, "app-down", "checkout", "P1", sec(0))
    p3 = fire_alert(sqlite_store, "high-memory", "checkout", "P3", sec(0))
    router.step_sync(sec(0))
    assert alert_row(sqlite_store, p3)["suppressed"] is None


def test_configured_inhibit_rules_replace_the_default(sqlite_store: Store, tmp_path: Path) -> None:
    extra = "  inhibit:\n    - {source: {alertname: db-down}, target: {alertname: db-latency}, equal: [service]}\n"
    router = make_router(make_config(tmp_path, extra), sqlite_store)
    fire_alert(sqlite_store, "app-down", "checkout", "P1", sec(0))
    p3 = fire_alert(sqlite_store, "high-memory", "checkout", "P3", sec(0))
    fire_alert(sqlite_store, "db-down", "wallet", "P2", sec(0))
    latency = fire_alert(sqlite_store, "db-latency", "wallet", "P3", sec(0))
    router.step_sync(sec(0))
    assert alert_row(sqlite_store, p3)["suppressed"] is None
    assert alert_row(sqlite_store, latency)["suppressed"] == "inhibited"

    off = make_router(make_config(tmp_path, "  inhibit: []\n"), sqlite_store)
    p2 = fire_alert(sqlite_store, "db-latency", "checkout", "P2", sec(1))
    off.step_sync(sec(1))
    assert alert_row(sqlite_store, p2)["suppressed"] is None


MAINTENANCE = """  maintenance:
    - {name: upgrade, services: [checkout], start: "2026-03-02T15:00:00", end: "2026-03-02T15:30:00",
       timezone: Africa/Addis_Ababa}
    - {name: nightly, services: [wallet], cron: "0 2 * * *", duration: 1h, timezone: Africa/Harare}
"""


def test_maintenance_windows_one_off_and_cron(store: Store, tmp_path: Path) -> None:
    config = make_config(tmp_path, MAINTENANCE)
    router = make_router(config, store)
    # 15:00 in Addis Ababa (UTC+3) is 12:00 UTC, T0
    fp = fire_alert(store, "db-latency", "checkout", "P2", sec(0))
    router.step_sync(sec(0))
    row = alert_row(store, fp)
    assert (row["suppressed"], row["suppressed_by"]) == ("maintenance", "upgrade")
    router.step_sync(sec(1799))
    assert incident_rows(store) == []
    router.step_sync(sec(1800))
    assert alert_row(store, fp)["suppressed"] is None
    assert len(incident_rows(store)) == 1
    # 02:00-03:00 in Harare (UTC+2) is 00:00-01:00 UTC
    night = datetime(2026, 3, 3, 0, 30, tzinfo=UTC)
    wallet = fire_alert(store, "db-latency", "wallet", "P2", night)
    router.step_sync(night)
    assert alert_row(store, wallet)["suppressed"] == "maintenance"
    router.step_sync(night + timedelta(minutes=30))
    assert alert_row(store, wallet)["suppressed"] is None


def test_window_active_and_matches() -> None:
    once = MaintenanceWindow(
        name="once", start=datetime(2026, 3, 2, 12, tzinfo=UTC), end=datetime(2026, 3, 2, 12, 10, tzinfo=UTC)
    )
    assert not window_active(once, datetime(2026, 3, 2, 11, 59, tzinfo=UTC))
    assert window_active(once, datetime(2026, 3, 2, 12, 5, tzinfo=UTC))
    assert not window_active(once, datetime(2026, 3, 2, 12, 10, tzinfo=UTC))
    local = MaintenanceWindow(
        name="local",
        start=datetime(2026, 3, 2, 15),
        end=datetime(2026, 3, 2, 16),
        timezone="Africa/Addis_Ababa",
    )
    assert window_active(local, datetime(2026, 3, 2, 12, 0, tzinfo=UTC))  # 15:00 in Addis Ababa
    assert not window_active(local, datetime(2026, 3, 2, 15, 0, tzinfo=UTC))
    weekly = MaintenanceWindow(name="w", cron="0 22 * * sun", duration=7200, timezone="Africa/Harare")
    assert window_active(weekly, datetime(2026, 3, 1, 20, 0, tzinfo=UTC))  # Sun 22:00 Harare
    assert window_active(weekly, datetime(2026, 3, 1, 21, 59, tzinfo=UTC))
    assert not window_active(weekly, datetime(2026, 3, 1, 22, 0, tzinfo=UTC))
    assert not window_active(weekly, datetime(2026, 3, 2, 20, 0, tzinfo=UTC))  # Monday
    labelled = MaintenanceWindow(
        name="l", services=["checkout"], labels={"env": "staging"}, cron="* * * * *", duration=60
    )
    assert window_matches(labelled, {"service": "checkout", "env": "staging"})
    assert not window_matches(labelled, {"service": "checkout", "env": "prod"})
    assert not window_matches(labelled, {"service": "wallet", "env": "staging"})
    assert window_matches(MaintenanceWindow(name="all", cron="* * * * *", duration=60), {})


def test_an_incident_pauses_while_its_alerts_are_silenced(sqlite_store: Store, tmp_path: Path) -> None:
    store = sqlite_store
    router = make_router(make_config(tmp_path), store)
    fp = fire_alert(store, "high-memory", "checkout", "P3", sec(0))
    router.step_sync(sec(0))
    router.step_sync(sec(30))
    assert [r.action for r in outbox_rows(store)] == ["trigger"]
    with store.engine.begin() as conn:
        sid = create_silence(
            conn, [Matcher.parse("service=checkout")], None, sec(10 * 3600), "abebe", "known", sec(60)
        )
    router.step_sync(sec(60))
    row = alert_row(store, fp)
    assert row["suppressed"] == "silenced"
    assert row["incident_id"] == 1  # it stays in its incident
    router.step_sync(sec(30 + 4 * 3600))  # the repeat is not sent while every alert is silenced
    assert [r.action for r in outbox_rows(store)] == ["trigger"]
    with store.engine.begin() as conn:
        assert expire_silence(conn, sid, "abebe", sec(5 * 3600))
    router.step_sync(sec(5 * 3600))
    assert alert_row(store, fp)["suppressed"] is None
    router.step_sync(sec(5 * 3600 + 1))
    assert [r.action for r in outbox_rows(store)] == ["trigger", "update"]
