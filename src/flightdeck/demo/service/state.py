"""The service's settings and the objects its handlers share."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from flightdeck.clock import Clock
from flightdeck.demo.service.accounts import Accounts
from flightdeck.demo.service.charging import Charger
from flightdeck.demo.service.db import Database
from flightdeck.demo.service.faults import FaultBoard
from flightdeck.demo.service.gateway_client import RetryMode
from flightdeck.demo.service.metrics import ServiceMetrics
from flightdeck.demo.service.payments import Payments
from flightdeck.demo.service.ratelimit import SlidingWindowLimiter
from flightdeck.secret import Secret

__all__ = ["STATE", "ServiceSettings", "ServiceState"]


@dataclass(frozen=True)
class ServiceSettings:
    """How to run the service. ``http_port``/``https_port`` 0 pick a free port; no ``cert_file``
    means no HTTPS (and no redirect). No ``admin_token`` means the admin endpoints answer 404.

    Without ``gateway_url`` the card gateway is simulated in-process (top-ups settle after
    ``settle_delay``); with it top-ups are charged over HTTP (``gateway_*``: per-attempt timeout,
    attempts, backoff base and cap in seconds, how long an unknown outcome waits before it is looked
    up, and the retry mode: ``broken`` sends a new idempotency key on every retry)."""

    db_path: Path
    host: str = "127.0.0.1"
    http_port: int = 0
    https_port: int = 0
    cert_file: Path | None = None
    key_file: Path | None = None
    admin_token: Secret | None = None
    login_limit: int = 5
    login_window: float = 60.0
    settle_delay: float = 0.5
    settle_interval: float = 0.25
    chaos_every: float = 0.0
    pool_size: int = 4
    seed: int | None = None
    gateway_url: str | None = None
    gateway_retry: RetryMode = RetryMode.CORRECT
    gateway_timeout: float = 2.0
    gateway_attempts: int = 4
    gateway_backoff: float = 0.2
    gateway_backoff_max: float = 2.0
    gateway_resolve_after: float = 1.0

    @property
    def https(self) -> bool:
        return self.cert_file is not None


@dataclass
class ServiceState:
    settings: ServiceSettings
    clock: Clock
    db: Database
    metrics: ServiceMetrics
    accounts: Accounts
    payments: Payments
    faults: FaultBoard
    login_limiter: SlidingWindowLimiter
    rng: random.Random
    charger: Charger | None = None  # with a real card gateway (``gateway_url``)
    https_port: int | None = None
    last_settlement: float | None = None  # clock.monotonic() of the last settlement pass
    # flightdeck's notifications received on /hooks/flightdeck (the demo's on-call "phone")
    notifications: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=200))

    def now(self) -> float:
        """Unix time, as stored in the database."""
        return self.clock.now().timestamp()

    def settlement_age(self) -> float | None:
        if self.last_settlement is None:
            return None
        return self.clock.monotonic() - self.last_settlement


STATE = web.AppKey("state", ServiceState)
