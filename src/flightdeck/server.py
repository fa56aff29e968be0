"""``flightdeck serve``: the scheduler and the web app (API, cockpit, ``/metrics``) in one event loop.

SIGTERM or SIGINT drains: the scheduler stops claiming, runs in flight get
``scheduler.drain_timeout`` to finish, the rest are cancelled with their leases released, every
outcome is written, and the web server closes its connections; then :func:`serve` returns. A
second signal cancels runs in flight at once (still releasing their leases and writing what
finished).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import uvicorn

from flightdeck.config.models import Config
from flightdeck.engine.metrics import SchedulerMetrics
from flightdeck.engine.scheduler import Scheduler
from flightdeck.errors import FlightdeckError
from flightdeck.store import Store

__all__ = ["Listening", "bind_socket", "serve"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Listening:
    """Where the server listens, once it does."""

    host: str
    port: int
    checks: int | None  # checks the scheduler runs; None with --no-scheduler

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


class _Server(uvicorn.Server):
    """uvicorn's server without its own signal handling: :func:`serve` handles signals so that the
    scheduler drains before the process exits (uvicorn would re-raise the signal and end it)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (port 0: any free port)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise FlightdeckError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise FlightdeckError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.setblocking(False)
    return sock


async def serve(
    config: Config,
    store: Store,
    *,
    bind: str | None = None,
    port: int | None = None,
    run_scheduler: bool = True,
    started: asyncio.Event | None = None,
    on_listening: Callable[[Listening], None] | None = None,
    handle_signals: bool = True,
) -> None:
    """Run the scheduler and the web app until SIGTERM/SIGINT (or until cancelled), then drain.

    The store must be migrated. ``started`` is set and ``on_listening`` called once the server
    accepts connections.
    """
    from flightdeck.web.app import create_app

    host = bind or config.server.bind
    sock = bind_socket(host, config.server.port if port is None else port)
    metrics = SchedulerMetrics()
    scheduler = Scheduler(config, store, metrics=metrics) if run_scheduler else None
    try:
        app = create_app(config, store, scheduler=scheduler, registry=metrics.registry)
        server = _Server(
            uvicorn.Config(
                app,
                log_config=None,
                access_log=False,
                lifespan="on",
                timeout_graceful_shutdown=max(1, int(config.scheduler.drain_timeout)),
                server_header=False,
            )
        )
    except BaseException:
        sock.close()
        raise

    loop = asyncio.get_running_loop()
    signals = 0
    alerting_stop = asyncio.Event()

    def on_signal(sig: signal.Signals) -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            log.warning("%s received: draining (send again to cancel runs in flight)", sig.name)
        else:
            log.warning("%s received again: cancelling runs in flight", sig.name)
            server.force_exit = True
        alerting_stop.set()
        if scheduler is not None:
            scheduler.stop(force=signals > 1)
        server.should_exit = True

    installed: list[signal.Signals] = []
    if handle_signals:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, on_signal, sig)
                installed.append(sig)

    sched_task = asyncio.create_task(scheduler.run(), name="flightdeck-scheduler") if scheduler else None
    alerting_task: asyncio.Task[None] | None = None
    if scheduler is not None and config.alerting.enabled:
        from flightdeck.alerting.service import AlertingService

        alerting = AlertingService(config, store, scheduler.clock, scheduler.node_id)
        alerting_task = asyncio.create_task(alerting.run(alerting_stop), name="flightdeck-alerting")
    web_task = asyncio.create_task(server.serve(sockets=[sock]), name="flightdeck-web")
    tasks = {web_task} | ({sched_task} if sched_task else set())
    try:
        await _until(lambda: server.started or any(t.done() for t in tasks))
        if server.started:
            bound = sock.getsockname()
            info = Listening(host=str(bound[0]), port=int(bound[1]), checks=None)
            if scheduler is not None and sched_task is not None:
                await _until(lambda: scheduler.ready.is_set() or sched_task.done())
                info = Listening(info.host, info.port, len(scheduler.checks))
                # What was built at start (configuration, prepared checks) lives as long as the
                # process: keep it out of the cyclic collector, whose full passes over 10,000
                # checks' objects would otherwise pause the event loop for hundreds of ms.
                gc.collect()
                gc.freeze()
            if on_listening is not None:
                on_listening(info)
            if started is not None:
                started.set()
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        # One part ended (a signal, or a failure): stop the other and wait for it.
        if scheduler is not None:
            scheduler.stop()
        server.should_exit = True
        await asyncio.wait(tasks)
        for t in tasks:
            exc = t.exception()
            if exc is not None:
                raise exc
    except asyncio.CancelledError:
        if scheduler is not None:
            scheduler.stop()
        server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    finally:
        alerting_stop.set()
        if alerting_task is not None:
            await asyncio.gather(alerting_task, return_exceptions=True)
        for sig in installed:
            loop.remove_signal_handler(sig)
        sock.close()


async def _until(condition: Callable[[], bool], every: float = 0.02) -> None:
    """Poll ``condition`` (uvicorn offers no event for "started")."""
    while True:
        if condition():
            return
        await asyncio.sleep(every)
