"""Recording a payment job the CLI ran, as evidence under the job's check (see
:mod:`flightdeck.payments.jobs`), so on-demand and scheduled runs share one history."""

from __future__ import annotations

import asyncio
from datetime import datetime

from flightdeck.checks.base import Observation
from flightdeck.config import Config
from flightdeck.evidence import Evidence
from flightdeck.payments.jobs import prepare_job, record_observation
from flightdeck.store import Store

__all__ = ["record_cli_run"]


def record_cli_run(
    cfg: Config,
    store: Store,
    *,
    kind: str,
    name: str,
    service: str,
    observation: Observation,
    started: datetime,
    finished: datetime,
    field: str | None = None,
) -> Evidence:
    """Evidence of one run of job ``name`` of ``kind``; ``field`` is the check field naming the job
    (default: the kind's own name, as in ``{kind: wallets, wallets: main}``)."""
    job = prepare_job(cfg, store, kind=kind, field=field or kind, name=name, service=service)
    try:
        return record_observation(cfg, store, job, observation, started, finished)
    finally:
        asyncio.run(job.aclose())
