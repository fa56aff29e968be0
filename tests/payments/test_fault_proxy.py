"""The fault proxy, between a real client and the real fake gateway on 127.0.0.1: what each fault
does to the client, and whether the gateway saw the request."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from flightdeck.demo.gateway import RunningGateway, start_gateway
from flightdeck.payments.drill import FaultKind, FaultProxy, ProxyFaults


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[RunningGateway]:
    gw = await start_gateway(journal=tmp_path / "charges.jsonl")
    yield gw
    await gw.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    # A fresh connection per request, so that a dropped connection is never reused by the next one.
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=10)) as s:
        yield s


async def _proxy(gateway: RunningGateway, **faults: float) -> FaultProxy:
    return await FaultProxy(gateway.url, ProxyFaults(**faults, seed=11)).start()


def _charge(reference: str = "payment:1", amount: int = 1250) -> dict[str, object]:
    return {"amount_minor": amount, "currency": "EUR", "card_token": "tok_visa", "reference": reference}


async def _post(
    session: aiohttp.ClientSession, url: str, key: str, body: dict[str, object]
) -> tuple[int, dict[str, Any]]:
    async with session.post(url + "/v1/charges", json=body, headers={"Idempotency-Key": key}) as resp:
        return resp.status, await resp.json()


async def test_without_faults_requests_and_answers_pass_through(
    gateway: RunningGateway, session: aiohttp.ClientSession
) -> None:
    proxy = await _proxy(gateway)
    try:
        status, first = await _post(session, proxy.url, "k-1", _charge())
        assert status == 201
        async with session.post(
            proxy.url + "/v1/charges", json=_charge(), headers={"Idempotency-Key": "k-1"}
        ) as resp:
            assert resp.status == 200
            assert resp.headers["Idempotent-Replayed"] == "true"  # the gateway's own header, forwarded
            assert (await resp.json())["id"] == first["id"]
        async with session.get(proxy.url + "/v1/charges", params={"reference": "payment:1"}) as resp:
            listed = await resp.json()
        assert [c["id"] for c in listed["data"]] == [first["id"]]  # the query string was forwarded
    finally:
        await proxy.stop()
    assert proxy.counts.requests == proxy.counts.forwarded == 3
    assert sum(proxy.counts.injected.values()) == 0
    assert len(gateway.book.charges) == 1


async def test_error_fault_answers_5xx_and_the_gateway_never_sees_the_request(
    gateway: RunningGateway, session: aiohttp.ClientSession
) -> None:
    proxy = await _proxy(gateway, error_rate=1.0)
    try:
        statuses = [(await _post(session, proxy.url, f"k-{i}", _charge(f"payment:{i}")))[0] for i in range(6)]
    finally:
        await proxy.stop()
    assert set(statuses) <= {502, 503}
    assert proxy.counts.injected[FaultKind.ERROR] == 6
    assert proxy.counts.forwarded == 0
    assert gateway.book.requests_seen == 0
    assert gateway.book.charges == []


async def test_reset_fault_drops_the_connection_and_the_gateway_never_sees_the_request(
    gateway: RunningGateway, session: aiohttp.ClientSession
) -> None:
    proxy = await _proxy(gateway, reset_rate=1.0)
    try:
        for i in range(3):
            with pytest.raises(aiohttp.ClientConnectionError):
                await _post(session, proxy.url, f"k-{i}", _charge(f"payment:{i}"))
    finally:
        await proxy.stop()
    assert proxy.counts.injected[FaultKind.RESET] == 3
    assert gateway.book.requests_seen == 0
    assert gateway.book.charges == []


async def test_lost_response_charges_at_the_gateway_but_the_client_sees_a_failure(
    gateway: RunningGateway, session: aiohttp.ClientSession
) -> None:
    lossy = await _proxy(gateway, lost_response_rate=1.0)
    clean = await _proxy(gateway)
    try:
        with pytest.raises(aiohttp.ClientConnectionError):
            await _post(session, lossy.url, "key-a", _charge("payment:7"))
        # The gateway processed it although the client never heard back:
        (charge,) = gateway.book.charges
        assert (charge.reference, charge.idempotency_key, charge.amount_minor) == ("payment:7", "key-a", 1250)
        # A retry with the same key gets that very charge back, and nothing is charged twice ...
        status, replay = await _post(session, clean.url, "key-a", _charge("payment:7"))
        assert (status, replay["id"]) == (200, charge.id)
        # ... while a retry with a new key (the classic bug) is a second charge for one payment.
        status, second = await _post(session, clean.url, "key-b", _charge("payment:7"))
        assert status == 201
        assert second["id"] != charge.id
    finally:
        await lossy.stop()
        await clean.stop()
    assert lossy.counts.injected[FaultKind.LOST_RESPONSE] == 1
    assert lossy.counts.forwarded == 1
    assert [c.reference for c in gateway.book.find("payment:7")] == ["payment:7", "payment:7"]


async def test_latency_delays_forwarding_so_a_short_client_timeout_expires_first(
    gateway: RunningGateway,
) -> None:
    proxy = await _proxy(gateway, latency=0.3)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.05)) as impatient:
            with pytest.raises(asyncio.TimeoutError):
                await _post(impatient, proxy.url, "slow", _charge("payment:9"))
        # The proxy still forwards it after the delay: the gateway charges a client that gave up.
        for _ in range(100):
            if gateway.book.charges:
                break
            await asyncio.sleep(0.02)
    finally:
        await proxy.stop()
    assert [c.reference for c in gateway.book.charges] == ["payment:9"]


async def test_the_same_seed_makes_the_same_decisions(
    gateway: RunningGateway, session: aiohttp.ClientSession
) -> None:
    async def outcomes(run: int) -> list[str]:
        proxy = await _proxy(gateway, error_rate=0.2, reset_rate=0.2, lost_response_rate=0.2)
        seen = []
        try:
            for i in range(25):
                try:
                    status, _ = await _post(session, proxy.url, f"r{run}-{i}", _charge(f"payment:{run}-{i}"))
                    seen.append(str(status))
                except aiohttp.ClientConnectionError:
                    seen.append("dropped")
        finally:
            await proxy.stop()
        return seen

    first, second = await outcomes(1), await outcomes(2)
    assert first == second
    assert {"201", "dropped"} <= set(first)
    assert {"502", "503"} & set(first)


def test_rates_outside_zero_to_one_are_refused() -> None:
    with pytest.raises(ValueError, match="lost_response_rate"):
        ProxyFaults(lost_response_rate=1.5)
    with pytest.raises(ValueError, match="latency"):
        ProxyFaults(latency=-1)
