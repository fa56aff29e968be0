"""Configuration of experiments: failover and rollback drills written down as data.

One :class:`ExperimentConfig` per named experiment (``experiments.NAME``), in the vocabulary of
Chaos Toolkit: a **steady state** (probes that must hold before anything is changed, and again at
the end), a **method** (actions and probes, in order), **rollbacks** (actions that undo the method;
they always run once the method started) and a **recovery** (probes after the rollbacks, timed
against a target)::

    experiments:
      database-outage:
        service: payments
        steady_state:
          - {name: ready check passes, probe: check, check: payments/ready, expect: pass}
        method:
          - {name: stop the database, action: http, method: POST, url: ..., bearer_token_file: token}
          - {name: /ready turns 503, probe: http, url: .../ready, expect_status: 503, within: 30s}
        rollbacks:
          - {name: start the database, action: http, method: POST, url: ..., bearer_token_file: token}
        recovery:
          target: 60s
          probes:
            - {name: /ready answers 200, probe: http, url: .../ready, expect_status: 200}

A step is an **action** (key ``action``: ``command``, ``process``, ``restore``, ``http``, ``sleep``)
or a **probe** (key ``probe``: ``http``, ``check``, ``command``). The HTTP step is validated by
building the ``http`` check it runs as, so its fields mean exactly what they mean there.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BeforeValidator, Discriminator, Field, JsonValue, Tag, ValidationError, model_validator

from flightdeck.config.base import ConfigModel
from flightdeck.config.types import Name, PositiveDuration, ReadableFile, RelPath
from flightdeck.secret import Secret

if TYPE_CHECKING:
    from flightdeck.checks.http import HttpSpec

__all__ = [
    "ACTION_KINDS",
    "PROBE_KINDS",
    "UNION_TAGS",
    "Action",
    "CheckProbe",
    "CommandAction",
    "CommandProbe",
    "ExpectedVerdict",
    "ExperimentConfig",
    "HttpAction",
    "HttpProbe",
    "Probe",
    "ProcessAction",
    "ProcessOperation",
    "RecoveryConfig",
    "RestoreAction",
    "SleepAction",
    "Step",
    "experiment_issues",
]

StepName = Annotated[str, Field(min_length=1, max_length=200)]


# -- fields shared by several kinds -----------------------------------------------------------------


class _Probe(ConfigModel):
    name: StepName
    within: PositiveDuration | None = Field(
        default=None, description="Poll until the probe holds, for at most this long (default: once)"
    )
    poll: PositiveDuration = Field(default=1.0, description="With within: how often to try")


class _Command(ConfigModel):
    argv: list[str] = Field(min_length=1, description="Program and arguments; no shell is involved")
    timeout: PositiveDuration = Field(default=60.0, description="Kill the command after this long")
    env: dict[str, str] = Field(
        default_factory=dict, description="Added to flightdeck's environment; values are never recorded"
    )
    cwd: RelPath | None = Field(default=None, description="Working directory (default: flightdeck's)")
    expect_exit: list[int] = Field(default=[0], description="Exit codes that count as success")

    @model_validator(mode="before")
    @classmethod
    def _one_exit_code(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("expect_exit"), int):
            return {**data, "expect_exit": [data["expect_exit"]]}
        return data


class _HttpRequest(ConfigModel):
    """One HTTP request, sent as the ``http`` check sends it (TLS, CA file, redirects, timing)."""

    url: str
    headers: dict[str, str] = Field(default_factory=dict, description="Sent, never recorded")
    bearer_token: Secret | None = Field(default=None, description="Or bearer_token_file")
    body_json: JsonValue = None
    ca_file: ReadableFile | None = None
    verify_tls: bool = True
    timeout: PositiveDuration = 10.0
    expect_status: int | str | list[int | str] | None = Field(
        default=None, description="Accepted status codes or classes (default: 2xx)"
    )

    def http_spec(self, name: str) -> HttpSpec:
        """The ``http`` check this request runs as (its expectations included; health reading off)."""
        from flightdeck.checks.http import HttpSpec

        expect: dict[str, Any] = {}
        if self.expect_status is not None:
            expect["status"] = self.expect_status
        expect.update(self._expect())
        data: dict[str, Any] = {
            "name": "experiment-step",
            "kind": "http",
            "description": name,
            "url": self.url,
            "method": getattr(self, "method", "GET"),
            "headers": self.headers,
            "bearer_token": self.bearer_token,
            "body_json": self.body_json,
            "ca_file": self.ca_file,
            "verify_tls": self.verify_tls,
            "timeout": self.timeout,
            "health": "off",
            "expect": expect,
        }
        return HttpSpec.model_validate(data)

    def _expect(self) -> dict[str, Any]:
        return {}

    @model_validator(mode="after")
    def _valid_as_http_check(self) -> Any:
        try:
            self.http_spec("validation")
        except ValidationError as exc:
            problems = []
            for err in exc.errors():
                loc = [str(p) for p in err["loc"]]
                if loc[:1] == ["expect"] and len(loc) > 1:  # the check's expect.x is this step's field
                    loc = [{"status": "expect_status", "json": "json"}.get(loc[1], loc[1]), *loc[2:]]
                where = "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in loc).lstrip(".")
                msg = str(err["msg"]).removeprefix("Value error, ")
                problems.append(f"{where}: {msg}" if where else msg)
            raise ValueError("; ".join(problems)) from None
        return self


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


OneOrMany = Annotated[list[str], BeforeValidator(_one_or_many)]


# -- probes -----------------------------------------------------------------------------------------


class HttpProbe(_Probe, _HttpRequest):
    """Holds when the response has an expected status and every JSON assertion and text holds."""

    probe: Literal["http"]
    method: Literal["GET", "HEAD", "POST"] = "GET"
    json_assertions: OneOrMany = Field(
        default_factory=list, alias="json", description="JSON assertions, e.g. \"$.status == 'fail'\""
    )
    body_contains: OneOrMany = Field(default_factory=list, description="Texts the body must contain")

    def _expect(self) -> dict[str, Any]:
        return {"json": self.json_assertions, "body_contains": self.body_contains}


class ExpectedVerdict(enum.StrEnum):
    PASS = "pass"  # noqa: S105 - a verdict, not a password
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"


class CheckProbe(_Probe):
    """Holds when one run of the configured check ``SERVICE/CHECK`` gives one of the ``expect`` verdicts."""

    probe: Literal["check"]
    check: str = Field(pattern=r"^[^/\s]+/[^/\s]+$", description="SERVICE/CHECK of a configured check")
    expect: Annotated[list[ExpectedVerdict], BeforeValidator(_one_or_many)] = Field(
        min_length=1, description="pass, warn, fail or error, or a list of them"
    )


class CommandProbe(_Probe, _Command):
    """Holds when the command exits with one of ``expect_exit``."""

    probe: Literal["command"]
    timeout: PositiveDuration = 30.0


# -- actions ----------------------------------------------------------------------------------------


class _Action(ConfigModel):
    name: StepName


class CommandAction(_Action, _Command):
    """Run a program (no shell); it fails when the exit code is not in ``expect_exit``."""

    action: Literal["command"]


class ProcessOperation(enum.StrEnum):
    STOP = "stop"
    START = "start"


class ProcessAction(_Action):
    """``stop``: SIGTERM, then SIGKILL after ``grace``, to the pid in ``pid_file`` or to every process
    whose command line is exactly ``command_line``. ``start``: start ``argv`` detached (its own
    session, output to ``log_file``), optionally writing its pid to ``pid_file``."""

    action: Literal["process"]
    operation: ProcessOperation
    pid_file: RelPath | None = None
    command_line: list[str] | None = Field(default=None, min_length=1)
    grace: PositiveDuration = Field(default=10.0, description="stop: wait this long before SIGKILL")
    argv: list[str] | None = Field(default=None, min_length=1, description="start: program and arguments")
    env: dict[str, str] = Field(default_factory=dict)
    cwd: RelPath | None = None
    log_file: RelPath | None = Field(default=None, description="start: where its output goes (default: none)")

    @model_validator(mode="after")
    def _consistent(self) -> ProcessAction:
        if self.operation is ProcessOperation.STOP:
            if (self.pid_file is None) == (self.command_line is None):
                raise ValueError("stop needs exactly one of pid_file or command_line")
            if self.argv is not None:
                raise ValueError("argv is for operation: start")
        else:
            if self.argv is None:
                raise ValueError("start needs argv (the program and its arguments)")
            if self.command_line is not None:
                raise ValueError("command_line is for operation: stop")
        return self


class RestoreAction(_Action):
    """Restore a configured backup into ``to`` with flightdeck's restore (verified and decrypted
    first). A target that looks like production is refused unless ``force`` and ``confirm_name``
    (the target database's name) are both given; a target holding tables needs ``safety_backup``."""

    action: Literal["restore"]
    backup: Name = Field(description="A key of backups:")
    backup_id: str | None = Field(default=None, description="Default: the newest complete backup")
    to: Secret = Field(description="Target database URL (its password is never recorded)")
    force: bool = False
    confirm_name: str | None = None
    safety_backup: Name | None = Field(
        default=None, description="A key of backups: run first when the target already holds tables"
    )
    jobs: int = Field(default=1, ge=1, le=64)


class HttpAction(_Action, _HttpRequest):
    """Send one request; it fails when the status is not in ``expect_status`` (default 2xx)."""

    action: Literal["http"]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"


class SleepAction(_Action):
    action: Literal["sleep"]
    duration: PositiveDuration


# -- unions -----------------------------------------------------------------------------------------

PROBE_KINDS: dict[str, type[_Probe]] = {"http": HttpProbe, "check": CheckProbe, "command": CommandProbe}
ACTION_KINDS: dict[str, type[_Action]] = {
    "command": CommandAction,
    "process": ProcessAction,
    "restore": RestoreAction,
    "http": HttpAction,
    "sleep": SleepAction,
}


def _tag(value: Any) -> str | None:
    if isinstance(value, dict):
        if "probe" in value:
            return f"probe:{value['probe']}"
        if "action" in value:
            return f"action:{value['action']}"
        return None
    if isinstance(value, ConfigModel):
        kind = getattr(value, "probe", None)
        return f"probe:{kind}" if kind is not None else f"action:{getattr(value, 'action', None)}"
    return None


def _known(allowed: tuple[str, ...]) -> Any:
    """A before-validator naming what is wrong with a step's kind, in words, at the step's line."""

    def check(value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        has = [k for k in ("probe", "action") if k in value]
        if not has:
            raise ValueError(f"each step needs a {' or '.join(allowed)} key saying what kind it is")
        if len(has) == 2:
            raise ValueError("a step is either an action or a probe, not both")
        key = has[0]
        if key not in allowed:
            raise ValueError(f"only {allowed[0]}s belong here (found {key}: {value[key]!r})")
        kinds = PROBE_KINDS if key == "probe" else ACTION_KINDS
        if value[key] not in kinds:
            raise ValueError(f"unknown {key} kind {value[key]!r} (known: {', '.join(sorted(kinds))})")
        return value

    return BeforeValidator(check)


UNION_TAGS = frozenset({*(f"probe:{k}" for k in PROBE_KINDS), *(f"action:{k}" for k in ACTION_KINDS)})
"""The tags pydantic puts in an error's location inside a step; the loader leaves them out."""

Probe = Annotated[
    Annotated[HttpProbe, Tag("probe:http")]
    | Annotated[CheckProbe, Tag("probe:check")]
    | Annotated[CommandProbe, Tag("probe:command")],
    Discriminator(_tag),
    _known(("probe",)),
]
"""A probe: key ``probe`` (``http``, ``check``, ``command``)."""

Action = Annotated[
    Annotated[CommandAction, Tag("action:command")]
    | Annotated[ProcessAction, Tag("action:process")]
    | Annotated[RestoreAction, Tag("action:restore")]
    | Annotated[HttpAction, Tag("action:http")]
    | Annotated[SleepAction, Tag("action:sleep")],
    Discriminator(_tag),
    _known(("action",)),
]
"""An action: key ``action`` (``command``, ``process``, ``restore``, ``http``, ``sleep``)."""

Step = Annotated[
    Annotated[HttpProbe, Tag("probe:http")]
    | Annotated[CheckProbe, Tag("probe:check")]
    | Annotated[CommandProbe, Tag("probe:command")]
    | Annotated[CommandAction, Tag("action:command")]
    | Annotated[ProcessAction, Tag("action:process")]
    | Annotated[RestoreAction, Tag("action:restore")]
    | Annotated[HttpAction, Tag("action:http")]
    | Annotated[SleepAction, Tag("action:sleep")],
    Discriminator(_tag),
    _known(("action", "probe")),
]
"""A step of the method: an action or a probe."""


class RecoveryConfig(ConfigModel):
    """Probes run after the rollbacks, polled until all hold. Recovery time is measured from the start
    of the first rollback to the moment the last probe held, and compared with ``target``."""

    probes: list[Probe] = Field(min_length=1)
    target: PositiveDuration = Field(description="Recovery slower than this makes the run deviated")
    timeout: PositiveDuration | None = Field(
        default=None, description="Stop waiting after this long (default: twice the target)"
    )
    poll: PositiveDuration = Field(default=1.0, description="How often a probe that does not hold is retried")

    @model_validator(mode="after")
    def _no_within(self) -> RecoveryConfig:
        for probe in self.probes:
            if probe.within is not None:
                raise ValueError(
                    f"probe {probe.name!r}: within has no effect here (recovery probes are polled until "
                    "recovery.timeout)"
                )
        return self

    @property
    def give_up_after(self) -> float:
        return self.timeout if self.timeout is not None else 2 * self.target


class ExperimentConfig(ConfigModel):
    """One experiment: steady state → method → rollbacks → recovery → steady state again."""

    service: Name = Field(description="The service the experiment's evidence belongs to")
    description: str = ""
    steady_state: list[Probe] = Field(default_factory=list)
    method: list[Step] = Field(min_length=1)
    rollbacks: list[Action] = Field(default_factory=list)
    recovery: RecoveryConfig | None = None
    journal_dir: RelPath | None = Field(
        default=None, description="Where journals are written (default: <store.state_dir>/experiments)"
    )


def experiment_issues(config: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """Cross-references that point at nothing, as (key path, message) pairs: an experiment's service,
    each ``check`` probe's ``SERVICE/CHECK``, each restore action's backups, and the experiment an
    ``experiment`` check names."""
    issues: list[tuple[tuple[str | int, ...], str]] = []
    subjects = {f"{svc}/{check.name}" for svc, check in config.iter_checks()}
    known_svc = ", ".join(sorted(config.services)) or "none declared"
    known_backups = ", ".join(sorted(config.backups)) or "none declared"
    for name, exp in config.experiments.items():
        loc: tuple[str | int, ...] = ("experiments", name)
        if exp.service not in config.services:
            issues.append(((*loc, "service"), f"no service named {exp.service!r} (declared: {known_svc})"))
        sections: list[tuple[tuple[str | int, ...], list[Any]]] = [
            ((*loc, "steady_state"), exp.steady_state),
            ((*loc, "method"), exp.method),
            ((*loc, "rollbacks"), exp.rollbacks),
        ]
        if exp.recovery is not None:
            sections.append(((*loc, "recovery", "probes"), exp.recovery.probes))
        for where, steps in sections:
            for i, step in enumerate(steps):
                if isinstance(step, CheckProbe) and step.check not in subjects:
                    shown = ", ".join(sorted(subjects)[:20]) or "none configured"
                    issues.append(((*where, i, "check"), f"no check {step.check!r} (checks: {shown})"))
                if isinstance(step, RestoreAction):
                    for field in ("backup", "safety_backup"):
                        ref = getattr(step, field)
                        if ref is not None and ref not in config.backups:
                            issues.append(
                                ((*where, i, field), f"no backup named {ref!r} (declared: {known_backups})")
                            )
    for svc_name, service in config.services.items():
        for i, check in enumerate(service.checks):
            ref = getattr(check, "experiment", None)
            if check.kind == "experiment" and isinstance(ref, str) and ref not in config.experiments:
                known = ", ".join(sorted(config.experiments)) or "none declared"
                issues.append(
                    (
                        ("services", svc_name, "checks", i, "experiment"),
                        f"no experiment named {ref!r} (declared: {known})",
                    )
                )
    return issues
