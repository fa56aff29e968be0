"""The ``experiment`` check kind: runs an experiment configured under ``experiments:`` on a schedule,
so that every run is evidence (its journal in ``detail["journal"]`` and as a JSON file artifact).

::

    services:
      payments:
        checks:
          - {name: database-outage-drill, kind: experiment, experiment: database-outage, cron: "0 10 * * 1"}
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, JsonValue

from flightdeck.checks.base import Check, Observation, register
from flightdeck.config.check_spec import CheckSpec
from flightdeck.config.types import Duration, Name

__all__ = ["ExperimentCheck", "ExperimentSpec"]


class ExperimentSpec(CheckSpec):
    kind: Literal["experiment"]
    experiment: Name = Field(description="A key of experiments:")
    timeout: Duration | None = Field(default=3600, description="Give up after this long (default 1h)")


@register
class ExperimentCheck(Check[ExperimentSpec]):
    spec_type = ExperimentSpec

    async def observe(self, memo: JsonValue) -> Observation:
        from flightdeck.experiments.run import journal_artifact, run_experiment

        journal = await run_experiment(
            self.context.config, self.spec.experiment, clock=self.context.clock, store=self.context.store
        )
        artifact = journal_artifact(Path(journal.journal_file)) if journal.journal_file else None
        return journal.observation(artifact)
