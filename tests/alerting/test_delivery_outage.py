"""Outage and concurrency: nothing is lost, nothing is sent twice."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from flightdeck.alerting.delivery import Deliverer
from flightdeck.clock import FakeClock
from flightdeck.store import Store
from flightdeck.store.tables import outbox
from tests.alerting.delivery_helpers import config_for, new_incident, queue
from tests.alerting.receiver import Receiver
from tests.conftest import _truncate


async def test_outage_every_notification_arrives_once_after_recovery(
    receiver: Receiver, store: Store, clock: FakeClock
) -> None:
    start = clock.now()
    incident = new_incident(store, start)
    config = config_for(receiver.url, max_attempts=50, backoff_max=60)
    d = Deliverer(config, store, clock, "n1", rng=random.Random(3))
    receiver.reply("/hook", 500)
    keys = [f"outage-{i}" for i in range(20)]
    try:
        now = start
        for tick in range(120):  # 10 simulated minutes, a step every 5 s
            if tick % 6 == 0 and tick // 6 < len(keys):  # enqueue one every 30 s
                queue(store, now, keys[tick // 6], incident)
            await d.step(now)
            now += timedelta(seconds=5)
        assert receiver.delivered_keys() == {}
        assert len(receiver.received("/hook")) > 20  # they were tried, and refused
        receiver.reply("/hook", 200)
        for _ in range(40):  # recovery: within backoff_max every row is due again
            await d.step(now)
            now += timedelta(seconds=5)
    finally:
        await d.close()
    delivered = receiver.delivered_keys()
    assert set(delivered) == set(keys)  # none lost
    assert set(delivered.values()) == {1}  # none twice
    with store.engine.begin() as conn:
        states = dict(conn.execute(select(outbox.c.state, func.count()).group_by(outbox.c.state)).all())
    assert states == {"sent": 20}


@pytest.fixture
def pg_stores(_pg_store_migrated: str, clock: FakeClock) -> Iterator[tuple[Store, Store]]:
    """Two Store objects (two connection pools, as two processes have) on one PostgreSQL database."""
    a, b = Store(_pg_store_migrated, clock=clock), Store(_pg_store_migrated, clock=clock)
    _truncate(a)
    yield a, b
    a.dispose()
    b.dispose()


@pytest.mark.services
async def test_two_deliverers_on_one_postgresql_send_each_notification_once(
    receiver: Receiver, pg_stores: tuple[Store, Store], clock: FakeClock
) -> None:
    a, b = pg_stores
    now = clock.now()
    incident = new_incident(a, now)
    keys = [f"pair-{i}" for i in range(60)]
    for key in keys:
        queue(a, now, key, incident)
    config = config_for(receiver.url)
    one = Deliverer(config, a, clock, "node-a", batch=25)
    two = Deliverer(config, b, clock, "node-b", batch=25)
    try:
        for i in range(6):
            at = now + timedelta(seconds=i)
            await asyncio.gather(one.step(at), two.step(at))
    finally:
        await one.close()
        await two.close()
    delivered = receiver.delivered_keys()
    assert set(delivered) == set(keys)
    assert set(delivered.values()) == {1}
    assert len(receiver.received("/hook")) == len(keys)
    with a.engine.begin() as conn:
        claimers = {r[0] for r in conn.execute(select(outbox.c.claimed_by))}
        states = {r[0] for r in conn.execute(select(outbox.c.state))}
    assert states == {"sent"}
    assert claimers == {None}  # every claim was released when its outcome was recorded
