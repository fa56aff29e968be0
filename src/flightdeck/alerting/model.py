"""The alerting domain's vocabulary: states, event kinds, and the message every channel renders."""

from __future__ import annotations

import enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from flightdeck.config.alerting import Severity

__all__ = [
    "Action",
    "AlertLine",
    "AlertSource",
    "AlertState",
    "EventKind",
    "IncidentStatus",
    "Message",
    "OutboxState",
    "Severity",
    "Suppression",
]


class AlertState(enum.StrEnum):
    PENDING = "pending"  # the condition holds, waiting for the rule's ``for``
    FIRING = "firing"
    RESOLVED = "resolved"


class AlertSource(enum.StrEnum):
    RULE = "rule"
    ALERTMANAGER = "alertmanager"
    EVENT = "event"


class Suppression(enum.StrEnum):
    SILENCED = "silenced"
    INHIBITED = "inhibited"
    MAINTENANCE = "maintenance"


class IncidentStatus(enum.StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class OutboxState(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"  # permanent refusal, or attempts / age exhausted: a dead letter
    CANCELLED = "cancelled"  # a delayed contact no longer needed (the incident was acknowledged)


class Action(enum.StrEnum):
    """Why a message is sent."""

    TRIGGER = "trigger"  # a new incident (or a new escalation level / repeat)
    UPDATE = "update"  # new alerts in an open incident, or a repeat
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"
    TEST = "test"  # ``flightdeck notify test``


class EventKind(enum.StrEnum):
    """What an incident's timeline records."""

    TRIGGERED = "triggered"
    ALERT_FIRING = "alert_firing"
    ALERT_RESOLVED = "alert_resolved"
    NOTIFICATION_QUEUED = "notification_queued"
    NOTIFICATION_SENT = "notification_sent"
    NOTIFICATION_FAILED = "notification_failed"  # one attempt failed; it will be retried
    NOTIFICATION_DEAD = "notification_dead"  # a dead letter: delivery-failure event
    NOTIFICATION_CANCELLED = "notification_cancelled"
    ESCALATED = "escalated"
    ACKNOWLEDGED = "acknowledged"
    COMMENT = "comment"
    RESOLVED = "resolved"


class AlertLine(BaseModel):
    """One alert as a message shows it."""

    model_config = ConfigDict(frozen=True)

    rule: str
    severity: str
    state: str
    summary: str
    service: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    started_at: str = ""  # ISO 8601 UTC
    runbook: str | None = None


class Message(BaseModel):
    """What a notification says, independent of the channel. Stored in the outbox as JSON; holds no
    secret (links are signed, not secret-bearing beyond their own expiry)."""

    model_config = ConfigDict(frozen=True)

    action: Action
    title: str
    summary: str = ""
    severity: str = Severity.P3.value
    service: str = ""
    status: str = IncidentStatus.TRIGGERED.value
    incident_id: int | None = None
    dedup_key: str = Field(description="Stable per incident: flightdeck-incident-<id>")
    alerts: list[AlertLine] = Field(default_factory=list)
    links: dict[str, str] = Field(default_factory=dict)  # view, ack, resolve (absolute URLs)
    level: int | None = None  # escalation level notified (0-based)
    created_at: str = ""  # ISO 8601 UTC

    def to_payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Message:
        return cls.model_validate(payload)
