"""Grouping alerts into incidents: the route an alert takes, its group key, and the open incident of
that group (created when there is none).

The first ``alerting.routes`` entry whose conditions all match an alert's labels chooses the
escalation policy and the grouping (the route's own, else ``alerting.grouping``). The group key is
the SHA-256 of the route's position and the values of the ``group_by`` labels, so alerts of one
service routed alike share an incident, while a P1 routed to paging never hides inside a chat-only
incident of the same service. At most one open incident exists per group key (a partial unique
index); two writers racing to open it both end up in the same one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, select, text

from flightdeck.alerting.alerts import AlertRow
from flightdeck.alerting.model import AlertState, EventKind, IncidentStatus
from flightdeck.alerting.timeline import add_event
from flightdeck.config.alerting import GroupingConfig, RouteConfig
from flightdeck.config.models import Config
from flightdeck.store.tables import incidents
from flightdeck.store.upsert import insert_if_absent

__all__ = ["Placement", "choose_route", "incident_title", "open_incident", "placement", "route_matches"]


def _one_of(wanted: Any, have: str) -> bool:
    if wanted is None:
        return True
    if isinstance(wanted, list):
        return have in [str(w) for w in wanted]
    return have == str(wanted)


def route_matches(route: RouteConfig, labels: Mapping[str, str]) -> bool:
    """Whether a route's severity, service and label conditions all hold for ``labels``."""
    return (
        _one_of(route.severity, labels.get("severity", ""))
        and _one_of(route.service, labels.get("service", ""))
        and all(labels.get(k) == v for k, v in route.labels.items())
    )


def choose_route(config: Config, labels: Mapping[str, str]) -> tuple[int | None, RouteConfig | None]:
    """The first matching route and its position, or (None, None)."""
    for i, route in enumerate(config.alerting.routes):
        if route_matches(route, labels):
            return i, route
    return None, None


@dataclass(frozen=True)
class Placement:
    """Where an alert goes: its route, grouping, group key and policy (None: no notifications)."""

    route_index: int | None
    grouping: GroupingConfig
    group_key: str
    group_labels: dict[str, str]
    policy: str | None


def placement(config: Config, labels: Mapping[str, str]) -> Placement:
    index, route = choose_route(config, labels)
    grouping = (route.grouping if route is not None else None) or config.alerting.grouping
    group_labels = {name: labels.get(name, "") for name in grouping.group_by}
    material = json.dumps({"route": index, "labels": group_labels}, sort_keys=True, separators=(",", ":"))
    policy = route.policy if route is not None else None
    if policy is not None and policy not in config.oncall.escalation_policies:
        policy = None
    return Placement(index, grouping, hashlib.sha256(material.encode()).hexdigest(), group_labels, policy)


def incident_title(alert_rows: Sequence[AlertRow]) -> str:
    """The most urgent firing alert's summary (or rule), with the service and how many more."""
    firing = [a for a in alert_rows if a.state is not AlertState.RESOLVED] or list(alert_rows)
    if not firing:
        return "incident"
    first = min(firing, key=lambda a: (a.severity.rank, a.id))
    text = first.summary or first.rule
    if first.service and first.service not in text:
        text = f"{first.service}: {text}"
    rules = {a.fingerprint for a in firing}
    if len(rules) > 1:
        text += f" (+{len(rules) - 1} more)"
    return text[:500]


def _open_row(conn: Connection, group_key: str) -> RowMapping | None:
    return (
        conn.execute(
            select(incidents).where(
                and_(incidents.c.group_key == group_key, incidents.c.status != IncidentStatus.RESOLVED.value)
            )
        )
        .mappings()
        .first()
    )


def open_incident(
    conn: Connection, place: Placement, alert: AlertRow, now: datetime
) -> tuple[RowMapping, bool]:
    """The open incident of the alert's group, creating it (triggered, with a TRIGGERED event) if
    there is none. Returns the row and whether it was created here."""
    for _ in range(3):
        row = _open_row(conn, place.group_key)
        if row is not None:
            return row, False
        inserted = insert_if_absent(
            conn,
            incidents,
            {
                "group_key": place.group_key,
                "group_labels": place.group_labels,
                "title": incident_title([alert]),
                "service": alert.service,
                "severity": alert.severity.value,
                "status": IncidentStatus.TRIGGERED.value,
                "policy": place.policy,
                "created_at": now,
                "updated_at": now,
                "escalation_level": 0,
                "escalation_round": 0,
                "next_escalation_at": None,
                "notify_at": (now + timedelta(seconds=place.grouping.group_wait)) if place.policy else None,
                "last_notified_at": None,
                "notified": {},
                "announce": None,
                "version": 1,
            },
            ["group_key"],
            text("status <> 'resolved'"),  # the partial unique index's predicate, verbatim
        )
        if inserted is None:
            continue  # another writer opened it first: join theirs
        incident_id = inserted
        who = f"routed to {place.policy}" if place.policy else "no route: nobody is notified"
        add_event(
            conn,
            incident_id,
            EventKind.TRIGGERED,
            f"incident opened ({who})",
            at=now,
            detail={"group": place.group_labels, "policy": place.policy},
        )
        created = conn.execute(select(incidents).where(incidents.c.id == incident_id)).mappings().first()
        assert created is not None
        return created, True
    raise RuntimeError(f"could not open an incident for group {place.group_key}")  # pragma: no cover
