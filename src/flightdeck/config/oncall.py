"""Configuration of people, on-call schedules and escalation policies (``oncall:``).

Example::

    oncall:
      users:
        abebe:
          full_name: Abebe Kebede
          contacts:
            - {channel: whatsapp, to: "+251911000001"}
            - {channel: email, to: abebe@example.com, after: 5m}   # if still unacknowledged
      schedules:
        primary:
          timezone: Africa/Addis_Ababa
          layers:
            - name: weekly
              rotation: {users: [abebe, tendai], length: weekly, handoff: "09:00", start: 2026-11-02}
          overrides:
            - {user: tendai, start: "2026-12-24T18:00", end: "2026-12-26T09:00"}
      escalation_policies:
        page-primary:
          levels:
            - {targets: [{schedule: primary}], timeout: 10m}
            - {targets: [{user: abebe}, {channel: ops-chat}], timeout: 15m}
          repeat: 2

Time zones are IANA names checked against the bundled tz database; an unknown name is a
configuration error at its line. Cross-references (users, channels, policies) and schedule
coverage are checked in :mod:`flightdeck.config.oncall_refs`.
"""

from __future__ import annotations

import difflib
import enum
import functools
from datetime import date, datetime, time
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import AfterValidator, Field, model_validator

from flightdeck.config.base import ConfigModel
from flightdeck.config.types import Duration, Name

__all__ = [
    "ContactMethod",
    "EscalationLevel",
    "EscalationPolicy",
    "EscalationTarget",
    "LayerConfig",
    "OncallConfig",
    "OverrideConfig",
    "Restriction",
    "RotationConfig",
    "RotationLength",
    "ScheduleConfig",
    "TimeZoneName",
    "UserConfig",
    "Weekday",
    "zone",
]

MIN_CUSTOM_LENGTH = 60.0
"""A custom rotation length shorter than this (seconds) is refused."""


@functools.lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The :class:`ZoneInfo` of an IANA name; :class:`ValueError` naming it when it is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        close = difflib.get_close_matches(name, sorted(available_timezones()), n=1, cutoff=0.7)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(
            f"unknown time zone {name!r} ({hint}use an IANA name such as Africa/Addis_Ababa)"
        ) from None


def _check_zone(value: str) -> str:
    zone(value)
    return value


TimeZoneName = Annotated[str, AfterValidator(_check_zone)]
"""An IANA time zone name (``Africa/Harare``, ``Europe/Berlin``, ``UTC``), checked when loaded."""


class Weekday(enum.StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @property
    def number(self) -> int:
        """Monday 0 … Sunday 6, as :meth:`datetime.weekday`."""
        return _WEEKDAY_NUMBERS[self.value]


_WEEKDAY_NUMBERS = {d.value: i for i, d in enumerate(Weekday)}


class RotationLength(enum.StrEnum):
    HOURLY = "hourly"
    DAILY = "daily"
    WEEKLY = "weekly"


class ContactMethod(ConfigModel):
    channel: Name = Field(description="A key of channels:")
    to: str | None = Field(None, description="Address on that channel: phone number, chat id, email")
    after: Duration = Field(0, description="Only if still unacknowledged this long after the page")


class UserConfig(ConfigModel):
    full_name: str = ""
    timezone: TimeZoneName | None = None
    contacts: list[ContactMethod] = Field(default_factory=list)


class RotationConfig(ConfigModel):
    users: list[Name] = Field(min_length=1)
    length: RotationLength | Duration = Field(
        RotationLength.WEEKLY, description="hourly, daily, weekly, or a custom duration (12h, 3d)"
    )
    start: date | datetime = Field(description="Local date or date-time the first shift starts")
    handoff: time = Field(time(9, 0), description="Local time of day shifts change (daily/weekly)")

    @model_validator(mode="after")
    def _consistent(self) -> RotationConfig:
        if isinstance(self.length, float) and self.length < MIN_CUSTOM_LENGTH:
            raise ValueError("a custom rotation length must be at least 1m")
        if self.handoff.tzinfo is not None:
            raise ValueError("handoff is a local time of day in the schedule's time zone: give no offset")
        if (
            isinstance(self.start, datetime)
            and self.length in (RotationLength.DAILY, RotationLength.WEEKLY)
            and "handoff" in self.model_fields_set
            and self.start.time() != self.handoff
        ):
            raise ValueError(
                f"start {self.start.time():%H:%M} differs from handoff {self.handoff:%H:%M}: "
                "give start as a date, or the same time"
            )
        return self


class Restriction(ConfigModel):
    """The layer is on call only within these local hours (and days); ``end`` at or before
    ``start`` means the window runs over midnight into the next day."""

    days: list[Weekday] = Field(default_factory=lambda: list(Weekday), min_length=1)
    start: time
    end: time


class LayerConfig(ConfigModel):
    name: str = Field(min_length=1)
    rotation: RotationConfig
    restrictions: list[Restriction] = Field(default_factory=list)


class OverrideConfig(ConfigModel):
    user: Name
    start: datetime = Field(description="Local (schedule time zone) unless an offset is given")
    end: datetime


class ScheduleConfig(ConfigModel):
    timezone: TimeZoneName = Field("UTC", description="IANA time zone, e.g. Africa/Addis_Ababa")
    description: str = ""
    layers: list[LayerConfig] = Field(min_length=1, description="Later layers take precedence")
    overrides: list[OverrideConfig] = Field(default_factory=list)
    allow_gaps: bool = Field(False, description="Hours nobody's restrictions cover are intended")


class EscalationTarget(ConfigModel):
    """Exactly one of schedule, user or channel."""

    schedule: Name | None = None
    user: Name | None = None
    channel: Name | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> EscalationTarget:
        given = [v for v in (self.schedule, self.user, self.channel) if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of schedule, user or channel")
        return self


class EscalationLevel(ConfigModel):
    targets: list[EscalationTarget] = Field(min_length=1)
    timeout: Duration = Field(900, description="Unacknowledged this long: go to the next level")


class EscalationPolicy(ConfigModel):
    description: str = ""
    levels: list[EscalationLevel] = Field(min_length=1)
    repeat: int = Field(0, ge=0, le=20, description="Run the levels again this many times")


class OncallConfig(ConfigModel):
    users: dict[Name, UserConfig] = Field(default_factory=dict)
    schedules: dict[Name, ScheduleConfig] = Field(default_factory=dict)
    escalation_policies: dict[Name, EscalationPolicy] = Field(default_factory=dict)
