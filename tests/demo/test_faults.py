"""Each injected fault produces the signal the demo configuration is meant to catch, and switching
it off repairs it. The checks run are the demo configuration's own, against the real service."""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
import uuid
from pathlib import Path

from flightdeck.demo.certs import DemoCertificates
from flightdeck.demo.service import FaultName, FaultOrigin, FaultParams, PaymentKind, start_service
from flightdeck.demo.service.faults import chaos_loop
from flightdeck.demo.service.ledger import WALLET_MISMATCH_SQL
from flightdeck.evidence import NewEvidence, Verdict
from tests.demo.conftest import Api, settings_for
from tests.demo.helpers import DemoChecks, demo_config, eventually, query, run_demo_check, scalar


def _db(api: Api) -> Path:
    return api.service.state.settings.db_path


async def _funded_user(api: Api, cents: int = 5000) -> str:
    token = await api.user()
    await api.call("POST", "/api/topups", {"amount_cents": cents}, token=token, key=str(uuid.uuid4()))

    async def settled() -> bool:
        return scalar(_db(api), "SELECT COUNT(*) FROM payments WHERE status = 'pending'") == 0

    await eventually(settled, "settlement")
    return token


async def test_latency_fault_fails_the_health_check(
    api: Api, demo_certs: DemoCertificates, tmp_path: Path
) -> None:
    config = demo_config(api.service, demo_certs.ca_file, tmp_path)
    before = await run_demo_check(config, "health")
    assert before.verdict.is_ok, before.summary  # pass, or warn on a loaded machine (> 300 ms)

    status, data = await api.admin("POST", "/admin/faults/latency", {"latency_ms": 1100})
    assert status == 200
    assert data["fault"]["active"] is True
    during = await run_demo_check(config, "health")
    assert during.verdict is Verdict.FAIL
    assert "max_latency" in during.summary
    assert during.measurement("latency_ms") >= 1100

    await api.admin("POST", "/admin/faults/latency", {"active": False})
    after = await run_demo_check(config, "health")
    assert after.verdict.is_ok, after.summary


async def test_errors_fault_answers_5xx_on_the_api_only(api: Api) -> None:
    token = await api.user()
    await api.admin("POST", "/admin/faults/errors", {"error_ratio": 1.0})
    for _ in range(5):
        status, data, _ = await api.call("GET", "/api/wallet", token=token)
        assert status == 503
        assert data["error"]["code"] == "unavailable"
    assert (await api.call("GET", "/health"))[0] == 200  # probes are not part of the burst
    _, text, _ = await api.call("GET", "/metrics")
    assert 'http_requests_total{method="GET",route="/api/wallet",status="503"} 5.0' in text
    assert 'demo_fault_active{fault="errors"} 1.0' in text
    await api.admin("POST", "/admin/faults/errors", {"active": False})
    assert (await api.call("GET", "/api/wallet", token=token))[0] == 200


def _condition(evidence: NewEvidence, text: str) -> str:
    conditions = evidence.detail["conditions"]
    assert isinstance(conditions, list)
    (found,) = [c for c in conditions if isinstance(c, dict) and c["condition"] == text]
    assert isinstance(found, dict)
    return str(found["outcome"])


async def test_errors_fault_fails_the_traffic_check_on_its_5xx_ratio(
    api: Api, demo_certs: DemoCertificates, tmp_path: Path
) -> None:
    checks = DemoChecks(demo_config(api.service, demo_certs.ca_file, tmp_path))
    try:
        token = await api.user()
        first = await checks.run("traffic")
        assert first.measurement("error_ratio") is None  # a rate needs two scrapes
        for _ in range(20):
            await api.call("GET", "/api/wallet", token=token)
        calm = await checks.run("traffic")
        assert calm.measurement("error_ratio") == 0
        assert calm.measurement("requests_per_s") > 0
        # (CPU is this test process's, so only the error ratio's own condition is asserted.)
        assert _condition(calm, "error_ratio < 0.05") == "holds"

        await api.admin("POST", "/admin/faults/errors", {"error_ratio": 1.0})
        for _ in range(20):
            await api.call("GET", "/api/wallet", token=token)
        burst = await checks.run("traffic")
        assert burst.verdict is Verdict.FAIL
        assert burst.measurement("error_ratio") > 0.5
        assert _condition(burst, "error_ratio < 0.05") == "violated"

        await api.admin("POST", "/admin/faults/errors", {"active": False})
        for _ in range(20):
            await api.call("GET", "/api/wallet", token=token)
        after = await checks.run("traffic")
        assert after.measurement("error_ratio") == 0
        assert _condition(after, "error_ratio < 0.05") == "holds"
    finally:
        await checks.aclose()


async def test_drift_fault_fails_the_wallet_mismatch_check(
    api: Api, demo_certs: DemoCertificates, tmp_path: Path
) -> None:
    config = demo_config(api.service, demo_certs.ca_file, tmp_path)
    await _funded_user(api)
    before = await run_demo_check(config, "wallet-ledger-mismatch")
    assert before.verdict is Verdict.PASS, before.summary
    assert before.measurement("wallet_mismatches") == 0

    status, data = await api.admin("POST", "/admin/faults/drift", {"drift_cents": 700})
    assert status == 200
    assert "without a ledger entry" in data["fault"]["note"]
    during = await run_demo_check(config, "wallet-ledger-mismatch")
    assert during.verdict is Verdict.FAIL
    assert during.measurement("wallet_mismatches") == 1
    ((wallet_id, balance, ledger),) = query(_db(api), WALLET_MISMATCH_SQL)
    assert balance - ledger == 700
    # The postings themselves are still balanced: drift is not a ledger bug, it is a bypass.
    status, report = await api.admin("GET", "/admin/ledger")
    assert report["unbalanced_transactions"] == 0
    assert [m["wallet_id"] for m in report["wallet_mismatches"]] == [wallet_id]

    status, data = await api.admin("POST", "/admin/faults/drift", {"active": False})
    assert data["fault"]["note"] == "1 wallet(s) reset to their ledger balance"
    after = await run_demo_check(config, "wallet-ledger-mismatch")
    assert after.verdict is Verdict.PASS, after.summary


async def test_drift_needs_a_wallet(api: Api) -> None:
    status, data = await api.admin("POST", "/admin/faults/drift", {})
    assert status == 409
    assert data["error"]["code"] == "fault_unavailable"


async def test_stuck_fault_fails_the_stuck_payments_check(
    api: Api, demo_certs: DemoCertificates, tmp_path: Path
) -> None:
    config = demo_config(api.service, demo_certs.ca_file, tmp_path)
    token = await _funded_user(api)
    _, data = await api.admin("POST", "/admin/faults/stuck", {})
    assert data["fault"]["note"] == "the next payment will be lost by the gateway"
    _, lost, _ = await api.call("POST", "/api/topups", {"amount_cents": 1500}, token=token, key="lost")
    _, fine, _ = await api.call("POST", "/api/topups", {"amount_cents": 100}, token=token, key="fine")

    async def fine_settled() -> bool:
        return (await api.call("GET", f"/api/payments/{fine['id']}", token=token))[1]["status"] == "settled"

    await eventually(fine_settled, "the next payment settles")
    passes = api.service.state.payments.settle_passes
    await eventually(lambda: _after(api, passes + 2), "two more settlement passes")
    assert (await api.call("GET", f"/api/payments/{lost['id']}", token=token))[1]["status"] == "pending"
    # Not yet a minute old: not counted as stuck.
    young = await run_demo_check(config, "stuck-payments")
    assert young.verdict is Verdict.PASS, young.summary
    # Two minutes later (moved back in time in the database, rather than waited for) it is.
    with sqlite3.connect(_db(api)) as conn:
        conn.execute("UPDATE payments SET created_at = created_at - 120 WHERE id = ?", (lost["id"],))
    stuck = await run_demo_check(config, "stuck-payments")
    assert stuck.verdict is Verdict.FAIL
    assert stuck.measurement("stuck_payments") == 1

    _, data = await api.admin("POST", "/admin/faults/stuck", {"active": False})
    assert data["fault"]["note"] == "1 lost payment(s) failed with gateway_timeout"
    after = (await api.call("GET", f"/api/payments/{lost['id']}", token=token))[1]
    assert (after["status"], after["failure_reason"]) == ("failed", "gateway_timeout")
    assert (await run_demo_check(config, "stuck-payments")).verdict is Verdict.PASS
    # Nothing was charged for it.
    assert (await api.call("GET", "/api/wallet", token=token))[1]["balance_cents"] == 5100


async def _after(api: Api, passes: int) -> bool:
    return api.service.state.payments.settle_passes >= passes


async def test_stuck_fault_loses_the_newest_pending_payment(
    tmp_path: Path, demo_certs: DemoCertificates
) -> None:
    # A gateway that answers only after an hour: payments stay submitted while the fault strikes.
    service = await start_service(settings_for(tmp_path, demo_certs, settle_delay=3600))
    try:
        state = service.state
        signed = await state.accounts.signup("slow@demo.test", "correct horse battery", state.now())
        older, _ = await state.payments.create(signed.user_id, PaymentKind.TOPUP, 100, "k1", state.now())
        newer, _ = await state.payments.create(signed.user_id, PaymentKind.TOPUP, 200, "k2", state.now())
        fault = await state.faults.activate(FaultName.STUCK, state.now())
        assert fault.note == f"payment {newer.id} was lost by the gateway"
        db = state.settings.db_path
        states = dict(query(db, "SELECT id, gateway_state FROM payments"))
        assert states == {older.id: "submitted", newer.id: "lost"}
    finally:
        await service.stop()


async def test_timed_faults_expire_and_repair(api: Api) -> None:
    await _funded_user(api)
    board = api.service.state.faults
    now = api.service.state.now()
    await board.activate(FaultName.DRIFT, now, duration=60, params=FaultParams(drift_cents=5))
    await board.expire(now + 59)
    assert board.states[FaultName.DRIFT].active
    assert len(query(_db(api), WALLET_MISMATCH_SQL)) == 1
    await board.expire(now + 60)
    assert not board.states[FaultName.DRIFT].active
    assert query(_db(api), WALLET_MISMATCH_SQL) == []


async def test_chaos_switches_faults_on_and_never_off_a_manual_one(api: Api) -> None:
    board = api.service.state.faults
    now = api.service.state.now()
    await board.activate(FaultName.LATENCY, now, FaultOrigin.MANUAL, params=FaultParams(latency_ms=0))
    naps: list[float] = []

    async def nap(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) > 6:
            raise asyncio.CancelledError
        await asyncio.sleep(0)

    rng = random.Random(11)
    with contextlib.suppress(asyncio.CancelledError):
        await chaos_loop(board, lambda: now, mean_interval=300, rng=rng, sleep=nap)
    chaos_on = [st for st in board.states.values() if st.active and st.origin is FaultOrigin.CHAOS]
    assert chaos_on, "chaos switched nothing on"
    assert all(30 <= (st.until or 0) - now <= 90 for st in chaos_on)
    assert board.states[FaultName.LATENCY].origin is FaultOrigin.MANUAL
    # Expiry of chaos faults leaves the manual one alone.
    await board.expire(now + 91)
    assert [st.name for st in board.states.values() if st.active] == [FaultName.LATENCY]
