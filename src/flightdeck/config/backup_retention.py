"""How many backups to keep: restic's ``forget`` policy as a configuration model.

Each ``keep_*`` count is a number of calendar buckets (hours, days, ISO weeks, months, years) that
hold at least one backup, counted from the newest backup backwards; ``-1`` means every bucket,
``0`` turns the rule off. ``keep_within`` keeps everything made within a span of the newest backup,
written the way restic writes it (``1y6m``, ``7d``, ``36h``: years, months, days, hours). Buckets are
taken in ``timezone`` (an IANA name, UTC unless told), so "daily" means the day as people there see
it, across daylight-saving changes. The selection itself is :func:`flightdeck.backups.retention.select`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from flightdeck.config.base import ConfigModel

__all__ = ["RetentionPolicy", "WithinSpan", "parse_within"]

_SPAN = re.compile(r"(\d+)([ymdh])")


@dataclass(frozen=True)
class WithinSpan:
    """A restic duration: calendar years, months and days, then hours."""

    years: int = 0
    months: int = 0
    days: int = 0
    hours: int = 0

    def is_zero(self) -> bool:
        return not (self.years or self.months or self.days or self.hours)

    def __str__(self) -> str:
        parts = [(self.years, "y"), (self.months, "m"), (self.days, "d"), (self.hours, "h")]
        return "".join(f"{n}{u}" for n, u in parts if n) or "0h"


def parse_within(text: str) -> WithinSpan:
    """``"1y5m7d2h"`` → :class:`WithinSpan`; each unit at most once, in any order (as restic)."""
    compact = text.strip()
    seen: dict[str, int] = {}
    pos = 0
    for m in _SPAN.finditer(compact):
        if m.start() != pos or m.group(2) in seen:
            break
        seen[m.group(2)] = int(m.group(1))
        pos = m.end()
    if not compact or pos != len(compact):
        raise ValueError(
            f"must be a duration of years, months, days and hours such as 7d or 1y6m (got {text!r})"
        )
    return WithinSpan(seen.get("y", 0), seen.get("m", 0), seen.get("d", 0), seen.get("h", 0))


class RetentionPolicy(ConfigModel):
    """Which backups ``prune`` keeps (restic ``forget`` semantics, plus: the newest verified backup
    is always kept)."""

    keep_last: int = Field(0, ge=-1, description="the n newest backups (-1: all)")
    keep_hourly: int = Field(0, ge=-1, description="newest backup of each of the last n hours that have one")
    keep_daily: int = Field(0, ge=-1, description="newest backup of each of the last n days that have one")
    keep_weekly: int = Field(0, ge=-1, description="newest backup of each of the last n ISO weeks")
    keep_monthly: int = Field(0, ge=-1, description="newest backup of each of the last n months")
    keep_yearly: int = Field(0, ge=-1, description="newest backup of each of the last n years")
    keep_within: str | None = Field(
        None, description="every backup within this span of the newest (1y6m, 7d)"
    )
    timezone: str = Field("UTC", description="IANA zone whose calendar the buckets follow")

    @field_validator("keep_within")
    @classmethod
    def _within(cls, value: str | None) -> str | None:
        if value is None:
            return None
        span = parse_within(value)
        return None if span.is_zero() else str(span)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{value!r} is not a known IANA time zone (e.g. UTC, Europe/Berlin)") from exc
        return value

    @model_validator(mode="after")
    def _keeps_something(self) -> RetentionPolicy:
        counts = (
            self.keep_last,
            self.keep_hourly,
            self.keep_daily,
            self.keep_weekly,
            self.keep_monthly,
            self.keep_yearly,
        )
        if not any(counts) and self.keep_within is None:
            raise ValueError(
                "this policy would prune every backup: set at least one of keep_last, keep_hourly, "
                "keep_daily, keep_weekly, keep_monthly, keep_yearly or keep_within"
            )
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def within(self) -> WithinSpan | None:
        return None if self.keep_within is None else parse_within(self.keep_within)

    def describe(self) -> str:
        """``"keep 7 daily, 4 weekly, all monthly (Europe/Berlin)"``, for people."""
        parts = []
        for count, name in (
            (self.keep_last, "last"),
            (self.keep_hourly, "hourly"),
            (self.keep_daily, "daily"),
            (self.keep_weekly, "weekly"),
            (self.keep_monthly, "monthly"),
            (self.keep_yearly, "yearly"),
        ):
            if count:
                parts.append(f"{'all' if count == -1 else count} {name}")
        if self.keep_within is not None:
            parts.append(f"all within {self.keep_within} of the newest")
        return f"keep {', '.join(parts)} ({self.timezone})"
