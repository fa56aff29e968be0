"""What every request handler shares: configuration, store, scheduler, templates, throttle."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import CollectorRegistry
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from flightdeck.access import LoginThrottle
from flightdeck.config.models import Config
from flightdeck.engine.scheduler import Scheduler
from flightdeck.store import Store
from flightdeck.web.middleware import HttpMetrics

__all__ = ["WebContext", "get_context"]


@dataclass
class WebContext:
    config: Config
    store: Store
    scheduler: Scheduler | None
    registry: CollectorRegistry | None  # the scheduler's metrics, served at /metrics
    http_metrics: HttpMetrics
    throttle: LoginThrottle
    templates: Jinja2Templates
    secure_cookies: bool
    secrets: frozenset[str]  # every secret of the configuration: scrubbed from what is shown
    kinds: list[str] = field(default_factory=list)  # the check kinds configured, for filters

    def now(self) -> datetime:
        return self.store.clock.now()

    @property
    def session_cookie(self) -> str:
        # The __Host- prefix makes browsers refuse the cookie unless it is Secure, host-only, Path=/.
        return "__Host-fd_session" if self.secure_cookies else "fd_session"

    @property
    def login_cookie(self) -> str:
        return "__Host-fd_login" if self.secure_cookies else "fd_login"


def get_context(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.flightdeck
    return ctx
