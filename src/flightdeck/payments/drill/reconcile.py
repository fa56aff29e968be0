"""After a drill: the service's payments against the gateway's charges, by payment reference.

The gateway's charge list is its statement: one line per charge it *processed*. For every payment
the drill drove:

==============================  ============================================================
finding                         when
==============================  ============================================================
double charge                   more than one succeeded charge for one reference
lost payment (charged)          a succeeded charge, but the service says the payment failed
lost payment (not charged)      the service credited the payment, but no charge succeeded
amount mismatch                 the (first) charge's amount or currency differs from the payment's
still pending                   the service never resolved it (reported, never guessed at)
==============================  ============================================================

Charges whose reference is not one of the drill's payments (other traffic at a shared sandbox) are
left out. Declined charges are processed but move no money: they never count as charges here.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from dataclasses import dataclass, field

from flightdeck.payments.money import describe_minor
from flightdeck.payments.records import PaymentStatus

__all__ = [
    "AmountMismatch",
    "DoubleCharge",
    "LostKind",
    "LostPayment",
    "Reconciliation",
    "ServicePayment",
    "StatementCharge",
    "reconcile",
]


@dataclass(frozen=True)
class ServicePayment:
    """One payment as the service reports it."""

    reference: str
    payment_id: str
    client_key: str
    amount_minor: int
    currency: str
    status: PaymentStatus


@dataclass(frozen=True)
class StatementCharge:
    """One charge as the gateway lists it."""

    id: str
    reference: str
    amount_minor: int
    currency: str
    succeeded: bool


@dataclass(frozen=True)
class DoubleCharge:
    reference: str
    charge_ids: tuple[str, ...]
    charged_minor: int  # everything the customer paid for this one payment
    overcharged_minor: int  # what they paid beyond the payment's amount
    currency: str

    def line(self) -> str:
        return (
            f"{self.reference}: charged {len(self.charge_ids)} times ({', '.join(self.charge_ids)}), "
            f"{describe_minor(self.overcharged_minor, self.currency)} too much"
        )


class LostKind(enum.StrEnum):
    CHARGED_NOT_CREDITED = "charged_not_credited"
    CREDITED_NOT_CHARGED = "credited_not_charged"


@dataclass(frozen=True)
class LostPayment:
    reference: str
    kind: LostKind
    amount_minor: int
    currency: str
    service_status: PaymentStatus

    def line(self) -> str:
        if self.kind is LostKind.CHARGED_NOT_CREDITED:
            return (
                f"{self.reference}: the gateway charged {describe_minor(self.amount_minor, self.currency)} "
                f"but the service says {self.service_status.value}"
            )
        amount = describe_minor(self.amount_minor, self.currency)
        return f"{self.reference}: the service credited {amount}, but nothing was charged"


@dataclass(frozen=True)
class AmountMismatch:
    reference: str
    service_minor: int
    gateway_minor: int
    service_currency: str
    gateway_currency: str

    def line(self) -> str:
        return (
            f"{self.reference}: the service has {self.service_minor} {self.service_currency}, "
            f"the gateway charged {self.gateway_minor} {self.gateway_currency}"
        )


@dataclass
class Reconciliation:
    double_charges: list[DoubleCharge] = field(default_factory=list)
    lost_payments: list[LostPayment] = field(default_factory=list)
    amount_mismatches: list[AmountMismatch] = field(default_factory=list)
    still_pending: list[str] = field(default_factory=list)
    charges: int = 0  # succeeded charges for the drill's payments
    declined_charges: int = 0
    foreign_charges: int = 0  # statement lines for references the drill did not make

    @property
    def clean(self) -> bool:
        return not (self.double_charges or self.lost_payments or self.amount_mismatches or self.still_pending)


def reconcile(payments: list[ServicePayment], statement: list[StatementCharge]) -> Reconciliation:
    ours = {p.reference: p for p in payments}
    by_ref: dict[str, list[StatementCharge]] = defaultdict(list)
    result = Reconciliation()
    for charge in statement:
        if charge.reference not in ours:
            result.foreign_charges += 1
            continue
        if charge.succeeded:
            by_ref[charge.reference].append(charge)
            result.charges += 1
        else:
            result.declined_charges += 1
    for ref, payment in ours.items():
        charged = by_ref.get(ref, [])
        if len(charged) > 1:
            total = sum(c.amount_minor for c in charged)
            result.double_charges.append(
                DoubleCharge(
                    ref,
                    tuple(c.id for c in charged),
                    total,
                    total - payment.amount_minor,
                    charged[0].currency,
                )
            )
        if payment.status is PaymentStatus.PENDING:
            result.still_pending.append(ref)
            continue
        credited = payment.status is PaymentStatus.SUCCEEDED
        if charged and not credited:
            kind = LostKind.CHARGED_NOT_CREDITED
            result.lost_payments.append(
                LostPayment(ref, kind, charged[0].amount_minor, charged[0].currency, payment.status)
            )
        elif credited and not charged:
            kind = LostKind.CREDITED_NOT_CHARGED
            result.lost_payments.append(
                LostPayment(ref, kind, payment.amount_minor, payment.currency, payment.status)
            )
        elif charged:
            first = charged[0]
            # A service that does not say its payments' currency is compared on amounts only.
            other_currency = bool(payment.currency) and first.currency != payment.currency
            if first.amount_minor != payment.amount_minor or other_currency:
                result.amount_mismatches.append(
                    AmountMismatch(
                        ref, payment.amount_minor, first.amount_minor, payment.currency, first.currency
                    )
                )
    return result
