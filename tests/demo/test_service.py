"""The demo payments service over real HTTP(S) on loopback: probes, users, money, invariants."""

from __future__ import annotations

import asyncio
import os
import ssl
import uuid
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from flightdeck.clock import FakeClock
from flightdeck.demo.certs import DemoCertificates
from flightdeck.demo.service import start_service
from flightdeck.demo.traffic import Action, TrafficGenerator, TrafficSettings
from flightdeck.evidence import Verdict
from tests.demo.conftest import Api, settings_for
from tests.demo.helpers import demo_config, eventually, query, run_demo_check, scalar


def _db(api: Api) -> Path:
    return api.service.state.settings.db_path


async def _no_pending(api: Api) -> bool:
    return scalar(_db(api), "SELECT COUNT(*) FROM payments WHERE status = 'pending'") == 0


# -- probes and transport ---------------------------------------------------------------------------


async def test_health_and_ready_report_components_in_health_json(api: Api) -> None:
    status, body, resp = await api.call("GET", "/health")
    assert status == 200
    assert resp.headers["Content-Type"].startswith("application/health+json")
    assert body["status"] == "pass"

    await eventually(lambda: api.call("GET", "/ready"), "ready answers")
    status, body, resp = await api.call("GET", "/ready")
    assert status == 200, body
    assert body["status"] == "pass"
    assert set(body["checks"]) == {
        "database:responseTime",
        "ledger:unbalancedTransactions",
        "settlement:heartbeatAge",
    }
    for key, (component,) in body["checks"].items():
        assert component["status"] == "pass", key
    assert body["checks"]["database:responseTime"][0]["observedUnit"] == "ms"


async def test_ready_is_503_when_the_database_file_is_gone(
    api: Api, demo_certs: DemoCertificates, tmp_path: Path
) -> None:
    config = demo_config(api.service, demo_certs.ca_file, tmp_path)
    assert (await run_demo_check(config, "ready")).verdict.is_ok
    db = _db(api)
    moved = db.with_name("payments-moved.db")
    os.rename(db, moved)
    try:
        status, body, _ = await api.call("GET", "/ready")
        assert status == 503
        assert body["status"] == "fail"
        database = body["checks"]["database:responseTime"][0]
        assert database["status"] == "fail"
        assert "payments.db" in database["output"]
        # Liveness is not readiness: the process itself is fine.
        status, _, _ = await api.call("GET", "/health")
        assert status == 200
        # The demo configuration's ready check says which component is down.
        ready = await run_demo_check(config, "ready")
        assert ready.verdict is Verdict.FAIL
        failures = ready.detail["failures"]
        assert isinstance(failures, list)
        assert any("components down: database:responseTime" in str(f) for f in failures), failures
        assert (await run_demo_check(config, "health")).verdict.is_ok
    finally:
        os.rename(moved, db)
    status, body, _ = await api.call("GET", "/ready")
    assert status == 200, body


async def test_plain_http_redirects_to_https_except_probe_paths(api: Api) -> None:
    http = api.service.http_url
    for path in ("/", "/api/wallet", "/api/payments/1?x=1"):
        status, _, resp = await api.call("GET", path, base=http)
        assert status == 301, path
        assert resp.headers["Location"] == f"{api.service.https_url}{path}"
    for path in ("/health", "/ready", "/metrics"):
        status, _, resp = await api.call("GET", path, base=http)
        assert status == 200, path
        assert "Strict-Transport-Security" not in resp.headers


async def test_security_headers_on_https(api: Api) -> None:
    status, _, resp = await api.call("GET", "/")
    assert status == 200
    h = resp.headers
    assert h["Strict-Transport-Security"].startswith("max-age=63072000")
    assert "default-src 'none'" in h["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in h["Content-Security-Policy"]
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["X-Frame-Options"] == "DENY"
    assert h["Referrer-Policy"] == "no-referrer"
    assert h["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "aiohttp" not in h["Server"]


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
async def test_tls_is_verifiable_with_the_demo_ca_only(api: Api, demo_certs: DemoCertificates) -> None:
    async with aiohttp.ClientSession() as plain:  # the system trust store does not know the demo CA
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await plain.get(f"{api.service.https_url}/health")
    ctx = ssl.create_default_context(cafile=str(demo_certs.ca_file))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    async with aiohttp.ClientSession() as old:
        with pytest.raises(aiohttp.ClientError):
            await old.get(f"{api.service.https_url}/health", ssl=ctx)


# -- users and login throttle -------------------------------------------------------------------------


async def test_signup_login_and_auth_errors(api: Api) -> None:
    body = {"email": "ada@demo.test", "password": "correct horse battery"}
    status, data, _ = await api.call("POST", "/api/signup", body)
    assert status == 201
    assert data["wallet_id"] > 0
    status, data, _ = await api.call("POST", "/api/signup", body)
    assert (status, data["error"]["code"]) == (409, "email_taken")
    status, data, _ = await api.call("POST", "/api/signup", {"email": "x@demo.test", "password": "short"})
    assert (status, data["error"]["code"]) == (400, "invalid_request")

    status, data, resp = await api.call("POST", "/api/login", {**body, "password": "wrong password"})
    assert status == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    status, data, resp = await api.call("POST", "/api/login", body)
    assert status == 200
    cookie = resp.headers["Set-Cookie"]
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie

    status, wallet, _ = await api.call("GET", "/api/wallet", token=data["token"])
    assert (status, wallet["balance_cents"]) == (200, 0)
    status, _, _ = await api.call("GET", "/api/wallet", token="not-a-token")
    assert status == 401
    stored = scalar(_db(api), "SELECT password_hash FROM users WHERE email = 'ada@demo.test'")
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored


async def test_login_throttle_answers_429_with_retry_after(
    tmp_path: Path, demo_certs: DemoCertificates
) -> None:
    clock = FakeClock()
    settings = settings_for(tmp_path, demo_certs, login_limit=5, login_window=60.0)
    service = await start_service(settings, clock=clock)
    ctx = ssl.create_default_context(cafile=str(demo_certs.ca_file))
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as session:
            api = Api(service, session, "")
            await api.call(
                "POST", "/api/signup", {"email": "bob@demo.test", "password": "correct horse battery"}
            )
            guess = {"email": "bob@demo.test", "password": "guess"}
            statuses = [(await api.call("POST", "/api/login", guess))[0] for _ in range(5)]
            assert statuses == [401] * 5
            clock.advance(20)
            status, data, resp = await api.call("POST", "/api/login", guess)
            assert status == 429
            assert data["error"]["code"] == "too_many_requests"
            assert resp.headers["Retry-After"] == "40"  # the oldest attempt leaves the window in 40 s
            # Even the right password waits: the throttle is per client and account, before verification.
            right = {"email": "bob@demo.test", "password": "correct horse battery"}
            assert (await api.call("POST", "/api/login", right))[0] == 429
            # Another account from the same client is not affected.
            other = {"email": "eve@demo.test", "password": "whatever"}
            assert (await api.call("POST", "/api/login", other))[0] == 401
            clock.advance(40)
            assert (await api.call("POST", "/api/login", right))[0] == 200
    finally:
        await service.stop()


# -- money --------------------------------------------------------------------------------------------


async def test_idempotency_key_prevents_a_double_charge(api: Api) -> None:
    token = await api.user()
    key = str(uuid.uuid4())
    body = {"amount_cents": 2500}
    results = await asyncio.gather(
        *(api.call("POST", "/api/topups", body, token=token, key=key) for _ in range(8))
    )
    statuses = sorted(r[0] for r in results)
    assert statuses == [200] * 7 + [201]
    assert len({r[1]["id"] for r in results}) == 1
    assert all(r[2].headers.get("Idempotent-Replayed") == "true" for r in results if r[0] == 200)
    await eventually(lambda: _no_pending(api), "settlement")
    status, wallet, _ = await api.call("GET", "/api/wallet", token=token)
    assert wallet["balance_cents"] == 2500
    assert scalar(_db(api), "SELECT COUNT(*) FROM payments") == 1
    assert scalar(_db(api), "SELECT COUNT(*) FROM ledger_transactions WHERE kind = 'topup'") == 1

    # The same key for a different request is refused, not silently replayed.
    status, data, _ = await api.call("POST", "/api/topups", {"amount_cents": 9900}, token=token, key=key)
    assert (status, data["error"]["code"]) == (409, "idempotency_key_reused")
    status, data, _ = await api.call("POST", "/api/topups", body, token=token)
    assert (status, data["error"]["code"]) == (400, "idempotency_key_required")


async def test_payments_settle_or_fail_and_bookings_spend_the_wallet(api: Api) -> None:
    token = await api.user()
    status, p, _ = await api.call("POST", "/api/topups", {"amount_cents": 5000}, token=token, key="t1")
    assert (status, p["status"]) == (201, "pending")
    declined = {"amount_cents": 7000, "card_token": "tok_declined"}
    status, d, _ = await api.call("POST", "/api/topups", declined, token=token, key="t2")
    assert status == 201
    await eventually(lambda: _no_pending(api), "settlement")
    assert (await api.call("GET", f"/api/payments/{p['id']}", token=token))[1]["status"] == "settled"
    failed = (await api.call("GET", f"/api/payments/{d['id']}", token=token))[1]
    assert (failed["status"], failed["failure_reason"]) == ("failed", "card_declined")

    status, _, _ = await api.call(
        "POST", "/api/bookings", {"item": "hotel", "amount_cents": 3000}, token=token
    )
    assert status == 201
    status, data, _ = await api.call(
        "POST", "/api/bookings", {"item": "villa", "amount_cents": 3000}, token=token
    )
    assert (status, data["error"]["code"]) == (402, "insufficient_funds")
    status, data, _ = await api.call(
        "POST", "/api/payments", {"amount_cents": 2001, "merchant": "grocer"}, token=token, key="m1"
    )
    assert status == 402
    status, m, _ = await api.call(
        "POST", "/api/payments", {"amount_cents": 2000, "merchant": "grocer"}, token=token, key="m2"
    )
    assert status == 201
    await eventually(lambda: _no_pending(api), "settlement")
    assert (await api.call("GET", "/api/wallet", token=token))[1]["balance_cents"] == 0
    # Another user cannot read this user's payment.
    other = await api.user()
    assert (await api.call("GET", f"/api/payments/{m['id']}", token=other))[0] == 404


@pytest.mark.slow
async def test_ledger_invariants_hold_under_traffic(api: Api, demo_certs: DemoCertificates) -> None:
    settings = TrafficSettings(
        base_url=api.service.url, ca_file=demo_certs.ca_file, rate=200, concurrency=8, seed=3
    )
    async with TrafficGenerator(settings) as gen:
        stats = await gen.run(max_actions=300)
    # The traffic really moved money: top-ups settled, bookings and payments spent it.
    done = {
        a: sum(n for (act, out), n in stats.outcomes.items() if act is a and out in ("200", "201"))
        for a in Action
    }
    assert done[Action.SIGNUP] >= 3
    assert done[Action.TOPUP] > 10
    assert done[Action.BOOKING] > 10
    assert done[Action.PAYMENT] > 5
    assert not [o for o in stats.by_outcome() if o.startswith("5") or o in ("unreachable", "timeout")]
    await eventually(lambda: _no_pending(api), "settlement")

    db = _db(api)
    unbalanced = query(
        db,
        "SELECT transaction_id, SUM(amount_cents) FROM ledger_entries GROUP BY transaction_id HAVING SUM(amount_cents) <> 0",
    )
    assert unbalanced == []
    assert (
        scalar(
            db,
            "SELECT COUNT(*) FROM ledger_transactions WHERE id NOT IN (SELECT transaction_id FROM ledger_entries)",
        )
        == 0
    )
    drift = query(
        db,
        "SELECT w.id FROM wallets w WHERE w.balance_cents <> "
        "(SELECT COALESCE(SUM(amount_cents), 0) FROM ledger_entries e WHERE e.account_id = w.account_id)",
    )
    assert drift == []
    assert scalar(db, "SELECT MIN(balance_cents) FROM wallets") >= 0
    settled = scalar(db, "SELECT SUM(amount_cents) FROM payments WHERE kind = 'topup' AND status = 'settled'")
    card = scalar(
        db,
        "SELECT -SUM(e.amount_cents) FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id WHERE a.code = 'external:card-network'",
    )
    assert settled == card > 0
    booked = scalar(db, "SELECT SUM(amount_cents) FROM bookings")
    revenue = scalar(
        db,
        "SELECT SUM(e.amount_cents) FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id WHERE a.code = 'revenue:bookings'",
    )
    assert booked == revenue > 0
    # The service's own view agrees.
    status, report = await api.admin("GET", "/admin/ledger")
    assert status == 200
    assert report["wallet_mismatches"] == []
    assert report["unbalanced_transactions"] == 0


# -- metrics ------------------------------------------------------------------------------------------


async def test_metrics_expose_traffic_database_business_and_process_series(api: Api) -> None:
    token = await api.user()
    await api.call("POST", "/api/topups", {"amount_cents": 1000}, token=token, key="k")
    await eventually(lambda: _no_pending(api), "settlement")
    await api.call("POST", "/api/bookings", {"item": "bus", "amount_cents": 100}, token=token)
    await api.call("GET", "/api/payments/999999", token=token)
    status, text, resp = await api.call("GET", "/metrics")
    assert status == 200
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    assert value("http_requests_total", method="POST", route="/api/signup", status="201") == 1
    # Routes are templates, so ids do not explode the label set.
    assert value("http_requests_total", method="GET", route="/api/payments/{id}", status="404") == 1
    assert value("http_request_duration_seconds_count", method="POST", route="/api/bookings") == 1
    assert value("payments_total", kind="topup", status="settled") == 1
    assert value("bookings_total") == 1
    assert value("signups_total") == 1
    assert value("logins_total", outcome="accepted") == 1

    # The settlement worker borrows a connection now and then: the gauge must fall back to 0 when idle.
    async def pool_idle() -> bool:
        _, again, _ = await api.call("GET", "/metrics")
        gauges = [
            s.value
            for fam in text_string_to_metric_families(again)
            for s in fam.samples
            if s.name == "db_pool_in_use_connections"
        ]
        return gauges == [0]

    await eventually(pool_idle, "no pooled connection in use once idle")
    assert value("db_pool_size_connections") == 4
    assert value("db_query_duration_seconds_count", operation="booking.insert") == 1
    assert value("process_resident_memory_bytes") > 0
    assert ("process_cpu_seconds_total", ()) in samples
    assert value("demo_fault_active", fault="latency") == 0


# -- admin ----------------------------------------------------------------------------------------------


async def test_admin_endpoints_need_the_admin_token(
    api: Api, tmp_path: Path, demo_certs: DemoCertificates
) -> None:
    assert (await api.call("GET", "/admin/faults"))[0] == 401
    assert (await api.call("GET", "/admin/faults", token="wrong"))[0] == 401
    user = await api.user()
    assert (await api.call("POST", "/admin/faults/errors", {}, token=user))[0] == 401
    status, data = await api.admin("GET", "/admin/faults")
    assert status == 200
    assert [f["name"] for f in data["faults"]] == ["latency", "errors", "drift", "stuck", "database"]
    status, data = await api.admin("POST", "/admin/faults/meteor", {})
    assert status == 404
    assert "latency" in data["error"]["message"]

    no_admin = await start_service(settings_for(tmp_path / "b", demo_certs, admin_token=None))
    try:
        status, _, _ = await api.call("GET", "/admin/faults", token=api.admin_token, base=no_admin.url)
        assert status == 404
    finally:
        await no_admin.stop()
