"""Experiments: failover and rollback drills written down as data and run with a journal.

- :mod:`~flightdeck.config.experiments` — the YAML (steady state, method, rollbacks, recovery);
- :mod:`~flightdeck.experiments.run` — :func:`run_experiment`, the order of phases and the statuses;
- :mod:`~flightdeck.experiments.journal` — :class:`Journal`, each step with its timing;
- :mod:`~flightdeck.experiments.actions` and :mod:`~flightdeck.experiments.probes` — what each kind of
  step does; :mod:`~flightdeck.experiments.processes` — commands and processes;
- :mod:`~flightdeck.experiments.kinds` — the ``experiment`` check kind, for scheduled runs.
"""

from __future__ import annotations

from flightdeck.experiments.journal import (
    JOURNAL_DETAIL_KEY,
    ExperimentStatus,
    Journal,
    Phase,
    StepRecord,
    StepStatus,
)
from flightdeck.experiments.run import Progress, journal_artifact, run_experiment

__all__ = [
    "JOURNAL_DETAIL_KEY",
    "ExperimentStatus",
    "Journal",
    "Phase",
    "Progress",
    "StepRecord",
    "StepStatus",
    "journal_artifact",
    "run_experiment",
]
