"""Alerting: rules over evidence and logs → alerts → incidents → escalation → notifications,
delivered exactly once through the outbox.

Modules: :mod:`~flightdeck.alerting.model` (states, the channel-independent :class:`Message`),
:mod:`~flightdeck.alerting.alerts` (fire/resolve by fingerprint), :mod:`~flightdeck.alerting.incidents`
(acknowledge, resolve, comment), :mod:`~flightdeck.alerting.timeline`, :mod:`~flightdeck.alerting.outbox`,
:mod:`~flightdeck.alerting.links` (signed ack/resolve links), :mod:`~flightdeck.alerting.errors`.
"""

from __future__ import annotations

from flightdeck.alerting.errors import (
    AlertingError,
    DeliveryError,
    IntakeError,
    LinkError,
    PermanentDeliveryError,
    RetryableDeliveryError,
    ScheduleError,
)

__all__ = [
    "AlertingError",
    "DeliveryError",
    "IntakeError",
    "LinkError",
    "PermanentDeliveryError",
    "RetryableDeliveryError",
    "ScheduleError",
]
