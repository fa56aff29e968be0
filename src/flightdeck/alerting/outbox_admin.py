"""Looking after the outbox by hand: list notifications, put a dead letter back, queue a test.

Listings hold no secret and no payload: the channel, the recipient and address, the state, attempts, the last
status and error (already scrubbed of secrets when recorded).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Connection, and_, select, update

from flightdeck.alerting.model import Action, Message, OutboxState
from flightdeck.alerting.outbox import enqueue
from flightdeck.alerting.queries import Notification
from flightdeck.config.base import pick
from flightdeck.config.models import Config
from flightdeck.errors import NotFoundError
from flightdeck.store.tables import outbox

__all__ = ["enqueue_test", "list_outbox", "public_url", "retry_dead_letter"]


def list_outbox(conn: Connection, *, state: OutboxState | None = None, limit: int = 50) -> list[Notification]:
    """The newest notifications first, optionally only those in ``state``."""
    query = select(outbox).order_by(outbox.c.id.desc()).limit(limit)
    if state is not None:
        query = query.where(outbox.c.state == state.value)
    return [Notification.from_row(r) for r in conn.execute(query).mappings()]


def retry_dead_letter(conn: Connection, outbox_id: int, now: datetime) -> bool:
    """Put dead letter ``outbox_id`` back to pending, due now, with a fresh delivery window
    (attempts from zero, ``give_up_after`` counted from now). False when it is not a dead letter."""
    exists = conn.execute(select(outbox.c.id).where(outbox.c.id == outbox_id)).first()
    if exists is None:
        raise NotFoundError(f"no notification {outbox_id} in the outbox")
    done = conn.execute(
        update(outbox)
        .where(and_(outbox.c.id == outbox_id, outbox.c.state == OutboxState.DEAD.value))
        .values(
            state=OutboxState.PENDING.value,
            attempts=0,
            created_at=now,
            next_attempt_at=now,
            claimed_by=None,
            claim_until=None,
        )
    ).rowcount
    return bool(done == 1)


def public_url(config: Config) -> str:
    """Where users reach the cockpit: ``server.public_url``, else ``http://bind:port``."""
    if config.server.public_url:
        return config.server.public_url.rstrip("/")
    return f"http://{config.server.bind}:{config.server.port}"


def enqueue_test(conn: Connection, config: Config, channel: str, address: str | None, now: datetime) -> int:
    """Queue a test message for ``channel`` (unique idempotency key); the outbox id."""
    pick(config.channels, channel, "channel", "channels")
    token = uuid.uuid4().hex
    message = Message(
        action=Action.TEST,
        title="flightdeck test notification",
        summary=f"A test of channel {channel!r}, sent with flightdeck notify test. No action is needed.",
        severity="P3",
        status="test",
        dedup_key=f"flightdeck-test-{token}",
        links={"view": f"{public_url(config)}/incidents"},
        created_at=now.isoformat(),
    )
    return enqueue(
        conn,
        idempotency_key=f"test-{channel}-{token}",
        channel=channel,
        message=message,
        now=now,
        recipient=None,
        address=address,
    ).id
