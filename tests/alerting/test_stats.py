"""MTTA / MTTR per service and month over hand-made incidents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from flightdeck.alerting.stats import incident_stats
from flightdeck.store import Store
from flightdeck.store.tables import incidents


def _incident(
    store: Store,
    n: int,
    service: str,
    created: datetime,
    ack_after: float | None,
    resolve_after: float | None,
) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            insert(incidents).values(
                group_key=f"g{n}",
                group_labels={"service": service},
                title=f"incident {n}",
                service=service,
                severity="P1",
                status="resolved" if resolve_after is not None else "triggered",
                created_at=created,
                updated_at=created,
                acknowledged_at=None if ack_after is None else created + timedelta(seconds=ack_after),
                resolved_at=None if resolve_after is None else created + timedelta(seconds=resolve_after),
                notified={},
            )
        )


def test_mtta_mttr_per_service_and_month(store: Store) -> None:
    march = datetime(2026, 3, 10, 8, tzinfo=UTC)
    _incident(store, 1, "checkout", march, 60, 600)
    _incident(store, 2, "checkout", march + timedelta(days=1), 120, 1800)
    _incident(store, 3, "checkout", march + timedelta(days=2), None, 300)  # resolved, never acked
    _incident(store, 4, "checkout", march + timedelta(days=3), 30, None)  # still open
    _incident(store, 5, "wallet", march, 300, 900)
    _incident(store, 6, "checkout", datetime(2026, 3, 31, 23, 59, tzinfo=UTC), 10, 20)
    _incident(store, 7, "checkout", datetime(2026, 4, 1, 0, 0, tzinfo=UTC), 90, 100)
    _incident(store, 8, "checkout", datetime(2026, 2, 1, tzinfo=UTC), 1, 1)  # before `since`
    since, until = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC)
    with store.engine.begin() as conn:
        stats = incident_stats(conn, since, until)
        only_wallet = incident_stats(conn, since, until, service="wallet")
    by_key = {(s.service, s.month): s for s in stats}
    assert sorted(by_key) == [("checkout", "2026-03"), ("checkout", "2026-04"), ("wallet", "2026-03")]
    march_checkout = by_key[("checkout", "2026-03")]
    assert (march_checkout.count, march_checkout.acknowledged, march_checkout.resolved) == (5, 4, 4)
    assert march_checkout.mtta_seconds == (60 + 120 + 30 + 10) / 4
    assert march_checkout.mttr_seconds == (600 + 1800 + 300 + 20) / 4
    assert march_checkout.mtta_p50_seconds == 45.0
    assert march_checkout.mttr_p50_seconds == 450.0
    april = by_key[("checkout", "2026-04")]
    assert (april.count, april.mtta_seconds, april.mttr_seconds) == (1, 90.0, 100.0)
    [wallet] = only_wallet
    assert (wallet.service, wallet.count, wallet.mtta_seconds, wallet.mttr_seconds) == (
        "wallet",
        1,
        300.0,
        900.0,
    )


def test_no_incidents_no_rows(sqlite_store: Store) -> None:
    with sqlite_store.engine.begin() as conn:
        assert incident_stats(conn, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)) == []
