"""Escalation through levels with timeouts and repeat; acknowledgement stops it and cancels delayed
contacts; schedule targets page whoever is on call."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from flightdeck.alerting.escalation import level_contacts, next_step
from flightdeck.alerting.incidents import acknowledge
from flightdeck.alerting.model import EventKind
from flightdeck.alerting.timeline import timeline
from flightdeck.config import load_config_text
from flightdeck.store import Store

from .router_kit import BASE_YAML, fire_alert, incident_rows, make_config, make_router, outbox_rows, sec

FIRST = 30  # group_wait: the first notification (level 0)
L0, L1 = 600, 900  # level timeouts


def _keys(store: Store) -> list[str]:
    return [r.key for r in outbox_rows(store)]


def test_levels_timeouts_and_repeat(store: Store, tmp_path: Path) -> None:
    router = make_router(make_config(tmp_path), store)
    fire_alert(store, "app-down", "checkout", "P1", sec(0))
    router.step_sync(sec(0))
    router.step_sync(sec(FIRST))
    rows = outbox_rows(store)
    assert [(r.channel, r.recipient, r.address) for r in rows] == [
        ("sms", "abebe", "+251911000001"),
        ("mail", "abebe", "abebe@example.com"),
        ("chat", None, None),
        ("pd", None, None),
    ]
    mail = rows[1]
    assert mail.cancel_on_ack
    assert mail.next_attempt_at == sec(FIRST + 300)
    assert not rows[0].cancel_on_ack
    assert rows[0].next_attempt_at == sec(FIRST)
    assert all(r.action == "trigger" and r.message.level == 0 for r in rows)

    router.step_sync(sec(FIRST + L0 - 1))
    assert len(outbox_rows(store)) == 4
    router.step_sync(sec(FIRST + L0))  # level 1: tendai
    assert _keys(store)[4:] == ["inc1:r0:l1:sms:tendai:0"]
    assert outbox_rows(store)[4].message.level == 1
    router.step_sync(sec(FIRST + L0 + L1))  # repeat: round 1, level 0 again
    assert _keys(store)[5:] == [
        "inc1:r1:l0:sms:abebe:0",
        "inc1:r1:l0:mail:abebe:1",
        "inc1:r1:l0:chat:-:0",
        "inc1:r1:l0:pd:-:0",
    ]
    router.step_sync(sec(FIRST + 2 * L0 + L1))
    assert _keys(store)[9:] == ["inc1:r1:l1:sms:tendai:0"]
    router.step_sync(sec(FIRST + 2 * L0 + 2 * L1))  # repeat: 1 exhausted
    [inc] = incident_rows(store)
    assert inc["next_escalation_at"] is None
    assert (inc["escalation_level"], inc["escalation_round"]) == (1, 1)
    assert len(outbox_rows(store)) == 10
    with store.engine.begin() as conn:
        escalations = [e for e in timeline(conn, 1) if e.kind is EventKind.ESCALATED]
    assert [(e.detail["level"], e.detail["round"]) for e in escalations] == [(1, 0), (0, 1), (1, 1)]


def test_ack_stops_escalation_and_cancels_delayed_contacts(store: Store, tmp_path: Path) -> None:
    router = make_router(make_config(tmp_path), store)
    fire_alert(store, "app-down", "checkout", "P1", sec(0))
    router.step_sync(sec(0))
    router.step_sync(sec(FIRST))
    with store.engine.begin() as conn:
        assert acknowledge(conn, 1, "abebe", sec(FIRST + 60), via="link")
    router.step_sync(sec(FIRST + 60))
    router.step_sync(sec(FIRST + L0))
    router.step_sync(sec(FIRST + L0 + L1 + 4 * 3600))
    rows = outbox_rows(store)
    assert not any(":l1:" in r.key or ":r1:" in r.key for r in rows)
    assert [r.state for r in rows if r.channel == "mail"] == ["cancelled"]
    assert [r.action for r in rows if r.action != "trigger"] == ["acknowledge", "acknowledge"]
    [inc] = incident_rows(store)
    assert inc["status"] == "acknowledged"
    assert inc["next_escalation_at"] is None


def test_next_step_and_level_contacts(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    page = config.oncall.escalation_policies["page"]
    assert next_step(page, 0, 0) == (1, 0)
    assert next_step(page, 1, 0) == (0, 1)
    assert next_step(page, 1, 1) is None
    contacts = level_contacts(config, page.levels[0], sec(0))
    assert [(c.channel, c.user, c.delay, c.index) for c in contacts] == [
        ("sms", "abebe", 0.0, 0),
        ("mail", "abebe", 300.0, 1),
        ("chat", None, 0.0, 0),
        ("pd", None, 0.0, 0),
    ]


SCHEDULE = """
  schedules:
    primary:
      timezone: Africa/Harare
      layers:
        - name: weekly
          rotation: {users: [tendai, abebe], length: weekly, handoff: "09:00", start: 2026-02-23}
"""


@pytest.mark.skipif(
    importlib.util.find_spec("flightdeck.alerting.oncall") is None, reason="on-call module missing"
)
def test_schedule_target_pages_who_is_on_call(sqlite_store: Store, tmp_path: Path) -> None:
    text = BASE_YAML.replace(
        "  escalation_policies:\n", SCHEDULE.lstrip("\n") + "  escalation_policies:\n"
    ).replace(
        "        - {targets: [{user: abebe}, {channel: chat}, {channel: pd}], timeout: 10m}",
        "        - {targets: [{schedule: primary}], timeout: 10m}",
    )
    config = load_config_text(
        text + f"store: {{state_dir: {tmp_path}}}\n", "f.yaml", env={}, base_dir=tmp_path
    )
    router = make_router(config, sqlite_store)
    # week of 2026-02-23 09:00 Harare: tendai; from 2026-03-02 09:00 (07:00 UTC): abebe. T0 is 12:00 UTC on 03-02.
    fire_alert(sqlite_store, "app-down", "checkout", "P1", sec(0))
    router.step_sync(sec(0))
    router.step_sync(sec(FIRST))
    assert [(r.channel, r.recipient) for r in outbox_rows(sqlite_store)] == [
        ("sms", "abebe"),
        ("mail", "abebe"),
    ]
