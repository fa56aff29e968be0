"""Imports every built-in check kind so that each registers itself. One import per kind, sorted;
the payment-integrity kinds live with their domain (:mod:`flightdeck.payments.kinds`)."""

from flightdeck.backups import kinds as backup_kinds
from flightdeck.checks import headers, http, metrics, mysql, postgres, ratelimit, redis, sql, tcp, tls
from flightdeck.experiments import kinds as experiment_kinds
from flightdeck.payments import kinds as payment_kinds

__all__ = [
    "backup_kinds",
    "experiment_kinds",
    "headers",
    "http",
    "metrics",
    "mysql",
    "payment_kinds",
    "postgres",
    "ratelimit",
    "redis",
    "sql",
    "tcp",
    "tls",
]
