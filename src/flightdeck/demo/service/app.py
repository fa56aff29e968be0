"""Building and running the service: both listeners (HTTP and HTTPS) and its background workers
(settlement, fault expiry, chaos) in one event loop. With a gateway URL, top-ups are charged over
HTTP by a :class:`~flightdeck.demo.service.charging.Charger` whose sweep runs with each settlement
pass."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import ssl
from dataclasses import dataclass, field

from aiohttp import web

from flightdeck.clock import Clock, SystemClock
from flightdeck.demo.service.accounts import Accounts
from flightdeck.demo.service.charging import Charger
from flightdeck.demo.service.db import Database
from flightdeck.demo.service.faults import FaultBoard, chaos_loop
from flightdeck.demo.service.gateway_client import GatewayClient, GatewayClientSettings
from flightdeck.demo.service.metrics import ServiceMetrics
from flightdeck.demo.service.middleware import middlewares, security_headers
from flightdeck.demo.service.payments import Payments
from flightdeck.demo.service.ratelimit import SlidingWindowLimiter
from flightdeck.demo.service.routes import routes
from flightdeck.demo.service.state import STATE, ServiceSettings, ServiceState

__all__ = ["RunningService", "create_app", "start_service"]

log = logging.getLogger(__name__)


def create_app(state: ServiceState) -> web.Application:
    app = web.Application(middlewares=middlewares, client_max_size=64 * 1024)
    app[STATE] = state
    app.add_routes(routes)
    app.on_response_prepare.append(security_headers)
    return app


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def server_tls_context(settings: ServiceSettings) -> ssl.SSLContext:
    assert settings.cert_file is not None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(settings.cert_file), str(settings.key_file) if settings.key_file else None)
    return ctx


def _site(runner: web.AppRunner, sock: socket.socket, tls: ssl.SSLContext | None = None) -> web.SockSite:
    return web.SockSite(runner, sock, ssl_context=tls)  # shutdown_timeout: the runner's applies


@dataclass
class RunningService:
    """A started service. ``https_url`` is ``None`` without a certificate."""

    state: ServiceState
    runner: web.AppRunner
    http_port: int
    https_port: int | None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def host(self) -> str:
        return self.state.settings.host

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def https_url(self) -> str | None:
        return None if self.https_port is None else f"https://{self.host}:{self.https_port}"

    @property
    def url(self) -> str:
        """Where the API is served: HTTPS when there is a certificate."""
        return self.https_url or self.http_url

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.runner.cleanup()
        if self.state.charger is not None:
            await self.state.charger.stop()
        await self.state.db.close()


async def _settle_pass(state: ServiceState) -> None:
    simulated = state.charger is None
    await state.payments.settle_due(state.now(), state.settings.settle_delay, simulate_card_gateway=simulated)
    if state.charger is not None:
        await state.charger.sweep()


def _charger(settings: ServiceSettings, state: ServiceState, rng: random.Random) -> Charger | None:
    if not settings.gateway_url:
        return None
    client = GatewayClient(
        GatewayClientSettings(
            url=settings.gateway_url,
            timeout=settings.gateway_timeout,
            attempts=settings.gateway_attempts,
            backoff=settings.gateway_backoff,
            backoff_max=settings.gateway_backoff_max,
        ),
        random.Random(rng.random()),
        state.clock.sleep,
    )
    return Charger(state.payments, client, settings.gateway_retry, state.now, settings.gateway_resolve_after)


async def _settler(state: ServiceState) -> None:
    while True:
        try:
            await _settle_pass(state)
            state.last_settlement = state.clock.monotonic()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("settlement pass failed")
        await state.clock.sleep(state.settings.settle_interval)


async def _expirer(state: ServiceState) -> None:
    while True:
        try:
            await state.faults.expire(state.now())
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("fault expiry failed")
        await state.clock.sleep(0.5)


async def start_service(settings: ServiceSettings, clock: Clock | None = None) -> RunningService:
    """Open the database, bind both listeners and start the workers. Stop with ``.stop()``."""
    clock = clock or SystemClock()
    metrics = ServiceMetrics()
    db = Database(settings.db_path, metrics, pool_size=settings.pool_size)
    await db.open()
    rng = random.Random(settings.seed)
    faults: FaultBoard | None = None

    def lose_next() -> bool:
        return faults is not None and faults.take_lose_next()

    payments = Payments(db, metrics, lose_next)
    faults = FaultBoard(db, payments, metrics, rng)
    state = ServiceState(
        settings=settings,
        clock=clock,
        db=db,
        metrics=metrics,
        accounts=Accounts(db),
        payments=payments,
        faults=faults,
        login_limiter=SlidingWindowLimiter(settings.login_limit, settings.login_window, clock.monotonic),
        rng=rng,
    )
    state.charger = _charger(settings, state, rng)
    if state.charger is not None:
        await state.charger.client.open()
    # Answer what is due before taking traffic, so readiness has a settlement pass to report.
    await _settle_pass(state)
    state.last_settlement = clock.monotonic()
    runner = web.AppRunner(create_app(state), access_log=None, handle_signals=False, shutdown_timeout=5)
    await runner.setup()
    try:
        http_sock = _listen(settings.host, settings.http_port)
        await _site(runner, http_sock).start()
        https_port: int | None = None
        if settings.https:
            https_sock = _listen(settings.host, settings.https_port)
            await _site(runner, https_sock, server_tls_context(settings)).start()
            https_port = https_sock.getsockname()[1]
    except BaseException:
        await runner.cleanup()
        if state.charger is not None:
            await state.charger.stop()
        await db.close()
        raise
    state.https_port = https_port
    service = RunningService(state, runner, http_sock.getsockname()[1], https_port)
    service.tasks.append(asyncio.create_task(_settler(state), name="demo-settler"))
    service.tasks.append(asyncio.create_task(_expirer(state), name="demo-fault-expiry"))
    if settings.chaos_every > 0:
        service.tasks.append(
            asyncio.create_task(
                chaos_loop(faults, state.now, settings.chaos_every, rng, clock.sleep), name="demo-chaos"
            )
        )
    return service
