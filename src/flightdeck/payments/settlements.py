"""Settlements: stuck pending payments, failed settlements, money the gateway settled but nobody
credited, and the ageing of what is still outstanding against the gateway's terms (T+N).

The configured query returns one row per payment with ``reference, amount, currency, status,
created_at`` and optionally ``settled_at`` and ``credited``; amounts are integer minor units.
Statuses are normalized to :class:`~flightdeck.payments.records.PaymentStatus` (``status_map`` first,
then common gateway words). With ``now`` injected, every classification is deterministic:

- *pending too long*: pending and created more than ``pending_after`` ago;
- *failed*: the settlement failed;
- *settled but not credited*: ``settled_at`` is set but ``credited`` is false, or the gateway's
  statement lists the reference (``gateway_settled``) while internally the payment is pending,
  failed, not credited or unknown;
- *ageing*: payments not settled yet (succeeded or pending, no ``settled_at``, not in the statement)
  are due at the end of day T+N (UTC): created on day T, due by ``T + N + 1`` 00:00. Buckets: within
  terms, up to 1 day late, 1 to 7 days late, more than 7 days late; counts and amounts per currency.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from pydantic import JsonValue

from flightdeck.checks.base import Observation
from flightdeck.config.models import DatasourceConfig
from flightdeck.config.payments import SettlementsConfig
from flightdeck.datasources import DatabaseUrl, DatasourceError, read_only_query
from flightdeck.payments.errors import PaymentsError
from flightdeck.payments.money import describe_minor
from flightdeck.payments.records import PaymentStatus, status_lookup

__all__ = [
    "AgeingBucket",
    "AgeingLine",
    "NotCredited",
    "SettlementItem",
    "SettlementsResult",
    "check_settlements",
    "classify",
    "normalize_status",
]

MAX_ROWS = 1_000_000
MAX_FAILURE_LINES = 30


class AgeingBucket(enum.StrEnum):
    WITHIN_TERMS = "within_terms"
    LATE_UP_TO_1D = "late_up_to_1d"
    LATE_1_TO_7D = "late_1_to_7d"
    LATE_OVER_7D = "late_over_7d"


@dataclass(frozen=True)
class SettlementItem:
    reference: str
    amount_minor: int
    currency: str
    status: PaymentStatus
    created_at: datetime
    settled_at: datetime | None = None
    credited: bool | None = None


@dataclass(frozen=True)
class NotCredited:
    reference: str
    reason: str


@dataclass(frozen=True)
class AgeingLine:
    bucket: AgeingBucket
    currency: str
    count: int
    amount_minor: int


@dataclass
class SettlementsResult:
    name: str
    now: datetime
    terms_days: int
    payments: int
    pending_too_long: list[SettlementItem] = field(default_factory=list)
    failed: list[SettlementItem] = field(default_factory=list)
    not_credited: list[NotCredited] = field(default_factory=list)
    ageing: list[AgeingLine] = field(default_factory=list)

    def late(self, bucket: AgeingBucket) -> int:
        return sum(line.count for line in self.ageing if line.bucket is bucket)

    def observation(self) -> Observation:
        obs = Observation()
        obs.measure("payments_checked", self.payments, "payments")
        obs.measure("pending_too_long", len(self.pending_too_long), "payments")
        obs.measure("failed_settlements", len(self.failed), "payments")
        obs.measure("settled_not_credited", len(self.not_credited), "payments")
        for bucket in AgeingBucket:
            obs.measure(f"ageing_{bucket.value}", self.late(bucket), "payments")
        lines: list[str] = []
        lines += [f"pending since {i.created_at.isoformat()}: {i.reference}" for i in self.pending_too_long]
        lines += [f"settlement failed: {i.reference} ({describe_minor(i.amount_minor, i.currency)})"
                  for i in self.failed]  # fmt: skip
        lines += [
            f"settled at the gateway but not credited: {n.reference} ({n.reason})" for n in self.not_credited
        ]
        late = self.late(AgeingBucket.LATE_1_TO_7D) + self.late(AgeingBucket.LATE_OVER_7D)
        if late:
            lines.append(f"{late} payments more than 1 day past T+{self.terms_days} without settlement")
        obs.failures = lines[:MAX_FAILURE_LINES]
        if len(lines) > MAX_FAILURE_LINES:
            obs.failures.append(f"... {len(lines) - MAX_FAILURE_LINES} more")
        if self.late(AgeingBucket.LATE_UP_TO_1D):
            obs.warnings.append(
                f"{self.late(AgeingBucket.LATE_UP_TO_1D)} payments up to 1 day past T+{self.terms_days}"
            )
        obs.summary = (
            f"{self.payments} payments: {len(self.pending_too_long)} pending too long, "
            f"{len(self.failed)} failed, "
            f"{len(self.not_credited)} settled but not credited, {late} more than a day late"
        )
        detail: dict[str, JsonValue] = {
            "name": self.name,
            "now": self.now.isoformat(),
            "terms_days": self.terms_days,
            "pending_too_long": [_item(i) for i in self.pending_too_long],
            "failed": [_item(i) for i in self.failed],
            "not_credited": [{"reference": n.reference, "reason": n.reason} for n in self.not_credited],
            "ageing": [
                {
                    "bucket": a.bucket.value,
                    "currency": a.currency,
                    "count": a.count,
                    "amount_minor": a.amount_minor,
                }
                for a in self.ageing
            ],
        }
        obs.detail = detail
        return obs


def _item(i: SettlementItem) -> dict[str, JsonValue]:
    return {
        "reference": i.reference,
        "amount_minor": i.amount_minor,
        "currency": i.currency,
        "status": i.status.value,
        "created_at": i.created_at.isoformat(),
    }


def normalize_status(raw: object, statuses: Mapping[str, PaymentStatus]) -> PaymentStatus:
    """``raw`` through a table from :func:`~flightdeck.payments.records.status_lookup`."""
    status = statuses.get(str(raw).strip().lower())
    if status is None:
        raise PaymentsError(f"unknown payment status {raw!r}: map it in status_map")
    return status


def _moment(value: object, what: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise PaymentsError(f"{what}: {value!r} is not an ISO timestamp") from None
    if not isinstance(value, datetime):
        raise PaymentsError(f"{what}: {value!r} is not a timestamp")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _bool(value: object) -> bool | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip().lower() in ("1", "t", "true", "yes", "y")
    return bool(value)


def _minor(value: object, reference: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    if amount != amount.to_integral_value():
        raise PaymentsError(f"payment {reference}: amount {amount} is not in minor units")
    return int(amount)


def _items(
    columns: tuple[str, ...], rows: tuple[tuple[object, ...], ...], cfg: SettlementsConfig
) -> list[SettlementItem]:
    index = {c.lower(): i for i, c in enumerate(columns)}
    missing = [c for c in ("reference", "amount", "currency", "status", "created_at") if c not in index]
    if missing:
        raise PaymentsError(f"the settlements query returns no column(s) {', '.join(missing)}")
    settled, credited = index.get("settled_at"), index.get("credited")
    try:
        statuses = status_lookup(cfg.status_map)
    except ValueError as exc:
        raise PaymentsError(str(exc)) from None
    items: list[SettlementItem] = []
    for row in rows:
        reference = str(row[index["reference"]])
        created = _moment(row[index["created_at"]], f"payment {reference} created_at")
        if created is None:
            raise PaymentsError(f"payment {reference} has no created_at")
        items.append(
            SettlementItem(
                reference=reference,
                amount_minor=_minor(row[index["amount"]], reference),
                currency=str(row[index["currency"]]).upper(),
                status=normalize_status(row[index["status"]], statuses),
                created_at=created,
                settled_at=_moment(row[settled], f"payment {reference} settled_at")
                if settled is not None
                else None,
                credited=_bool(row[credited]) if credited is not None else None,
            )
        )
    return items


def _bucket(item: SettlementItem, now: datetime, terms_days: int) -> AgeingBucket:
    due = datetime.combine(item.created_at.date() + timedelta(days=terms_days + 1), time(0), UTC)
    late = now - due
    if late <= timedelta(0):
        return AgeingBucket.WITHIN_TERMS
    if late <= timedelta(days=1):
        return AgeingBucket.LATE_UP_TO_1D
    if late <= timedelta(days=7):
        return AgeingBucket.LATE_1_TO_7D
    return AgeingBucket.LATE_OVER_7D


def classify(
    name: str,
    cfg: SettlementsConfig,
    items: list[SettlementItem],
    now: datetime,
    gateway_settled: set[str] | None,
) -> SettlementsResult:
    now = now.astimezone(UTC)
    settled_refs = gateway_settled or set()
    result = SettlementsResult(name=name, now=now, terms_days=cfg.terms_days, payments=len(items))
    by_ref = {i.reference: i for i in items}
    not_credited: dict[str, str] = {}
    ageing: dict[tuple[AgeingBucket, str], list[int]] = defaultdict(lambda: [0, 0])
    pending_after = timedelta(seconds=cfg.pending_after)
    for item in items:
        if item.status is PaymentStatus.PENDING and now - item.created_at > pending_after:
            result.pending_too_long.append(item)
        if item.status is PaymentStatus.FAILED:
            result.failed.append(item)
        if item.settled_at is not None and item.credited is False:
            not_credited.setdefault(
                item.reference, f"settled {item.settled_at.isoformat()}, credited is false"
            )
        outstanding = item.status in (PaymentStatus.SUCCEEDED, PaymentStatus.PENDING)
        if outstanding and item.settled_at is None and item.reference not in settled_refs:
            line = ageing[(_bucket(item, now, cfg.terms_days), item.currency)]
            line[0] += 1
            line[1] += item.amount_minor
    for reference in sorted(settled_refs):
        internal = by_ref.get(reference)
        if internal is None:
            not_credited.setdefault(reference, "unknown internally")
        elif internal.status in (PaymentStatus.PENDING, PaymentStatus.FAILED):
            not_credited.setdefault(reference, f"internal status is {internal.status.value}")
        elif internal.credited is False:
            not_credited.setdefault(reference, "credited is false")
    result.not_credited = [NotCredited(ref, reason) for ref, reason in sorted(not_credited.items())]
    order = list(AgeingBucket)
    result.ageing = [
        AgeingLine(bucket, currency, count, amount)
        for (bucket, currency), (count, amount) in sorted(
            ageing.items(), key=lambda kv: (order.index(kv[0][0]), kv[0][1])
        )
    ]
    return result


async def check_settlements(
    cfg: SettlementsConfig,
    datasource: DatasourceConfig,
    now: datetime,
    gateway_settled: set[str] | None = None,
    *,
    name: str = "settlements",
) -> SettlementsResult:
    """Run the configured query and classify its payments as of ``now``."""
    try:
        url = DatabaseUrl.parse(datasource.url)
        result = await read_only_query(
            url, cfg.query, max_rows=MAX_ROWS, connect_timeout=datasource.connect_timeout
        )
    except ValueError as exc:
        raise PaymentsError(f"settlements {name}: datasource {cfg.datasource}: {exc}") from None
    except DatasourceError as exc:
        raise PaymentsError(f"settlements {name}: {exc.reason}") from None
    if result.more_rows:
        raise PaymentsError(f"settlements {name}: the query returned more than {MAX_ROWS} rows; narrow it")
    return classify(name, cfg, _items(result.columns, result.rows, cfg), now, gateway_settled)
