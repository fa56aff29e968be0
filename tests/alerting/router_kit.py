"""Helpers of the router, escalation and stats tests: a configuration, firing alerts, reading the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from flightdeck.alerting.alerts import AlertInput, fingerprint, fire, resolve
from flightdeck.alerting.model import Message
from flightdeck.alerting.router import Router
from flightdeck.clock import FakeClock
from flightdeck.config import load_config_text
from flightdeck.config.alerting import Severity
from flightdeck.config.models import Config
from flightdeck.store import Store
from flightdeck.store.tables import alerts, incidents, outbox

__all__ = [
    "BASE_YAML",
    "ROUTING_KEY",
    "SIGNING_KEY",
    "T0",
    "Row",
    "alert_row",
    "fire_alert",
    "incident_rows",
    "make_config",
    "make_router",
    "outbox_rows",
    "resolve_alert",
    "sec",
]

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SIGNING_KEY = "test-signing-key-0123456789abcdef"
ROUTING_KEY = "pd-routing-key-do-not-leak"

BASE_YAML = f"""
services:
  checkout: {{}}
  wallet: {{}}
server: {{public_url: "https://fd.example.com/"}}
channels:
  chat: {{type: webhook, url: "http://127.0.0.1:9/chat-hook-secret"}}
  sms: {{type: webhook, url: "http://127.0.0.1:9/sms"}}
  mail: {{type: webhook, url: "http://127.0.0.1:9/mail"}}
  pd: {{type: pagerduty, base_url: "http://127.0.0.1:9", routing_key: "{ROUTING_KEY}"}}
oncall:
  users:
    abebe:
      contacts:
        - {{channel: sms, to: "+251911000001"}}
        - {{channel: mail, to: abebe@example.com, after: 5m}}
    tendai:
      contacts:
        - {{channel: sms, to: "+263770000002"}}
  escalation_policies:
    page:
      levels:
        - {{targets: [{{user: abebe}}, {{channel: chat}}, {{channel: pd}}], timeout: 10m}}
        - {{targets: [{{user: tendai}}], timeout: 15m}}
      repeat: 1
    chat-only:
      levels: [{{targets: [{{channel: chat}}], timeout: 1h}}]
alerting:
  starter_rules: false
  signing_key: "{SIGNING_KEY}"
  grouping: {{group_by: [service], group_wait: 30s, group_interval: 5m, repeat_interval: 4h}}
  routes:
    - {{severity: P1, policy: page}}
    - {{severity: [P2, P3], policy: chat-only}}
"""


def make_config(tmp_path: Path, extra: str = "", *, routes: str | None = None) -> Config:
    """The base configuration; ``extra`` YAML is appended under ``alerting:`` (indented two spaces);
    ``routes`` replaces the routes block."""
    text = BASE_YAML
    if routes is not None:
        head, _, _ = text.partition("  routes:\n")
        text = head + routes
    if extra:
        text += extra
    text += f"store: {{state_dir: {tmp_path}}}\n"
    return load_config_text(text, "flightdeck.yaml", env={}, base_dir=tmp_path)


def make_router(config: Config, store: Store) -> Router:
    return Router(config, store, FakeClock(T0), "test-node")


def sec(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def fire_alert(
    store: Store, rule: str, service: str, severity: str, at: datetime, summary: str = "", **labels: str
) -> str:
    alert = AlertInput(
        rule=rule, severity=Severity(severity), service=service, summary=summary, labels=labels
    )
    with store.engine.begin() as conn:
        fire(conn, alert, at)
    return fingerprint(alert.all_labels())


def resolve_alert(store: Store, fp: str, at: datetime) -> None:
    with store.engine.begin() as conn:
        assert resolve(conn, fp, at)


@dataclass(frozen=True)
class Row:
    key: str
    channel: str
    recipient: str | None
    address: str | None
    action: str
    state: str
    next_attempt_at: datetime
    cancel_on_ack: bool
    message: Message


def outbox_rows(store: Store) -> list[Row]:
    with store.engine.begin() as conn:
        rows = conn.execute(select(outbox).order_by(outbox.c.id)).mappings().all()
    return [
        Row(
            r["idempotency_key"],
            r["channel"],
            r["recipient"],
            r["address"],
            r["action"],
            r["state"],
            r["next_attempt_at"],
            r["cancel_on_ack"],
            Message.from_payload(r["payload"]),
        )
        for r in rows
    ]


def alert_row(store: Store, fp: str) -> dict[str, object]:
    with store.engine.begin() as conn:
        row = (
            conn.execute(select(alerts).where(alerts.c.fingerprint == fp).order_by(alerts.c.id.desc()))
            .mappings()
            .first()
        )
    assert row is not None
    return dict(row)


def incident_rows(store: Store) -> list[dict[str, object]]:
    with store.engine.begin() as conn:
        return [dict(r) for r in conn.execute(select(incidents).order_by(incidents.c.id)).mappings()]
