"""Building the notifications the router sends: the :class:`Message` of an incident (with its signed
ack/resolve links), and the audience of follow-up messages (who got the incident's trigger).

Who gets what:

- ``trigger``: the targets of the escalation level being notified.
- ``update`` (new or resolved alerts, or a repeat of an unacknowledged incident) and ``resolve``:
  everyone who got a trigger of the incident that was due (not a delayed contact still waiting or
  cancelled), once per channel and address.
- ``acknowledge``: of that audience, the channel-wide ones (a channel target: chat, webhook) and
  every PagerDuty channel (it must close its own incident); people paged on their phone are not
  messaged again for an acknowledgement somebody made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, and_, func, or_, select

from flightdeck.alerting.alerts import AlertRow
from flightdeck.alerting.incidents import IncidentRow
from flightdeck.alerting.links import link_expiry, sign_link
from flightdeck.alerting.model import Action, AlertLine, AlertState, Message, OutboxState
from flightdeck.alerting.outbox import enqueue
from flightdeck.config.models import Config
from flightdeck.store.tables import outbox

__all__ = ["Recipient", "audience", "base_url", "build_message", "dedup_key", "send_followup"]

MAX_LINES = 50


def base_url(config: Config) -> str:
    """The cockpit's public URL, without a trailing slash."""
    if config.server.public_url:
        return config.server.public_url.rstrip("/")
    return f"http://{config.server.bind}:{config.server.port}"


def dedup_key(incident_id: int) -> str:
    return f"flightdeck-incident-{incident_id}"


def _iso(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).isoformat(timespec="seconds")


def build_message(
    config: Config,
    key: bytes,
    incident: IncidentRow,
    alert_rows: Sequence[AlertRow],
    action: Action,
    now: datetime,
    *,
    status: str | None = None,
    level: int | None = None,
) -> Message:
    """The message about ``incident`` (its firing, unsuppressed alerts first, then resolved ones)."""
    shown = [a for a in alert_rows if a.state is AlertState.FIRING and a.suppressed is None]
    shown += [a for a in alert_rows if a.state is AlertState.RESOLVED]
    lines = [
        AlertLine(
            rule=a.rule,
            severity=a.severity.value,
            state=a.state.value,
            summary=a.summary,
            service=a.service,
            labels=a.labels,
            started_at=_iso(a.fired_at or a.started_at),
            runbook=a.runbook,
        )
        for a in shown[:MAX_LINES]
    ]
    firing = [a for a in shown if a.state is AlertState.FIRING]
    summary = "; ".join(a.summary or a.rule for a in firing[:5])
    if len(firing) > 5:
        summary += f" (+{len(firing) - 5} more)"
    base = base_url(config)
    expires = link_expiry(now, config.alerting.link_ttl)
    links = {"view": f"{base}/incidents/{incident.id}"}
    if action in (Action.TRIGGER, Action.UPDATE):
        links["ack"] = f"{base}/a/{sign_link(key, incident.id, 'ack', expires)}"
        links["resolve"] = f"{base}/a/{sign_link(key, incident.id, 'resolve', expires)}"
    return Message(
        action=action,
        title=incident.title,
        summary=summary,
        severity=incident.severity.value,
        service=incident.service,
        status=status or incident.status.value,
        incident_id=incident.id,
        dedup_key=dedup_key(incident.id),
        alerts=lines,
        links=links,
        level=level,
        created_at=_iso(incident.created_at),
    )


@dataclass(frozen=True)
class Recipient:
    """One destination that got the incident's trigger; ``first_id`` (its first outbox row) makes
    idempotency keys of follow-ups stable."""

    channel: str
    recipient: str | None
    address: str | None
    first_id: int


def audience(
    conn: Connection, config: Config, incident_id: int, now: datetime, action: Action
) -> list[Recipient]:
    """Who a follow-up ``action`` about the incident goes to (see the module docstring)."""
    rows = conn.execute(
        select(outbox.c.channel, outbox.c.recipient, outbox.c.address, func.min(outbox.c.id))
        .where(
            and_(
                outbox.c.incident_id == incident_id,
                outbox.c.action == Action.TRIGGER.value,
                outbox.c.state != OutboxState.CANCELLED.value,
                or_(  # a delayed contact counts once it was due (or tried)
                    outbox.c.cancel_on_ack.is_(False),
                    outbox.c.state != OutboxState.PENDING.value,
                    outbox.c.attempts > 0,
                    outbox.c.next_attempt_at <= now,
                ),
            )
        )
        .group_by(outbox.c.channel, outbox.c.recipient, outbox.c.address)
    ).all()
    out = [Recipient(r[0], r[1], r[2], int(r[3])) for r in rows]
    if action is Action.ACKNOWLEDGE:
        out = [r for r in out if r.recipient is None or _channel_type(config, r.channel) == "pagerduty"]
    return sorted(out, key=lambda r: r.first_id)


def _channel_type(config: Config, name: str) -> str | None:
    channel = config.channels.get(name)
    return None if channel is None else channel.type


def send_followup(
    conn: Connection,
    config: Config,
    key: bytes,
    incident: IncidentRow,
    alert_rows: Sequence[AlertRow],
    action: Action,
    tag: str,
    now: datetime,
) -> int:
    """Send ``action`` about ``incident`` to its audience, with idempotency keys
    ``inc{id}:{tag}:o{first outbox id of the recipient}``; returns how many were newly stored."""
    message = build_message(config, key, incident, alert_rows, action, now)
    stored = 0
    for r in audience(conn, config, incident.id, now, action):
        done = enqueue(
            conn,
            idempotency_key=f"inc{incident.id}:{tag}:o{r.first_id}",
            channel=r.channel,
            message=message,
            now=now,
            recipient=r.recipient,
            address=r.address,
        )
        stored += int(done.created)
    return stored
