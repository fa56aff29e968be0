"""Running one check: timeout, error capture, conditions, verdict, evidence.

A check that hangs, refuses, resets or answers garbage yields an ``error`` or ``fail`` record with
the reason; nothing a target does can crash the caller. Only cancellation propagates.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import JsonValue

from flightdeck.checks.base import Check, CheckContext, Observation, check_class
from flightdeck.config.check_spec import CheckSpec, config_digest
from flightdeck.config.conditions import ConditionOutcome
from flightdeck.config.models import CheckDefaults, Config
from flightdeck.config.types import format_duration
from flightdeck.errors import CheckError, FlightdeckError
from flightdeck.evidence import NewEvidence, Trigger, Verdict, scrub, worst

__all__ = ["PreparedCheck", "RunResult", "describe_run", "prepare_checks", "run_check", "verdict_of"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedCheck:
    """A configured check with its effective schedule settings resolved against the defaults."""

    check: Check[Any]
    subject: str
    service: str
    name: str
    kind: str
    digest: str
    interval: float
    timeout: float
    jitter: float
    secrets: tuple[str, ...]

    @property
    def spec(self) -> CheckSpec:
        spec: CheckSpec = self.check.spec
        return spec


@dataclass(frozen=True)
class RunResult:
    evidence: NewEvidence
    memo: JsonValue


def prepare(
    service: str,
    spec: CheckSpec,
    defaults: CheckDefaults,
    context: CheckContext,
    config_secrets: frozenset[str],
) -> PreparedCheck:
    cls = check_class(spec.kind)
    return PreparedCheck(
        check=cls(spec, service, context),
        subject=f"{service}/{spec.name}",
        service=service,
        name=spec.name,
        kind=spec.kind,
        digest=config_digest(spec),
        interval=spec.interval if spec.interval is not None else defaults.interval,
        timeout=spec.timeout if spec.timeout is not None else defaults.timeout,
        jitter=spec.jitter if spec.jitter is not None else defaults.jitter,
        secrets=tuple(sorted(set(spec.secret_values()) | config_secrets)),
    )


def prepare_checks(
    config: Config, context: CheckContext, include_disabled: bool = False
) -> list[PreparedCheck]:
    secrets = config.secret_values()
    return [
        prepare(service, spec, config.defaults, context, secrets)
        for service, spec in config.iter_checks()
        if spec.enabled or include_disabled
    ]


def verdict_of(obs: Observation, spec: CheckSpec) -> tuple[Verdict, str, list[JsonValue]]:
    values = {m.name: m.value for m in obs.measurements}
    results = [c.evaluate(values) for c in spec.conditions]
    verdicts: list[Verdict] = []
    reasons: list[tuple[Verdict, str]] = []
    for failure in obs.failures:
        verdicts.append(Verdict.FAIL)
        reasons.append((Verdict.FAIL, failure))
    for warning in obs.warnings:
        verdicts.append(Verdict.WARN)
        reasons.append((Verdict.WARN, warning))
    for r in results:
        if r.outcome is ConditionOutcome.VIOLATED:
            verdicts.append(r.level)
            reasons.append((r.level, f"condition failed: {r.describe()}"))
        elif r.outcome is ConditionOutcome.UNKNOWN:
            verdicts.append(Verdict.UNKNOWN)
            reasons.append((Verdict.UNKNOWN, f"condition unknown: {r.describe()}"))
    verdict = worst(verdicts)
    if reasons:
        worst_reasons = [text for v, text in reasons if v is verdict]
        summary = "; ".join(worst_reasons[:3]) + (
            f" (+{len(worst_reasons) - 3} more)" if len(worst_reasons) > 3 else ""
        )
    else:
        summary = obs.summary or "ok"
    return verdict, summary, [r.model_dump(mode="json") for r in results]


async def run_check(
    prepared: PreparedCheck, trigger: Trigger = Trigger.SCHEDULE, memo: JsonValue = None
) -> RunResult:
    """Run one check once and describe the outcome as evidence. Never raises except on cancellation."""
    clock = prepared.check.context.clock
    started = clock.now()
    t0 = clock.monotonic()
    obs: Observation | None = None
    error: str | None = None
    try:
        async with asyncio.timeout(prepared.timeout):
            obs = await prepared.check.observe(memo)
    except TimeoutError:
        error = f"timed out after {format_duration(prepared.timeout)}"
    except CheckError as exc:
        error = exc.reason
    except FlightdeckError as exc:  # a job's own explained failure (a malformed statement, ...)
        error = str(exc)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a bug in a check must not take the scheduler down
        log.exception("check %s raised", prepared.subject)
        error = f"internal error in {prepared.kind} check: {type(exc).__name__}: {exc}"
    duration_ms = (clock.monotonic() - t0) * 1000.0
    finished = clock.now()
    return describe_run(prepared, obs, error, started, finished, duration_ms, trigger, memo)


def describe_run(
    prepared: PreparedCheck,
    obs: Observation | None,
    error: str | None,
    started: datetime,
    finished: datetime,
    duration_ms: float,
    trigger: Trigger,
    memo: JsonValue = None,
) -> RunResult:
    """The evidence of one run: the verdict from the observation and the check's conditions, secrets
    scrubbed. ``obs`` is ``None`` when no measurement could be taken (``error`` says why)."""
    if obs is None:
        verdict, summary = Verdict.ERROR, error or "no observation"
        detail: dict[str, JsonValue] = {"error": summary}
        measurements: tuple[Any, ...] = ()
        new_memo = memo
    else:
        verdict, summary, conditions = verdict_of(obs, prepared.spec)
        detail = dict(obs.detail)
        if conditions:
            detail["conditions"] = conditions
        if obs.failures:
            detail["failures"] = list(obs.failures)
        if obs.warnings:
            detail["warnings"] = list(obs.warnings)
        measurements = tuple(obs.measurements)
        new_memo = obs.memo

    scrubbed_detail = scrub(detail, prepared.secrets)
    assert isinstance(scrubbed_detail, dict)
    summary_s = scrub(summary, prepared.secrets)
    evidence = NewEvidence(
        subject=prepared.subject,
        service=prepared.service,
        check=prepared.name,
        kind=prepared.kind,
        trigger=trigger,
        config_digest=prepared.digest,
        started_at=started,
        finished_at=finished,
        verdict=verdict,
        duration_ms=round(duration_ms, 3),
        summary=str(summary_s)[:500],
        measurements=measurements,
        artifacts=tuple(obs.artifacts) if obs is not None else (),
        detail=scrubbed_detail,
    )
    return RunResult(evidence=evidence, memo=new_memo)
