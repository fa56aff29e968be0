"""Incident state changes made by people: acknowledge, resolve, comment (from the cockpit, the API,
the CLI or a signed link). Each is a compare-and-set, so two clicks at once change it once; each
adds a timeline event. The router (:mod:`flightdeck.alerting.router`) creates incidents, escalates
them and sends the updates these changes owe (``announce``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, select, update

from flightdeck.alerting.model import AlertState, EventKind, IncidentStatus, OutboxState
from flightdeck.alerting.timeline import add_event
from flightdeck.config.alerting import Severity
from flightdeck.errors import NotFoundError
from flightdeck.store.tables import alerts, incidents, outbox

__all__ = ["IncidentRow", "acknowledge", "comment", "get_incident", "resolve_incident"]


@dataclass(frozen=True)
class IncidentRow:
    id: int
    group_key: str
    group_labels: dict[str, str]
    title: str
    service: str
    severity: Severity
    status: IncidentStatus
    policy: str | None
    created_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    escalation_level: int
    escalation_round: int
    next_escalation_at: datetime | None
    notify_at: datetime | None
    last_notified_at: datetime | None
    version: int

    @classmethod
    def from_row(cls, r: RowMapping | Mapping[str, Any]) -> IncidentRow:
        return cls(
            id=r["id"],
            group_key=r["group_key"],
            group_labels=dict(r["group_labels"] or {}),
            title=r["title"],
            service=r["service"],
            severity=Severity(r["severity"]),
            status=IncidentStatus(r["status"]),
            policy=r["policy"],
            created_at=r["created_at"],
            updated_at=r["updated_at"],
            acknowledged_at=r["acknowledged_at"],
            acknowledged_by=r["acknowledged_by"],
            resolved_at=r["resolved_at"],
            resolved_by=r["resolved_by"],
            escalation_level=r["escalation_level"],
            escalation_round=r["escalation_round"],
            next_escalation_at=r["next_escalation_at"],
            notify_at=r["notify_at"],
            last_notified_at=r["last_notified_at"],
            version=r["version"],
        )


def get_incident(conn: Connection, incident_id: int) -> IncidentRow:
    row = conn.execute(select(incidents).where(incidents.c.id == incident_id)).mappings().first()
    if row is None:
        raise NotFoundError(f"no incident {incident_id}")
    return IncidentRow.from_row(row)


def _cancel_delayed(conn: Connection, incident_id: int, now: datetime) -> None:
    """Contacts waiting for "still unacknowledged" are no longer needed."""
    conn.execute(
        update(outbox)
        .where(
            and_(
                outbox.c.incident_id == incident_id,
                outbox.c.state == OutboxState.PENDING.value,
                outbox.c.cancel_on_ack.is_(True),
            )
        )
        .values(state=OutboxState.CANCELLED.value, last_error="acknowledged before it was due")
    )


def acknowledge(conn: Connection, incident_id: int, actor: str, now: datetime, *, via: str = "cli") -> bool:
    """Acknowledge a triggered incident: escalation stops. False if it was not triggered (already
    acknowledged or resolved); :class:`NotFoundError` if there is no such incident."""
    get_incident(conn, incident_id)
    result = conn.execute(
        update(incidents)
        .where(and_(incidents.c.id == incident_id, incidents.c.status == IncidentStatus.TRIGGERED.value))
        .values(
            status=IncidentStatus.ACKNOWLEDGED.value,
            acknowledged_at=now,
            acknowledged_by=actor,
            next_escalation_at=None,
            announce="acknowledge",
            updated_at=now,
            version=incidents.c.version + 1,
        )
    )
    if result.rowcount == 0:
        return False
    _cancel_delayed(conn, incident_id, now)
    add_event(
        conn,
        incident_id,
        EventKind.ACKNOWLEDGED,
        f"acknowledged by {actor} ({via})",
        at=now,
        actor=actor,
        detail={"via": via},
    )
    return True


def resolve_incident(
    conn: Connection, incident_id: int, actor: str, now: datetime, *, via: str = "cli"
) -> bool:
    """Resolve an open incident and its active alerts (a rule that still fails opens a new one on its
    next evaluation). False if it was already resolved."""
    get_incident(conn, incident_id)
    result = conn.execute(
        update(incidents)
        .where(and_(incidents.c.id == incident_id, incidents.c.status != IncidentStatus.RESOLVED.value))
        .values(
            status=IncidentStatus.RESOLVED.value,
            resolved_at=now,
            resolved_by=actor,
            next_escalation_at=None,
            notify_at=None,
            announce="resolve",
            updated_at=now,
            version=incidents.c.version + 1,
        )
    )
    if result.rowcount == 0:
        return False
    conn.execute(
        update(alerts)
        .where(and_(alerts.c.incident_id == incident_id, alerts.c.state != AlertState.RESOLVED.value))
        .values(state=AlertState.RESOLVED.value, resolved_at=now, version=alerts.c.version + 1, dirty=False)
    )
    _cancel_delayed(conn, incident_id, now)
    add_event(
        conn,
        incident_id,
        EventKind.RESOLVED,
        f"resolved by {actor} ({via})",
        at=now,
        actor=actor,
        detail={"via": via},
    )
    return True


def comment(conn: Connection, incident_id: int, actor: str, text: str, now: datetime) -> None:
    """Add a comment to the timeline."""
    get_incident(conn, incident_id)
    text = text.strip()
    if not text:
        raise ValueError("a comment cannot be empty")
    add_event(conn, incident_id, EventKind.COMMENT, text, at=now, actor=actor)
