"""What a gateway drill found, as a typed result and as an :class:`Observation`.

The verdict fails when money went wrong (a double charge, a lost payment, an amount mismatch, a
wallet credited differently from what succeeded) or when the service could not finish its own
work (a payment still pending at the end, a payment it would not create).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import JsonValue

from flightdeck.checks.base import Observation
from flightdeck.payments.drill.proxy import FaultCounts, FaultKind
from flightdeck.payments.drill.reconcile import Reconciliation

__all__ = ["DrillResult"]

_MAX_LINES = 25  # failures listed one per line; the rest are counted


@dataclass
class DrillResult:
    name: str
    payments_requested: int
    payments_created: int
    succeeded: int
    failed: int
    faults: FaultCounts
    reconciliation: Reconciliation
    settle_timeout_s: float
    duration_s: float
    client_retries: int = 0
    wallet_difference_minor: int | None = None  # credited - succeeded, when the wallet is known
    labels: dict[str, str] = field(default_factory=dict)  # e.g. the demo's retry mode

    @property
    def double_charges(self) -> int:
        return len(self.reconciliation.double_charges)

    @property
    def lost_payments(self) -> int:
        return len(self.reconciliation.lost_payments)

    @property
    def pending(self) -> int:
        return len(self.reconciliation.still_pending)

    @property
    def not_created(self) -> int:
        return self.payments_requested - self.payments_created

    def failure_lines(self) -> list[str]:
        rec = self.reconciliation
        lines = [f"double charge {d.line()}" for d in rec.double_charges]
        lines += [f"lost payment {lost.line()}" for lost in rec.lost_payments]
        lines += [f"amount mismatch {m.line()}" for m in rec.amount_mismatches]
        if rec.still_pending:
            shown = ", ".join(rec.still_pending[:10]) + (" ..." if len(rec.still_pending) > 10 else "")
            n = len(rec.still_pending)
            lines.append(f"{n} payment(s) still pending after {self.settle_timeout_s:g} s: {shown}")
        if self.not_created:
            lines.append(
                f"{self.not_created} payment(s) could not be created at the service (every attempt failed)"
            )
        if self.wallet_difference_minor:
            lines.append(
                f"the wallet changed by {self.wallet_difference_minor:+d} minor units more than the "
                "succeeded payments add up to"
            )
        if len(lines) > _MAX_LINES:
            lines = [*lines[:_MAX_LINES], f"... and {len(lines) - _MAX_LINES} more"]
        return lines

    @property
    def passed(self) -> bool:
        return not self.failure_lines()

    def summary(self) -> str:
        f = self.faults.injected
        return (
            f"{self.payments_created} payments driven through {self.faults.requests} gateway requests "
            f"({f[FaultKind.ERROR]} errors, {f[FaultKind.RESET]} resets, "
            f"{f[FaultKind.LOST_RESPONSE]} lost responses injected): "
            f"{self.double_charges} double charges, {self.lost_payments} lost payments"
        )

    def detail(self) -> dict[str, JsonValue]:
        rec = self.reconciliation
        return {
            "name": self.name,
            "labels": dict(self.labels),
            "payments": {
                "requested": self.payments_requested,
                "created": self.payments_created,
                "succeeded": self.succeeded,
                "failed": self.failed,
                "pending": self.pending,
                "client_retries": self.client_retries,
            },
            "proxy": dict(self.faults.to_json()),
            "gateway": {
                "charges": rec.charges,
                "declined_charges": rec.declined_charges,
                "foreign_charges": rec.foreign_charges,
            },
            "double_charges": [
                {
                    "reference": d.reference,
                    "charge_ids": list(d.charge_ids),
                    "charged_minor": d.charged_minor,
                    "overcharged_minor": d.overcharged_minor,
                    "currency": d.currency,
                }
                for d in rec.double_charges
            ],
            "lost_payments": [
                {
                    "reference": lost.reference,
                    "kind": lost.kind.value,
                    "amount_minor": lost.amount_minor,
                    "currency": lost.currency,
                    "service_status": lost.service_status.value,
                }
                for lost in rec.lost_payments
            ],
            "amount_mismatches": [
                {
                    "reference": m.reference,
                    "service_minor": m.service_minor,
                    "gateway_minor": m.gateway_minor,
                    "service_currency": m.service_currency,
                    "gateway_currency": m.gateway_currency,
                }
                for m in rec.amount_mismatches
            ],
            "still_pending": list(rec.still_pending),
            "wallet_difference_minor": self.wallet_difference_minor,
            "duration_s": round(self.duration_s, 3),
        }

    def observation(self) -> Observation:
        obs = Observation(failures=self.failure_lines(), detail=self.detail(), summary=self.summary())
        rec = self.reconciliation
        obs.measure("payments_driven", self.payments_created)
        obs.measure("payments_succeeded", self.succeeded)
        obs.measure("payments_failed", self.failed)
        obs.measure("payments_pending", self.pending)
        obs.measure("gateway_requests", self.faults.requests)
        obs.measure("faults_error", self.faults.injected[FaultKind.ERROR])
        obs.measure("faults_reset", self.faults.injected[FaultKind.RESET])
        obs.measure("faults_lost_response", self.faults.injected[FaultKind.LOST_RESPONSE])
        obs.measure("gateway_charges", rec.charges)
        obs.measure("double_charges", self.double_charges)
        obs.measure("overcharged_minor", sum(d.overcharged_minor for d in rec.double_charges))
        obs.measure("lost_payments", self.lost_payments)
        obs.measure("amount_mismatches", len(rec.amount_mismatches))
        obs.measure("wallet_difference_minor", self.wallet_difference_minor)
        obs.measure("duration_seconds", round(self.duration_s, 3), "s")
        return obs
