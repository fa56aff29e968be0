"""The fake card gateway, and the demo service charging top-ups through it over HTTP: one key per
payment, retries, unknown outcomes kept pending and resolved later, and the broken-retry switch."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from flightdeck.demo.gateway import ChargeStatus, RunningGateway, start_gateway
from flightdeck.demo.service import RunningService, ServiceSettings, start_service
from flightdeck.demo.service.__main__ import parse_args, settings_from
from flightdeck.demo.service.gateway_client import (
    ChargeOutcome,
    GatewayClient,
    GatewayClientSettings,
    RetryMode,
)
from flightdeck.payments.drill import FaultProxy, ProxyFaults
from flightdeck.secret import Secret
from tests.demo.helpers import eventually, query


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[RunningGateway]:
    gw = await start_gateway(journal=tmp_path / "charges.jsonl")
    yield gw
    await gw.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:
        yield s


async def _call(
    http: aiohttp.ClientSession, method: str, url: str, body: Any = None, **headers: str
) -> tuple[int, Any]:
    async with http.request(method, url, json=body, headers=headers) as resp:
        return resp.status, await resp.json(content_type=None)


def _body(reference: str = "payment:1", card: str = "tok_visa", amount: int = 990) -> dict[str, object]:
    return {"amount_minor": amount, "currency": "EUR", "card_token": card, "reference": reference}


# -- the fake gateway ---------------------------------------------------------------------------


async def test_gateway_charges_once_per_idempotency_key(
    gateway: RunningGateway, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    url = gateway.url + "/v1/charges"
    status, first = await _call(http, "POST", url, _body(), **{"Idempotency-Key": "k1"})
    assert status == 201
    assert first["status"] == "succeeded"
    status, again = await _call(http, "POST", url, _body(), **{"Idempotency-Key": "k1"})
    assert (status, again["id"]) == (200, first["id"])
    status, reused = await _call(http, "POST", url, _body(amount=1), **{"Idempotency-Key": "k1"})
    assert (status, reused["error"]["code"]) == (409, "idempotency_key_reused")
    status, declined = await _call(
        http, "POST", url, _body("payment:2", "tok_declined"), **{"Idempotency-Key": "k2"}
    )
    assert (status, declined["status"], declined["failure_code"]) == (402, "failed", "card_declined")
    status, missing = await _call(http, "POST", url, _body("payment:3"))
    assert (status, missing["error"]["code"]) == (400, "idempotency_key_required")

    status, listing = await _call(http, "GET", url)
    assert [(c["reference"], c["status"]) for c in listing["data"]] == [
        ("payment:1", "succeeded"),
        ("payment:2", "failed"),
    ]
    status, one = await _call(http, "GET", url + "?reference=payment:2")
    assert [c["id"] for c in one["data"]] == [declined["id"]]

    # The journal keeps every processed charge across a restart, keys included.
    await gateway.stop()
    again_up = await start_gateway(journal=tmp_path / "charges.jsonl")
    try:
        assert [c.status for c in again_up.book.charges] == [ChargeStatus.SUCCEEDED, ChargeStatus.FAILED]
        status, replay = await _call(
            http, "POST", again_up.url + "/v1/charges", _body(), **{"Idempotency-Key": "k1"}
        )
        assert (status, replay["id"]) == (200, first["id"])
    finally:
        await again_up.stop()


# -- the client's retries -----------------------------------------------------------------------


async def _client(url: str, attempts: int = 3) -> GatewayClient:
    client = GatewayClient(GatewayClientSettings(url, timeout=2.0, attempts=attempts, backoff=0.001))
    await client.open()
    return client


@pytest.mark.parametrize(("mode", "charges"), [(RetryMode.CORRECT, 1), (RetryMode.BROKEN, 3)])
async def test_every_response_lost_correct_retries_charge_once_broken_ones_every_time(
    gateway: RunningGateway, mode: RetryMode, charges: int
) -> None:
    proxy = await FaultProxy(gateway.url, ProxyFaults(lost_response_rate=1.0)).start()
    client = await _client(proxy.url, attempts=3)
    try:
        result = await client.charge("pay-1-abc", "payment:1", 990, "EUR", "tok_visa", mode)
    finally:
        await client.close()
        await proxy.stop()
    assert result.outcome is ChargeOutcome.UNKNOWN  # never "failed": the charge may well exist
    assert result.attempts == 3
    assert len(gateway.book.find("payment:1")) == charges
    keys = {c.idempotency_key for c in gateway.book.charges}
    assert "pay-1-abc" in keys
    assert len(keys) == charges


async def test_transient_errors_are_retried_until_a_definite_answer(gateway: RunningGateway) -> None:
    proxy = await FaultProxy(gateway.url, ProxyFaults(error_rate=0.5, reset_rate=0.3, seed=3)).start()
    client = await _client(proxy.url, attempts=30)
    try:
        charged = await client.charge("pay-5-x", "payment:5", 100, "EUR", "tok_visa")
        declined = await client.charge("pay-6-x", "payment:6", 100, "EUR", "tok_declined")
    finally:
        await client.close()
        await proxy.stop()
    assert charged.outcome is ChargeOutcome.CHARGED
    assert charged.attempts > 1
    assert declined.outcome is ChargeOutcome.DECLINED
    assert declined.reason == "card_declined"
    assert len(gateway.book.charges) == 2


# -- the service in gateway mode ----------------------------------------------------------------


async def _service(tmp_path: Path, gateway_url: str, **overrides: Any) -> RunningService:
    values: dict[str, Any] = {
        "db_path": tmp_path / f"payments-{secrets.token_hex(3)}.db",
        "admin_token": Secret("admin-token-for-tests"),
        "settle_delay": 0.0,
        "settle_interval": 0.02,
        "seed": 5,
        "gateway_url": gateway_url,
        "gateway_timeout": 1.0,
        "gateway_attempts": 3,
        "gateway_backoff": 0.001,
        "gateway_backoff_max": 0.01,
        "gateway_resolve_after": 0.05,
    }
    values.update(overrides)
    return await start_service(ServiceSettings(**values))


async def _user(http: aiohttp.ClientSession, base: str) -> dict[str, str]:
    creds = {"email": f"u{secrets.token_hex(4)}@demo.test", "password": "correct horse battery"}
    await _call(http, "POST", base + "/api/signup", creds)
    _, login = await _call(http, "POST", base + "/api/login", creds)
    return {"Authorization": f"Bearer {login['token']}"}


async def _topup(
    http: aiohttp.ClientSession, base: str, auth: dict[str, str], cents: int, card: str = "tok_visa"
) -> dict[str, Any]:
    headers = {**auth, "Idempotency-Key": secrets.token_hex(8)}
    status, payment = await _call(
        http, "POST", base + "/api/topups", {"amount_cents": cents, "card_token": card}, **headers
    )
    assert status == 201, payment
    return dict(payment)


async def _status(
    http: aiohttp.ClientSession, base: str, auth: dict[str, str], payment_id: int
) -> dict[str, Any]:
    _, payment = await _call(http, "GET", f"{base}/api/payments/{payment_id}", **auth)
    return dict(payment)


async def test_service_charges_top_ups_through_the_gateway(
    gateway: RunningGateway, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    service = await _service(tmp_path, gateway.url)
    try:
        base = service.http_url
        auth = await _user(http, base)
        paid = await _topup(http, base, auth, 2500)
        refused = await _topup(http, base, auth, 700, "tok_declined")

        async def answered() -> bool:
            return all(
                [(await _status(http, base, auth, p["id"]))["status"] != "pending" for p in (paid, refused)]
            )

        await eventually(answered, "both top-ups answered")
        assert (await _status(http, base, auth, paid["id"]))["status"] == "settled"
        failed = await _status(http, base, auth, refused["id"])
        assert (failed["status"], failed["failure_reason"]) == ("failed", "card_declined")
        _, wallet = await _call(http, "GET", base + "/api/wallet", **auth)
        assert wallet["balance_cents"] == 2500
    finally:
        await service.stop()
    (charge,) = gateway.book.find(paid["reference"])
    assert (charge.amount_minor, charge.currency, charge.status) == (2500, "EUR", ChargeStatus.SUCCEEDED)
    assert charge.idempotency_key.startswith(f"pay-{paid['id']}-")
    # The ledger transaction and the gateway charge share the payment's reference.
    refs = query(
        service.state.settings.db_path, "SELECT reference FROM ledger_transactions WHERE kind = 'topup'"
    )
    assert refs == [(paid["reference"],)]


async def test_unknown_outcome_stays_pending_and_is_resolved_by_reference_later(
    gateway: RunningGateway, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    # Every response is lost: the gateway charges, the service never hears back.
    proxy = await FaultProxy(gateway.url, ProxyFaults(lost_response_rate=1.0)).start()
    service = await _service(tmp_path, proxy.url)
    try:
        base = service.http_url
        auth = await _user(http, base)
        payment = await _topup(http, base, auth, 4200)
        charger = service.state.charger
        assert charger is not None

        async def still_unknown() -> bool:
            # Every attempt failed, and so did the later look-up by reference.
            return charger.stats.unknown >= 1 and charger.stats.lookups_unanswered >= 1

        await eventually(still_unknown, "attempts and a look-up without an answer")
        assert (await _status(http, base, auth, payment["id"]))["status"] == "pending"  # never failed
        assert len(gateway.book.find(payment["reference"])) == 1  # charged once, whatever the retries

        proxy.faults = ProxyFaults()  # the network heals

        async def settled() -> bool:
            return bool((await _status(http, base, auth, payment["id"]))["status"] == "settled")

        await eventually(settled, "the payment resolved")
        assert charger.stats.resolved_by_lookup >= 1
        _, wallet = await _call(http, "GET", base + "/api/wallet", **auth)
        assert wallet["balance_cents"] == 4200
    finally:
        await service.stop()
        await proxy.stop()
    assert len(gateway.book.find(payment["reference"])) == 1


async def test_retry_mode_switches_at_runtime_through_the_admin_endpoint(
    gateway: RunningGateway, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    service = await _service(tmp_path, gateway.url)
    admin = {"Authorization": "Bearer admin-token-for-tests"}
    try:
        status, data = await _call(http, "GET", service.http_url + "/admin/gateway", **admin)
        assert (status, data["mode"], data["retry"]) == (200, "http", "correct")
        status, data = await _call(
            http, "POST", service.http_url + "/admin/gateway", {"retry": "broken"}, **admin
        )
        assert (status, data["retry"]) == (200, "broken")
        assert service.state.charger is not None
        assert service.state.charger.mode is RetryMode.BROKEN
        status, data = await _call(
            http, "POST", service.http_url + "/admin/gateway", {"retry": "sloppy"}, **admin
        )
        assert status == 400
    finally:
        await service.stop()
    simulated = await start_service(
        ServiceSettings(db_path=tmp_path / "sim.db", admin_token=Secret("admin-token-for-tests"))
    )
    try:
        status, data = await _call(
            http, "POST", simulated.http_url + "/admin/gateway", {"retry": "broken"}, **admin
        )
        assert (status, data["error"]["code"]) == (409, "no_gateway")
    finally:
        await simulated.stop()


def test_command_line_and_environment_select_the_gateway(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DEMO_GATEWAY_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("DEMO_GATEWAY_RETRY", "broken")
    settings = settings_from(parse_args(["--db", str(tmp_path / "p.db"), "--gateway-attempts", "6"]))
    assert (settings.gateway_url, settings.gateway_retry, settings.gateway_attempts) == (
        "http://127.0.0.1:9",
        RetryMode.BROKEN,
        6,
    )
    monkeypatch.delenv("DEMO_GATEWAY_URL")
    monkeypatch.delenv("DEMO_GATEWAY_RETRY")
    settings = settings_from(parse_args(["--db", str(tmp_path / "p.db")]))
    assert (settings.gateway_url, settings.gateway_retry) == (None, RetryMode.CORRECT)
    with pytest.raises(SystemExit):
        parse_args(["--db", "x", "--gateway-retry", "sometimes"])


async def _listening(proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    assert proc.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 60)
    assert line, "the process exited before listening"
    return dict(json.loads(line))


async def test_service_and_gateway_as_separate_processes(http: aiohttp.ClientSession, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    gw = subprocess.Popen(
        [sys.executable, "-m", "flightdeck.demo.gateway", "--journal", str(tmp_path / "charges.jsonl")],
        stdout=subprocess.PIPE,
        env=env,
    )
    svc: subprocess.Popen[bytes] | None = None
    try:
        gateway_url = (await _listening(gw))["url"]
        svc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flightdeck.demo.service",
                "--db",
                str(tmp_path / "p.db"),
                "--settle-delay",
                "0",
            ],
            stdout=subprocess.PIPE,
            env={**env, "DEMO_GATEWAY_URL": gateway_url},
        )
        base = (await _listening(svc))["http_url"]
        auth = await _user(http, base)
        payment = await _topup(http, base, auth, 1500)

        async def settled() -> bool:
            return bool((await _status(http, base, auth, payment["id"]))["status"] == "settled")

        await eventually(settled, "the top-up charged by the gateway process")
        _, listing = await _call(http, "GET", gateway_url + "/v1/charges", None)
        assert [(c["reference"], c["amount_minor"]) for c in listing["data"]] == [
            (payment["reference"], 1500)
        ]
    finally:
        for proc in (svc, gw):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=20)
                assert proc.stdout is not None
                proc.stdout.close()
