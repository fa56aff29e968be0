"""The Deliverer against the local receiver, on SQLite and PostgreSQL, with time passed in."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import update

from flightdeck.alerting.delivery import Deliverer
from flightdeck.alerting.incidents import acknowledge
from flightdeck.alerting.model import EventKind, OutboxState
from flightdeck.clock import FakeClock
from flightdeck.store import Store
from flightdeck.store.tables import outbox
from tests.alerting.delivery_helpers import config_for, events, new_incident, queue, row
from tests.alerting.receiver import Receiver


def deliverer(
    receiver: Receiver, store: Store, clock: FakeClock, node: str = "n1", **hook: object
) -> Deliverer:
    return Deliverer(config_for(receiver.url, **hook), store, clock, node, rng=random.Random(7))


async def test_sent_once_with_its_idempotency_key(receiver: Receiver, store: Store, clock: FakeClock) -> None:
    now = clock.now()
    incident = new_incident(store, now)
    oid = queue(store, now, "k-sent", incident, recipient="abebe", address="+251911000001")
    d = deliverer(receiver, store, clock)
    try:
        assert await d.step(now) == 1
        assert await d.step(now + timedelta(seconds=5)) == 0
    finally:
        await d.close()
    assert receiver.delivered_keys() == {"k-sent": 1}
    r = row(store, oid)
    assert (r["state"], r["attempts"], r["last_status"], r["sent_at"]) == ("sent", 1, 200, now)
    sent = [e for e in events(store, incident) if e.kind is EventKind.NOTIFICATION_SENT]
    assert len(sent) == 1
    assert "to abebe" in sent[0].message


async def test_500_is_retried_with_backoff(receiver: Receiver, store: Store, clock: FakeClock) -> None:
    now = clock.now()
    incident = new_incident(store, now)
    oid = queue(store, now, "k-500", incident)
    receiver.reply("/hook", 500)
    d = deliverer(receiver, store, clock)
    try:
        assert await d.step(now) == 1
        first = row(store, oid)
        assert (first["state"], first["attempts"], first["last_status"]) == ("pending", 1, 500)
        wait = first["next_attempt_at"] - now
        assert timedelta(0) < wait <= timedelta(seconds=2)  # backoff_base 2 s, full jitter
        assert await d.step(first["next_attempt_at"] - timedelta(milliseconds=1)) == 0  # not due yet
        assert await d.step(first["next_attempt_at"]) == 1
        second = row(store, oid)
        assert second["attempts"] == 2
        assert second["next_attempt_at"] - first["next_attempt_at"] <= timedelta(seconds=4)
        receiver.reply("/hook", 200)
        assert await d.step(second["next_attempt_at"]) == 1
    finally:
        await d.close()
    assert row(store, oid)["state"] == "sent"
    assert len(receiver.received("/hook")) == 3
    kinds = [e.kind for e in events(store, incident)]
    assert kinds.count(EventKind.NOTIFICATION_FAILED) == 2
    assert kinds[-1] is EventKind.NOTIFICATION_SENT
    failed = next(e for e in events(store, incident) if e.kind is EventKind.NOTIFICATION_FAILED)
    assert "HTTP 500" in failed.message
    assert "next attempt at" in failed.message
    assert "next_attempt_at" in failed.detail


async def test_400_is_a_dead_letter_with_a_delivery_failure_event(
    receiver: Receiver, store: Store, clock: FakeClock
) -> None:
    now = clock.now()
    incident = new_incident(store, now)
    oid = queue(store, now, "k-400", incident)
    receiver.reply("/hook", 400, body='{"error":"bad payload"}')
    d = deliverer(receiver, store, clock, secret="hmac-s3cr3t")
    try:
        assert await d.step(now) == 1
        assert await d.step(now + timedelta(hours=1)) == 0
    finally:
        await d.close()
    r = row(store, oid)
    assert (r["state"], r["attempts"], r["last_status"]) == ("dead", 1, 400)
    assert "bad payload" in r["last_error"]
    assert len(receiver.received("/hook")) == 1
    (dead,) = [e for e in events(store, incident) if e.kind is EventKind.NOTIFICATION_DEAD]
    assert "delivery failure" in dead.message
    for e in events(store, incident):
        assert "hmac-s3cr3t" not in e.message + str(e.detail)
        assert receiver.url not in e.message


async def test_429_retry_after_holds_the_channel_without_using_an_attempt(
    receiver: Receiver, store: Store, clock: FakeClock
) -> None:
    now = clock.now()
    a = queue(store, now, "k-429-a")
    b = queue(store, now + timedelta(seconds=1), "k-429-b")
    receiver.reply("/hook", 429, headers={"Retry-After": "120"})
    d = deliverer(receiver, store, clock)
    try:
        assert await d.step(now) == 1  # a: 429; b not due yet
        r = row(store, a)
        assert (r["state"], r["attempts"]) == ("pending", 0)
        assert r["next_attempt_at"] == now + timedelta(seconds=120)
        receiver.reply("/hook", 200)
        assert await d.step(now + timedelta(seconds=60)) == 0  # the channel is held: b waits too
        assert row(store, b)["state"] == "pending"
        assert await d.step(now + timedelta(seconds=120)) == 2
    finally:
        await d.close()
    assert receiver.delivered_keys() == {"k-429-a": 1, "k-429-b": 1}


async def test_hang_times_out_and_is_retried(receiver: Receiver, store: Store, clock: FakeClock) -> None:
    now = clock.now()
    oid = queue(store, now, "k-hang")
    receiver.reply("/hook", hang=True)
    d = deliverer(receiver, store, clock, timeout=0.3)
    try:
        assert await d.step(now) == 1
        r = row(store, oid)
        assert (r["state"], r["attempts"]) == ("pending", 1)
        assert "no answer within 0.3s" in r["last_error"]
        receiver.reply("/hook", 200)
        assert await d.step(r["next_attempt_at"]) == 1
    finally:
        await d.close()
    assert row(store, oid)["state"] == "sent"
    assert receiver.delivered_keys() == {"k-hang": 1}


async def test_max_attempts_makes_a_dead_letter(receiver: Receiver, store: Store, clock: FakeClock) -> None:
    now = clock.now()
    incident = new_incident(store, now)
    oid = queue(store, now, "k-max", incident)
    receiver.reply("/hook", 503)
    d = deliverer(receiver, store, clock, max_attempts=3)
    try:
        at = now
        for _ in range(3):
            assert await d.step(at) == 1
            at = row(store, oid)["next_attempt_at"]
    finally:
        await d.close()
    r = row(store, oid)
    assert (r["state"], r["attempts"]) == ("dead", 3)
    (dead,) = [e for e in events(store, incident) if e.kind is EventKind.NOTIFICATION_DEAD]
    assert "after 3 attempts" in dead.message


async def test_rate_limit_is_a_token_bucket_per_minute(
    receiver: Receiver, store: Store, clock: FakeClock
) -> None:
    now = clock.now()
    for i in range(5):
        queue(store, now, f"k-rl-{i}")
    d = deliverer(receiver, store, clock, rate_limit=2)
    try:
        assert await d.step(now) == 2
        assert await d.step(now + timedelta(seconds=10)) == 0
        assert await d.step(now + timedelta(seconds=30)) == 1  # one token a 30 s
        assert await d.step(now + timedelta(seconds=90)) == 2
    finally:
        await d.close()
    assert sorted(receiver.delivered_keys().values()) == [1] * 5


async def test_cancel_on_ack_rows_are_cancelled_not_sent(
    receiver: Receiver, store: Store, clock: FakeClock
) -> None:
    now = clock.now()
    incident = new_incident(store, now)
    oid = queue(store, now, "k-later", incident, delay=300, cancel_on_ack=True)
    with store.engine.begin() as conn:
        acknowledge(conn, incident, "abebe", now + timedelta(seconds=10))
        # the ack already cancels pending rows; a row caught mid-claim is cancelled at claim time
        conn.execute(update(outbox).where(outbox.c.id == oid).values(state="pending"))
    d = deliverer(receiver, store, clock)
    try:
        assert await d.step(now + timedelta(seconds=300)) == 1
    finally:
        await d.close()
    assert row(store, oid)["state"] == OutboxState.CANCELLED.value
    assert receiver.received() == []
    assert EventKind.NOTIFICATION_CANCELLED in [e.kind for e in events(store, incident)]


async def test_a_crashed_claim_is_taken_over_and_the_loser_records_nothing(
    receiver: Receiver, store: Store, clock: FakeClock
) -> None:
    now = clock.now()
    oid = queue(store, now, "k-crash")
    with store.engine.begin() as conn:  # another node claimed it, then died
        conn.execute(
            update(outbox)
            .where(outbox.c.id == oid)
            .values(
                state="sending", claimed_by="dead-node", claim_until=now + timedelta(seconds=30), attempts=1
            )
        )
    d = deliverer(receiver, store, clock, node="n2")
    try:
        assert await d.step(now + timedelta(seconds=10)) == 0  # the claim still holds
        assert await d.step(now + timedelta(seconds=31)) == 1
    finally:
        await d.close()
    r = row(store, oid)
    assert (r["state"], r["attempts"]) == ("sent", 2)
    assert receiver.delivered_keys() == {"k-crash": 1}


async def test_unknown_channel_is_a_dead_letter(receiver: Receiver, store: Store, clock: FakeClock) -> None:
    now = clock.now()
    oid = queue(store, now, "k-nochan", channel="gone")
    d = deliverer(receiver, store, clock)
    try:
        assert await d.step(now) == 1
    finally:
        await d.close()
    r = row(store, oid)
    assert r["state"] == "dead"
    assert "not configured" in r["last_error"]
