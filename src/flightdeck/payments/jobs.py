"""Running a payment-integrity job on demand (the CLI) so that it leaves the same evidence as its
scheduled runs.

A job (a reconciliation, a ledger verification, a wallet or settlement check) is configured under
``payments:`` and scheduled by a check that names it::

    services:
      payments:
        checks:
          - {name: daily-reconciliation, kind: reconciliation, reconciliation: gateway, cron: "0 6 * * *"}

On demand, :func:`prepare_job` finds that check and runs the job under its subject, so the history is
one history. A job no check names still runs and leaves evidence, under ``SERVICE/KIND-NAME``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from flightdeck.checks.base import CheckContext, Observation
from flightdeck.clock import SystemClock
from flightdeck.config.check_spec import CheckSpec, config_digest, spec_for_kind
from flightdeck.config.models import Config
from flightdeck.engine.oneshot import check_rows
from flightdeck.engine.runner import (
    PreparedCheck,
    RunResult,
    describe_run,
    prepare,
    prepare_checks,
    run_check,
)
from flightdeck.errors import NotFoundError
from flightdeck.evidence import Evidence, Trigger
from flightdeck.store import Store, insert_evidence, record_outcome, sync_checks

__all__ = ["Job", "find_job_check", "prepare_job", "record_job", "record_observation"]


@dataclass
class Job:
    prepared: PreparedCheck
    context: CheckContext
    configured: bool  # a check in the configuration names this job

    async def aclose(self) -> None:
        await self.context.aclose()


def find_job_check(config: Config, kind: str, field: str, name: str) -> tuple[str, CheckSpec] | None:
    """The first configured check of ``kind`` whose ``field`` names ``name``."""
    for service, spec in config.iter_checks():
        if spec.kind == kind and getattr(spec, field, None) == name:
            return service, spec
    return None


def prepare_job(
    config: Config,
    store: Store | None,
    *,
    kind: str,
    field: str,
    name: str,
    service: str,
    overrides: dict[str, Any] | None = None,
    check_name: str | None = None,
) -> Job:
    """A prepared check that runs the job, with ``overrides`` applied to its spec (e.g. the day to
    reconcile); its config digest stays the configured check's. A job no check names is recorded as
    ``SERVICE/CHECK_NAME`` (default ``SERVICE/KIND-NAME``)."""
    context = CheckContext(config=config, clock=store.clock if store else SystemClock(), store=store)
    found = find_job_check(config, kind, field, name)
    if found is not None:
        service, spec = found
        configured = True
    else:
        model = spec_for_kind(kind)
        if model is None:
            raise NotFoundError(f"no check kind {kind!r}")
        spec = model.model_validate({"name": check_name or f"{kind}-{name}", "kind": kind, field: name})
        configured = False
    digest = config_digest(spec)
    if overrides:
        spec = spec.model_copy(update=overrides)
    prepared = replace(
        prepare(service, spec, config.defaults, context, config.secret_values()), digest=digest
    )
    return Job(prepared=prepared, context=context, configured=configured)


def _insert(config: Config, store: Store, job: Job, result: RunResult) -> Evidence:
    with store.engine.begin() as conn:
        if job.configured:
            everything = prepare_checks(config, job.context, include_disabled=True)
            sync_checks(conn, check_rows(everything), store.clock.now())
        (eid,) = insert_evidence(conn, [result.evidence])
        if job.configured:
            record_outcome(conn, eid, result.evidence, memo=result.memo)
    return Evidence(id=eid, **result.evidence.model_dump())


async def record_job(
    config: Config, store: Store | None, job: Job, trigger: Trigger = Trigger.MANUAL
) -> Evidence | None:
    """Run the job once through the check runner (timeouts, verdict, scrubbing) and record its evidence
    (also in the check's state when a configured check names the job). ``None`` without a store."""
    result = await run_check(job.prepared, trigger=trigger)
    return None if store is None else _insert(config, store, job, result)


def record_observation(
    config: Config,
    store: Store,
    job: Job,
    observation: Observation,
    started: datetime,
    finished: datetime,
    trigger: Trigger = Trigger.MANUAL,
) -> Evidence:
    """Record a job run the caller made itself (the CLI calls the domain function to print its typed
    result): the same verdict, conditions and scrubbing as a scheduled run, under the same subject."""
    duration_ms = (finished - started).total_seconds() * 1000.0
    result = describe_run(job.prepared, observation, None, started, finished, duration_ms, trigger)
    return _insert(config, store, job, result)
