"""Shapes of the alerting API's answers and bodies (``/api/v1/alerts``, ``incidents``, ``silences``,
``oncall``). They hold no secret: notifications never include their payload (its signed links act on
the incident), and staff addresses are masked unless the caller is an operator."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from flightdeck.alerting.alerts import AlertRow
from flightdeck.alerting.incidents import IncidentRow
from flightdeck.alerting.queries import IncidentDetail, Notification, mask_address
from flightdeck.alerting.silences import Silence
from flightdeck.alerting.timeline import TimelineEvent

__all__ = [
    "ActionOut",
    "AlertOut",
    "CommentIn",
    "EventOut",
    "IncidentDetailOut",
    "IncidentListOut",
    "IncidentOut",
    "IncidentStatsOut",
    "NotificationOut",
    "OncallOut",
    "ShiftOut",
    "SilenceIn",
    "SilenceOut",
]


class AlertOut(BaseModel):
    id: int
    fingerprint: str
    source: str
    rule: str
    severity: str
    service: str
    state: str
    labels: dict[str, str]
    annotations: dict[str, Any]
    summary: str
    runbook: str | None
    value: float | None
    started_at: datetime
    fired_at: datetime | None
    last_seen_at: datetime
    ends_at: datetime | None
    resolved_at: datetime | None
    suppressed: str | None = Field(description="silenced, inhibited or maintenance")
    suppressed_by: str | None
    incident_id: int | None

    @classmethod
    def of(cls, a: AlertRow) -> AlertOut:
        return cls(
            id=a.id,
            fingerprint=a.fingerprint,
            source=a.source.value,
            rule=a.rule,
            severity=a.severity.value,
            service=a.service,
            state=a.state.value,
            labels=a.labels,
            annotations=a.annotations,
            summary=a.summary,
            runbook=a.runbook,
            value=a.value,
            started_at=a.started_at,
            fired_at=a.fired_at,
            last_seen_at=a.last_seen_at,
            ends_at=a.ends_at,
            resolved_at=a.resolved_at,
            suppressed=a.suppressed,
            suppressed_by=a.suppressed_by,
            incident_id=a.incident_id,
        )


class IncidentOut(BaseModel):
    id: int
    title: str
    service: str
    severity: str
    status: str
    policy: str | None
    group_labels: dict[str, str]
    created_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    escalation_level: int
    next_escalation_at: datetime | None

    @classmethod
    def of(cls, i: IncidentRow) -> IncidentOut:
        return cls(
            id=i.id,
            title=i.title,
            service=i.service,
            severity=i.severity.value,
            status=i.status.value,
            policy=i.policy,
            group_labels=i.group_labels,
            created_at=i.created_at,
            updated_at=i.updated_at,
            acknowledged_at=i.acknowledged_at,
            acknowledged_by=i.acknowledged_by,
            resolved_at=i.resolved_at,
            resolved_by=i.resolved_by,
            escalation_level=i.escalation_level,
            next_escalation_at=i.next_escalation_at,
        )


class IncidentListOut(BaseModel):
    items: list[IncidentOut]
    next_before: int | None = Field(description="Pass as before_id for the next (older) page")


class EventOut(BaseModel):
    id: int
    at: datetime
    kind: str
    actor: str | None
    message: str
    detail: dict[str, Any]

    @classmethod
    def of(cls, e: TimelineEvent) -> EventOut:
        return cls(id=e.id, at=e.at, kind=e.kind.value, actor=e.actor, message=e.message, detail=e.detail)


class NotificationOut(BaseModel):
    id: int
    channel: str
    recipient: str | None
    address: str | None = Field(description="Masked unless the caller is an operator or admin")
    action: str
    state: str = Field(description="pending, sending, sent, dead (a dead letter) or cancelled")
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    last_status: int | None
    last_error: str | None

    @classmethod
    def of(cls, n: Notification, *, full_address: bool, scrub: Any = None) -> NotificationOut:
        error = n.last_error
        if error is not None and scrub is not None:
            error = str(scrub(error))
        return cls(
            id=n.id,
            channel=n.channel,
            recipient=n.recipient,
            address=n.address if full_address else mask_address(n.address),
            action=n.action,
            state=n.state.value,
            attempts=n.attempts,
            created_at=n.created_at,
            next_attempt_at=n.next_attempt_at,
            sent_at=n.sent_at,
            last_status=n.last_status,
            last_error=error,
        )


class IncidentDetailOut(IncidentOut):
    alerts: list[AlertOut]
    timeline: list[EventOut]
    notifications: list[NotificationOut]
    dead_letters: int
    mtta_seconds: float | None
    mttr_seconds: float | None

    @classmethod
    def of_detail(cls, d: IncidentDetail, *, full_address: bool, scrub: Any = None) -> IncidentDetailOut:
        base = IncidentOut.of(d.incident).model_dump()
        return cls(
            **base,
            alerts=[AlertOut.of(a) for a in d.alerts],
            timeline=[EventOut.of(e) for e in d.timeline],
            notifications=[
                NotificationOut.of(n, full_address=full_address, scrub=scrub) for n in d.notifications
            ],
            dead_letters=len(d.dead_letters),
            mtta_seconds=d.mtta_seconds,
            mttr_seconds=d.mttr_seconds,
        )


class ActionOut(BaseModel):
    """The outcome of ack/resolve: ``changed`` False when it already was in that state."""

    changed: bool
    incident: IncidentOut


class CommentIn(BaseModel):
    text: str = Field(min_length=1, max_length=4000)


class SilenceIn(BaseModel):
    matchers: list[str] = Field(min_length=1, description='e.g. ["service=checkout", "alertname=~disk.*"]')
    starts_at: datetime | None = Field(None, description="Default: now")
    ends_at: datetime | None = Field(None, description="Give ends_at or duration")
    duration: str | None = Field(None, description="e.g. 2h, 30m (from starts_at)")
    comment: str = Field(min_length=1, max_length=4000)


class SilenceOut(BaseModel):
    id: int
    matchers: list[str]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    created_at: datetime
    expired_at: datetime | None
    expired_by: str | None
    state: str = Field(description="pending, active or expired")

    @classmethod
    def of(cls, s: Silence, now: datetime) -> SilenceOut:
        return cls(
            id=s.id,
            matchers=[str(m) for m in s.matchers],
            starts_at=s.starts_at,
            ends_at=s.ends_at,
            created_by=s.created_by,
            comment=s.comment,
            created_at=s.created_at,
            expired_at=s.expired_at,
            expired_by=s.expired_by,
            state=s.state(now),
        )


class IncidentStatsOut(BaseModel):
    """One service in one calendar month (UTC): MTTA is the mean time from creation to
    acknowledgement over acknowledged incidents, MTTR from creation to resolution over resolved ones."""

    service: str
    month: str = Field(description="YYYY-MM")
    count: int
    acknowledged: int
    resolved: int
    mtta_seconds: float | None
    mttr_seconds: float | None
    mtta_p50_seconds: float | None = None
    mttr_p50_seconds: float | None = None


class ShiftOut(BaseModel):
    user: str
    start: datetime
    end: datetime
    override: bool = False


class OncallOut(BaseModel):
    schedule: str
    timezone: str
    now: ShiftOut | None
    next: ShiftOut | None
    ical: str = Field(description="Path of the schedule's iCalendar feed")
