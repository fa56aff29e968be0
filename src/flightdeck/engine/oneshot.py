"""Running checks on demand (``flightdeck check run``, the API's "run now")."""

from __future__ import annotations

import asyncio
import fnmatch
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from flightdeck.checks.base import CheckContext
from flightdeck.clock import SystemClock
from flightdeck.config.models import Config
from flightdeck.engine.runner import PreparedCheck, RunResult, prepare_checks, run_check
from flightdeck.errors import NotFoundError
from flightdeck.evidence import Evidence, NewEvidence, Trigger
from flightdeck.store import CheckRow, Store, get_status, insert_evidence, record_outcome, sync_checks

__all__ = ["OneShotResult", "check_rows", "run_checks_now", "select_checks"]


@dataclass(frozen=True)
class OneShotResult:
    evidence: NewEvidence | Evidence  # Evidence (with id) when recorded


def select_checks(checks: Sequence[PreparedCheck], selector: str | None) -> list[PreparedCheck]:
    """``None`` → all; ``service`` → its checks; ``service/check``; or a glob over ``service/check``."""
    if not selector:
        return list(checks)
    if any(ch in selector for ch in "*?["):
        chosen = [c for c in checks if fnmatch.fnmatchcase(c.subject, selector)]
    elif "/" in selector:
        chosen = [c for c in checks if c.subject == selector]
    else:
        chosen = [c for c in checks if c.service == selector or c.name == selector]
    if not chosen:
        known = ", ".join(sorted(c.subject for c in checks)[:20]) or "none configured"
        raise NotFoundError(f"no check matches {selector!r} (checks: {known})")
    return chosen


def check_rows(checks: Sequence[PreparedCheck]) -> list[CheckRow]:
    return [CheckRow(c.subject, c.service, c.name, c.kind, c.digest, c.spec.enabled) for c in checks]


async def run_checks_now(
    config: Config,
    store: Store | None,
    selector: str | None = None,
    trigger: Trigger = Trigger.MANUAL,
    concurrency: int | None = None,
    on_done: Callable[[PreparedCheck, RunResult], None] | None = None,
) -> list[OneShotResult]:
    """Run the selected checks once, concurrently; record evidence when a store is given.

    Disabled checks run too when named explicitly. Results come back in configuration order.
    """
    context = CheckContext(config=config, clock=store.clock if store else SystemClock(), store=store)
    try:
        everything = prepare_checks(config, context, include_disabled=True)
        chosen = select_checks(
            everything if selector else [c for c in everything if c.spec.enabled], selector
        )
        memos = {}
        if store is not None:
            with store.engine.begin() as conn:
                sync_checks(conn, check_rows(everything), store.clock.now())
                for c in chosen:
                    status = get_status(conn, c.subject)
                    memos[c.subject] = status.memo if status else None
        limit = asyncio.Semaphore(concurrency or config.scheduler.max_concurrency)

        async def one(c: PreparedCheck) -> RunResult:
            async with limit:
                result = await run_check(c, trigger=trigger, memo=memos.get(c.subject))
            if on_done is not None:
                on_done(c, result)
            return result

        results = await asyncio.gather(*(one(c) for c in chosen))
    finally:
        await context.aclose()

    if store is None:
        return [OneShotResult(r.evidence) for r in results]
    with store.engine.begin() as conn:
        ids = insert_evidence(conn, [r.evidence for r in results])
        for eid, r in zip(ids, results, strict=True):
            record_outcome(conn, eid, r.evidence, memo=r.memo)
    return [
        OneShotResult(Evidence(id=eid, **r.evidence.model_dump()))
        for eid, r in zip(ids, results, strict=True)
    ]
