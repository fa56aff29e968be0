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
"""

from __future__ import annotations

import enum
from datetime import date, datetime, time

from pydantic import Field

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
    "UserConfig",
    "Weekday",
]


class Weekday(enum.StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


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
    timezone: str | None = None
    contacts: list[ContactMethod] = Field(default_factory=list)


class RotationConfig(ConfigModel):
    users: list[Name] = Field(min_length=1)
    length: RotationLength | Duration = Field(
        RotationLength.WEEKLY, description="hourly, daily, weekly, or a custom duration (12h, 3d)"
    )
    start: date | datetime = Field(description="Local date or date-time the first shift starts")
    handoff: time = Field(time(9, 0), description="Local time of day shifts change (daily/weekly)")


class Restriction(ConfigModel):
    """The layer is on call only within these local hours (and days)."""

    days: list[Weekday] = Field(default_factory=lambda: list(Weekday))
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
    timezone: str = Field("UTC", description="IANA time zone, e.g. Africa/Addis_Ababa")
    description: str = ""
    layers: list[LayerConfig] = Field(min_length=1, description="Later layers take precedence")
    overrides: list[OverrideConfig] = Field(default_factory=list)


class EscalationTarget(ConfigModel):
    """Exactly one of schedule, user or channel."""

    schedule: Name | None = None
    user: Name | None = None
    channel: Name | None = None


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
