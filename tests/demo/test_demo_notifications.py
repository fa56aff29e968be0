"""The demo's on-call "phone": flightdeck's webhook channel from the bundled demo configuration
delivers a signed notification to the demo service, which refuses unsigned ones."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from flightdeck.alerting.delivery import Deliverer
from flightdeck.alerting.outbox_admin import enqueue_test
from flightdeck.clock import SystemClock
from flightdeck.demo.certs import DemoCertificates
from flightdeck.store import Store
from tests.demo.conftest import Api
from tests.demo.helpers import demo_config


async def test_demo_channel_delivers_signed_notifications_to_the_demo_service(
    api: Api, demo_certs: DemoCertificates, tmp_path: Path
) -> None:
    config = demo_config(api.service, demo_certs.ca_file, tmp_path)
    store = Store(f"sqlite:///{tmp_path / 'flightdeck.db'}")
    store.migrate()
    now = datetime.now(UTC)
    with store.engine.begin() as conn:
        outbox_id = enqueue_test(conn, config, "demo-phone", None, now)
    deliverer = Deliverer(config, store, SystemClock(), "demo-test")
    try:
        outcome = await deliverer.deliver_one(outbox_id, now)
    finally:
        await deliverer.close()
        store.dispose()
    assert outcome.sent, outcome
    received = list(api.service.state.notifications)
    assert len(received) == 1
    assert received[0]["action"] == "test"

    status, _data, _ = await api.call("POST", "/hooks/flightdeck", {"action": "forged"})
    assert status == 401
    status, listed = await api.admin("GET", "/hooks/flightdeck")
    assert status == 200
    assert [n["action"] for n in listed["notifications"]] == ["test"]
