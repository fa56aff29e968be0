"""The runner turns whatever a check does into evidence, and never lets a target crash the caller."""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import JsonValue

from flightdeck.checks.base import Check, CheckContext, Observation, register
from flightdeck.config import CheckSpec, load_config_text
from flightdeck.engine.runner import prepare_checks, run_check
from flightdeck.errors import CheckError, StoreError
from flightdeck.evidence import Verdict


class BehaviourSpec(CheckSpec):
    kind: Literal["test-behaviour"]
    behaviour: str
    value: float = 1.0
    token: str = ""


@register
class BehaviourCheck(Check[BehaviourSpec]):
    """A check whose behaviour the test chooses: the runner's contract is what is under test."""

    spec_type = BehaviourSpec

    async def observe(self, memo: JsonValue) -> Observation:
        b = self.spec.behaviour
        if b == "hang":
            await asyncio.sleep(3600)
        if b == "raise":
            raise ZeroDivisionError("division by zero")
        if b == "check-error":
            raise CheckError("connection refused")
        if b == "domain-error":
            raise StoreError("statements/gw.csv:4: column 'amount': not a number")
        obs = Observation(summary="fine", memo={"seen": (memo or {}).get("seen", 0) + 1})  # type: ignore[union-attr,operator]
        obs.measure("value", self.spec.value, "ms")
        obs.detail["echo"] = f"token is {self.spec.token}"
        if b == "expectation":
            obs.failures.append("status 503 not in [200]")
        return obs


def prepared(yaml_checks: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    config = load_config_text("services:\n  svc:\n    checks:\n" + yaml_checks, "t.yaml", env=env or {})
    return prepare_checks(config, CheckContext(config=config))


async def test_timeout_is_an_error_with_the_reason() -> None:
    (p,) = prepared("      - {name: h, kind: test-behaviour, behaviour: hang, timeout: 200ms}\n")
    result = await run_check(p)
    assert result.evidence.verdict is Verdict.ERROR
    assert result.evidence.summary == "timed out after 200ms"


async def test_unexpected_exception_becomes_error_not_crash() -> None:
    (p,) = prepared("      - {name: r, kind: test-behaviour, behaviour: raise}\n")
    result = await run_check(p)
    assert result.evidence.verdict is Verdict.ERROR
    assert "ZeroDivisionError" in result.evidence.summary


async def test_check_error_reason_is_the_summary() -> None:
    (p,) = prepared("      - {name: c, kind: test-behaviour, behaviour: check-error}\n")
    result = await run_check(p)
    assert (result.evidence.verdict, result.evidence.summary) == (Verdict.ERROR, "connection refused")


async def test_a_domain_error_is_an_error_with_its_own_words() -> None:
    # A job's explained failure (any FlightdeckError) reads as its message, not as an internal error.
    (p,) = prepared("      - {name: d, kind: test-behaviour, behaviour: domain-error}\n")
    result = await run_check(p)
    assert result.evidence.verdict is Verdict.ERROR
    assert result.evidence.summary == "statements/gw.csv:4: column 'amount': not a number"


async def test_conditions_decide_pass_warn_fail_unknown() -> None:
    checks = prepared(
        "      - {name: p, kind: test-behaviour, behaviour: ok, value: 5, conditions: ['value < 10']}\n"
        "      - {name: w, kind: test-behaviour, behaviour: ok, value: 5, conditions: ['value < 10', {warn: 'value < 2'}]}\n"
        "      - {name: f, kind: test-behaviour, behaviour: ok, value: 50, conditions: ['value < 10', {warn: 'value < 2'}]}\n"
        "      - {name: u, kind: test-behaviour, behaviour: ok, conditions: ['missing_ms < 10']}\n"
        "      - {name: e, kind: test-behaviour, behaviour: expectation, conditions: ['missing_ms < 10']}\n"
    )
    results = {p.name: (await run_check(p)).evidence for p in checks}
    assert {k: v.verdict for k, v in results.items()} == {
        "p": Verdict.PASS,
        "w": Verdict.WARN,
        "f": Verdict.FAIL,
        "u": Verdict.UNKNOWN,
        "e": Verdict.FAIL,
    }
    assert results["f"].summary == "condition failed: value < 10 (observed 50)"
    assert results["u"].summary == "condition unknown: missing_ms < 10: no measurement"
    assert results["e"].summary == "status 503 not in [200]"
    assert results["p"].summary == "fine"


async def test_memo_is_carried_and_secrets_scrubbed() -> None:
    (p,) = prepared(
        "      - {name: m, kind: test-behaviour, behaviour: ok, token: '${API_TOKEN}'}\n",
        env={"API_TOKEN": "s3cr3t-token-value"},
    )
    first = await run_check(p)
    second = await run_check(p, memo=first.memo)
    assert second.memo == {"seen": 2}
    assert "s3cr3t-token-value" not in second.evidence.model_dump_json()
    assert second.evidence.detail["echo"] == "token is **********"


async def test_tcp_against_a_real_listener_and_a_closed_port() -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    closed = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    closed_port = closed.sockets[0].getsockname()[1]
    closed.close()
    await closed.wait_closed()
    async with server:
        up, down = prepared(
            f"      - {{name: up, kind: tcp, host: 127.0.0.1, port: {port}, conditions: ['connect_ms < 5000']}}\n"
            f"      - {{name: down, kind: tcp, host: 127.0.0.1, port: {closed_port}}}\n"
        )
        ok = (await run_check(up)).evidence
        bad = (await run_check(down)).evidence
    assert ok.verdict is Verdict.PASS
    assert ok.measurement("connect_ms") is not None
    assert bad.verdict is Verdict.ERROR
    assert bad.summary == f"127.0.0.1:{closed_port}: connection refused"
