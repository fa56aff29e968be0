"""The evidence model: what every producer writes and every consumer reads.

An :class:`Evidence` record is immutable once written: what was checked (``subject``), how
(``kind``, ``config_digest``), when (``started_at``, ``finished_at``), the :class:`Verdict`,
measurements (numbers with units), ``detail`` (structured, secrets redacted) and artifacts.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from flightdeck.secret import MASK

__all__ = [
    "Artifact",
    "Evidence",
    "Measurement",
    "NewEvidence",
    "Trigger",
    "Verdict",
    "scrub",
    "worst",
]


class Verdict(enum.StrEnum):
    """The outcome of one measurement.

    ``unknown`` is honest: no data, no permission, no traffic. It never counts as a pass.
    """

    PASS = "pass"  # noqa: S105 - a verdict, not a password
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"
    UNKNOWN = "unknown"

    @property
    def rank(self) -> int:
        """Badness, for picking the worst of several verdicts."""
        return _RANK[self]

    @property
    def is_up(self) -> bool | None:
        """For uptime: pass and warn are up, fail and error are down, unknown is neither."""
        if self in (Verdict.PASS, Verdict.WARN):
            return True
        if self in (Verdict.FAIL, Verdict.ERROR):
            return False
        return None

    @property
    def is_ok(self) -> bool:
        return self in (Verdict.PASS, Verdict.WARN)


_RANK = {Verdict.PASS: 0, Verdict.WARN: 1, Verdict.UNKNOWN: 2, Verdict.FAIL: 3, Verdict.ERROR: 4}


def worst(verdicts: Iterable[Verdict], default: Verdict = Verdict.PASS) -> Verdict:
    result = default
    for v in verdicts:
        if v.rank > result.rank:
            result = v
    return result


class Trigger(enum.StrEnum):
    SCHEDULE = "schedule"
    MANUAL = "manual"
    API = "api"


class Measurement(BaseModel):
    """A number with a unit. Names are snake_case and end in their unit where one applies
    (``latency_ms``, ``db_size_bytes``, ``connections_used_pct``)."""

    model_config = ConfigDict(frozen=True)

    name: str
    value: float
    unit: str = ""


class Artifact(BaseModel):
    """A file that belongs to a record: a report, a manifest, a screenshot."""

    model_config = ConfigDict(frozen=True)

    name: str
    uri: str
    media_type: str = "application/octet-stream"
    size_bytes: int | None = None
    sha256: str | None = None


class NewEvidence(BaseModel):
    """A record about to be written (no id yet)."""

    model_config = ConfigDict(frozen=True)

    subject: str
    service: str
    check: str
    kind: str
    producer: str = "check"
    trigger: Trigger = Trigger.SCHEDULE
    config_digest: str
    started_at: datetime
    finished_at: datetime
    verdict: Verdict
    duration_ms: float
    summary: str = ""
    measurements: tuple[Measurement, ...] = ()
    detail: dict[str, JsonValue] = Field(default_factory=dict)
    artifacts: tuple[Artifact, ...] = ()

    def measurement(self, name: str) -> float | None:
        for m in self.measurements:
            if m.name == name:
                return m.value
        return None


class Evidence(NewEvidence):
    """A written, immutable record."""

    id: int


def scrub(value: JsonValue, secrets: Iterable[str]) -> JsonValue:
    """Replace every occurrence of any secret value inside strings of a JSON-like structure."""
    needles = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)
    if not needles:
        return value
    return _scrub(value, needles)


def _scrub(value: JsonValue, needles: list[str]) -> JsonValue:
    if isinstance(value, str):
        for n in needles:
            if n in value:
                value = value.replace(n, MASK)
        return value
    if isinstance(value, Mapping):
        return {str(k): _scrub(v, needles) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v, needles) for v in value]
    return value
