"""Errors of the alerting domain.

::

    FlightdeckError
    └── AlertingError               (flightdeck.alerting) alerting could not do its work
        ├── IntakeError             a pushed alert or event is malformed (HTTP 400); nothing was stored
        ├── LinkError               an ack/resolve link is forged, malformed or expired
        ├── ScheduleError           an on-call schedule cannot be resolved
        └── DeliveryError           a notification could not be delivered
            ├── PermanentDeliveryError  the receiver refused it (4xx other than 429): no retry
            └── RetryableDeliveryError  try again later (5xx, 429, timeout, connection refused)
"""

from __future__ import annotations

from flightdeck.errors import FlightdeckError

__all__ = [
    "AlertingError",
    "DeliveryError",
    "IntakeError",
    "LinkError",
    "PermanentDeliveryError",
    "RetryableDeliveryError",
    "ScheduleError",
]


class AlertingError(FlightdeckError):
    """Alerting could not do its work."""


class IntakeError(AlertingError):
    """A pushed alert or event is malformed; ``str()`` says where and why. Nothing was stored."""


class LinkError(AlertingError):
    """An ack/resolve link is forged, malformed or expired."""


class ScheduleError(AlertingError):
    """An on-call schedule cannot be resolved."""


class DeliveryError(AlertingError):
    """A notification could not be delivered. ``status`` is the HTTP/SMTP status, when there was one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class PermanentDeliveryError(DeliveryError):
    """The receiver refused the notification for good (4xx other than 429): it is not retried."""


class RetryableDeliveryError(DeliveryError):
    """Try again later; ``retry_after`` seconds when the receiver said (``Retry-After``)."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after
