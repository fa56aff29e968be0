"""``missing``: no evidence from a check within ``max_age`` (a heartbeat or a scheduled job that
did not report). Evaluated on time, not on evidence.

``max_age`` defaults to twice the check's interval plus its timeout (for a cron check, twice the gap
between its next two runs plus its timeout). Only configured, enabled, not retired checks alert; a
check that has never reported is measured from when the engine first looked at it. New evidence
resolves the alert.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from flightdeck.alerting.rules.base import Act, AlertBook, CheckInfo, Decision, EvidenceRow, selects
from flightdeck.alerting.rules.evaluator import EvidenceRule
from flightdeck.alerting.templates import human_duration, render_summary
from flightdeck.config.alerting import MissingRule
from flightdeck.config.models import CheckDefaults

__all__ = ["MissingEvaluator", "default_max_age"]


def default_max_age(info: CheckInfo, defaults: CheckDefaults, last: datetime) -> float:
    """Twice the check's period plus its timeout."""
    spec = info.spec
    timeout = (spec.timeout if spec is not None and spec.timeout is not None else None) or defaults.timeout
    if spec is not None and spec.cron is not None:
        first = spec.next_cron_time(last)
        period = (spec.next_cron_time(first) - first).total_seconds()
    else:
        period = (
            spec.interval if spec is not None and spec.interval is not None else None
        ) or defaults.interval
    return 2 * period + timeout


class MissingEvaluator(EvidenceRule):
    rule: MissingRule

    def __init__(self, name: str, rule: MissingRule, defaults: CheckDefaults) -> None:
        super().__init__(name, rule)
        self.defaults = defaults

    def selects(self, info: CheckInfo) -> bool:
        return selects(self.rule, info)

    def observe(self, row: EvidenceRow, info: CheckInfo, now: datetime, book: AlertBook) -> Decision | None:
        fp = self.fingerprint(info)
        return Decision(Act.RESOLVE, fp) if book.get(fp) is not None else None

    def evaluate(
        self,
        checks: Sequence[CheckInfo],
        last_seen: Mapping[str, datetime],
        now: datetime,
        book: AlertBook,
    ) -> list[Decision]:
        """Decisions for the eligible ``checks``; alerts of checks no longer eligible resolve."""
        out: list[Decision] = []
        wanted: set[str] = set()
        for info in checks:
            if not self.selects(info):
                continue
            last = last_seen.get(info.subject)
            if last is None:
                continue
            max_age = self.rule.max_age or default_max_age(info, self.defaults, last)
            fp = self.fingerprint(info)
            wanted.add(fp)
            age = (now - last).total_seconds()
            if age > max_age:
                out.append(Decision(Act.FIRE, fp, self.alert(info, self._summary(info, age, max_age))))
            elif book.get(fp) is not None:
                out.append(Decision(Act.RESOLVE, fp))
        out.extend(
            Decision(Act.RESOLVE, a.fingerprint)
            for a in book.of_rule(self.name)
            if a.fingerprint not in wanted
        )
        return out

    def _summary(self, info: CheckInfo, age: float, max_age: float) -> str:
        default = (
            f"{info.subject} has not reported for {human_duration(age)} "
            f"(expected within {human_duration(max_age)})"
        )
        variables = {
            "rule": self.name,
            "severity": self.rule.severity.value,
            "service": info.service,
            "check": info.check,
            "subject": info.subject,
            "age": human_duration(age),
            "max_age": human_duration(max_age),
            "value": age,
            "threshold": max_age,
            "labels": dict(self.rule.labels),
        }
        return render_summary(self.rule.summary, variables, default)
