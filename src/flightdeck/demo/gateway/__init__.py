"""A small fake card gateway (``POST /v1/charges``), the payment service's counterpart in gateway drills.

It behaves like a card gateway's charge API in the ways that matter for retries: an
``Idempotency-Key`` makes a repeated request return the first charge instead of charging again,
card ``tok_declined`` is refused, and every charge it processed is listed by ``GET /v1/charges``
(the gateway's statement). Run it with ``python -m flightdeck.demo.gateway --port N`` or embed it
with :func:`start_gateway`.
"""

from flightdeck.demo.gateway.app import (
    DECLINED_CARD,
    Charge,
    ChargeBook,
    ChargeStatus,
    RunningGateway,
    create_gateway_app,
    start_gateway,
)

__all__ = [
    "DECLINED_CARD",
    "Charge",
    "ChargeBook",
    "ChargeStatus",
    "RunningGateway",
    "create_gateway_app",
    "start_gateway",
]
