"""Alerts in the store: fire, refresh and resolve them by fingerprint.

Rules, the Alertmanager intake and the generic event endpoint all write alerts through these
functions. An alert's identity is its fingerprint, the SHA-256 of its sorted labels (``alertname``,
``service``, ``severity`` and the rest); at most one active (pending or firing) row exists per
fingerprint. Each change that matters to routing (a new alert, pending → firing, resolved, a new
summary) bumps ``version`` and sets ``dirty`` so the router takes it; a mere refresh (the same alert
seen again) only moves ``last_seen_at`` and ``ends_at``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, select, text, update

from flightdeck.alerting.model import AlertSource, AlertState
from flightdeck.config.alerting import Severity
from flightdeck.store.tables import alerts
from flightdeck.store.upsert import insert_if_absent

__all__ = [
    "ACTIVE",
    "AlertInput",
    "AlertRow",
    "active_alerts",
    "fingerprint",
    "fire",
    "resolve",
    "resolve_expired",
]

ACTIVE = (AlertState.PENDING.value, AlertState.FIRING.value)


def fingerprint(labels: Mapping[str, str]) -> str:
    """SHA-256 (hex) of the labels, sorted: equal labels, equal alert."""
    return hashlib.sha256(
        json.dumps(dict(sorted(labels.items())), separators=(",", ":")).encode()
    ).hexdigest()


@dataclass(frozen=True)
class AlertInput:
    """An alert as a producer reports it. ``labels`` gets ``alertname``, ``service`` and ``severity``
    added from the fields (a label given explicitly wins)."""

    rule: str
    severity: Severity
    service: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    summary: str = ""
    annotations: Mapping[str, str] = field(default_factory=dict)
    runbook: str | None = None
    value: float | None = None
    evidence_id: int | None = None
    source: AlertSource = AlertSource.RULE
    ends_at: datetime | None = None

    def all_labels(self) -> dict[str, str]:
        out = {"alertname": self.rule, "severity": self.severity.value}
        if self.service:
            out["service"] = self.service
        out.update({str(k): str(v) for k, v in self.labels.items()})
        return out

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.all_labels())


@dataclass(frozen=True)
class AlertRow:
    id: int
    fingerprint: str
    source: AlertSource
    rule: str
    severity: Severity
    service: str
    labels: dict[str, str]
    annotations: dict[str, Any]
    summary: str
    runbook: str | None
    state: AlertState
    value: float | None
    evidence_id: int | None
    started_at: datetime
    fired_at: datetime | None
    last_seen_at: datetime
    ends_at: datetime | None
    resolved_at: datetime | None
    suppressed: str | None
    suppressed_by: str | None
    incident_id: int | None
    version: int

    @classmethod
    def from_row(cls, r: RowMapping | Mapping[str, Any]) -> AlertRow:
        return cls(
            id=r["id"],
            fingerprint=r["fingerprint"],
            source=AlertSource(r["source"]),
            rule=r["rule"],
            severity=Severity(r["severity"]),
            service=r["service"],
            labels=dict(r["labels"] or {}),
            annotations=dict(r["annotations"] or {}),
            summary=r["summary"],
            runbook=r["runbook"],
            state=AlertState(r["state"]),
            value=r["value"],
            evidence_id=r["evidence_id"],
            started_at=r["started_at"],
            fired_at=r["fired_at"],
            last_seen_at=r["last_seen_at"],
            ends_at=r["ends_at"],
            resolved_at=r["resolved_at"],
            suppressed=r["suppressed"],
            suppressed_by=r["suppressed_by"],
            incident_id=r["incident_id"],
            version=r["version"],
        )


def _active(conn: Connection, fp: str) -> RowMapping | None:
    return (
        conn.execute(select(alerts).where(and_(alerts.c.fingerprint == fp, alerts.c.state.in_(ACTIVE))))
        .mappings()
        .first()
    )


def fire(conn: Connection, alert: AlertInput, now: datetime, *, pending: bool = False) -> int:
    """Record that ``alert`` holds now: a new row if none is active, else refresh it. ``pending``
    True records the condition without firing (a rule's ``for`` has not elapsed); False fires it,
    promoting a pending row. Returns the row id. Safe against a concurrent writer of the same
    fingerprint (the partial unique index decides; the loser refreshes the winner's row)."""
    labels = alert.all_labels()
    fp = fingerprint(labels)
    state = AlertState.PENDING if pending else AlertState.FIRING
    for _ in range(3):
        row = _active(conn, fp)
        if row is None:
            inserted = insert_if_absent(
                conn,
                alerts,
                {
                    "fingerprint": fp,
                    "source": alert.source.value,
                    "rule": alert.rule,
                    "severity": alert.severity.value,
                    "service": alert.service,
                    "labels": labels,
                    "annotations": dict(alert.annotations),
                    "summary": alert.summary[:500],
                    "runbook": alert.runbook,
                    "state": state.value,
                    "value": alert.value,
                    "evidence_id": alert.evidence_id,
                    "started_at": now,
                    "fired_at": None if pending else now,
                    "last_seen_at": now,
                    "ends_at": alert.ends_at,
                    "version": 1,
                    "dirty": True,
                },
                ["fingerprint"],
                text("state <> 'resolved'"),  # the partial unique index's predicate, verbatim
            )
            if inserted is not None:
                return inserted
            continue  # another writer inserted it first: refresh theirs
        values: dict[str, Any] = {
            "last_seen_at": now,
            "ends_at": alert.ends_at,
            "value": alert.value,
            "evidence_id": alert.evidence_id if alert.evidence_id is not None else row["evidence_id"],
        }
        changed = alert.summary[:500] != row["summary"] or dict(alert.annotations) != dict(row["annotations"])
        if row["state"] == AlertState.PENDING.value and not pending:
            values.update(state=AlertState.FIRING.value, fired_at=now)
            changed = True
        if changed:
            values.update(
                summary=alert.summary[:500],
                annotations=dict(alert.annotations),
                version=alerts.c.version + 1,
                dirty=True,
            )
        conn.execute(update(alerts).where(alerts.c.id == row["id"]).values(**values))
        return int(row["id"])
    raise RuntimeError(f"could not record alert {fp}: the row kept changing")  # pragma: no cover


def resolve(conn: Connection, fp: str, now: datetime) -> bool:
    """Resolve the active alert with this fingerprint. False if none was active. A pending alert that
    never fired is resolved too (it was never notified)."""
    result = conn.execute(
        update(alerts)
        .where(and_(alerts.c.fingerprint == fp, alerts.c.state.in_(ACTIVE)))
        .values(state=AlertState.RESOLVED.value, resolved_at=now, version=alerts.c.version + 1, dirty=True)
    )
    return result.rowcount > 0


def resolve_expired(conn: Connection, now: datetime) -> int:
    """Resolve active alerts whose ``ends_at`` has passed (pushed alerts that were not refreshed)."""
    result = conn.execute(
        update(alerts)
        .where(and_(alerts.c.state.in_(ACTIVE), alerts.c.ends_at.is_not(None), alerts.c.ends_at <= now))
        .values(state=AlertState.RESOLVED.value, resolved_at=now, version=alerts.c.version + 1, dirty=True)
    )
    return int(result.rowcount)


def active_alerts(conn: Connection, *, firing_only: bool = False) -> list[AlertRow]:
    """Active alerts, oldest first."""
    states = (AlertState.FIRING.value,) if firing_only else ACTIVE
    rows = conn.execute(select(alerts).where(alerts.c.state.in_(states)).order_by(alerts.c.id)).mappings()
    return [AlertRow.from_row(r) for r in rows]
