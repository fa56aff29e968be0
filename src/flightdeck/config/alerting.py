"""Configuration of alerting (``alerting:``): rules over evidence and logs, grouping into incidents,
routing by severity to escalation policies, inhibition, maintenance windows and signed links.

Example::

    alerting:
      grouping: {group_by: [service], group_wait: 30s, group_interval: 5m, repeat_interval: 4h}
      routes:
        - {severity: P1, policy: page-primary}
        - {severity: security, policy: security-team}
        - {policy: chat-only}                  # everything else
      rules:
        checkout-slow:
          type: threshold
          service: checkout
          check: health
          measurement: duration_ms
          aggregate: p95
          window: 10m
          op: ">"
          value: 400
          severity: P2
          summary: "{{ service }} p95 latency {{ value }} ms over 10 min"
          runbook: https://wiki.example.com/runbooks/latency

Rule types: ``check_failing`` (N consecutive failures or failing for a duration), ``threshold`` (a
measurement aggregated over a window crossing a value), ``sql_value`` (the value of a ``sql`` check),
``missing`` (no evidence within ``max_age``), and the log rules ``log_rate`` (more than N matching
lines per key in a window: failed logins per user or per IP) and ``log_spike`` (one key above K× its
baseline).
"""

from __future__ import annotations

import enum
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from croniter import croniter
from pydantic import Field, field_validator, model_validator

from flightdeck.config.base import ConfigModel
from flightdeck.config.oncall import TimeZoneName
from flightdeck.config.types import Duration, Name, RelPath
from flightdeck.secret import Secret

__all__ = [
    "RULE_TYPES",
    "AlertRule",
    "AlertingConfig",
    "CheckFailingRule",
    "CheckSelector",
    "Comparison",
    "GroupingConfig",
    "InhibitRule",
    "LogRateRule",
    "LogSourceConfig",
    "LogSpikeRule",
    "MaintenanceWindow",
    "MissingRule",
    "RouteConfig",
    "RuleBase",
    "Severity",
    "SqlValueRule",
    "ThresholdRule",
]


class Severity(enum.StrEnum):
    """How urgent an alert is. P1 pages now; P3 goes to chat; security goes to whoever owns it."""

    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    SECURITY = "security"

    @property
    def rank(self) -> int:
        """Lower is more urgent (P1 = 0; security ranks with P1)."""
        return {"P1": 0, "security": 0, "P2": 1, "P3": 2}[self.value]


class Comparison(enum.StrEnum):
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="
    EQ = "=="
    NE = "!="

    def holds(self, left: float, right: float) -> bool:
        """``left <op> right``."""
        match self:
            case Comparison.GT:
                return left > right
            case Comparison.GE:
                return left >= right
            case Comparison.LT:
                return left < right
            case Comparison.LE:
                return left <= right
            case Comparison.EQ:
                return left == right
            case _:
                return left != right


_RESERVED_LABELS = frozenset({"alertname", "severity", "service", "check"})


class RuleBase(ConfigModel):
    """What every rule has."""

    severity: Severity = Severity.P2
    labels: dict[str, str] = Field(default_factory=dict, description="Added to the alert's labels")
    summary: str = Field("", description="Jinja2 template of the one-line summary")
    description: str = ""
    runbook: str | None = Field(None, description="Link to the runbook for this alert")
    enabled: bool = True

    @field_validator("summary", "description")
    @classmethod
    def _template(cls, value: str) -> str:
        if "{" not in value:
            return value  # plain text: no need to load Jinja2
        from jinja2 import TemplateSyntaxError
        from jinja2.sandbox import SandboxedEnvironment

        try:
            SandboxedEnvironment(autoescape=False).parse(value)
        except TemplateSyntaxError as exc:
            raise ValueError(f"invalid template (line {exc.lineno}): {exc.message}") from None
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        taken = sorted(_RESERVED_LABELS & set(value))
        if taken:
            raise ValueError(f"label {taken[0]!r} is set by flightdeck; choose another name")
        return value


class CheckSelector(ConfigModel):
    """Which checks a rule applies to. ``service`` and ``check`` narrow; ``check_kind``,
    ``check_name`` (glob) and ``check_labels`` each select checks, and a rule that gives several of
    them applies to a check any of them selects. A rule that gives none applies to every check."""

    service: Name | None = Field(None, description="Only checks of this service (default: any)")
    check: Name | None = Field(None, description="Only the check of this name (default: any)")
    check_kind: str | list[str] | None = Field(None, description="Checks of this kind (e.g. http, tcp)")
    check_name: str | list[str] | None = Field(
        None, description="Checks whose name matches a glob (*payment*)"
    )
    check_labels: dict[str, str] = Field(
        default_factory=dict, description="Checks whose configuration carries all these labels"
    )

    @property
    def kinds(self) -> tuple[str, ...]:
        if self.check_kind is None:
            return ()
        return (self.check_kind,) if isinstance(self.check_kind, str) else tuple(self.check_kind)

    @property
    def name_globs(self) -> tuple[str, ...]:
        if self.check_name is None:
            return ()
        return (self.check_name,) if isinstance(self.check_name, str) else tuple(self.check_name)

    @property
    def selective(self) -> bool:
        """True when the rule names some checks rather than applying to all of them."""
        return bool(self.service or self.check or self.kinds or self.name_globs or self.check_labels)


class CheckFailingRule(RuleBase, CheckSelector):
    """A check failing for ``consecutive`` runs in a row, or continuously ``for`` a duration."""

    type: Literal["check_failing"]
    consecutive: int = Field(3, ge=1, description="Failed runs in a row")
    for_: Duration | None = Field(None, alias="for", description="Failing continuously this long")
    verdicts: list[Literal["fail", "error", "warn"]] = Field(
        default=["fail", "error"], min_length=1, description="Verdicts that count as failing"
    )

    @model_validator(mode="after")
    def _for_or_consecutive(self) -> CheckFailingRule:
        if self.for_ is not None and "consecutive" in self.model_fields_set:
            raise ValueError("give consecutive (failed runs in a row) or for (a duration), not both")
        if self.for_ is not None and self.for_ <= 0:
            raise ValueError("for must be more than 0s")
        return self


class ThresholdRule(RuleBase, CheckSelector):
    """A measurement over a window crossing a threshold, e.g. p95 latency over 10 min > 400 ms."""

    type: Literal["threshold"]
    measurement: str = Field(description="A measurement name, or duration_ms for the check's own time")
    aggregate: Literal["avg", "min", "max", "sum", "last", "count", "p50", "p90", "p95", "p99"] = "avg"
    window: Duration = 600
    op: Comparison = Comparison.GT
    value: float
    for_: Duration = Field(0, alias="for", description="The condition holds this long before firing")
    min_samples: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _selective(self) -> ThresholdRule:
        if not self.selective:
            raise ValueError(
                "a threshold rule needs service, check, check_kind, check_name or check_labels "
                "(which checks' measurement it reads)"
            )
        if self.window <= 0:
            raise ValueError("window must be more than 0s")
        return self


class SqlValueRule(RuleBase):
    """The value a ``sql`` check returned (its ``value`` measurement) compared with a threshold."""

    type: Literal["sql_value"]
    service: Name
    check: Name
    op: Comparison = Comparison.GT
    value: float = 0
    consecutive: int = Field(1, ge=1)


class MissingRule(RuleBase, CheckSelector):
    """No evidence from a check (a heartbeat or a scheduled job) within ``max_age``."""

    type: Literal["missing"]
    max_age: Duration | None = Field(None, description="Default: twice the check's interval plus its timeout")

    @field_validator("max_age")
    @classmethod
    def _max_age(cls, value: float | None) -> float | None:
        if value is not None and value <= 0:
            raise ValueError("must be more than 0s")
        return value


class LogRateRule(RuleBase):
    """More than ``more_than`` matching log lines per key within ``window`` (e.g. failed logins per IP)."""

    type: Literal["log_rate"]
    source: Name = Field(description="A key of alerting.log_sources")
    match: dict[str, str | int | bool | list[str | int]] = Field(
        default_factory=dict, description="Field values a line must have (a list: any of them)"
    )
    by: str = Field(description="The field counted per value, e.g. ip or user")
    more_than: int = Field(ge=1, description="Fire when a key has more lines than this in the window")
    window: Duration = 300

    @field_validator("window")
    @classmethod
    def _window(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be more than 0s")
        return value


class LogSpikeRule(RuleBase):
    """Requests from one key above ``factor``× its own baseline rate."""

    type: Literal["log_spike"]
    source: Name
    match: dict[str, str | int | bool | list[str | int]] = Field(default_factory=dict)
    by: str = "ip"
    factor: float = Field(5.0, gt=1)
    window: Duration = 60
    baseline: Duration = Field(3600, description="The window the baseline rate is measured over")
    min_count: int = Field(20, ge=1, description="Ignore keys with fewer lines in the window")

    @model_validator(mode="after")
    def _windows(self) -> LogSpikeRule:
        if self.window <= 0:
            raise ValueError("window must be more than 0s")
        if self.baseline <= self.window:
            raise ValueError("baseline must be longer than window (the baseline is measured before it)")
        return self


AlertRule = Annotated[
    CheckFailingRule | ThresholdRule | SqlValueRule | MissingRule | LogRateRule | LogSpikeRule,
    Field(discriminator="type"),
]


RULE_TYPES = frozenset({"check_failing", "threshold", "sql_value", "missing", "log_rate", "log_spike"})


class LogSourceConfig(ConfigModel):
    """A JSON-lines log file followed like ``tail -F`` (across rotation and truncation)."""

    path: RelPath
    service: Name | None = Field(None, description="The service the lines belong to")
    time_field: str = Field("time", description="Field with the event time (ISO 8601 or Unix seconds)")
    start_at_end: bool = Field(True, description="On first start, skip what the file already holds")


class GroupingConfig(ConfigModel):
    """Alerts with equal ``group_by`` labels form one incident (as Alertmanager's route options)."""

    group_by: list[str] = Field(default_factory=lambda: ["service"])
    group_wait: Duration = Field(30, description="Wait this long after the first alert before notifying")
    group_interval: Duration = Field(300, description="Wait this long before notifying of new alerts")
    repeat_interval: Duration = Field(4 * 3600, description="Re-notify an unchanged, unacknowledged incident")


class RouteConfig(ConfigModel):
    """First route whose conditions all match chooses the escalation policy."""

    severity: Severity | list[Severity] | None = None
    service: Name | list[Name] | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    policy: Name = Field(description="A key of oncall.escalation_policies")
    grouping: GroupingConfig | None = Field(None, description="Overrides alerting.grouping")


class InhibitRule(ConfigModel):
    """While an alert matching ``source`` fires, alerts matching ``target`` with the same ``equal``
    labels are not notified."""

    source: dict[str, str | list[str]]
    target: dict[str, str | list[str]]
    equal: list[str] = Field(default_factory=lambda: ["service"])


class MaintenanceWindow(ConfigModel):
    """No notifications for matching alerts during the window: once (start/end) or recurring (cron)."""

    name: str = Field(min_length=1)
    services: list[Name] = Field(default_factory=list, description="Empty: every service")
    labels: dict[str, str] = Field(default_factory=dict)
    start: datetime | None = None
    end: datetime | None = None
    cron: str | None = Field(None, description="Recurring start, in timezone")
    duration: Duration | None = None
    timezone: TimeZoneName = "UTC"

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None and not croniter.is_valid(value):
            raise ValueError(
                f"{value!r} is not a valid cron expression (five fields: minute hour day month weekday)"
            )
        return value

    @model_validator(mode="after")
    def _when(self) -> MaintenanceWindow:
        if self.cron is not None:
            if self.start is not None or self.end is not None:
                raise ValueError("give either start/end (once) or cron/duration (recurring), not both")
            if not self.duration:
                raise ValueError("a recurring window (cron) needs a duration above 0s")
            return self
        if self.start is None or self.end is None:
            raise ValueError("give start and end (once), or cron and duration (recurring)")
        if self.duration is not None:
            raise ValueError("duration goes with cron; a one-off window has start and end")
        if (self.start.tzinfo is None) != (self.end.tzinfo is None):
            raise ValueError("give start and end both with or both without a UTC offset")
        if self.start >= self.end:
            raise ValueError("start must be before end")
        return self


class AlertingConfig(ConfigModel):
    enabled: bool = True
    starter_rules: bool = Field(True, description="Load the starter rule pack")
    rules: dict[Name, AlertRule] = Field(default_factory=dict)
    log_sources: dict[Name, LogSourceConfig] = Field(default_factory=dict)
    grouping: GroupingConfig = Field(default_factory=GroupingConfig)
    routes: list[RouteConfig] = Field(default_factory=list)
    inhibit: list[InhibitRule] | None = Field(
        None, description="Default: an open P1 suppresses P2/P3 of the same service"
    )
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)
    link_ttl: Duration = Field(24 * 3600, description="How long a signed ack/resolve link works")
    signing_key: Secret | None = Field(
        None, description="HMAC key for ack/resolve links (default: a key kept in store.state_dir)"
    )
    evaluation_interval: Duration = Field(1, description="How often time-based rules are evaluated")

    def key_path(self, state_dir: Path) -> Path:
        """Where the generated link-signing key lives when ``signing_key`` is not given."""
        return state_dir / "alerting-link.key"
