"""``check_failing``: a check failing for N runs in a row, or continuously for a duration.

The verdicts that count as failing are the rule's ``verdicts`` (default fail and error); a pass (or
any verdict not in the list except ``unknown``) resets the count and resolves the alert; ``unknown``
leaves everything as it is.
"""

from __future__ import annotations

from datetime import datetime

from flightdeck.alerting.rules.base import CheckInfo, EvidenceRow, selects
from flightdeck.alerting.rules.streak import Streak, StreakRule
from flightdeck.alerting.templates import human_duration, render_summary
from flightdeck.config.alerting import CheckFailingRule

__all__ = ["CheckFailingEvaluator"]


class CheckFailingEvaluator(StreakRule):
    rule: CheckFailingRule

    def __init__(self, name: str, rule: CheckFailingRule) -> None:
        super().__init__(name, rule, rule.consecutive, rule.for_)
        self.failing = frozenset(rule.verdicts)

    def selects(self, info: CheckInfo) -> bool:
        return selects(self.rule, info)

    def classify(self, row: EvidenceRow, info: CheckInfo) -> tuple[bool, float | None] | None:
        if row.verdict == "unknown":
            return None
        return row.verdict in self.failing, None

    def summary(self, info: CheckInfo, streak: Streak, now: datetime) -> str:
        last = streak.last
        evidence = last.summary if last is not None else ""
        verdict = last.verdict if last is not None else ""
        failing_for = (now - streak.since).total_seconds() if streak.since else 0.0
        if self.for_:
            default = f"{info.subject} failing for {human_duration(failing_for)}"
        else:
            default = f"{info.subject} failing for {streak.count} consecutive runs"
        if evidence:
            default = f"{default}: {evidence}"
        variables = {
            "rule": self.name,
            "severity": self.rule.severity.value,
            "service": info.service,
            "check": info.check,
            "subject": info.subject,
            "kind": info.kind,
            "verdict": verdict,
            "consecutive": streak.count,
            "for": human_duration(self.for_ or 0),
            "failing_for": human_duration(failing_for),
            "evidence_summary": evidence,
            "value": None,
            "threshold": self.consecutive,
            "labels": dict(self.rule.labels),
        }
        return render_summary(self.rule.summary, variables, default)
