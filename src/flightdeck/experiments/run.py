"""Running an experiment: steady state → method → rollbacks → recovery → steady state again.

- The **steady state** must hold before anything changes; if it does not, the run is ``aborted`` and
  nothing else runs.
- The **method** runs in order and stops at the first step that does not succeed: an action that
  fails makes the run ``failed``, a probe that does not hold makes it ``deviated``.
- The **rollbacks** run, all of them, once the method started — also when a step failed, when an
  exception escaped a step, and on Ctrl-C (cancellation), which makes the run ``interrupted``.
- The **recovery** probes are polled until each holds; the recovery time runs from the start of the
  first rollback to the moment the last probe held, and slower than the target is ``deviated``.
- The **steady state** is probed again; not holding is ``deviated``.

The journal is written to ``<journal_dir>/<experiment>/<start time>.json`` when the run starts and
again after every step, so a run killed outright still leaves a journal that says ``running``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flightdeck.checks.base import CheckContext
from flightdeck.clock import Clock, SystemClock
from flightdeck.config.base import pick
from flightdeck.config.experiments import ExperimentConfig
from flightdeck.config.models import Config
from flightdeck.config.types import format_duration
from flightdeck.evidence import Artifact
from flightdeck.experiments.actions import run_action
from flightdeck.experiments.context import Outcome, RunContext, experiment_secrets
from flightdeck.experiments.journal import ExperimentStatus, Journal, Phase, StepRecord, StepStatus
from flightdeck.experiments.probes import Held, poll_probe

if TYPE_CHECKING:
    from flightdeck.store import Store

__all__ = ["Progress", "journal_artifact", "run_experiment"]

log = logging.getLogger(__name__)

Progress = Callable[[StepRecord], None]
"""Called when a step starts (status ``running``) and when it ends."""

_RANK = {
    ExperimentStatus.COMPLETED: 0,
    ExperimentStatus.DEVIATED: 1,
    ExperimentStatus.FAILED: 2,
    ExperimentStatus.INTERRUPTED: 3,
}


def _kind(step: Any) -> str:
    probe = getattr(step, "probe", None)
    return f"probe:{probe}" if probe is not None else f"action:{step.action}"


class _Run:
    def __init__(
        self, ctx: RunContext, journal: Journal, file: Path | None, progress: Progress | None
    ) -> None:
        self.ctx = ctx
        self.journal = journal
        self.file = file
        self.progress = progress
        self.outcome = ExperimentStatus.COMPLETED

    # -- bookkeeping ---------------------------------------------------------------------------

    def worsen(self, status: ExperimentStatus, finding: str) -> None:
        self.journal.findings.append(self.ctx.clean(finding, 500))
        if _RANK[status] > _RANK[self.outcome]:
            self.outcome = status

    def save(self) -> None:
        if self.file is None:
            return
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.file.with_name(f".{self.file.name}.tmp")
            tmp.write_text(self.journal.model_dump_json(indent=2) + "\n", encoding="utf-8")
            os.replace(tmp, self.file)
        except OSError as exc:
            log.warning("cannot write the experiment journal %s: %s", self.file, exc)

    def record(self, phase: Phase, index: int, step: Any) -> StepRecord:
        rec = StepRecord(phase=phase, index=index, name=step.name, kind=_kind(step))
        self.journal.steps.append(rec)
        return rec

    def skip(self, phase: Phase, steps: Sequence[Any], why: str, start: int = 0) -> None:
        for i, step in enumerate(steps, start):
            rec = self.record(phase, i, step)
            rec.status = StepStatus.SKIPPED
            rec.output = why
        self.save()

    def begin(self, rec: StepRecord) -> float:
        rec.started = self.ctx.clock.now()
        if self.progress is not None:
            self.progress(rec)
        return self.ctx.clock.monotonic()

    def end(self, rec: StepRecord, t0: float, status: StepStatus, outcome: Outcome | None) -> None:
        clock = self.ctx.clock
        rec.finished = clock.now()
        rec.seconds = round(clock.monotonic() - t0, 3)
        rec.status = status
        if outcome is not None:
            rec.output = self.ctx.clean(outcome.output)
            rec.detail = dict(outcome.detail)
        self.save()
        if self.progress is not None:
            self.progress(rec)

    # -- steps ---------------------------------------------------------------------------------

    async def step(
        self, phase: Phase, index: int, step: Any, *, budget: float | None = None, origin: float | None = None
    ) -> StepRecord:
        """Run one step. Exceptions become a failed step; cancellation marks it interrupted and
        propagates."""
        rec = self.record(phase, index, step)
        t0 = self.begin(rec)
        try:
            if rec.is_probe:
                within = budget if budget is not None else step.within
                held: Held = await poll_probe(
                    step, self.ctx, budget=within, poll=step.poll, origin=origin if origin is not None else t0
                )
                outcome = held.outcome
                rec.within_seconds = within
                if within is not None:
                    rec.attempts = held.attempts
                    rec.held_after_seconds = None if held.held_after is None else round(held.held_after, 3)
            else:
                outcome = await run_action(step, self.ctx)
        except asyncio.CancelledError:
            self.end(rec, t0, StepStatus.INTERRUPTED, Outcome(False, "interrupted"))
            raise
        except Exception as exc:  # a bug or an unexpected error must not stop the rollbacks
            log.exception("experiment step %r raised", step.name)
            outcome = Outcome(False, f"internal error: {type(exc).__name__}: {exc}")
        self.end(rec, t0, StepStatus.OK if outcome.ok else StepStatus.FAILED, outcome)
        return rec

    async def steady_state(self, phase: Phase) -> bool:
        probes = self.ctx.experiment.steady_state
        for i, probe in enumerate(probes):
            rec = await self.step(phase, i, probe)
            if rec.status is not StepStatus.OK:
                self.skip(phase, probes[i + 1 :], "an earlier steady-state probe did not hold", i + 1)
                when = "before the method" if phase is Phase.STEADY_STATE_BEFORE else "after the rollbacks"
                self.steady_finding = f"steady state did not hold {when}: {probe.name}: {rec.output}"
                return False
        return True

    async def method(self) -> None:
        steps = self.ctx.experiment.method
        for i, step in enumerate(steps):
            rec = await self.step(Phase.METHOD, i, step)
            if rec.status is StepStatus.OK:
                continue
            if rec.is_probe:
                self.worsen(ExperimentStatus.DEVIATED, f"{step.name}: {rec.output}")
            else:
                self.worsen(ExperimentStatus.FAILED, f"action {step.name!r} failed: {rec.output}")
            self.skip(Phase.METHOD, steps[i + 1 :], "an earlier method step did not succeed", i + 1)
            return

    async def rollbacks(self) -> None:
        self.journal.rollbacks_ran = True
        for i, step in enumerate(self.ctx.experiment.rollbacks):
            try:
                rec = await self.step(Phase.ROLLBACKS, i, step)
            except asyncio.CancelledError:
                # Interrupted again: keep going, the system must not be left broken.
                self.worsen(ExperimentStatus.INTERRUPTED, f"rollback {step.name!r} was interrupted")
                continue
            if rec.status is not StepStatus.OK:
                self.worsen(
                    ExperimentStatus.FAILED,
                    f"rollback {step.name!r} failed, the system may still be broken: {rec.output}",
                )

    async def recovery(self, origin: float) -> None:
        recovery = self.ctx.experiment.recovery
        assert recovery is not None
        budget = recovery.give_up_after
        last: float | None = 0.0
        for i, probe in enumerate(recovery.probes):
            step = probe.model_copy(update={"poll": recovery.poll})
            rec = await self.step(Phase.RECOVERY, i, step, budget=budget, origin=origin)
            if rec.status is not StepStatus.OK or rec.held_after_seconds is None:
                last = None
                self.worsen(ExperimentStatus.DEVIATED, f"did not recover: {probe.name}: {rec.output}")
            elif last is not None:
                last = max(last, rec.held_after_seconds)
        self.journal.recovery_seconds = last
        if last is not None and last > recovery.target:
            self.worsen(
                ExperimentStatus.DEVIATED,
                f"recovery took {last:.1f}s, more than its target of {format_duration(recovery.target)}",
            )

    steady_finding = ""


async def _run(run: _Run) -> ExperimentStatus:
    exp = run.ctx.experiment
    clock = run.ctx.clock
    after_method: list[tuple[Phase, list[Any]]] = [
        (Phase.ROLLBACKS, list(exp.rollbacks)),
        (Phase.RECOVERY, list(exp.recovery.probes) if exp.recovery else []),
        (Phase.STEADY_STATE_AFTER, list(exp.steady_state)),
    ]
    try:
        held = await run.steady_state(Phase.STEADY_STATE_BEFORE)
    except asyncio.CancelledError:
        run.skip(Phase.METHOD, exp.method, "interrupted before the method")
        for phase, steps in after_method:
            run.skip(phase, steps, "interrupted before the method")
        run.journal.findings.append("interrupted before the method: nothing was changed")
        return ExperimentStatus.INTERRUPTED
    if not held:
        run.journal.findings.append(run.steady_finding)
        run.skip(Phase.METHOD, exp.method, "aborted: the steady state did not hold")
        for phase, steps in after_method:
            run.skip(phase, steps, "aborted: the steady state did not hold")
        return ExperimentStatus.ABORTED
    try:
        await run.method()
    except asyncio.CancelledError:
        run.worsen(ExperimentStatus.INTERRUPTED, "interrupted during the method; the rollbacks ran")
        done = len(run.journal.phase(Phase.METHOD))
        run.skip(Phase.METHOD, exp.method[done:], "interrupted", done)
    rollback_start = clock.monotonic()
    await run.rollbacks()
    if run.outcome is ExperimentStatus.INTERRUPTED:
        for phase, steps in after_method[1:]:
            run.skip(phase, steps, "interrupted")
        return run.outcome
    try:
        if exp.recovery is not None:
            await run.recovery(rollback_start)
        if not await run.steady_state(Phase.STEADY_STATE_AFTER):
            run.worsen(ExperimentStatus.DEVIATED, run.steady_finding)
    except asyncio.CancelledError:
        run.worsen(ExperimentStatus.INTERRUPTED, "interrupted after the rollbacks")
    return run.outcome


def _summary(journal: Journal) -> str:
    name = journal.experiment
    recovery = journal.describe_recovery()
    tail = f"; {recovery}" if recovery else ""
    first = journal.findings[0] if journal.findings else ""
    match journal.status:
        case ExperimentStatus.COMPLETED:
            return f"{name}: completed — the system behaved as expected{tail}"
        case ExperimentStatus.ABORTED:
            return f"{name}: aborted, nothing was changed — {first}"
        case ExperimentStatus.DEVIATED:
            about_recovery = first.startswith(("recovery took", "did not recover"))
            return f"{name}: deviated — {first}" + ("" if about_recovery else tail)
        case ExperimentStatus.FAILED:
            return f"{name}: failed — {first}" + ("; the rollbacks ran" if journal.rollbacks_ran else "")
        case _:
            return f"{name}: interrupted — {first}"


def journal_artifact(path: Path) -> Artifact | None:
    """The journal file as an evidence artifact (``None`` when it could not be written)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return Artifact(
        name=path.name,
        uri=path.resolve().as_uri(),
        media_type="application/json",
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


async def run_experiment(
    config: Config,
    name: str,
    *,
    clock: Clock | None = None,
    store: Store | None = None,
    progress: Progress | None = None,
    journal_dir: Path | None = None,
) -> Journal:
    """Run experiment ``name`` once and return its journal. Never raises for what a step or the
    system under test does (that is in the journal); an unknown name is a ``NotFoundError``.

    ``store`` is handed to the checks that ``check`` probes run (it is not written to here).
    ``journal_dir`` defaults to the experiment's ``journal_dir``, else ``<store.state_dir>/experiments``.
    """
    exp: ExperimentConfig = pick(config.experiments, name, "experiment", "experiments")
    clock = clock or (store.clock if store is not None else SystemClock())
    checks_context = CheckContext(config=config, clock=clock, store=store)
    ctx = RunContext(config, exp, clock, checks_context, experiment_secrets(config, exp))
    started = clock.now()
    journal = Journal(
        experiment=name,
        service=exp.service,
        description=exp.description,
        started=started,
        recovery_target_seconds=exp.recovery.target if exp.recovery else None,
    )
    folder = journal_dir or exp.journal_dir or (config.store.state_dir / "experiments")
    file = folder / name / f"{started.strftime('%Y%m%dT%H%M%S.%fZ')}.json"
    journal.journal_file = str(file)
    run = _Run(ctx, journal, file, progress)
    run.save()
    t0 = clock.monotonic()
    try:
        status = await _run(run)
    finally:
        await checks_context.aclose()
    journal.status = status
    journal.finished = clock.now()
    journal.seconds = round(clock.monotonic() - t0, 3)
    journal.summary = ctx.clean(_summary(journal), 500)
    run.save()
    log.info("experiment %s: %s", name, json.dumps(journal.summary))
    return journal
