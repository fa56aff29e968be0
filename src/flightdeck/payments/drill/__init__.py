"""Gateway fault drill: prove that a service's retry logic charges every payment exactly once.

A fault-injecting proxy (:mod:`~flightdeck.payments.drill.proxy`) sits between the service and its
card gateway and answers errors, resets connections, adds latency and, the nasty case, lets the
gateway process a charge but loses its response. The drill (:mod:`~flightdeck.payments.drill.run`)
drives payments through the service's own API, waits until none is pending and reconciles the
service's payments with the gateway's charges (:mod:`~flightdeck.payments.drill.reconcile`): double
charges, lost payments and amount mismatches make the verdict fail
(:class:`~flightdeck.payments.drill.result.DrillResult`). :func:`run_demo_gateway_drill` starts the
demo service, a fake gateway and the proxy itself.
"""

from flightdeck.payments.drill.demo import demo_drill_config, run_demo_gateway_drill
from flightdeck.payments.drill.proxy import FaultCounts, FaultKind, FaultProxy, ProxyFaults
from flightdeck.payments.drill.reconcile import (
    AmountMismatch,
    DoubleCharge,
    LostKind,
    LostPayment,
    Reconciliation,
    ServicePayment,
    StatementCharge,
    reconcile,
)
from flightdeck.payments.drill.result import DrillResult
from flightdeck.payments.drill.run import DrillPhase, DrillProgress, drive_drill, run_gateway_drill

__all__ = [
    "AmountMismatch",
    "DoubleCharge",
    "DrillPhase",
    "DrillProgress",
    "DrillResult",
    "FaultCounts",
    "FaultKind",
    "FaultProxy",
    "LostKind",
    "LostPayment",
    "ProxyFaults",
    "Reconciliation",
    "ServicePayment",
    "StatementCharge",
    "demo_drill_config",
    "drive_drill",
    "reconcile",
    "run_demo_gateway_drill",
    "run_gateway_drill",
]
