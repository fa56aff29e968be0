"""The router: dirty alerts → suppression → incidents → notifications, and the timers of open
incidents (group wait / interval / repeat, escalation) and the updates people's actions owe.

Each :meth:`Router.step`:

1. Reads what suppression depends on (open maintenance windows, active silences, inhibiting
   alerts). When that changed since the last step (or a minute has passed), every firing alert whose
   suppression differs from what it was is marked dirty again.
2. Takes dirty alerts, oldest first, in batches. A firing, unsuppressed alert joins the open
   incident of its group (or opens one); a resolved alert may resolve its incident (all of its
   alerts resolved: resolved by ``flightdeck``, with a RESOLVE message to everyone who got the
   trigger). The alert's ``dirty`` flag is cleared by compare-and-set on its version.
3. Handles incidents whose ``notify_at`` or ``next_escalation_at`` has come (see :mod:`.timing`).
4. Sends the ACKNOWLEDGE / RESOLVE messages that people's actions owe (``incidents.announce``).

Everything written for one alert or one incident is one transaction guarded by compare-and-set on
the incident's (and alert's) version, and every notification has a deterministic idempotency key:
a crash in the middle of a step leaves nothing half-routed, and running a step again for the same
state stores nothing new.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from flightdeck.alerting.alerts import AlertRow
from flightdeck.alerting.grouping import incident_title, open_incident, placement
from flightdeck.alerting.incidents import IncidentRow
from flightdeck.alerting.links import link_key
from flightdeck.alerting.messages import send_followup
from flightdeck.alerting.model import Action, AlertState, EventKind, IncidentStatus, OutboxState
from flightdeck.alerting.suppression import SuppressionContext, load_context
from flightdeck.alerting.timeline import add_event
from flightdeck.alerting.timing import (
    Conflict,
    IncidentState,
    arm_change,
    claim,
    handle_due,
    load_state,
    rearm,
    save,
)
from flightdeck.clock import Clock
from flightdeck.config.models import Config
from flightdeck.store import Store
from flightdeck.store.tables import alerts, incidents, outbox

__all__ = ["RECHECK_EVERY", "Router", "announce", "auto_resolve"]

log = logging.getLogger(__name__)

BATCH = 500
RECHECK_EVERY = timedelta(seconds=60)


class Router:
    """Routes alerts into incidents and notifications. Only the holder of the ``alerting`` lease
    runs it; every decision is in the store, so another process can take over at any step."""

    def __init__(self, config: Config, store: Store, clock: Clock, node_id: str) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.node_id = node_id
        self._key: bytes | None = None
        self._signature: Any = None
        self._rechecked_at: datetime | None = None

    @property
    def key(self) -> bytes:
        if self._key is None:
            self._key = link_key(self.config)
        return self._key

    async def step(self, now: datetime) -> int:
        """One routing pass at ``now``; returns the number of alerts and incidents handled."""
        return await asyncio.to_thread(self.step_sync, now)

    async def close(self) -> None:
        return None

    # -- the pass ---------------------------------------------------------------------------------

    def step_sync(self, now: datetime) -> int:
        work = 0
        for _ in range(2):  # a second round when an inhibiting alert changed during the first
            ctx = self._context(now)
            if ctx.signature() != self._signature or self._recheck_due(now):
                work += self._recheck(ctx, now)
                self._signature = ctx.signature()
                self._rechecked_at = now
            routed, sources_changed = self._route_dirty(ctx, now)
            work += routed
            if not sources_changed:
                break
        work += self._due(now)
        work += self._announces(now)
        return work

    def _recheck_due(self, now: datetime) -> bool:
        return (
            self._rechecked_at is None
            or now - self._rechecked_at >= RECHECK_EVERY
            or now < self._rechecked_at
        )

    def _context(self, now: datetime) -> SuppressionContext:
        with self.store.engine.begin() as conn:
            return load_context(conn, self.config, now)

    def _recheck(self, ctx: SuppressionContext, now: datetime) -> int:
        """Mark dirty every firing alert whose suppression is no longer what it was."""
        marked = 0
        with self.store.engine.begin() as conn:
            rows = conn.execute(
                select(
                    alerts.c.id,
                    alerts.c.fingerprint,
                    alerts.c.labels,
                    alerts.c.suppressed,
                    alerts.c.suppressed_by,
                    alerts.c.version,
                ).where(and_(alerts.c.state == AlertState.FIRING.value, alerts.c.dirty.is_(False)))
            ).all()
            for alert_id, fp, labels, kind, by, version in rows:
                verdict = ctx.verdict(fp, {str(k): str(v) for k, v in dict(labels or {}).items()})
                new_kind = verdict.kind.value if verdict.kind is not None else None
                if (new_kind, verdict.by) == (kind, by):
                    continue
                result = conn.execute(
                    update(alerts)
                    .where(and_(alerts.c.id == alert_id, alerts.c.version == version))
                    .values(dirty=True, version=alerts.c.version + 1)
                )
                marked += result.rowcount
        return marked

    def _route_dirty(self, ctx: SuppressionContext, now: datetime) -> tuple[int, bool]:
        with self.store.engine.begin() as conn:
            ids = [
                int(r[0])
                for r in conn.execute(
                    select(alerts.c.id).where(alerts.c.dirty.is_(True)).order_by(alerts.c.id).limit(BATCH)
                )
            ]
        done = 0
        sources_changed = False
        for alert_id in ids:
            try:
                with self.store.engine.begin() as conn:
                    labels = self._route_one(conn, ctx, alert_id, now)
            except (Conflict, IntegrityError, OperationalError) as exc:
                log.info(
                    "router: alert %s changed meanwhile (%s); retrying next step",
                    alert_id,
                    type(exc).__name__,
                )
                continue
            if labels is not None:
                done += 1
                sources_changed = sources_changed or ctx.is_source(labels)
        return done, sources_changed

    def _route_one(
        self, conn: Connection, ctx: SuppressionContext, alert_id: int, now: datetime
    ) -> dict[str, str] | None:
        row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).mappings().first()
        if row is None or not row["dirty"]:
            return None
        alert = AlertRow.from_row(row)
        claimed = conn.execute(  # compare-and-set first: the rest of the transaction builds on it
            update(alerts)
            .where(and_(alerts.c.id == alert.id, alerts.c.version == alert.version, alerts.c.dirty.is_(True)))
            .values(dirty=False)
        )
        if claimed.rowcount != 1:
            raise Conflict(f"alert {alert.id} changed")
        verdict = ctx.verdict(alert.fingerprint, alert.labels) if alert.state is AlertState.FIRING else None
        kind = verdict.kind.value if verdict is not None and verdict.kind is not None else None
        values: dict[str, Any] = {
            "suppressed": kind,
            "suppressed_by": verdict.by if verdict is not None and kind is not None else None,
        }
        if alert.state is AlertState.FIRING and kind is None:
            values["incident_id"] = self._join(conn, alert, now)
        elif alert.state is AlertState.FIRING and alert.incident_id is not None:
            self._touch(conn, alert.incident_id, alert, now, suppressed=True)
        elif alert.state is AlertState.RESOLVED and alert.incident_id is not None:
            self._resolved(conn, alert.incident_id, alert, now)
        result = conn.execute(
            update(alerts)
            .where(and_(alerts.c.id == alert.id, alerts.c.version == alert.version))
            .values(**values)
        )
        if result.rowcount != 1:
            raise Conflict(f"alert {alert.id} changed")
        return alert.labels

    # -- alerts joining and leaving incidents -------------------------------------------------------

    def _join(self, conn: Connection, alert: AlertRow, now: datetime) -> int:
        if alert.incident_id is not None:
            state = load_state(conn, alert.incident_id)
            if state.incident.status is not IncidentStatus.RESOLVED:
                self._touch(conn, alert.incident_id, alert, now, suppressed=False)
                return alert.incident_id
        place = placement(self.config, alert.labels)
        row, created = open_incident(conn, place, alert, now)
        incident_id = int(row["id"])
        conn.execute(update(alerts).where(alerts.c.id == alert.id).values(incident_id=incident_id))
        state = load_state(conn, incident_id)
        add_event(
            conn,
            incident_id,
            EventKind.ALERT_FIRING,
            f"{alert.rule} firing: {alert.summary or alert.rule}",
            at=now,
            detail={"alert_id": alert.id, "fingerprint": alert.fingerprint, "severity": alert.severity.value},
        )
        values: dict[str, Any] = {}
        if not created:
            values["title"] = incident_title(state.alerts)
            most = min(
                (a.severity for a in state.alerts if a.state is not AlertState.RESOLVED),
                key=lambda s: s.rank,
                default=None,
            )
            if most is not None and most.rank < state.incident.severity.rank:
                values["severity"] = most.value
        values.update(arm_change(self.config, state, alert.fingerprint, "firing"))
        if values:
            save(conn, state, now, **values)
        return incident_id

    def _touch(
        self, conn: Connection, incident_id: int, alert: AlertRow, now: datetime, *, suppressed: bool
    ) -> None:
        """An alert of an open incident changed without leaving it (re-summarised, suppressed or no
        longer suppressed): a change to notify when its state differs from the last notification."""
        state = load_state(conn, incident_id)
        if state.incident.status is IncidentStatus.RESOLVED or suppressed:
            return
        values = arm_change(self.config, state, alert.fingerprint, "firing")
        if not values and state.incident.notify_at is None:
            values = rearm(self.config, state)  # notifications paused while all were suppressed
        if values:
            save(conn, state, now, **values)

    def _resolved(self, conn: Connection, incident_id: int, alert: AlertRow, now: datetime) -> None:
        state = load_state(conn, incident_id)
        if state.incident.status is IncidentStatus.RESOLVED:
            return
        add_event(
            conn,
            incident_id,
            EventKind.ALERT_RESOLVED,
            f"{alert.rule} resolved",
            at=now,
            detail={"alert_id": alert.id, "fingerprint": alert.fingerprint},
        )
        if all(a.state is AlertState.RESOLVED for a in state.alerts):
            auto_resolve(conn, self.config, self.key, state, now)
            return
        values = arm_change(self.config, state, alert.fingerprint, "resolved")
        if values:
            save(conn, state, now, **values)

    # -- incident timers and announces --------------------------------------------------------------

    def _due(self, now: datetime) -> int:
        with self.store.engine.begin() as conn:
            ids = [
                int(r[0])
                for r in conn.execute(
                    select(incidents.c.id)
                    .where(
                        and_(
                            incidents.c.status != IncidentStatus.RESOLVED.value,
                            or_(
                                incidents.c.notify_at <= now,
                                and_(
                                    incidents.c.status == IncidentStatus.TRIGGERED.value,
                                    incidents.c.next_escalation_at <= now,
                                ),
                            ),
                        )
                    )
                    .order_by(incidents.c.id)
                    .limit(BATCH)
                )
            ]
        done = 0
        for incident_id in ids:
            try:
                with self.store.engine.begin() as conn:
                    done += int(handle_due(conn, self.config, self.key, incident_id, now))
            except (Conflict, IntegrityError, OperationalError) as exc:
                log.info("router: incident %s changed meanwhile (%s)", incident_id, type(exc).__name__)
        return done

    def _announces(self, now: datetime) -> int:
        with self.store.engine.begin() as conn:
            ids = [
                int(r[0])
                for r in conn.execute(
                    select(incidents.c.id)
                    .where(incidents.c.announce.is_not(None))
                    .order_by(incidents.c.id)
                    .limit(BATCH)
                )
            ]
        done = 0
        for incident_id in ids:
            try:
                with self.store.engine.begin() as conn:
                    done += int(announce(conn, self.config, self.key, incident_id, now))
            except (Conflict, IntegrityError, OperationalError) as exc:
                log.info("router: incident %s changed meanwhile (%s)", incident_id, type(exc).__name__)
        return done


def _cancel_delayed(conn: Connection, incident_id: int) -> None:
    conn.execute(
        update(outbox)
        .where(
            and_(
                outbox.c.incident_id == incident_id,
                outbox.c.state == OutboxState.PENDING.value,
                outbox.c.cancel_on_ack.is_(True),
            )
        )
        .values(state=OutboxState.CANCELLED.value, last_error="the incident resolved before it was due")
    )


def auto_resolve(conn: Connection, config: Config, key: bytes, state: IncidentState, now: datetime) -> None:
    """Every alert of the incident resolved: resolve it (by ``flightdeck``) and tell who was paged."""
    save(
        conn,
        state,
        now,
        status=IncidentStatus.RESOLVED.value,
        resolved_at=now,
        resolved_by="flightdeck",
        next_escalation_at=None,
        notify_at=None,
        announce=None,
    )
    _cancel_delayed(conn, state.incident.id)
    add_event(
        conn,
        state.incident.id,
        EventKind.RESOLVED,
        "resolved: every alert resolved",
        at=now,
        actor="flightdeck",
    )
    resolved = IncidentState(
        incident=_with_status(state.incident, IncidentStatus.RESOLVED),
        notified=state.notified,
        announce=None,
        alerts=state.alerts,
    )
    send_followup(conn, config, key, resolved.incident, resolved.alerts, Action.RESOLVE, "resolve", now)


def _with_status(incident: IncidentRow, status: IncidentStatus) -> IncidentRow:
    return replace(incident, status=status)


def announce(conn: Connection, config: Config, key: bytes, incident_id: int, now: datetime) -> bool:
    """Send the ACKNOWLEDGE or RESOLVE an incident's ``announce`` asks for, then clear it."""
    state = load_state(conn, incident_id)
    if state.announce is None:
        return False
    claim(conn, state, now)
    if state.announce == "acknowledge":
        send_followup(conn, config, key, state.incident, state.alerts, Action.ACKNOWLEDGE, "ack", now)
    elif state.announce == "resolve":
        send_followup(conn, config, key, state.incident, state.alerts, Action.RESOLVE, "resolve", now)
    conn.execute(update(incidents).where(incidents.c.id == incident_id).values(announce=None))
    return True
