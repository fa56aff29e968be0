"""``flightdeck demo``: prepare the estate, start the payments service (a separate process) and its
traffic, and run flightdeck's scheduler and cockpit on it until Ctrl-C; then stop everything."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from flightdeck.access.errors import AlreadyExistsError
from flightdeck.access.roles import Role
from flightdeck.access.users import authenticate_password, create_user, set_password
from flightdeck.config import Config, load_config
from flightdeck.config.models import DATABASE_URL_ENV
from flightdeck.demo.estate import Estate, EstateState, read_or_create_secret
from flightdeck.demo.process import pid_alive, read_pid
from flightdeck.demo.servers import LocalServer
from flightdeck.demo.traffic import TrafficGenerator, TrafficSettings
from flightdeck.errors import AuthenticationError, FlightdeckError
from flightdeck.secret import Secret
from flightdeck.server import Listening, serve
from flightdeck.store import Store

__all__ = ["ADMIN_USER", "DemoOptions", "DemoReady", "ensure_admin", "run_demo"]

ADMIN_USER = "admin"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoOptions:
    directory: Path
    cockpit_port: int | None = None
    service_port: int | None = None
    service_https_port: int | None = None
    chaos_every: float = 300.0
    interval: float = 10.0
    traffic_rate: float = 2.0
    probe_servers: bool = True
    payments_after: float | None = 30.0  # run the payment-integrity round this long after start


@dataclass(frozen=True)
class DemoReady:
    """What the person starting the demo needs to know, once everything answers."""

    cockpit_url: str
    username: str
    password: Secret
    service_url: str
    service_http_url: str
    service_pid: int | None
    checks: int | None
    config_file: Path
    state_dir: Path
    servers: list[LocalServer] = field(default_factory=list)


def ensure_admin(store: Store, password_file: Path) -> Secret:
    """The cockpit's ``admin`` user with the password kept in ``password_file`` (generated once)."""
    password = Secret(read_or_create_secret(password_file, 15))
    try:
        create_user(store, ADMIN_USER, password, Role.ADMIN)
    except AlreadyExistsError:
        try:
            authenticate_password(store, ADMIN_USER, password)
        except AuthenticationError:
            set_password(store, ADMIN_USER, password)
    return password


async def _traffic(estate: Estate, state: EstateState, rate: float, stop: asyncio.Event) -> None:
    settings = TrafficSettings(
        base_url=f"https://127.0.0.1:{state.ports.service_https}",
        ca_file=estate.certs_dir / "ca.pem",
        rate=rate,
    )
    async with TrafficGenerator(settings) as gen:
        await gen.run(stop)


async def _payments_round(
    estate: Estate, config: Config, store: Store, delay: float, say: Callable[[str], None] | None
) -> None:
    # Once the traffic has made some payments: today's statement, its reconciliation, two gateway
    # drills; then a backup and a DR drill.
    from flightdeck.demo.payments_jobs import run_payments_round

    await asyncio.sleep(delay)
    try:
        await run_payments_round(estate, config, store, say)
    except FlightdeckError as exc:
        log.warning("the demo's payment-integrity round failed: %s", exc)
        if say is not None:
            say(f"payment-integrity round failed: {exc}")
    # Then a backup of the payments database and one DR drill on it.
    from flightdeck.demo.backup_jobs import run_backup_round

    try:
        await run_backup_round(config, store, say)
    except FlightdeckError as exc:
        log.warning("the demo's backup round failed: %s", exc)
        if say is not None:
            say(f"backup round failed: {exc}")


async def _reap(estate: Estate) -> None:
    # A service stopped by `flightdeck demo service stop` may be our child: collect it (pid_alive
    # waits for it without blocking), so it does not linger as a zombie while the demo runs.
    while True:
        pid = read_pid(estate.pid_file)
        if pid is not None:
            pid_alive(pid)
        await asyncio.sleep(1.0)


def run_demo(
    options: DemoOptions,
    on_ready: Callable[[DemoReady], None],
    on_event: Callable[[str], None] | None = None,
) -> None:
    """Run the demo until SIGINT/SIGTERM. Leaves no process behind, whatever happens."""
    estate = Estate(options.directory)
    with estate.lock():
        state, servers = estate.prepare(
            cockpit_port=options.cockpit_port,
            service_port=options.service_port,
            service_https_port=options.service_https_port,
            chaos_every=options.chaos_every,
            interval=options.interval,
            probe=options.probe_servers,
        )
        # The demo never writes to a production store named in the environment.
        os.environ.pop(DATABASE_URL_ENV, None)
        config = load_config(estate.config_file)
        store = Store(estate.store_url)
        try:
            store.migrate()
            password = ensure_admin(store, estate.password_file)
            status = estate.start_service()

            def listening(info: Listening) -> None:
                on_ready(
                    DemoReady(
                        cockpit_url=info.url,
                        username=ADMIN_USER,
                        password=password,
                        service_url=status.https_url,
                        service_http_url=status.http_url,
                        service_pid=status.pid,
                        checks=info.checks,
                        config_file=estate.config_file,
                        state_dir=estate.dir,
                        servers=servers,
                    )
                )

            async def main() -> None:
                stop = asyncio.Event()
                helpers = [
                    asyncio.create_task(
                        _traffic(estate, state, options.traffic_rate, stop), name="demo-traffic"
                    ),
                    asyncio.create_task(_reap(estate), name="demo-reaper"),
                ]
                if options.payments_after is not None:
                    helpers.append(
                        asyncio.create_task(
                            _payments_round(estate, config, store, options.payments_after, on_event),
                            name="demo-payments",
                        )
                    )
                try:
                    await serve(
                        config, store, bind="127.0.0.1", port=state.ports.cockpit, on_listening=listening
                    )
                finally:
                    stop.set()
                    for task in helpers:
                        task.cancel()
                    for task in helpers:
                        with contextlib.suppress(asyncio.CancelledError):
                            await task

            asyncio.run(main())
        finally:
            estate.stop_service()
            store.dispose()
