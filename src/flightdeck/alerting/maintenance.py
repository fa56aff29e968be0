"""Maintenance windows (``alerting.maintenance``): matching alerts are not notified while one is open.

A window is either one-off (``start``/``end``) or recurring (``cron`` + ``duration``, the cron
expression read in the window's ``timezone``). A date-time without an offset is local to the
window's time zone. A window applies to alerts of its ``services`` (every service when empty) that
also carry every label in ``labels``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from flightdeck.config.alerting import MaintenanceWindow

__all__ = ["active_windows", "window_active", "window_matches"]


def _aware(value: datetime, zone: ZoneInfo) -> datetime:
    return value.replace(tzinfo=zone) if value.tzinfo is None else value


def window_active(window: MaintenanceWindow, now: datetime) -> bool:
    """Whether ``window`` is open at ``now``. A one-off window needs both ends (``start`` and ``end``,
    or one of them and ``duration``); a window with neither that nor cron/duration is never open."""
    zone = ZoneInfo(window.timezone)
    if window.cron and window.duration:
        local = now.astimezone(zone).replace(tzinfo=None) + timedelta(seconds=1)
        started_naive: datetime = croniter(window.cron, local).get_prev(datetime)
        started = started_naive.replace(tzinfo=zone)
        return started <= now < started + timedelta(seconds=window.duration)
    if window.start is not None or window.end is not None:
        start = _aware(window.start, zone) if window.start is not None else None
        end = _aware(window.end, zone) if window.end is not None else None
        if start is None and window.duration is not None and end is not None:
            start = end - timedelta(seconds=window.duration)
        if end is None and start is not None and window.duration is not None:
            end = start + timedelta(seconds=window.duration)
        return start is not None and end is not None and start <= now < end
    return False


def window_matches(window: MaintenanceWindow, labels: Mapping[str, str]) -> bool:
    """Whether an alert with ``labels`` is covered by ``window`` (time aside)."""
    if window.services and labels.get("service", "") not in window.services:
        return False
    return all(labels.get(k) == v for k, v in window.labels.items())


def active_windows(windows: Sequence[MaintenanceWindow], now: datetime) -> list[MaintenanceWindow]:
    """The windows open at ``now``, in configuration order."""
    return [w for w in windows if window_active(w, now)]
