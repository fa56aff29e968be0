"""``threshold``: a measurement aggregated over the last ``window`` of a check's evidence, compared
with a value (e.g. p95 of ``latency_ms`` over 10 min > 400).

Each check keeps its recent samples in memory (seeded from the evidence table on first sight). With
fewer than ``min_samples`` samples in the window the rule says nothing. The condition holding starts
a pending alert that fires once it has held ``for`` (at once when ``for`` is 0); the condition no
longer holding resolves it. Percentiles are over the raw values (linear interpolation).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from datetime import datetime, timedelta

from flightdeck.alerting.rules.base import Act, AlertBook, CheckInfo, Decision, EvidenceRow, selects
from flightdeck.alerting.rules.evaluator import EvidenceRule
from flightdeck.alerting.templates import human_duration, render_summary
from flightdeck.config.alerting import ThresholdRule

__all__ = ["ThresholdEvaluator", "aggregate"]


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    if lo == hi:
        return ordered[lo]
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def aggregate(name: str, values: Sequence[float]) -> float:
    """avg, min, max, sum, last, count or pNN of ``values`` (oldest first; not empty)."""
    if name == "avg":
        return sum(values) / len(values)
    if name == "min":
        return min(values)
    if name == "max":
        return max(values)
    if name == "sum":
        return float(sum(values))
    if name == "last":
        return values[-1]
    if name == "count":
        return float(len(values))
    if name.startswith("p"):
        return _percentile(values, int(name[1:]) / 100)
    raise ValueError(f"unknown aggregate {name!r}")


class ThresholdEvaluator(EvidenceRule):
    rule: ThresholdRule

    def __init__(self, name: str, rule: ThresholdRule) -> None:
        super().__init__(name, rule)
        self.history_seconds = rule.window
        self.samples: dict[str, deque[tuple[datetime, float, int]]] = {}
        self.since: dict[str, datetime] = {}
        self.infos: dict[str, CheckInfo] = {}

    def selects(self, info: CheckInfo) -> bool:
        return selects(self.rule, info)

    def replay(self, row: EvidenceRow, info: CheckInfo) -> None:
        value = row.value(self.rule.measurement)
        if value is not None:
            self.samples.setdefault(info.subject, deque()).append((row.finished_at, value, row.id))

    def observe(self, row: EvidenceRow, info: CheckInfo, now: datetime, book: AlertBook) -> Decision | None:
        self.infos[info.subject] = info
        if row.value(self.rule.measurement) is None:
            return None
        self.replay(row, info)
        return self._judge(info, now, book)

    def _judge(self, info: CheckInfo, now: datetime, book: AlertBook) -> Decision | None:
        rule = self.rule
        samples = self.samples.get(info.subject)
        if not samples:
            return None
        start = now - timedelta(seconds=rule.window)
        while samples and samples[0][0] <= start:
            samples.popleft()
        values = [v for _, v, _ in samples]
        if len(values) < rule.min_samples:
            return None
        result = aggregate(rule.aggregate, values)
        fp = self.fingerprint(info)
        if not rule.op.holds(result, rule.value):
            self.since.pop(info.subject, None)
            return Decision(Act.RESOLVE, fp)
        since = self.since.setdefault(info.subject, now)
        active = book.get(fp)
        if active is not None and active.started_at < since:
            since = self.since[info.subject] = active.started_at
        act = Act.FIRE if now - since >= timedelta(seconds=rule.for_) else Act.PENDING
        alert = self.alert(info, self._summary(info, result, len(values)), result, samples[-1][2])
        return Decision(act, fp, alert)

    def tick(self, now: datetime, book: AlertBook) -> list[Decision]:
        out: list[Decision] = []
        for subject in list(self.since):
            info = self.infos.get(subject)
            if info is None:
                continue
            active = book.get(self.fingerprint(info))
            if active is not None and active.state.value == "firing":
                continue
            decision = self._judge(info, now, book)
            if decision is not None and decision.act is not Act.PENDING:
                out.append(decision)
        return out

    def _summary(self, info: CheckInfo, result: float, samples: int) -> str:
        rule = self.rule
        window = human_duration(rule.window)
        default = (
            f"{info.subject}: {rule.aggregate} {rule.measurement} over {window} is {result:.4g} "
            f"({rule.op.value} {rule.value:g})"
        )
        variables = {
            "rule": self.name,
            "severity": rule.severity.value,
            "service": info.service,
            "check": info.check,
            "subject": info.subject,
            "measurement": rule.measurement,
            "aggregate": rule.aggregate,
            "window": window,
            "op": rule.op.value,
            "value": result,
            "threshold": rule.value,
            "samples": samples,
            "labels": dict(rule.labels),
        }
        return render_summary(rule.summary, variables, default)
