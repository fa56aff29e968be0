"""What a check is, and the registry of kinds.

A check kind is one module: a :class:`~flightdeck.config.CheckSpec` subclass (its configuration,
with ``kind: Literal["<name>"]``) and a :class:`Check` subclass decorated with :func:`register`.
The check's :meth:`Check.observe` measures and reports an :class:`Observation`; the runner
(:mod:`flightdeck.engine.runner`) adds timing, evaluates the user's conditions and writes evidence.

Raise :class:`~flightdeck.errors.CheckError` with a one-line reason when no measurement could be
obtained (refused, reset, garbage); never let a third-party exception escape.
"""

from __future__ import annotations

import typing
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import JsonValue

from flightdeck.clock import Clock, SystemClock
from flightdeck.config.check_spec import CheckSpec, register_spec
from flightdeck.config.models import Config, DatasourceConfig
from flightdeck.evidence import Artifact, Measurement

if TYPE_CHECKING:
    from flightdeck.store import Store

__all__ = ["CHECKS", "Check", "CheckContext", "Observation", "check_class", "register"]

S = TypeVar("S", bound=CheckSpec)


@dataclass
class Observation:
    """What one run of a check saw.

    ``failures`` are the kind's own expectations that did not hold (status 503 not in [200]);
    they make the verdict ``fail``. ``warnings`` make it at least ``warn``. ``memo`` is carried to the
    next run of the same check (e.g. counters, to compute rates between scrapes). ``artifacts`` are
    files the run produced (a job's report).
    """

    measurements: list[Measurement] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    detail: dict[str, JsonValue] = field(default_factory=dict)
    summary: str = ""
    memo: JsonValue = None
    artifacts: list[Artifact] = field(default_factory=list)

    def measure(self, name: str, value: float | int | None, unit: str = "") -> None:
        """Record a measurement; ``None`` (not measured) is skipped, never recorded as zero."""
        if value is not None:
            self.measurements.append(Measurement(name=name, value=float(value), unit=unit))


@dataclass
class CheckContext:
    """Shared, process-wide resources a check may use. Created once; closed on shutdown.

    ``store`` is the evidence store, for kinds that run jobs keeping their own records
    (reconciliations, ledger hash chains); ``None`` when checks run without one (``--no-record``).
    """

    config: Config
    clock: Clock = field(default_factory=SystemClock)
    store: Store | None = None
    _resources: dict[str, Any] = field(default_factory=dict)
    _closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def datasource(self, name: str) -> DatasourceConfig:
        return self.config.datasources[name]

    def resource(
        self, key: str, factory: Callable[[], Any], closer: Callable[[Any], Awaitable[None]] | None = None
    ) -> Any:
        """A shared object (an HTTP client session, a connection pool) created on first use."""
        if key not in self._resources:
            obj = factory()
            self._resources[key] = obj
            if closer is not None:
                self._closers.append(lambda: closer(obj))
        return self._resources[key]

    async def aclose(self) -> None:
        closers, self._closers = self._closers, []
        self._resources.clear()
        for close in reversed(closers):
            await close()


class Check(ABC, Generic[S]):
    """One configured check of one service."""

    spec_type: ClassVar[type[CheckSpec]]

    def __init__(self, spec: S, service: str, context: CheckContext) -> None:
        self.spec = spec
        self.service = service
        self.context = context

    @property
    def subject(self) -> str:
        return f"{self.service}/{self.spec.name}"

    @property
    def timeout(self) -> float:
        """Seconds this check may take: its own ``timeout``, else ``defaults.timeout``."""
        return self.spec.timeout if self.spec.timeout is not None else self.context.config.defaults.timeout

    @abstractmethod
    async def observe(self, memo: JsonValue) -> Observation:
        """Measure once. ``memo`` is what the previous run returned as ``Observation.memo``."""


CHECKS: dict[str, type[Check[Any]]] = {}

C = TypeVar("C", bound=type[Check[Any]])


def _kind_of(spec: type[CheckSpec]) -> str:
    args = typing.get_args(spec.model_fields["kind"].annotation)
    if len(args) != 1 or not isinstance(args[0], str):
        raise TypeError(f"{spec.__name__}.kind must be annotated Literal['<kind>']")
    return args[0]


def register(cls: C) -> C:
    """Class decorator: make a check kind known to the configuration and the runner."""
    kind = _kind_of(cls.spec_type)
    existing = CHECKS.get(kind)
    if existing is not None and existing is not cls:
        raise RuntimeError(f"check kind {kind!r} registered twice")
    CHECKS[kind] = cls
    register_spec(kind, cls.spec_type)
    return cls


def check_class(kind: str) -> type[Check[Any]]:
    from flightdeck.config.check_spec import load_builtin_kinds

    load_builtin_kinds()
    return CHECKS[kind]
