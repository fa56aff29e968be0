"""An open incident's timers, with Alertmanager's meaning of the grouping options:

- ``group_wait``: the first notification goes out this long after the incident opened, so alerts
  firing together arrive in one message. It notifies level 0 of the escalation policy (TRIGGER).
- ``group_interval``: after a notification, a change (an alert joined, or one resolved while others
  still fire) is notified (UPDATE) no sooner than this long after the previous notification.
- ``repeat_interval``: an unchanged incident still triggered (unacknowledged) is notified again
  (UPDATE) this often. An acknowledged incident is not repeated; changes still are.

``incidents.notify_at`` is when the next group notification is due, ``last_notified_at`` when the
last went out and ``notified`` the ``{fingerprint: state}`` it told. Escalation runs on its own
timer, ``next_escalation_at`` (see :mod:`.escalation`). While every firing alert of an incident is
suppressed, it sends nothing: group notifications wait until an alert is notifiable again, and
escalation holds at its level.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, select, update

from flightdeck.alerting.alerts import AlertRow
from flightdeck.alerting.errors import AlertingError
from flightdeck.alerting.escalation import next_step, notify_level, policy_of
from flightdeck.alerting.grouping import placement
from flightdeck.alerting.incidents import IncidentRow
from flightdeck.alerting.messages import build_message, send_followup
from flightdeck.alerting.model import Action, AlertState, EventKind, IncidentStatus
from flightdeck.alerting.timeline import add_event
from flightdeck.config.alerting import GroupingConfig
from flightdeck.config.models import Config
from flightdeck.errors import NotFoundError
from flightdeck.store.tables import alerts, incidents

__all__ = ["Conflict", "IncidentState", "arm_change", "claim", "handle_due", "load_state", "rearm", "save"]


class Conflict(AlertingError):
    """A row changed between reading and writing it; the transaction is rolled back and retried."""


@dataclass(frozen=True)
class IncidentState:
    """An incident with its routing bookkeeping and its alerts (the latest row per fingerprint)."""

    incident: IncidentRow
    notified: dict[str, str]
    announce: str | None
    alerts: list[AlertRow]

    def grouping(self, config: Config) -> GroupingConfig:
        if self.alerts:
            return placement(config, self.alerts[0].labels).grouping
        return config.alerting.grouping

    def current(self) -> dict[str, str]:
        """``{fingerprint: state}`` a notification would tell now (suppressed alerts left out)."""
        out: dict[str, str] = {}
        for a in self.alerts:
            if a.state is AlertState.FIRING and a.suppressed is None:
                out[a.fingerprint] = "firing"
            elif a.state is AlertState.RESOLVED:
                out[a.fingerprint] = "resolved"
        return out


def load_state(conn: Connection, incident_id: int) -> IncidentState:
    row = conn.execute(select(incidents).where(incidents.c.id == incident_id)).mappings().first()
    if row is None:
        raise NotFoundError(f"no incident {incident_id}")
    latest: dict[str, AlertRow] = {}
    for r in conn.execute(
        select(alerts).where(alerts.c.incident_id == incident_id).order_by(alerts.c.id)
    ).mappings():
        a = AlertRow.from_row(r)
        latest[a.fingerprint] = a
    return IncidentState(
        incident=IncidentRow.from_row(row),
        notified={str(k): str(v) for k, v in dict(row["notified"] or {}).items()},
        announce=row["announce"],
        alerts=sorted(latest.values(), key=lambda a: a.id),
    )


def save(conn: Connection, state: IncidentState, now: datetime, **values: Any) -> None:
    """Write ``values`` to the incident by compare-and-set on the version read; :class:`Conflict`
    (rolling the transaction back) if someone changed it meanwhile."""
    result = conn.execute(
        update(incidents)
        .where(and_(incidents.c.id == state.incident.id, incidents.c.version == state.incident.version))
        .values(updated_at=now, version=incidents.c.version + 1, **values)
    )
    if result.rowcount != 1:
        raise Conflict(f"incident {state.incident.id} changed")


def claim(conn: Connection, state: IncidentState, now: datetime) -> None:
    """Take the incident for this transaction before anything else is written: compare-and-set on
    its version (:class:`Conflict` if it changed). Writing first also makes the transaction a real
    one on SQLite before any savepoint (a savepoint opening a transaction would commit on release),
    and holds the row lock on PostgreSQL until commit."""
    save(conn, state, now)


def _write(conn: Connection, incident_id: int, now: datetime, values: dict[str, Any]) -> None:
    conn.execute(update(incidents).where(incidents.c.id == incident_id).values(updated_at=now, **values))


def arm_change(config: Config, state: IncidentState, fingerprint: str, new_state: str) -> dict[str, Any]:
    """The ``notify_at`` a change of one alert calls for: the first notification's time if none
    went out yet, else the last one's plus ``group_interval``. Empty when nothing changes."""
    told = state.notified.get(fingerprint)
    if new_state == "firing" and told == "firing":
        return {}
    if new_state == "resolved" and told != "firing":
        return {}  # never told it was firing: nothing to take back
    return rearm(config, state)


def rearm(config: Config, state: IncidentState) -> dict[str, Any]:
    """The earliest ``notify_at`` the grouping options allow now (empty when it is already set
    that early, or when the incident notifies nobody)."""
    inc = state.incident
    if inc.policy is None or policy_of(config, inc.policy) is None:
        return {}
    grouping = state.grouping(config)
    if inc.last_notified_at is None:
        earliest = inc.created_at + timedelta(seconds=grouping.group_wait)
    else:
        earliest = inc.last_notified_at + timedelta(seconds=grouping.group_interval)
    due = earliest if inc.notify_at is None else min(inc.notify_at, earliest)
    return {} if due == inc.notify_at else {"notify_at": due}


def _group_notify(
    conn: Connection, config: Config, key: bytes, state: IncidentState, now: datetime, values: dict[str, Any]
) -> None:
    inc = state.incident
    current = state.current()
    triggered = inc.status is IncidentStatus.TRIGGERED
    grouping = state.grouping(config)
    repeat = timedelta(seconds=grouping.repeat_interval)
    if "firing" not in current.values():
        values["notify_at"] = None  # nothing to tell; an alert notifiable again re-arms it
        return
    if inc.last_notified_at is None:
        policy = policy_of(config, inc.policy)
        if triggered and policy is not None:
            message = build_message(config, key, inc, state.alerts, Action.TRIGGER, now, level=0)
            notify_level(conn, config, policy, inc.id, 0, 0, message, now)
            values.update(
                escalation_level=0,
                escalation_round=0,
                next_escalation_at=now + timedelta(seconds=policy.levels[0].timeout),
            )
    else:
        told = state.notified
        changed = any(
            told.get(fp) != st for fp, st in current.items() if st == "firing" or told.get(fp) == "firing"
        )
        if changed or (triggered and now >= inc.last_notified_at + repeat):
            send_followup(conn, config, key, inc, state.alerts, Action.UPDATE, f"u{inc.version}", now)
        else:
            values["notify_at"] = inc.last_notified_at + repeat if triggered else None
            return
    values.update(last_notified_at=now, notified=current, notify_at=now + repeat if triggered else None)


def _escalate(
    conn: Connection, config: Config, key: bytes, state: IncidentState, now: datetime, values: dict[str, Any]
) -> None:
    inc = state.incident
    policy = policy_of(config, inc.policy)
    if policy is None:
        values["next_escalation_at"] = None
        return
    level = min(inc.escalation_level, len(policy.levels) - 1)
    if "firing" not in state.current().values():
        values["next_escalation_at"] = now + timedelta(seconds=policy.levels[level].timeout)  # held
        return
    step = next_step(policy, level, inc.escalation_round)
    if step is None:
        values["next_escalation_at"] = None
        return
    new_level, new_round = step
    add_event(
        conn,
        inc.id,
        EventKind.ESCALATED,
        f"not acknowledged: escalated to level {new_level + 1}"
        + (f" (round {new_round + 1})" if new_round else ""),
        at=now,
        detail={"level": new_level, "round": new_round, "policy": inc.policy},
    )
    message = build_message(config, key, inc, state.alerts, Action.TRIGGER, now, level=new_level)
    notify_level(conn, config, policy, inc.id, new_level, new_round, message, now)
    values.update(
        escalation_level=new_level,
        escalation_round=new_round,
        next_escalation_at=now + timedelta(seconds=policy.levels[new_level].timeout),
    )


def handle_due(conn: Connection, config: Config, key: bytes, incident_id: int, now: datetime) -> bool:
    """Do what an open incident's timers call for at ``now`` (group notification, escalation), in
    the caller's transaction. False when nothing was due."""
    state = load_state(conn, incident_id)
    inc = state.incident
    if inc.status is IncidentStatus.RESOLVED:
        return False
    values: dict[str, Any] = {}
    notify_due = inc.notify_at is not None and inc.notify_at <= now
    escalation_due = (
        inc.status is IncidentStatus.TRIGGERED
        and inc.next_escalation_at is not None
        and inc.next_escalation_at <= now
    )
    if not notify_due and not escalation_due:
        return False
    claim(conn, state, now)
    if notify_due:
        _group_notify(conn, config, key, state, now, values)
    if escalation_due and "next_escalation_at" not in values:
        _escalate(conn, config, key, state, now, values)
    _write(conn, inc.id, now, values)
    return True
