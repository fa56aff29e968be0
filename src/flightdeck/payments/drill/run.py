"""Running a gateway drill: proxy up, payments driven, pending ones waited for, then reconciled.

1. The fault proxy listens at ``proxy_host:proxy_port`` and forwards to ``gateway_url``; the
   service under test must be configured with the proxy as its gateway.
2. ``payments`` card payments (``concurrency`` at once) are created through the service's payment
   API, each with its own client idempotency key; a client retries its own request with the same key.
   Amounts and which payments use the declined card come from ``seed``.
3. Every payment is polled until none is ``pending``, for at most ``settle_timeout`` seconds; what is
   still pending then is reported as such (a failure), never guessed at.
4. The gateway's charge list is read directly (not through the proxy) and reconciled with the
   payments by reference (:mod:`flightdeck.payments.drill.reconcile`).
"""

from __future__ import annotations

import asyncio
import enum
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from flightdeck.config.payments import GatewayDrillConfig
from flightdeck.payments.drill.proxy import FaultProxy, ProxyFaults
from flightdeck.payments.drill.reconcile import ServicePayment, reconcile
from flightdeck.payments.drill.result import DrillResult
from flightdeck.payments.drill.service_api import PaymentApi, fetch_statement
from flightdeck.payments.errors import DrillError
from flightdeck.payments.records import PaymentStatus

__all__ = [
    "DrillPhase",
    "DrillProgress",
    "ProgressCallback",
    "drive_drill",
    "proxy_faults",
    "run_gateway_drill",
]


class DrillPhase(enum.StrEnum):
    DRIVING = "driving"
    SETTLING = "settling"
    RECONCILING = "reconciling"


@dataclass(frozen=True)
class DrillProgress:
    phase: DrillPhase
    done: int
    total: int


ProgressCallback = Callable[[DrillProgress], None]


def proxy_faults(cfg: GatewayDrillConfig) -> ProxyFaults:
    return ProxyFaults(
        error_rate=cfg.error_rate,
        reset_rate=cfg.reset_rate,
        lost_response_rate=cfg.lost_response_rate,
        latency=cfg.latency,
        seed=cfg.seed,
    )


async def run_gateway_drill(
    cfg: GatewayDrillConfig, name: str = "gateway-drill", progress: ProgressCallback | None = None
) -> DrillResult:
    """Start the proxy where the service expects its gateway, drive the drill, stop the proxy."""
    proxy = FaultProxy(cfg.gateway_url, proxy_faults(cfg), cfg.proxy_host, cfg.proxy_port)
    try:
        await proxy.start()
    except OSError as exc:
        raise DrillError(
            f"the fault proxy cannot listen on {cfg.proxy_host}:{cfg.proxy_port}: {exc.strerror or exc}"
        ) from None
    try:
        token = cfg.auth_token.reveal() if cfg.auth_token is not None else None
        return await drive_drill(cfg, proxy, name, token=token, progress=progress)
    finally:
        await proxy.stop()


def _plan(cfg: GatewayDrillConfig) -> list[tuple[int, str]]:
    rng = random.Random(cfg.seed)
    plan = []
    for _ in range(cfg.payments):
        card = cfg.declined_card_token if rng.random() < cfg.decline_rate else cfg.card_token
        plan.append((rng.randint(cfg.amount_min, cfg.amount_max), card))
    return plan


async def drive_drill(
    cfg: GatewayDrillConfig,
    proxy: FaultProxy,
    name: str,
    token: str | None = None,
    wallet_path: str | None = None,
    labels: dict[str, str] | None = None,
    progress: ProgressCallback | None = None,
) -> DrillResult:
    """Drive payments through the service (whose gateway is ``proxy``), wait, reconcile."""
    started = time.monotonic()
    report = progress or (lambda _p: None)
    run_id = secrets.token_hex(4)  # keys unique per run: a persistent service must not replay old ones
    plan = _plan(cfg)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        api = PaymentApi(
            session,
            cfg.service_url,
            cfg.topup_path,
            cfg.payment_path,
            token,
            cfg.client_attempts,
            random.Random(None if cfg.seed is None else cfg.seed + 1),
        )
        balance_before = await api.wallet_balance(wallet_path) if wallet_path else None
        created = await _drive(api, plan, run_id, cfg.concurrency, report)
        payments = await _settle(api, created, cfg.concurrency, cfg.settle_timeout, report)
        report(DrillProgress(DrillPhase.RECONCILING, 0, 1))
        statement_url = cfg.statement_url or cfg.gateway_url.rstrip("/") + "/v1/charges"
        statement = await fetch_statement(session, statement_url)
        balance_after = await api.wallet_balance(wallet_path) if wallet_path else None
        report(DrillProgress(DrillPhase.RECONCILING, 1, 1))
    rec = reconcile(payments, statement)
    succeeded = [p for p in payments if p.status is PaymentStatus.SUCCEEDED]
    wallet_difference = None
    if balance_before is not None and balance_after is not None:
        wallet_difference = balance_after - balance_before - sum(p.amount_minor for p in succeeded)
    return DrillResult(
        name=name,
        payments_requested=len(plan),
        payments_created=len(payments),
        succeeded=len(succeeded),
        failed=sum(1 for p in payments if p.status is PaymentStatus.FAILED),
        faults=proxy.counts,
        reconciliation=rec,
        settle_timeout_s=cfg.settle_timeout,
        duration_s=time.monotonic() - started,
        client_retries=api.client_retries,
        wallet_difference_minor=wallet_difference,
        labels=dict(labels or {}),
    )


async def _drive(
    api: PaymentApi, plan: list[tuple[int, str]], run_id: str, concurrency: int, report: ProgressCallback
) -> list[ServicePayment]:
    limit = asyncio.Semaphore(concurrency)
    done = 0
    report(DrillProgress(DrillPhase.DRIVING, 0, len(plan)))

    async def one(i: int, amount: int, card: str) -> ServicePayment | None:
        nonlocal done
        async with limit:
            payment = await api.create(f"drill-{run_id}-{i:05d}", amount, card)
        done += 1
        report(DrillProgress(DrillPhase.DRIVING, done, len(plan)))
        return payment

    results = await asyncio.gather(*(one(i, amount, card) for i, (amount, card) in enumerate(plan)))
    return [p for p in results if p is not None]


async def _settle(
    api: PaymentApi,
    payments: list[ServicePayment],
    concurrency: int,
    settle_timeout: float,
    report: ProgressCallback,
) -> list[ServicePayment]:
    """Poll until no payment is pending or ``settle_timeout`` passed; the payments as last seen."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settle_timeout
    current = {p.reference: p for p in payments}
    limit = asyncio.Semaphore(concurrency)
    pause = 0.02

    async def refresh(p: ServicePayment) -> None:
        async with limit:
            current[p.reference] = await api.fetch(p)

    while True:
        pending = [p for p in current.values() if p.status is PaymentStatus.PENDING]
        report(DrillProgress(DrillPhase.SETTLING, len(current) - len(pending), len(current)))
        if not pending or loop.time() >= deadline:
            return list(current.values())
        await asyncio.sleep(min(pause, max(0.0, deadline - loop.time())))
        pause = min(pause * 1.5, 0.5)
        await asyncio.gather(*(refresh(p) for p in pending))
