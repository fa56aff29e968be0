"""An incident's timeline: append-only events (alert, notification attempt and outcome, escalation,
ack, comment, resolve)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from flightdeck.alerting.model import EventKind
from flightdeck.store.tables import incident_events

__all__ = ["TimelineEvent", "add_event", "timeline"]


@dataclass(frozen=True)
class TimelineEvent:
    id: int
    incident_id: int
    at: datetime
    kind: EventKind
    actor: str | None
    message: str
    detail: dict[str, Any]


def add_event(
    conn: Connection,
    incident_id: int,
    kind: EventKind,
    message: str,
    *,
    at: datetime,
    actor: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Append one event. ``message`` and ``detail`` must hold no secret (they are shown as they are)."""
    conn.execute(
        insert(incident_events).values(
            incident_id=incident_id,
            at=at,
            kind=kind.value,
            actor=actor,
            message=message[:4000],
            detail=dict(detail or {}),
        )
    )


def timeline(conn: Connection, incident_id: int) -> list[TimelineEvent]:
    """Every event of one incident, oldest first."""
    rows = conn.execute(
        select(incident_events)
        .where(incident_events.c.incident_id == incident_id)
        .order_by(incident_events.c.id)
    ).mappings()
    return [
        TimelineEvent(
            id=r["id"],
            incident_id=r["incident_id"],
            at=r["at"],
            kind=EventKind(r["kind"]),
            actor=r["actor"],
            message=r["message"],
            detail=dict(r["detail"] or {}),
        )
        for r in rows
    ]
