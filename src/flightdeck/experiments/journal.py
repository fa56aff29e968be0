"""The journal of one experiment run: every step with its timing and outcome, and the verdict.

Statuses of the run (Chaos Toolkit's, plus ``interrupted``):

- ``completed``: the steady state held before and after, every method step succeeded, every rollback
  ran, and the system recovered within its target;
- ``deviated``: the system did not behave as the experiment says it should — a method probe did not
  hold, recovery was slower than its target (or never came), or the steady state did not hold after;
- ``aborted``: the steady state did not hold before the method, so nothing was changed;
- ``failed``: the experiment itself could not be carried out — an action (or a rollback) failed;
- ``interrupted``: stopped midway (Ctrl-C, cancellation); the rollbacks still ran.

The journal is safe to show: command output is truncated and every secret is masked before it is
written into a step.
"""

from __future__ import annotations

import enum
import re
from datetime import datetime

from pydantic import BaseModel, ConfigDict, JsonValue

from flightdeck.checks.base import Observation
from flightdeck.config.types import format_duration
from flightdeck.evidence import Artifact

__all__ = ["JOURNAL_DETAIL_KEY", "ExperimentStatus", "Journal", "Phase", "StepRecord", "StepStatus"]

JOURNAL_DETAIL_KEY = "journal"
"""The key of an experiment's evidence ``detail`` holding ``Journal.model_dump(mode="json")``."""


class ExperimentStatus(enum.StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    DEVIATED = "deviated"
    ABORTED = "aborted"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


class Phase(enum.StrEnum):
    STEADY_STATE_BEFORE = "steady_state_before"
    METHOD = "method"
    ROLLBACKS = "rollbacks"
    RECOVERY = "recovery"
    STEADY_STATE_AFTER = "steady_state_after"


class StepStatus(enum.StrEnum):
    RUNNING = "running"
    OK = "ok"  # an action succeeded; a probe held
    FAILED = "failed"  # an action failed; a probe did not hold
    SKIPPED = "skipped"  # not run: an earlier step failed, or the run was aborted or interrupted
    INTERRUPTED = "interrupted"


class StepRecord(BaseModel):
    """One step as it ran. ``kind`` is ``action:<kind>`` or ``probe:<kind>``. For a probe with
    ``within`` (and every recovery probe), ``held_after_seconds`` is the time until it held and
    ``attempts`` how many tries it took."""

    model_config = ConfigDict(validate_assignment=False)

    phase: Phase
    index: int
    name: str
    kind: str
    status: StepStatus = StepStatus.RUNNING
    started: datetime | None = None
    finished: datetime | None = None
    seconds: float | None = None
    output: str = ""
    within_seconds: float | None = None
    held_after_seconds: float | None = None
    attempts: int | None = None
    detail: dict[str, JsonValue] = {}

    @property
    def is_probe(self) -> bool:
        return self.kind.startswith("probe:")


_SLUG = re.compile(r"[^a-z0-9]+")


def measurement_slug(name: str) -> str:
    """``"/ready turns 503"`` → ``ready_turns_503``."""
    return _SLUG.sub("_", name.lower()).strip("_") or "step"


class Journal(BaseModel):
    """What one run of an experiment did, step by step, and what it came to."""

    experiment: str
    service: str
    description: str = ""
    status: ExperimentStatus = ExperimentStatus.RUNNING
    started: datetime
    finished: datetime | None = None
    seconds: float | None = None
    steps: list[StepRecord] = []
    rollbacks_ran: bool = False
    recovery_seconds: float | None = None
    recovery_target_seconds: float | None = None
    findings: list[str] = []
    summary: str = ""
    journal_file: str | None = None

    def phase(self, phase: Phase) -> list[StepRecord]:
        return [s for s in self.steps if s.phase is phase]

    def observation(self, artifact: Artifact | None = None) -> Observation:
        """The run as a check's observation: verdict ``pass`` only when ``completed``; each finding
        a failure; timings as measurements."""
        obs = Observation()
        obs.measure("experiment_seconds", self.seconds, "s")
        obs.measure("recovery_seconds", self.recovery_seconds, "s")
        obs.measure("recovery_target_seconds", self.recovery_target_seconds, "s")
        obs.measure("steps_failed", sum(1 for s in self.steps if s.status is StepStatus.FAILED))
        seen: set[str] = set()
        for step in self.steps:
            if step.held_after_seconds is None or step.phase not in (Phase.METHOD, Phase.RECOVERY):
                continue
            prefix = "recovery_" if step.phase is Phase.RECOVERY else ""
            name = f"{prefix}{measurement_slug(step.name)}_seconds"
            if name not in seen and name not in ("recovery_seconds", "experiment_seconds"):
                seen.add(name)
                obs.measure(name, step.held_after_seconds, "s")
        if self.status is not ExperimentStatus.COMPLETED:
            obs.failures = list(self.findings) or [f"experiment {self.status.value}"]
        obs.detail = {JOURNAL_DETAIL_KEY: self.model_dump(mode="json"), "status": self.status.value}
        obs.summary = self.summary
        if artifact is not None:
            obs.artifacts.append(artifact)
        return obs

    def describe_recovery(self) -> str:
        if self.recovery_target_seconds is None:
            return ""
        target = format_duration(self.recovery_target_seconds)
        if self.recovery_seconds is None:
            return f"did not recover (target {target})"
        return f"recovered in {self.recovery_seconds:.1f}s (target {target})"
