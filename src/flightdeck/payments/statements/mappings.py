"""How the columns of a gateway or bank export become the fields of a statement record.

A :class:`Mapping` names, for each :class:`StatementField`, the header(s) that may hold it. A field
may list several candidate headers: the first one present in the file is used, and when several are
present a row takes the first non-empty cell among them (Paystack's ``paid_at`` is empty for failed
payments, so ``created_at`` follows it). Header names match case-insensitively, ignoring spaces
around them.

Built-in mappings live in :data:`MAPPINGS` (name -> Mapping); adding a gateway is adding an entry.
What each one follows, and what it assumes, is written in ``docs/payments/statements.md``.

:func:`effective_mapping` merges a built-in mapping with the user's ``StatementSourceConfig``: a column
the user names replaces the mapping's candidates for that field (and must then exist), the user's
``amount_unit``, ``date_format`` and ``default_currency`` win, and the user's ``status_map`` adds to
(and overrides) the mapping's.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flightdeck.config.payments import AmountUnit, StatementSourceConfig
from flightdeck.payments.errors import CurrencyError
from flightdeck.payments.money import currency_exponent
from flightdeck.payments.records import PaymentStatus, status_lookup

__all__ = [
    "MAPPINGS",
    "EffectiveMapping",
    "Mapping",
    "StatementField",
    "effective_mapping",
]


class StatementField(enum.StrEnum):
    """The fields of a statement record a column can feed (``debit``/``credit`` make ``amount``)."""

    REFERENCE = "reference"
    AMOUNT = "amount"
    FEE = "fee"
    NET = "net"
    CURRENCY = "currency"
    STATUS = "status"
    OCCURRED_AT = "occurred_at"
    GROUP_REF = "group_ref"
    DEBIT = "debit"
    CREDIT = "credit"


_S = PaymentStatus


@dataclass(frozen=True)
class Mapping:
    """A statement layout: candidate headers per field, amount unit, date formats, statuses."""

    name: str
    follows: str  # the real export this layout follows, for the docs and error messages
    columns: MappingABC[StatementField, tuple[str, ...]]
    amount_unit: AmountUnit = AmountUnit.MAJOR
    date_formats: tuple[str, ...] = ()  # strptime formats tried in order; empty: ISO 8601
    status_map: MappingABC[PaymentStatus, tuple[str, ...]] = field(default_factory=dict)
    currency: str | None = None  # the currency when the file has no currency column
    default_status: PaymentStatus = PaymentStatus.SUCCEEDED  # when the file has no status column


@dataclass(frozen=True)
class EffectiveMapping:
    """A mapping with the user's overrides applied: what the reader actually uses."""

    name: str
    columns: dict[StatementField, tuple[str, ...]]
    required: frozenset[StatementField]  # fields whose (single) column the user named: must exist
    amount_unit: AmountUnit
    date_formats: tuple[str, ...]
    statuses: dict[str, PaymentStatus]  # lower-cased raw value -> status
    default_status: PaymentStatus
    default_currency: str | None
    timezone: ZoneInfo


def _m(**columns: tuple[str, ...]) -> MappingABC[StatementField, tuple[str, ...]]:
    return MappingProxyType({StatementField(k): v for k, v in columns.items()})


STRIPE_BALANCE = Mapping(
    name="stripe_balance",
    follows="Stripe Dashboard 'Balance transactions' export and the 'Balance change from activity' "
    "itemized report (balance_change_from_activity.itemized.*)",
    columns=_m(
        reference=("source_id", "Source"),
        amount=("gross", "Amount"),
        fee=("fee", "Fee"),
        net=("net", "Net"),
        currency=("currency", "Currency"),
        status=("Status",),
        occurred_at=("created_utc", "Created (UTC)", "created"),
        group_ref=("automatic_payout_id", "Transfer"),
    ),
    amount_unit=AmountUnit.MAJOR,
    # A balance transaction's status says whether the funds are available yet, not whether the charge
    # succeeded: a charge in yesterday's export is usually still "pending" (payouts lag by days).
    status_map=MappingProxyType({_S.SUCCEEDED: ("available", "pending")}),
)

PAYSTACK_SETTLEMENT = Mapping(
    name="paystack_settlement",
    follows="Paystack transactions as the API returns them (GET /transaction, "
    "GET /settlement/:id/transactions) and the same fields exported as CSV: amounts in kobo",
    columns=_m(
        reference=("reference",),
        amount=("amount",),
        fee=("fees",),
        currency=("currency",),
        status=("status",),
        occurred_at=("paid_at", "paidAt", "created_at", "createdAt"),
        group_ref=("settlement", "settlement_id"),
    ),
    amount_unit=AmountUnit.MINOR,
    status_map=MappingProxyType(
        {
            _S.SUCCEEDED: ("success",),
            _S.PENDING: ("pending", "ongoing", "processing", "queued"),
            _S.FAILED: ("failed", "abandoned"),
            _S.REFUNDED: ("reversed", "refunded"),
        }
    ),
)

FLUTTERWAVE_SETTLEMENT = Mapping(
    name="flutterwave_settlement",
    follows="Flutterwave v3 settlement transactions (GET /settlements/:id -> data.transactions) and "
    "transactions (GET /transactions): amounts in major units",
    columns=_m(
        reference=("tx_ref",),
        amount=("charged_amount", "amount"),
        fee=("app_fee", "fee"),
        net=("settlement_amount", "amount_settled"),
        currency=("currency",),
        status=("status",),
        occurred_at=("transaction_date", "created_at"),
        group_ref=("settlement_id",),
    ),
    amount_unit=AmountUnit.MAJOR,
    status_map=MappingProxyType(
        {
            _S.SUCCEEDED: ("successful", "success", "completed"),
            _S.PENDING: ("pending",),
            _S.FAILED: ("failed", "cancelled", "error"),
            _S.REFUNDED: ("refunded", "reversed"),
        }
    ),
)

GENERIC_BANK = Mapping(
    name="generic_bank",
    follows="a bank account statement exported as CSV/Excel: Date, Description or Reference, "
    "Debit and Credit (or one signed Amount), optionally Currency",
    columns=_m(
        reference=("Reference", "Description"),
        amount=("Amount",),
        debit=("Debit", "Withdrawal", "Withdrawals"),
        credit=("Credit", "Deposit", "Deposits"),
        currency=("Currency",),
        occurred_at=("Date", "Value Date", "Booking Date"),
    ),
    amount_unit=AmountUnit.MAJOR,
)

MAPPINGS: dict[str, Mapping] = {
    m.name: m for m in (STRIPE_BALANCE, PAYSTACK_SETTLEMENT, FLUTTERWAVE_SETTLEMENT, GENERIC_BANK)
}
"""Built-in mappings by name; ``custom`` (the user's ``columns`` only) is not an entry."""

_CUSTOM = Mapping(name="custom", follows="the columns given in the configuration", columns=_m())


def effective_mapping(source: StatementSourceConfig) -> EffectiveMapping:
    """The built-in mapping ``source.mapping`` (or an empty one for ``custom``) with the user's
    overrides applied. Raises ``ValueError`` for an unknown mapping, zone or currency."""
    if source.mapping == "custom":
        base = _CUSTOM
    elif source.mapping in MAPPINGS:
        base = MAPPINGS[source.mapping]
    else:
        known = ", ".join([*sorted(MAPPINGS), "custom"])
        raise ValueError(f"unknown statement mapping {source.mapping!r} (known: {known})")
    columns = dict(base.columns)
    required: set[StatementField] = set()
    if source.columns is not None:
        for name, header in source.columns.model_dump().items():
            if header is not None:
                columns[StatementField(name)] = (header,)
                required.add(StatementField(name))
        if StatementField.AMOUNT in required:  # a named amount column replaces debit/credit
            columns.pop(StatementField.DEBIT, None)
            columns.pop(StatementField.CREDIT, None)
    try:
        zone = ZoneInfo(source.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {source.timezone!r}") from None
    default_currency = source.default_currency or base.currency
    if default_currency is not None:
        try:
            currency_exponent(default_currency)
        except CurrencyError as exc:
            raise ValueError(str(exc)) from None
        default_currency = default_currency.strip().upper()
    return EffectiveMapping(
        name=base.name,
        columns=columns,
        required=frozenset(required),
        amount_unit=source.amount_unit or base.amount_unit,
        date_formats=(source.date_format,) if source.date_format else base.date_formats,
        statuses=status_lookup(source.status_map, base.status_map),
        default_status=base.default_status,
        default_currency=default_currency,
        timezone=zone,
    )
