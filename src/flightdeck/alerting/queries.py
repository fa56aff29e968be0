"""Read models of alerting for the cockpit, the API and the CLI: alerts with filters, incidents with
filters and keyset paging, one incident with its alerts, timeline and notifications (dead letters
included), and the counts the cockpit shows. Nothing here writes."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, func, select

from flightdeck.alerting.alerts import ACTIVE, AlertRow
from flightdeck.alerting.incidents import IncidentRow, get_incident
from flightdeck.alerting.model import AlertState, IncidentStatus, OutboxState
from flightdeck.alerting.timeline import TimelineEvent, timeline
from flightdeck.store.tables import alerts, incidents, outbox

__all__ = [
    "AlertFilter",
    "AlertingCounts",
    "IncidentDetail",
    "IncidentFilter",
    "IncidentPage",
    "Notification",
    "counts",
    "incident_detail",
    "list_alerts",
    "list_incidents",
    "mask_address",
    "notifications",
]


class AlertFilter(enum.StrEnum):
    """Which alerts to list: ``active`` (pending or firing), one state, or ``all``."""

    ACTIVE = "active"
    FIRING = "firing"
    PENDING = "pending"
    RESOLVED = "resolved"
    ALL = "all"


class IncidentFilter(enum.StrEnum):
    """Which incidents to list: ``open`` (triggered or acknowledged), one status, or ``all``."""

    OPEN = "open"
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    ALL = "all"


@dataclass(frozen=True)
class Notification:
    """One outbox row as people see it: never the payload (its signed links act on the incident)."""

    id: int
    incident_id: int | None
    channel: str
    recipient: str | None
    address: str | None
    action: str
    state: OutboxState
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    last_status: int | None
    last_error: str | None

    @property
    def dead(self) -> bool:
        return self.state is OutboxState.DEAD

    @classmethod
    def from_row(cls, r: RowMapping) -> Notification:
        return cls(
            id=r["id"],
            incident_id=r["incident_id"],
            channel=r["channel"],
            recipient=r["recipient"],
            address=r["address"],
            action=r["action"],
            state=OutboxState(r["state"]),
            attempts=r["attempts"],
            created_at=r["created_at"],
            next_attempt_at=r["next_attempt_at"],
            sent_at=r["sent_at"],
            last_status=r["last_status"],
            last_error=r["last_error"],
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = self.state.value
        for key in ("created_at", "next_attempt_at", "sent_at"):
            data[key] = data[key].isoformat() if data[key] is not None else None
        return data


@dataclass(frozen=True)
class IncidentPage:
    items: list[IncidentRow]
    next_before: int | None  # pass as ``before_id`` for the next (older) page


@dataclass(frozen=True)
class IncidentDetail:
    incident: IncidentRow
    alerts: list[AlertRow]
    timeline: list[TimelineEvent]
    notifications: list[Notification]

    @property
    def dead_letters(self) -> list[Notification]:
        return [n for n in self.notifications if n.dead]

    @property
    def mtta_seconds(self) -> float | None:
        """Seconds from the incident's creation to its acknowledgement (None: not acknowledged)."""
        i = self.incident
        return (i.acknowledged_at - i.created_at).total_seconds() if i.acknowledged_at else None

    @property
    def mttr_seconds(self) -> float | None:
        """Seconds from the incident's creation to its resolution (None: still open)."""
        i = self.incident
        return (i.resolved_at - i.created_at).total_seconds() if i.resolved_at else None


@dataclass(frozen=True)
class AlertingCounts:
    firing: int
    pending: int
    suppressed: int  # active alerts silenced, inhibited or in maintenance
    triggered: int
    acknowledged: int
    dead_letters: int  # of open incidents


def list_alerts(
    conn: Connection,
    state: AlertFilter = AlertFilter.ACTIVE,
    *,
    service: str | None = None,
    limit: int = 200,
) -> list[AlertRow]:
    """Alerts, most urgent first among active ones, newest first otherwise."""
    query = select(alerts)
    if state is AlertFilter.ACTIVE:
        query = query.where(alerts.c.state.in_(ACTIVE))
    elif state is not AlertFilter.ALL:
        query = query.where(alerts.c.state == AlertState(state.value).value)
    if service:
        query = query.where(alerts.c.service == service)
    rows = [
        AlertRow.from_row(r) for r in conn.execute(query.order_by(alerts.c.id.desc()).limit(limit)).mappings()
    ]
    if state in (AlertFilter.ACTIVE, AlertFilter.FIRING, AlertFilter.PENDING):
        rows.sort(key=lambda a: (a.suppressed is not None, a.severity.rank, a.started_at))
    return rows


def list_incidents(
    conn: Connection,
    status: IncidentFilter = IncidentFilter.OPEN,
    *,
    service: str | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> IncidentPage:
    """Incidents, newest first, ``limit`` at a time (keyset paging on the id)."""
    query = select(incidents)
    if status is IncidentFilter.OPEN:
        query = query.where(incidents.c.status != IncidentStatus.RESOLVED.value)
    elif status is not IncidentFilter.ALL:
        query = query.where(incidents.c.status == IncidentStatus(status.value).value)
    if service:
        query = query.where(incidents.c.service == service)
    if before_id is not None:
        query = query.where(incidents.c.id < before_id)
    rows = list(conn.execute(query.order_by(incidents.c.id.desc()).limit(limit + 1)).mappings())
    items = [IncidentRow.from_row(r) for r in rows[:limit]]
    return IncidentPage(items, items[-1].id if len(rows) > limit and items else None)


def mask_address(address: str | None) -> str | None:
    """A staff member's phone number, chat id or email with most of it hidden:
    ``+251911000001`` → ``+25••••••••01``, ``abebe@example.com`` → ``a••••@example.com``."""
    if not address:
        return address
    if "@" in address:
        local, _, domain = address.partition("@")
        return f"{local[:1]}{'•' * max(len(local) - 1, 1)}@{domain}"
    if len(address) <= 4:
        return "•" * len(address)
    return f"{address[:3]}{'•' * (len(address) - 5)}{address[-2:]}"


def notifications(conn: Connection, incident_id: int) -> list[Notification]:
    """Every outbox row of an incident, oldest first, dead letters included."""
    rows = conn.execute(
        select(outbox).where(outbox.c.incident_id == incident_id).order_by(outbox.c.id)
    ).mappings()
    return [Notification.from_row(r) for r in rows]


def incident_detail(conn: Connection, incident_id: int) -> IncidentDetail:
    """One incident with its alerts, timeline and notifications (NotFoundError if there is none)."""
    incident = get_incident(conn, incident_id)
    rows = conn.execute(
        select(alerts).where(alerts.c.incident_id == incident_id).order_by(alerts.c.id)
    ).mappings()
    return IncidentDetail(
        incident=incident,
        alerts=[AlertRow.from_row(r) for r in rows],
        timeline=timeline(conn, incident_id),
        notifications=notifications(conn, incident_id),
    )


def counts(conn: Connection) -> AlertingCounts:
    """What the cockpit's alerting pages summarise."""
    by_state: dict[str, int] = dict(
        conn.execute(
            select(alerts.c.state, func.count()).where(alerts.c.state.in_(ACTIVE)).group_by(alerts.c.state)
        ).all()
    )
    suppressed = conn.execute(
        select(func.count()).where(and_(alerts.c.state.in_(ACTIVE), alerts.c.suppressed.is_not(None)))
    ).scalar_one()
    by_status: dict[str, int] = dict(
        conn.execute(select(incidents.c.status, func.count()).group_by(incidents.c.status)).all()
    )
    dead = conn.execute(
        select(func.count())
        .select_from(outbox.join(incidents, outbox.c.incident_id == incidents.c.id))
        .where(
            and_(
                outbox.c.state == OutboxState.DEAD.value,
                incidents.c.status != IncidentStatus.RESOLVED.value,
            )
        )
    ).scalar_one()
    return AlertingCounts(
        firing=int(by_state.get(AlertState.FIRING.value, 0)),
        pending=int(by_state.get(AlertState.PENDING.value, 0)),
        suppressed=int(suppressed),
        triggered=int(by_status.get(IncidentStatus.TRIGGERED.value, 0)),
        acknowledged=int(by_status.get(IncidentStatus.ACKNOWLEDGED.value, 0)),
        dead_letters=int(dead),
    )
