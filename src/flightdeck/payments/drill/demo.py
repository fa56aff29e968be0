"""The drill against the demo: fake gateway, fault proxy and demo payments service, all started here.

``run_demo_gateway_drill(folder, retry="correct")`` should find no double charge and no lost payment
however many responses the proxy loses; ``retry="broken"`` (every retry sends a new idempotency key)
should find double charges, named by payment reference. Everything listens on 127.0.0.1 on free
ports and is stopped before it returns. The service runs with short timeouts and backoffs so that a
drill of a few dozen payments takes a few seconds.
"""

from __future__ import annotations

import contextlib
import secrets
from pathlib import Path

import aiohttp

from flightdeck.config.payments import GatewayDrillConfig
from flightdeck.demo.gateway import start_gateway
from flightdeck.demo.service import ServiceSettings, start_service
from flightdeck.demo.service.gateway_client import RetryMode
from flightdeck.payments.drill.proxy import FaultProxy
from flightdeck.payments.drill.result import DrillResult
from flightdeck.payments.drill.run import ProgressCallback, drive_drill, proxy_faults
from flightdeck.payments.drill.service_api import sign_up_demo_user
from flightdeck.payments.errors import DrillError

__all__ = ["DEMO_DRILL_DIR", "demo_drill_config", "run_demo_gateway_drill"]

DEMO_DRILL_DIR = "gateway-drill"
"""The sub-folder of the given folder holding the demo drill's databases (recreated every run)."""


def demo_drill_config(
    payments: int = 40,
    seed: int | None = 7,
    concurrency: int = 8,
    error_rate: float = 0.1,
    reset_rate: float = 0.1,
    lost_response_rate: float = 0.25,
) -> GatewayDrillConfig:
    """The drill's settings for the demo; the URLs are placeholders until the servers are up."""
    return GatewayDrillConfig(
        service="demo-payments",
        service_url="http://127.0.0.1:0",
        gateway_url="http://127.0.0.1:0",
        payments=payments,
        concurrency=concurrency,
        error_rate=error_rate,
        reset_rate=reset_rate,
        lost_response_rate=lost_response_rate,
        decline_rate=0.1,
        amount_min=100,
        amount_max=20_000,
        settle_timeout=30,
        seed=seed,
    )


def _fresh(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("payments.db", "payments.db-wal", "payments.db-shm", "charges.jsonl"):
        with contextlib.suppress(FileNotFoundError):
            (folder / name).unlink()
    return folder


async def run_demo_gateway_drill(
    folder: Path,
    retry: RetryMode | str = RetryMode.CORRECT,
    payments: int = 40,
    seed: int | None = 7,
    concurrency: int = 8,
    error_rate: float = 0.1,
    reset_rate: float = 0.1,
    lost_response_rate: float = 0.25,
    progress: ProgressCallback | None = None,
) -> DrillResult:
    """Start gateway, proxy and demo service (with ``retry`` logic), drive the drill, stop all."""
    mode = RetryMode(retry)
    work = _fresh(folder / DEMO_DRILL_DIR)
    cfg = demo_drill_config(payments, seed, concurrency, error_rate, reset_rate, lost_response_rate)
    async with contextlib.AsyncExitStack() as stack:
        try:
            gateway = await start_gateway(journal=work / "charges.jsonl")
            stack.push_async_callback(gateway.stop)
            proxy = FaultProxy(gateway.url, proxy_faults(cfg))
            await proxy.start()
            stack.push_async_callback(proxy.stop)
            service = await start_service(_service_settings(work, mode, proxy.url, seed))
            stack.push_async_callback(service.stop)
        except OSError as exc:
            raise DrillError(f"the demo drill could not start its servers: {exc.strerror or exc}") from None
        cfg = cfg.model_copy(update={"service_url": service.http_url, "gateway_url": gateway.url})
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            email = f"drill-{secrets.token_hex(4)}@demo.test"
            token = await sign_up_demo_user(session, service.http_url, email, secrets.token_urlsafe(16))
        return await drive_drill(
            cfg,
            proxy,
            "demo",
            token=token,
            wallet_path="/api/wallet",
            labels={"retry": mode.value},
            progress=progress,
        )
    raise AssertionError("unreachable")  # pragma: no cover - the block returns or raises


def _service_settings(work: Path, mode: RetryMode, gateway_url: str, seed: int | None) -> ServiceSettings:
    return ServiceSettings(
        db_path=work / "payments.db",
        settle_delay=0.0,
        settle_interval=0.05,
        seed=seed,
        gateway_url=gateway_url,
        gateway_retry=mode,
        gateway_timeout=2.0,
        gateway_attempts=4,
        gateway_backoff=0.01,
        gateway_backoff_max=0.1,
        gateway_resolve_after=0.1,
    )
