"""The notification outbox: every notification is written here, with its idempotency key, before
anything is sent. Delivery (:mod:`flightdeck.alerting.delivery`) claims rows by compare-and-set."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, select

from flightdeck.alerting.model import Action, EventKind, Message, OutboxState
from flightdeck.alerting.timeline import add_event
from flightdeck.store.tables import outbox
from flightdeck.store.upsert import insert_if_absent

__all__ = ["Enqueued", "enqueue"]


@dataclass(frozen=True)
class Enqueued:
    id: int
    created: bool  # False: a notification with this idempotency key already existed


def enqueue(
    conn: Connection,
    *,
    idempotency_key: str,
    channel: str,
    message: Message,
    now: datetime,
    recipient: str | None = None,
    address: str | None = None,
    delay: float = 0.0,
    cancel_on_ack: bool = False,
) -> Enqueued:
    """Store one notification for ``channel`` (to ``address`` for ``recipient`` when the channel needs
    one) to be sent ``delay`` seconds from ``now``. The same ``idempotency_key`` twice stores it once.
    A notification of an incident also gets a ``notification_queued`` timeline event."""
    existing = conn.execute(select(outbox.c.id).where(outbox.c.idempotency_key == idempotency_key)).first()
    if existing is not None:
        return Enqueued(int(existing[0]), False)
    inserted = insert_if_absent(
        conn,
        outbox,
        {
            "idempotency_key": idempotency_key,
            "incident_id": message.incident_id,
            "channel": channel,
            "recipient": recipient,
            "address": address,
            "action": message.action.value,
            "payload": message.to_payload(),
            "state": OutboxState.PENDING.value,
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": now + timedelta(seconds=delay),
            "cancel_on_ack": cancel_on_ack,
        },
        ["idempotency_key"],
    )
    if inserted is None:
        row = conn.execute(select(outbox.c.id).where(outbox.c.idempotency_key == idempotency_key)).first()
        assert row is not None
        return Enqueued(int(row[0]), False)
    if message.incident_id is not None and message.action is not Action.TEST:
        who = f" to {recipient}" if recipient else ""
        when = f" (in {delay:g}s unless acknowledged)" if delay > 0 else ""
        add_event(
            conn,
            message.incident_id,
            EventKind.NOTIFICATION_QUEUED,
            f"{message.action.value} via {channel}{who}{when}",
            at=now,
            detail={"outbox_id": inserted, "channel": channel, "recipient": recipient},
        )
    return Enqueued(inserted, True)
