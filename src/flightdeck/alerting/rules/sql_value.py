"""``sql_value``: the value a ``sql`` check returned compared with a threshold, for N runs in a row.

The value is the check's measurement (the ``measurement`` its configuration names, default
``value``). A run without a value (NULL, no row, an error) says nothing and leaves the state as it is.
"""

from __future__ import annotations

from datetime import datetime

from flightdeck.alerting.rules.base import CheckInfo, EvidenceRow
from flightdeck.alerting.rules.streak import Streak, StreakRule
from flightdeck.alerting.templates import render_summary
from flightdeck.config.alerting import SqlValueRule

__all__ = ["SqlValueEvaluator", "sql_measurement"]


def sql_measurement(info: CheckInfo) -> str:
    """The measurement a sql check records its value as."""
    name = getattr(info.spec, "measurement", None) if info.spec is not None else None
    return name if isinstance(name, str) and name else "value"


class SqlValueEvaluator(StreakRule):
    rule: SqlValueRule

    def __init__(self, name: str, rule: SqlValueRule) -> None:
        super().__init__(name, rule, rule.consecutive, None)

    def selects(self, info: CheckInfo) -> bool:
        return info.service == self.rule.service and info.check == self.rule.check

    def classify(self, row: EvidenceRow, info: CheckInfo) -> tuple[bool, float | None] | None:
        value = row.value(sql_measurement(info))
        if value is None:
            return None
        return self.rule.op.holds(value, self.rule.value), value

    def summary(self, info: CheckInfo, streak: Streak, now: datetime) -> str:
        measurement = sql_measurement(info)
        value = streak.value
        shown = f"{value:g}" if value is not None else "?"
        default = f"{info.subject}: {measurement} = {shown} ({self.rule.op.value} {self.rule.value:g})"
        if streak.count > 1:
            default += f" for {streak.count} runs"
        variables = {
            "rule": self.name,
            "severity": self.rule.severity.value,
            "service": info.service,
            "check": info.check,
            "subject": info.subject,
            "measurement": measurement,
            "value": value,
            "threshold": self.rule.value,
            "op": self.rule.op.value,
            "consecutive": streak.count,
            "evidence_summary": streak.last.summary if streak.last is not None else "",
            "labels": dict(self.rule.labels),
        }
        return render_summary(self.rule.summary, variables, default)
