"""The gateway drill end to end (demo service, fake gateway and fault proxy on 127.0.0.1): correct
retry logic survives lost responses with no double charge and no lost payment; the broken switch is
caught and the double-charged payments are named. Plus the reconciliation rules on their own, a
configured drill against a separately started service, and the command line."""

from __future__ import annotations

import json
import re
import secrets
import socket
from pathlib import Path

import aiohttp
from typer.testing import CliRunner

from flightdeck.cli.main import app
from flightdeck.config.payments import GatewayDrillConfig
from flightdeck.demo.gateway import start_gateway
from flightdeck.demo.service import ServiceSettings, start_service
from flightdeck.payments.drill import (
    FaultKind,
    LostKind,
    ServicePayment,
    StatementCharge,
    reconcile,
    run_demo_gateway_drill,
    run_gateway_drill,
)
from flightdeck.payments.drill.service_api import sign_up_demo_user
from flightdeck.payments.records import PaymentStatus
from flightdeck.secret import Secret


async def test_correct_retries_survive_lost_responses_without_double_charges(tmp_path: Path) -> None:
    result = await run_demo_gateway_drill(
        tmp_path,
        retry="correct",
        payments=30,
        seed=21,
        lost_response_rate=0.35,
        error_rate=0.1,
        reset_rate=0.1,
    )
    assert result.faults.injected[FaultKind.LOST_RESPONSE] >= 5  # many charges whose answer was lost
    assert result.faults.injected[FaultKind.ERROR] > 0
    assert result.faults.injected[FaultKind.RESET] > 0
    assert result.payments_created == 30
    assert result.double_charges == 0
    assert result.lost_payments == 0
    assert result.reconciliation.amount_mismatches == []
    assert result.pending == 0
    assert result.succeeded + result.failed == 30
    assert result.reconciliation.charges == result.succeeded  # one charge per credited payment
    assert result.wallet_difference_minor == 0
    assert result.passed
    obs = result.observation()
    assert obs.failures == []
    values = {m.name: m.value for m in obs.measurements}
    assert values["double_charges"] == 0
    assert values["lost_payments"] == 0
    assert values["faults_lost_response"] == result.faults.injected[FaultKind.LOST_RESPONSE]
    json.dumps(obs.detail)  # JSON-safe


async def test_broken_retries_are_caught_as_double_charges_named_by_reference(tmp_path: Path) -> None:
    result = await run_demo_gateway_drill(
        tmp_path, retry="broken", payments=30, seed=21, lost_response_rate=0.35
    )
    assert result.faults.injected[FaultKind.LOST_RESPONSE] > 0
    assert result.double_charges > 0
    assert not result.passed
    # The service credited every payment once: the customer, not the wallet, paid twice.
    assert result.wallet_difference_minor == 0
    assert result.reconciliation.charges > result.succeeded
    obs = result.observation()
    for double in result.reconciliation.double_charges:
        assert re.fullmatch(r"payment:\d+", double.reference)
        assert len(double.charge_ids) >= 2
        assert double.overcharged_minor > 0
        assert any(line.startswith(f"double charge {double.reference}:") for line in obs.failures)
    assert {m.name: m.value for m in obs.measurements}["double_charges"] == result.double_charges
    assert result.labels == {"retry": "broken"}


def _pay(ref: str, status: PaymentStatus, amount: int = 500) -> ServicePayment:
    return ServicePayment(ref, ref.split(":")[1], f"key-{ref}", amount, "EUR", status)


def _charge(cid: str, ref: str, amount: int = 500, ok: bool = True) -> StatementCharge:
    return StatementCharge(cid, ref, amount, "EUR", ok)


def test_reconciliation_rules() -> None:
    payments = [
        _pay("p:1", PaymentStatus.SUCCEEDED),  # fine
        _pay("p:2", PaymentStatus.SUCCEEDED),  # charged twice
        _pay("p:3", PaymentStatus.FAILED),  # charged, but failed: lost
        _pay("p:4", PaymentStatus.SUCCEEDED),  # credited, never charged: lost
        _pay("p:5", PaymentStatus.SUCCEEDED, 700),  # charged another amount
        _pay("p:6", PaymentStatus.FAILED),  # declined at the gateway: fine
        _pay("p:7", PaymentStatus.PENDING),  # never resolved
    ]
    statement = [
        _charge("c1", "p:1"),
        _charge("c2", "p:2"),
        _charge("c3", "p:2"),
        _charge("c4", "p:3"),
        _charge("c5", "p:5", 600),
        _charge("c6", "p:6", ok=False),
        _charge("c7", "other:1"),
    ]
    rec = reconcile(payments, statement)
    assert [(d.reference, d.charge_ids, d.overcharged_minor) for d in rec.double_charges] == [
        ("p:2", ("c2", "c3"), 500)
    ]
    assert [(lost.reference, lost.kind) for lost in rec.lost_payments] == [
        ("p:3", LostKind.CHARGED_NOT_CREDITED),
        ("p:4", LostKind.CREDITED_NOT_CHARGED),
    ]
    assert [(m.reference, m.service_minor, m.gateway_minor) for m in rec.amount_mismatches] == [
        ("p:5", 700, 600)
    ]
    assert rec.still_pending == ["p:7"]
    assert (rec.charges, rec.declined_charges, rec.foreign_charges) == (5, 1, 1)
    assert not rec.clean


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_configured_drill_against_a_service_started_on_its_own(tmp_path: Path) -> None:
    # The service is configured, as in production, with a fixed gateway URL: where the proxy will be.
    proxy_port = _free_port()
    gateway = await start_gateway()
    service = await start_service(
        ServiceSettings(
            db_path=tmp_path / "payments.db",
            settle_delay=0.0,
            settle_interval=0.02,
            gateway_url=f"http://127.0.0.1:{proxy_port}",
            gateway_backoff=0.005,
            gateway_backoff_max=0.02,
            gateway_resolve_after=0.05,
        )
    )
    try:
        async with aiohttp.ClientSession() as session:
            token = await sign_up_demo_user(
                session, service.http_url, f"d{secrets.token_hex(3)}@demo.test", "drill-password-1"
            )
        cfg = GatewayDrillConfig(
            service="payments",
            service_url=service.http_url,
            gateway_url=gateway.url,
            proxy_port=proxy_port,
            auth_token=Secret(token),
            payments=12,
            concurrency=4,
            lost_response_rate=0.3,
            error_rate=0.1,
            reset_rate=0.1,
            settle_timeout=20,
            seed=5,
        )
        result = await run_gateway_drill(cfg, "nightly")
    finally:
        await service.stop()
        await gateway.stop()
    assert result.name == "nightly"
    assert result.payments_created == 12
    assert result.faults.requests > 0  # the service's charges really went through the proxy
    assert (result.double_charges, result.lost_payments, result.pending) == (0, 0, 0)
    assert result.passed


def test_cli_demo_exits_1_and_names_double_charges_with_broken_retry() -> None:
    runner = CliRunner()
    done = runner.invoke(
        app,
        [
            "gateway-drill",
            "demo",
            "--broken-retry",
            "--payments",
            "20",
            "--lost-response-rate",
            "0.4",
            "--json",
        ],
    )
    assert done.exit_code == 1, done.output
    report = json.loads(done.stdout)
    assert report["verdict"] == "fail"
    assert report["measurements"]["double_charges"] > 0
    assert report["detail"]["double_charges"][0]["reference"].startswith("payment:")

    done = runner.invoke(app, ["gateway-drill", "demo", "--payments", "10", "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["verdict"] == "pass"


def test_cli_run_refuses_an_unknown_drill(tmp_path: Path) -> None:
    config = tmp_path / "flightdeck.yaml"
    config.write_text("services: {}\n", encoding="utf-8")
    done = CliRunner().invoke(app, ["gateway-drill", "run", "nightly", "-c", str(config)])
    assert done.exit_code == 2
    assert "no gateway drill named 'nightly'" in " ".join(done.stderr.split())
