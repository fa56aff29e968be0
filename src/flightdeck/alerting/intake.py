"""Alerts pushed by other tools: Alertmanager's webhook payload (version 4) and flightdeck's generic
JSON event.

Parsing is separate from storing: :func:`parse_alertmanager` and :func:`parse_events` check the
whole payload and turn it into :class:`IntakeItem` values, raising :class:`PayloadError` (an
:class:`~flightdeck.alerting.errors.IntakeError`) with the exact place of the first problem
(``alerts[2].labels.alertname``). Only a payload that is valid throughout reaches :func:`apply`,
which writes every item in the caller's single transaction — a malformed payload stores nothing.

Severity mapping (Alertmanager's ``labels.severity`` and an event's ``severity``, case-insensitive):
``critical`` → P1; ``error``, ``major`` → P2; ``warning``, ``minor``, ``info`` → P3; ``security`` →
security; ``P1``/``P2``/``P3`` as they are. For Alertmanager an unknown or missing severity is P3; an
event must use one of these words (missing: P3). The alert's ``severity`` label holds the mapped
value, so silences and inhibition match ``severity=P1`` whatever the sender called it.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, select

from flightdeck.alerting.alerts import ACTIVE, AlertInput, fire, resolve
from flightdeck.alerting.errors import IntakeError
from flightdeck.alerting.model import AlertSource
from flightdeck.config.alerting import Severity
from flightdeck.store.tables import alerts

__all__ = [
    "MAX_BODY_BYTES",
    "SEVERITY_WORDS",
    "IntakeAction",
    "IntakeItem",
    "IntakeResult",
    "PayloadError",
    "apply",
    "map_severity",
    "parse_alertmanager",
    "parse_events",
]

MAX_BODY_BYTES = 1024 * 1024
"""The largest payload accepted (larger: HTTP 413)."""

SEVERITY_WORDS: dict[str, Severity] = {
    "p1": Severity.P1,
    "critical": Severity.P1,
    "p2": Severity.P2,
    "error": Severity.P2,
    "major": Severity.P2,
    "p3": Severity.P3,
    "warning": Severity.P3,
    "minor": Severity.P3,
    "info": Severity.P3,
    "security": Severity.SECURITY,
}

_MAX_RULE = 200  # alerts.rule
_MAX_SERVICE = 100  # alerts.service
_MAX_LABELS = 64
_MAX_TEXT = 4000


class PayloadError(IntakeError):
    """A payload is malformed: ``where`` (e.g. ``alerts[2].labels.alertname``) and ``reason``."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}" if where else reason)
        self.where = where
        self.reason = reason


class IntakeAction(enum.StrEnum):
    FIRE = "fire"
    RESOLVE = "resolve"


@dataclass(frozen=True)
class IntakeItem:
    """One alert to fire or resolve. A resolve by ``dedup_key`` resolves the active event alerts
    carrying that key, whatever their other labels."""

    action: IntakeAction
    alert: AlertInput
    dedup_key: str | None = None


@dataclass(frozen=True)
class IntakeResult:
    """What :func:`apply` did: ids of alerts fired or refreshed, and how many were resolved."""

    fired: list[int]
    resolved: int
    unknown: int  # resolves that matched no active alert (already resolved, or never seen)


def map_severity(value: str | None, *, strict: bool = False, where: str = "severity") -> Severity:
    """The severity a sender's word stands for (see the module docs). Unknown words are P3, or a
    :class:`PayloadError` when ``strict``."""
    if value is None or value == "":
        return Severity.P3
    found = SEVERITY_WORDS.get(value.strip().lower())
    if found is not None:
        return found
    if strict:
        raise PayloadError(where, f"unknown severity {value!r}; use one of {', '.join(_WORDS)}")
    return Severity.P3


_WORDS = ["P1", "P2", "P3", "security", "critical", "error", "major", "warning", "minor", "info"]


def _obj(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(where, f"expected an object, got {_type(value)}")
    return value


def _type(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )


def _str(
    data: Mapping[str, Any], key: str, where: str, *, required: bool = False, limit: int = _MAX_TEXT
) -> str:
    value = data.get(key)
    if value is None:
        if required:
            raise PayloadError(f"{where}.{key}" if where else key, "is required")
        return ""
    if not isinstance(value, str):
        raise PayloadError(f"{where}.{key}" if where else key, f"expected a string, got {_type(value)}")
    if required and not value.strip():
        raise PayloadError(f"{where}.{key}" if where else key, "must not be empty")
    if len(value) > limit:
        raise PayloadError(f"{where}.{key}" if where else key, f"longer than {limit} characters")
    return value


def _labels(value: object, where: str) -> dict[str, str]:
    if value is None:
        return {}
    data = _obj(value, where)
    if len(data) > _MAX_LABELS:
        raise PayloadError(where, f"more than {_MAX_LABELS} labels")
    out: dict[str, str] = {}
    for name, v in data.items():
        if not name or len(name) > 200:
            raise PayloadError(where, f"label name {name[:50]!r} is empty or too long")
        if not isinstance(v, str):
            raise PayloadError(f"{where}.{name}", f"a label value must be a string, got {_type(v)}")
        if len(v) > _MAX_TEXT:
            raise PayloadError(f"{where}.{name}", f"longer than {_MAX_TEXT} characters")
        out[name] = v
    return out


def _time(value: object, where: str) -> datetime | None:
    """An RFC 3339 time; Go's zero time (``0001-01-01T00:00:00Z``) and absence are None."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise PayloadError(where, f"expected an RFC 3339 time, got {_type(value)}")
    try:
        when = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise PayloadError(where, f"{value[:60]!r} is not an RFC 3339 time") from None
    if when.tzinfo is None:
        raise PayloadError(where, f"{value[:60]!r} has no time zone")
    return None if when.year <= 1 else when


def _limit(text: str, where: str, limit: int) -> str:
    if len(text) > limit:
        raise PayloadError(where, f"longer than {limit} characters")
    return text


def parse_alertmanager(payload: object, now: datetime) -> list[IntakeItem]:
    """The alerts of an Alertmanager webhook payload (``version`` "4"). Firing alerts fire (with
    ``ends_at`` = ``endsAt`` when that is in the future, so an alert Alertmanager stops sending
    resolves by itself); resolved alerts resolve. Raises :class:`PayloadError`."""
    data = _obj(payload, "")
    version = data.get("version")
    if version is not None and str(version) != "4":
        raise PayloadError("version", f'unsupported webhook version {version!r} (expected "4")')
    raw = data.get("alerts")
    if not isinstance(raw, list):
        raise PayloadError("alerts", "is required" if raw is None else f"expected a list, got {_type(raw)}")
    items = []
    for i, entry in enumerate(raw):
        where = f"alerts[{i}]"
        a = _obj(entry, where)
        status = a.get("status")
        if status not in ("firing", "resolved"):
            raise PayloadError(f"{where}.status", f'expected "firing" or "resolved", got {status!r}')
        labels = _labels(a.get("labels"), f"{where}.labels")
        rule = labels.get("alertname", "")
        if not rule.strip():
            raise PayloadError(f"{where}.labels.alertname", "is required")
        _limit(rule, f"{where}.labels.alertname", _MAX_RULE)
        annotations = _labels(a.get("annotations"), f"{where}.annotations")
        severity = map_severity(labels.get("severity"))
        service = labels.get("service") or labels.get("job") or ""
        _limit(service, f"{where}.labels.service", _MAX_SERVICE)
        _time(a.get("startsAt"), f"{where}.startsAt")
        ends = _time(a.get("endsAt"), f"{where}.endsAt")
        generator = _str(a, "generatorURL", where)
        _str(a, "fingerprint", where)
        extra = dict(annotations)
        if generator:
            extra["generator_url"] = generator
        alert = AlertInput(
            rule=rule,
            severity=severity,
            service=service,
            labels={**labels, "severity": severity.value},
            summary=annotations.get("summary") or annotations.get("description") or "",
            annotations=extra,
            runbook=annotations.get("runbook_url") or annotations.get("runbook") or None,
            source=AlertSource.ALERTMANAGER,
            ends_at=ends if ends is not None and ends > now else None,
        )
        action = IntakeAction.FIRE if status == "firing" else IntakeAction.RESOLVE
        items.append(IntakeItem(action, alert))
    return items


def _event(data: object, where: str) -> IntakeItem:
    e = _obj(data, where)
    prefix = f"{where}." if where else ""
    action = e.get("event_action", "trigger")
    if action not in ("trigger", "resolve"):
        raise PayloadError(f"{prefix}event_action", f'expected "trigger" or "resolve", got {action!r}')
    key = "name" if "rule" not in e and "name" in e else "rule"
    rule = _str(e, key, where, required=True, limit=_MAX_RULE)
    severity_raw = e.get("severity")
    if severity_raw is not None and not isinstance(severity_raw, str):
        raise PayloadError(f"{prefix}severity", f"expected a string, got {_type(severity_raw)}")
    severity = map_severity(severity_raw, strict=True, where=f"{prefix}severity")
    service = _str(e, "service", where, limit=_MAX_SERVICE)
    labels = _labels(e.get("labels"), f"{prefix}labels")
    dedup = e.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or not dedup.strip() or len(dedup) > 200):
        raise PayloadError(f"{prefix}dedup_key", "expected a non-empty string of at most 200 characters")
    if dedup is not None:
        labels["dedup_key"] = dedup
    value = e.get("value")
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
    ):
        raise PayloadError(f"{prefix}value", f"expected a finite number, got {_type(value)}")
    runbook = _str(e, "runbook", where) or None
    labels.pop("severity", None)
    alert = AlertInput(
        rule=rule,
        severity=severity,
        service=service,
        labels=labels,
        summary=_str(e, "summary", where),
        runbook=runbook,
        value=float(value) if value is not None else None,
        source=AlertSource.EVENT,
    )
    if action == "trigger":
        return IntakeItem(IntakeAction.FIRE, alert, dedup)
    return IntakeItem(IntakeAction.RESOLVE, alert, dedup)


def parse_events(payload: object) -> list[IntakeItem]:
    """One generic event (an object) or a list of them. Raises :class:`PayloadError`."""
    if isinstance(payload, list):
        if not payload:
            raise PayloadError("", "an empty list: send at least one event")
        return [_event(e, f"[{i}]") for i, e in enumerate(payload)]
    return [_event(payload, "")]


def _resolve_dedup(conn: Connection, key: str, now: datetime) -> int:
    rows = conn.execute(
        select(alerts.c.fingerprint, alerts.c.labels).where(
            and_(alerts.c.source == AlertSource.EVENT.value, alerts.c.state.in_(ACTIVE))
        )
    ).all()
    done = 0
    for fp, labels in rows:
        if (labels or {}).get("dedup_key") == key and resolve(conn, fp, now):
            done += 1
    return done


def apply(conn: Connection, items: list[IntakeItem], now: datetime) -> IntakeResult:
    """Write parsed items in the caller's transaction, in order."""
    fired: list[int] = []
    resolved = unknown = 0
    for item in items:
        if item.action is IntakeAction.FIRE:
            fired.append(fire(conn, item.alert, now))
            continue
        if item.dedup_key is not None:
            n = _resolve_dedup(conn, item.dedup_key, now)
        else:
            n = 1 if resolve(conn, item.alert.fingerprint, now) else 0
        resolved += n
        unknown += 0 if n else 1
    return IntakeResult(fired=fired, resolved=resolved, unknown=unknown)
