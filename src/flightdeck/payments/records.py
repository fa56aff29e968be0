"""The shapes both sides of a reconciliation are normalized to, and the categories results fall in.

Internal records (from a datasource query) and statement records (from a gateway or bank export) are
both turned into Arrow tables with :data:`RECORD_SCHEMA`. Amounts are integers in the currency's
minor units (cents, kobo; yen have none); never floats.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "DEFAULT_STATUS_SYNONYMS",
    "RECORD_SCHEMA",  # noqa: F822 - built on first use by the module's __getattr__
    "Category",
    "PaymentStatus",
    "Side",
    "status_lookup",
]


class Side(enum.StrEnum):
    INTERNAL = "internal"
    STATEMENT = "statement"


class PaymentStatus(enum.StrEnum):
    """Statuses are normalized to these before matching (a mapping's ``status_map`` does it)."""

    SUCCEEDED = "succeeded"  # settled, paid, successful, captured
    PENDING = "pending"
    FAILED = "failed"  # declined, reversed before settlement, abandoned
    REFUNDED = "refunded"


# Raw statuses gateways and applications commonly use, by what they mean. A source's ``status_map``
# adds to (and overrides) these. Compared case-insensitively.
DEFAULT_STATUS_SYNONYMS: dict[PaymentStatus, tuple[str, ...]] = {
    PaymentStatus.SUCCEEDED: (
        "succeeded", "success", "successful", "settled", "paid", "completed", "complete", "captured",
        "available", "approved",
    ),
    PaymentStatus.PENDING: ("pending", "processing", "submitted", "initiated", "ongoing", "queued",
                            "requires_action"),
    PaymentStatus.FAILED: ("failed", "failure", "declined", "error", "abandoned", "cancelled", "canceled",
                           "reversed", "rejected"),
    PaymentStatus.REFUNDED: ("refunded", "refund", "partially_refunded"),
}  # fmt: skip


def status_lookup(
    status_map: Mapping[str, Sequence[str]] | None = None,
    defaults: Mapping[PaymentStatus, Sequence[str]] = DEFAULT_STATUS_SYNONYMS,
) -> dict[str, PaymentStatus]:
    """A case-insensitive table from raw status to :class:`PaymentStatus`: every status's own name,
    then ``defaults`` (a gateway's words; the common ones unless given), then ``status_map``
    (normalized status -> raw values) on top. An unknown normalized name raises ValueError."""
    table = {s.value: s for s in PaymentStatus}
    for status, raws in defaults.items():
        table.update({raw.strip().lower(): status for raw in raws})
    for name, raws in (status_map or {}).items():
        try:
            status = PaymentStatus(name.strip().lower())
        except ValueError:
            known = ", ".join(s.value for s in PaymentStatus)
            raise ValueError(f"status_map: {name!r} is not a status (use one of {known})") from None
        table.update({raw.strip().lower(): status for raw in raws})
    return table


class Category(enum.StrEnum):
    """Every item of a reconciliation ends in exactly one of these."""

    MATCHED = "matched"
    AMOUNT_MISMATCH = "amount_mismatch"
    FEE_VARIANCE = "fee_variance"
    MISSING_IN_STATEMENT = "missing_in_statement"
    MISSING_INTERNALLY = "missing_internally"
    DUPLICATE = "duplicate"
    STATUS_MISMATCH = "status_mismatch"

    @property
    def is_exception(self) -> bool:
        return self is not Category.MATCHED


def _record_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("row", pa.int64(), nullable=False),  # 1-based line/row in its source, for reports
            pa.field("source", pa.string(), nullable=False),  # file name, or "datasource:NAME"
            pa.field("reference", pa.string(), nullable=False),  # the key both sides share
            pa.field("group_ref", pa.string()),  # payout / batch / settlement id, if any
            pa.field("amount_minor", pa.int64(), nullable=False),  # gross amount, minor units
            pa.field("fee_minor", pa.int64()),  # fee taken by the gateway, minor units, if known
            pa.field("net_minor", pa.int64()),  # amount after fees, minor units, if known
            pa.field("currency", pa.string(), nullable=False),  # ISO 4217, upper case
            pa.field("status", pa.string(), nullable=False),  # a PaymentStatus value
            pa.field("occurred_at", pa.timestamp("us", tz="UTC"), nullable=False),
        ]
    )


_schema: pa.Schema | None = None


def __getattr__(name: str) -> Any:
    # RECORD_SCHEMA is built on first use, so importing this module does not import Arrow.
    global _schema
    if name == "RECORD_SCHEMA":
        if _schema is None:
            _schema = _record_schema()
        return _schema
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
