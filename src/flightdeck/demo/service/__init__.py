"""The demo payments service: a small, realistic subject for flightdeck to watch.

Users sign up (which opens a wallet) and log in (rate-limited); wallets are topped up by card
payments and spent on bookings and merchant payments; every movement of money is a balanced
double-entry ledger transaction. It serves ``/health``, ``/ready`` (per-component, 503 when one is
down) and ``/metrics`` (Prometheus), over HTTPS with HTTP redirecting to it except for those probe
paths, and can inject faults (latency, 5xx bursts, wallet/ledger drift, a payment stuck pending).
Top-ups go to a simulated card gateway, or over HTTP to a real one (``gateway_url``, with correct or
deliberately broken retry logic: :class:`RetryMode`).

Run it alone with ``python -m flightdeck.demo.service --db PATH --port N``; embed it with
:func:`start_service`. The schema and the faults are described in ``docs/demo.md``.
"""

from flightdeck.demo.service.app import RunningService, create_app, start_service
from flightdeck.demo.service.faults import FaultBoard, FaultName, FaultOrigin, FaultParams, FaultState
from flightdeck.demo.service.gateway_client import RetryMode
from flightdeck.demo.service.health import SERVICE_ID, HealthStatus
from flightdeck.demo.service.ledger import WALLET_MISMATCH_SQL, AccountType, Posting, UnbalancedPostings
from flightdeck.demo.service.payments import DECLINED_CARD, GatewayState, PaymentKind, PaymentStatus
from flightdeck.demo.service.state import ServiceSettings, ServiceState

__all__ = [
    "DECLINED_CARD",
    "SERVICE_ID",
    "WALLET_MISMATCH_SQL",
    "AccountType",
    "FaultBoard",
    "FaultName",
    "FaultOrigin",
    "FaultParams",
    "FaultState",
    "GatewayState",
    "HealthStatus",
    "PaymentKind",
    "PaymentStatus",
    "Posting",
    "RetryMode",
    "RunningService",
    "ServiceSettings",
    "ServiceState",
    "UnbalancedPostings",
    "create_app",
    "start_service",
]
