"""Notification channels: one module per kind, each registering its notifier in
:data:`~flightdeck.alerting.channels.base.NOTIFIERS`.

Kinds: ``whatsapp``, ``telegram``, ``slack``, ``email``, ``webhook``, ``pagerduty``. Adding a kind
means adding a module here and importing it below.
"""

from __future__ import annotations

from flightdeck.alerting.channels import email, pagerduty, slack, telegram, webhook, whatsapp
from flightdeck.alerting.channels.base import NOTIFIERS, Notifier, Receipt, notifier_for, parse_retry_after

__all__ = [
    "NOTIFIERS",
    "Notifier",
    "Receipt",
    "email",
    "notifier_for",
    "pagerduty",
    "parse_retry_after",
    "slack",
    "telegram",
    "webhook",
    "whatsapp",
]
