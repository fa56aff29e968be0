"""What every rule evaluator shares: the check a piece of evidence is about, the evidence row as
rules read it, decisions (fire, pending, resolve), and the book of active alerts rules own.

A rule decides per *subject* (one check, or one log key); the engine applies its decisions through
:class:`AlertBook`, which knows which alerts are active so a passing check costs no write.
Alert labels are ``alertname`` (the rule name), ``severity``, ``service``, ``check`` (or the log
rule's ``by`` field) plus the rule's own ``labels``; the fingerprint is the SHA-256 of those labels
(:func:`flightdeck.alerting.alerts.fingerprint`), so one rule gives one alert per check.
"""

from __future__ import annotations

import enum
import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, select

from flightdeck.alerting.alerts import ACTIVE, AlertInput, fire, resolve
from flightdeck.alerting.model import AlertSource, AlertState
from flightdeck.config.alerting import CheckSelector, RuleBase
from flightdeck.config.check_spec import CheckSpec
from flightdeck.store.tables import alerts

__all__ = [
    "Act",
    "ActiveAlert",
    "AlertBook",
    "CheckInfo",
    "Decision",
    "EvidenceRow",
    "build_alert",
    "selects",
]


@dataclass(frozen=True)
class CheckInfo:
    """A check as rules see it: where it is, what kind, its configured labels and spec (``None`` when
    the check is no longer configured)."""

    service: str
    check: str
    kind: str
    labels: Mapping[str, str] = field(default_factory=dict)
    spec: CheckSpec | None = None

    @property
    def subject(self) -> str:
        return f"{self.service}/{self.check}"


@dataclass(frozen=True)
class EvidenceRow:
    """The columns of an evidence record that rules read."""

    id: int
    subject: str
    service: str
    check: str
    kind: str
    verdict: str
    finished_at: datetime
    duration_ms: float
    summary: str
    measurements: Mapping[str, float]

    def value(self, name: str) -> float | None:
        """A measurement by name; ``duration_ms`` is the check's own run time."""
        if name == "duration_ms":
            return self.duration_ms
        return self.measurements.get(name)

    @classmethod
    def from_mapping(cls, m: RowMapping | Mapping[str, Any]) -> EvidenceRow:
        values: dict[str, float] = {}
        for item in m["measurements"] or ():
            if isinstance(item, Mapping) and isinstance(item.get("value"), int | float):
                values[str(item.get("name"))] = float(item["value"])
        return cls(
            id=int(m["id"]),
            subject=m["subject"],
            service=m["service"],
            check=m["check_name"],
            kind=m["kind"],
            verdict=m["verdict"],
            finished_at=m["finished_at"],
            duration_ms=float(m["duration_ms"]),
            summary=m["summary"] or "",
            measurements=values,
        )


def selects(rule: CheckSelector, info: CheckInfo) -> bool:
    """Whether ``rule`` applies to the check: service and check narrow; kind, name glob and labels
    each select, and any of them suffices."""
    if rule.service is not None and rule.service != info.service:
        return False
    if rule.check is not None and rule.check != info.check:
        return False
    kinds, globs, labels = rule.kinds, rule.name_globs, rule.check_labels
    if not (kinds or globs or labels):
        return True
    if info.kind in kinds:
        return True
    if any(fnmatch.fnmatchcase(info.check, g) for g in globs):
        return True
    return bool(labels) and all(info.labels.get(k) == v for k, v in labels.items())


def build_alert(
    name: str,
    rule: RuleBase,
    service: str,
    labels: Mapping[str, str],
    summary: str,
    *,
    value: float | None = None,
    evidence_id: int | None = None,
) -> AlertInput:
    """The alert a rule raises: labels alertname/severity/service plus ``labels`` and the rule's."""
    return AlertInput(
        rule=name,
        severity=rule.severity,
        service=service,
        labels={**rule.labels, **labels},
        summary=summary,
        runbook=rule.runbook,
        value=value,
        evidence_id=evidence_id,
        source=AlertSource.RULE,
    )


class Act(enum.Enum):
    FIRE = "fire"
    PENDING = "pending"
    RESOLVE = "resolve"


@dataclass(frozen=True)
class Decision:
    """What a rule concluded about one subject. ``alert`` is built lazily by the rule only for FIRE
    and PENDING; RESOLVE needs the fingerprint alone."""

    act: Act
    fingerprint: str
    alert: AlertInput | None = None


@dataclass
class ActiveAlert:
    fingerprint: str
    rule: str
    state: AlertState
    started_at: datetime
    summary: str
    annotations: dict[str, Any]
    labels: dict[str, str]


class AlertBook:
    """The active (pending or firing) alerts of rules, kept in step with the store by the one
    process that evaluates rules. Applying a decision writes only when it changes something; a
    still-firing alert is refreshed once per batch (``flush``), keeping the summary it fired with."""

    def __init__(self) -> None:
        self.active: dict[str, ActiveAlert] = {}
        self._refresh: dict[str, AlertInput] = {}

    def load(self, conn: Connection, rules: Iterable[str]) -> None:
        names = list(rules)
        self.active.clear()
        self._refresh.clear()
        if not names:
            return
        stmt = select(
            alerts.c.fingerprint,
            alerts.c.rule,
            alerts.c.state,
            alerts.c.started_at,
            alerts.c.summary,
            alerts.c.annotations,
            alerts.c.labels,
        ).where(alerts.c.source == AlertSource.RULE.value, alerts.c.state.in_(ACTIVE))
        for r in conn.execute(stmt).mappings():
            if r["rule"] not in names:
                continue
            self.active[r["fingerprint"]] = ActiveAlert(
                fingerprint=r["fingerprint"],
                rule=r["rule"],
                state=AlertState(r["state"]),
                started_at=r["started_at"],
                summary=r["summary"],
                annotations=dict(r["annotations"] or {}),
                labels=dict(r["labels"] or {}),
            )

    def get(self, fp: str) -> ActiveAlert | None:
        return self.active.get(fp)

    def of_rule(self, rule: str) -> list[ActiveAlert]:
        return [a for a in self.active.values() if a.rule == rule]

    def apply(self, conn: Connection, decision: Decision, now: datetime) -> int:
        """Apply one decision; returns the number of alert rows changed (0 or 1)."""
        fp = decision.fingerprint
        current = self.active.get(fp)
        if decision.act is Act.RESOLVE:
            self._refresh.pop(fp, None)
            if current is None:
                return 0
            resolve(conn, fp, now)
            del self.active[fp]
            return 1
        alert = decision.alert
        assert alert is not None
        if decision.act is Act.PENDING:
            if current is not None:
                return 0
            fire(conn, alert, now, pending=True)
            self._remember(alert, AlertState.PENDING, now)
            return 1
        if current is not None and current.state is AlertState.FIRING:
            self._refresh[fp] = replace(alert, summary=current.summary, annotations=current.annotations)
            return 0
        fire(conn, alert, now)
        self._refresh.pop(fp, None)
        started = current.started_at if current is not None else now
        self._remember(alert, AlertState.FIRING, started)
        return 1

    def flush(self, conn: Connection, now: datetime) -> None:
        """Refresh still-firing alerts seen in this batch (value, evidence, last seen)."""
        for fp, alert in self._refresh.items():
            if fp in self.active:
                fire(conn, alert, now)
        self._refresh.clear()

    def _remember(self, alert: AlertInput, state: AlertState, started: datetime) -> None:
        self.active[alert.fingerprint] = ActiveAlert(
            fingerprint=alert.fingerprint,
            rule=alert.rule,
            state=state,
            started_at=started,
            summary=alert.summary[:500],
            annotations=dict(alert.annotations),
            labels=alert.all_labels(),
        )
