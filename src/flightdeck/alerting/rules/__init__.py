"""Alert rules over evidence: one module per rule type.

- :mod:`~.check_failing` — N failing runs in a row, or failing for a duration
- :mod:`~.threshold` — a measurement aggregated over a window crossing a value
- :mod:`~.sql_value` — a ``sql`` check's value crossing a value for N runs
- :mod:`~.missing` — no evidence within ``max_age``

Log rules (``log_rate``, ``log_spike``) live in :mod:`flightdeck.alerting.logs`.
"""

from __future__ import annotations

from collections.abc import Mapping

from flightdeck.alerting.rules.base import Act, AlertBook, CheckInfo, Decision, EvidenceRow, selects
from flightdeck.alerting.rules.check_failing import CheckFailingEvaluator
from flightdeck.alerting.rules.evaluator import EvidenceRule, RuleIndex
from flightdeck.alerting.rules.missing import MissingEvaluator
from flightdeck.alerting.rules.sql_value import SqlValueEvaluator
from flightdeck.alerting.rules.threshold import ThresholdEvaluator, aggregate
from flightdeck.config.alerting import (
    AlertRule,
    CheckFailingRule,
    MissingRule,
    SqlValueRule,
    ThresholdRule,
)
from flightdeck.config.models import CheckDefaults

__all__ = [
    "Act",
    "AlertBook",
    "CheckFailingEvaluator",
    "CheckInfo",
    "Decision",
    "EvidenceRow",
    "EvidenceRule",
    "MissingEvaluator",
    "RuleIndex",
    "SqlValueEvaluator",
    "ThresholdEvaluator",
    "aggregate",
    "build_evaluators",
    "selects",
]


def build_evaluators(
    rules: Mapping[str, AlertRule], defaults: CheckDefaults
) -> tuple[list[EvidenceRule], list[MissingEvaluator]]:
    """Evaluators for the evidence rules (log rules are built by the log readers): those fed each
    record, and the ``missing`` rules (which also see records, to resolve)."""
    evidence_rules: list[EvidenceRule] = []
    missing: list[MissingEvaluator] = []
    for name, rule in rules.items():
        if isinstance(rule, CheckFailingRule):
            evidence_rules.append(CheckFailingEvaluator(name, rule))
        elif isinstance(rule, ThresholdRule):
            evidence_rules.append(ThresholdEvaluator(name, rule))
        elif isinstance(rule, SqlValueRule):
            evidence_rules.append(SqlValueEvaluator(name, rule))
        elif isinstance(rule, MissingRule):
            m = MissingEvaluator(name, rule, defaults)
            missing.append(m)
            evidence_rules.append(m)
    return evidence_rules, missing
