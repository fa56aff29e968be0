"""Incidents made by hand for the web, link and CLI tests: an incident row, its alerts, timeline
events and outbox rows (one of them a dead letter), written with the store functions the router
uses."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert, update

from flightdeck.alerting.alerts import AlertInput, fire
from flightdeck.alerting.model import Action, AlertSource, EventKind, IncidentStatus, Message, OutboxState
from flightdeck.alerting.outbox import enqueue
from flightdeck.alerting.timeline import add_event
from flightdeck.config.alerting import Severity
from flightdeck.store import Store
from flightdeck.store.tables import alerts, incidents, outbox

__all__ = ["PHONE", "seed_incident"]

PHONE = "+251911000001"


def seed_incident(
    store: Store,
    *,
    title: str = "checkout is down",
    service: str = "checkout",
    severity: Severity = Severity.P1,
    at: datetime | None = None,
    dead_letter: bool = True,
) -> int:
    """A triggered incident with one firing alert, a sent WhatsApp page and (by default) a dead email."""
    now = at or store.clock.now()
    with store.engine.begin() as conn:
        result = conn.execute(
            insert(incidents).values(
                group_key=f"{service}-{title}-{now.timestamp()}",
                group_labels={"service": service},
                title=title,
                service=service,
                severity=severity.value,
                status=IncidentStatus.TRIGGERED.value,
                policy="page-primary",
                created_at=now,
                updated_at=now,
                escalation_level=0,
                escalation_round=0,
                notified={},
                version=1,
            )
        )
        pk = result.inserted_primary_key
        assert pk is not None
        incident_id = int(pk[0])
        alert_id = fire(
            conn,
            AlertInput(
                rule="app-down",
                severity=severity,
                service=service,
                labels={"instance": f"web-{incident_id}"},
                summary=f"{service} answers 503",
                runbook="https://wiki.example.com/app-down",
                source=AlertSource.RULE,
            ),
            now,
        )
        conn.execute(
            update(alerts).where(alerts.c.id == alert_id).values(incident_id=incident_id, dirty=False)
        )
        add_event(conn, incident_id, EventKind.TRIGGERED, f"incident opened: {title}", at=now)
        add_event(conn, incident_id, EventKind.ALERT_FIRING, "app-down firing", at=now)
        message = Message(
            action=Action.TRIGGER,
            title=title,
            severity=severity.value,
            service=service,
            incident_id=incident_id,
            dedup_key=f"flightdeck-incident-{incident_id}",
            links={"ack": "http://127.0.0.1/a/SIGNED-LINK-TOKEN"},
        )
        sent = enqueue(
            conn,
            idempotency_key=f"inc{incident_id}:n1:whatsapp:abebe:0",
            channel="whatsapp",
            message=message,
            now=now,
            recipient="abebe",
            address=PHONE,
        )
        conn.execute(
            update(outbox)
            .where(outbox.c.id == sent.id)
            .values(
                state=OutboxState.SENT.value, attempts=1, sent_at=now + timedelta(seconds=1), last_status=200
            )
        )
        if dead_letter:
            dead = enqueue(
                conn,
                idempotency_key=f"inc{incident_id}:n1:email:abebe:1",
                channel="email",
                message=message,
                now=now,
                recipient="abebe",
                address="abebe@example.com",
            )
            conn.execute(
                update(outbox)
                .where(outbox.c.id == dead.id)
                .values(
                    state=OutboxState.DEAD.value,
                    attempts=1,
                    last_status=550,
                    last_error="mailbox unavailable",
                )
            )
            add_event(
                conn,
                incident_id,
                EventKind.NOTIFICATION_DEAD,
                "email to abebe failed for good: 550 mailbox unavailable",
                at=now,
                detail={"outbox_id": dead.id},
            )
    return incident_id
