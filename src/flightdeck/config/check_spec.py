"""The part of a check's configuration every kind shares, and the registry of kinds.

A check kind is one module in :mod:`flightdeck.checks` that defines a ``CheckSpec`` subclass with
``kind: Literal["<name>"]`` and registers it (see :func:`flightdeck.checks.base.register`).
Third-party kinds register through the ``flightdeck.checks`` entry-point group.
"""

from __future__ import annotations

import enum
import hashlib
import importlib
import json
from datetime import datetime
from importlib.metadata import entry_points
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import Field, field_validator, model_validator

from flightdeck.config.base import ConfigModel, collect_secrets
from flightdeck.config.conditions import Condition
from flightdeck.config.types import Duration, Name
from flightdeck.secret import Secret

__all__ = [
    "CatchUp",
    "CheckSpec",
    "config_digest",
    "known_kinds",
    "load_builtin_kinds",
    "register_spec",
    "spec_for_kind",
]


class CatchUp(enum.StrEnum):
    """What to do with slots missed while flightdeck was down."""

    RUN_ONCE = "run_once"  # run once as soon as possible, then continue on schedule
    SKIP = "skip"  # wait for the next slot


class CheckSpec(ConfigModel):
    """Fields every check has. Kind-specific fields live in the kind's subclass."""

    name: Name
    kind: str
    description: str = ""
    interval: Duration | None = Field(
        default=None, description="Run every interval (default: defaults.interval)"
    )
    cron: str | None = Field(default=None, description="Run on a cron schedule instead of an interval")
    timezone: str = Field(default="UTC", description="Time zone the cron expression is read in")
    timeout: Duration | None = Field(
        default=None, description="Give up after this long (default: defaults.timeout)"
    )
    jitter: Duration | None = Field(
        default=None, description="Random delay added to each run, up to this much"
    )
    catch_up: CatchUp | None = None
    enabled: bool = True
    conditions: list[Condition] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None and not croniter.is_valid(value):
            raise ValueError(
                f"{value!r} is not a valid cron expression (five fields: minute hour day month weekday)"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name such as Africa/Addis_Ababa)"
            ) from None
        return value

    @field_validator("interval", "timeout")
    @classmethod
    def _positive(cls, value: float | None) -> float | None:
        if value is not None and value < 0.1:
            raise ValueError("must be at least 100ms")
        return value

    @model_validator(mode="after")
    def _one_schedule(self) -> CheckSpec:
        if self.interval is not None and self.cron is not None:
            raise ValueError("give either interval or cron, not both")
        return self

    def secret_values(self) -> list[str]:
        """Every secret this spec holds, so evidence can be scrubbed of them."""
        found: list[str] = []
        collect_secrets(self, found)
        return found

    def next_cron_time(self, after: datetime) -> datetime:
        assert self.cron is not None
        local = after.astimezone(ZoneInfo(self.timezone))
        nxt: datetime = croniter(self.cron, local).get_next(datetime)
        return nxt.astimezone(after.tzinfo)


def _digestable(value: Any) -> Any:
    if isinstance(value, Secret):
        return hashlib.sha256(value.reveal().encode()).hexdigest()
    if isinstance(value, ConfigModel):
        return {name: _digestable(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, dict):
        return {str(k): _digestable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_digestable(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def config_digest(spec: ConfigModel) -> str:
    """SHA-256 of a spec's canonical JSON; secrets enter only as their own hashes."""
    canonical = json.dumps(_digestable(spec), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


_SPECS: dict[str, type[CheckSpec]] = {}
_loaded = False


def register_spec(kind: str, model: type[CheckSpec]) -> None:
    existing = _SPECS.get(kind)
    if existing is not None and existing is not model:
        raise RuntimeError(
            f"check kind {kind!r} registered twice ({existing.__module__}, {model.__module__})"
        )
    _SPECS[kind] = model


def load_builtin_kinds() -> None:
    """Import the built-in check kinds and any installed plugins (entry-point group ``flightdeck.checks``)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    importlib.import_module("flightdeck.checks")
    for ep in entry_points(group="flightdeck.checks"):
        ep.load()


def spec_for_kind(kind: str) -> type[CheckSpec] | None:
    load_builtin_kinds()
    return _SPECS.get(kind)


def known_kinds() -> list[str]:
    load_builtin_kinds()
    return sorted(_SPECS)
