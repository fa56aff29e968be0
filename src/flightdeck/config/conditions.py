"""User-written conditions on measurements: ``latency_ms < 500``, ``{warn: "days_left > 21"}``.

A condition states what must hold. When it does not hold, the record's verdict becomes ``fail`` (or
``warn`` for a warn-level condition). When the measurement it names is absent, the condition is
``unknown``: no data is never turned into a pass.
"""

from __future__ import annotations

import enum
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from flightdeck.evidence import Verdict

__all__ = ["Condition", "ConditionOutcome", "ConditionResult"]

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_EXPR = re.compile(
    r"^\s*([A-Za-z_][A-Za-z0-9_.:\-]*)\s*(<=|>=|==|!=|<|>)\s*(-?[0-9][0-9_]*(?:\.[0-9]+)?(?:[eE]-?\d+)?)\s*$"
)


class ConditionOutcome(enum.StrEnum):
    HOLDS = "holds"
    VIOLATED = "violated"
    UNKNOWN = "unknown"


class ConditionResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    condition: str
    level: Verdict
    outcome: ConditionOutcome
    observed: float | None

    def describe(self) -> str:
        if self.outcome is ConditionOutcome.UNKNOWN:
            return f"{self.condition}: no measurement"
        return f"{self.condition} (observed {self.observed:g})"


class Condition(BaseModel):
    """``<measurement> <op> <number>``; written as a string (fail level) or ``{warn: "..."}``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    measurement: str
    op: str
    value: float
    level: Verdict = Verdict.FAIL

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, data: Any) -> Any:
        level = Verdict.FAIL
        if isinstance(data, dict) and set(data) <= {"warn", "fail"} and len(data) == 1:
            ((key, data),) = data.items()
            level = Verdict(key)
        if isinstance(data, str):
            m = _EXPR.match(data)
            if not m:
                raise ValueError(
                    f"cannot read condition {data!r}: write '<measurement> <op> <number>', "
                    "e.g. 'latency_ms < 500', with op one of < <= > >= == !="
                )
            return {
                "measurement": m.group(1),
                "op": m.group(2),
                "value": float(m.group(3).replace("_", "")),
                "level": level,
            }
        if isinstance(data, dict) and "measurement" in data:
            return data
        raise ValueError(
            "must be a string such as 'latency_ms < 500' or a mapping {warn: 'latency_ms < 250'}"
        )

    def __str__(self) -> str:
        return f"{self.measurement} {self.op} {self.value:g}"

    def evaluate(self, measurements: Mapping[str, float]) -> ConditionResult:
        observed = measurements.get(self.measurement)
        if observed is None:
            outcome = ConditionOutcome.UNKNOWN
        elif _OPS[self.op](observed, self.value):
            outcome = ConditionOutcome.HOLDS
        else:
            outcome = ConditionOutcome.VIOLATED
        return ConditionResult(condition=str(self), level=self.level, outcome=outcome, observed=observed)
