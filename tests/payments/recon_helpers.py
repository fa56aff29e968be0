"""Small hand-written record tables for the matcher's tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from flightdeck.payments.records import RECORD_SCHEMA

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Rec:
    reference: str
    amount: int
    status: str = "succeeded"
    currency: str = "EUR"
    fee: int | None = None
    net: int | None = None
    group_ref: str | None = None
    seconds: float = 0.0


def table(source: str, records: list[Rec]) -> pa.Table:
    rows = [
        {
            "row": n,
            "source": source,
            "reference": r.reference,
            "group_ref": r.group_ref,
            "amount_minor": r.amount,
            "fee_minor": r.fee,
            "net_minor": r.net,
            "currency": r.currency,
            "status": r.status,
            "occurred_at": T0 + timedelta(seconds=r.seconds),
        }
        for n, r in enumerate(records, start=1)
    ]
    return pa.Table.from_pylist(rows, schema=RECORD_SCHEMA)


def internal(*records: Rec) -> pa.Table:
    return table("ledger", list(records))


def statement(*records: Rec) -> pa.Table:
    return table("gateway.csv", list(records))
