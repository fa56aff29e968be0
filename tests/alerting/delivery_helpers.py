"""Helpers for the delivery tests: a configuration pointing at the receiver, incidents, enqueueing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from flightdeck.alerting.model import Action, Message
from flightdeck.alerting.outbox import enqueue
from flightdeck.alerting.timeline import TimelineEvent, timeline
from flightdeck.config.models import Config
from flightdeck.store import Store
from flightdeck.store.tables import incidents, outbox


def config_for(url: str, **hook: Any) -> Config:
    """One webhook channel ``hook`` posting to ``url``/hook, with ``hook`` fields overriding."""
    channel = {"type": "webhook", "url": f"{url}/hook", "timeout": 0.5, "backoff_base": 2, "backoff_max": 60}
    channel.update(hook)
    return Config.model_validate({"channels": {"hook": channel}})


def new_incident(store: Store, now: datetime, status: str = "triggered") -> int:
    with store.engine.begin() as conn:
        result = conn.execute(
            insert(incidents).values(
                group_key="g" * 8 + str(now.timestamp()),
                group_labels={},
                title="Payments API down",
                service="payments",
                severity="P1",
                status=status,
                created_at=now,
                updated_at=now,
                escalation_level=0,
                escalation_round=0,
                notified={},
                version=1,
            )
        )
        pk = result.inserted_primary_key
        assert pk is not None
        return int(pk[0])


def queue(
    store: Store,
    now: datetime,
    key: str,
    incident_id: int | None = None,
    channel: str = "hook",
    **kwargs: Any,
) -> int:
    message = Message(
        action=Action.TRIGGER,
        title="Payments API down",
        severity="P1",
        incident_id=incident_id,
        dedup_key=f"flightdeck-incident-{incident_id}",
    )
    with store.engine.begin() as conn:
        return enqueue(conn, idempotency_key=key, channel=channel, message=message, now=now, **kwargs).id


def row(store: Store, outbox_id: int) -> dict[str, Any]:
    with store.engine.begin() as conn:
        found = conn.execute(select(outbox).where(outbox.c.id == outbox_id)).mappings().first()
    assert found is not None
    return dict(found)


def events(store: Store, incident_id: int) -> list[TimelineEvent]:
    with store.engine.begin() as conn:
        return timeline(conn, incident_id)
