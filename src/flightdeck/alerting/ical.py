"""An iCalendar (RFC 5545) feed of an on-call schedule: one event per shift.

Each shift is a ``VEVENT`` with ``SUMMARY`` "On call: <user>", ``DTSTART``/``DTEND`` in UTC and a
``UID`` derived from the schedule, the person and the shift's start, so a calendar that subscribes to
the feed sees the same shift as the same event on every refresh. Shifts at the window's edges keep
their true start and end (the window only chooses which shifts are listed).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from icalendar import Calendar, Event

from flightdeck.alerting.oncall import Shift, covering_shifts, schedule_config
from flightdeck.config.models import Config

__all__ = ["PRODID", "ical", "shift_uid"]

PRODID = "-//flightdeck//on-call schedule//EN"


def shift_uid(schedule: str, shift: Shift) -> str:
    """A stable identifier of a shift: the same schedule, person and start give the same UID."""
    key = f"{schedule}\n{shift.user}\n{shift.start.astimezone(UTC).isoformat()}"
    return f"{hashlib.sha256(key.encode()).hexdigest()[:32]}@flightdeck"


def ical(
    config: Config, schedule: str, start: datetime, end: datetime, stamp: datetime | None = None
) -> bytes:
    """The shifts of ``schedule`` overlapping ``[start, end)`` as an iCalendar document.

    ``stamp`` is each event's ``DTSTAMP`` (default: now)."""
    sched = schedule_config(config, schedule)
    stamp = (stamp or datetime.now(UTC)).astimezone(UTC)
    cal = Calendar.new(
        prodid=PRODID,
        uid=f"{hashlib.sha256(schedule.encode()).hexdigest()[:32]}@flightdeck",
        name=f"On call: {schedule}",
        description=sched.description or None,
    )
    for shift in covering_shifts(config, schedule, start, end):
        detail = "override" if shift.override else f"layer {shift.layer}"
        cal.add_component(
            Event.new(
                uid=shift_uid(schedule, shift),
                summary=f"On call: {shift.user}",
                description=f"Schedule {schedule} ({sched.timezone}), {detail}",
                start=shift.start.astimezone(UTC),
                end=shift.end.astimezone(UTC),
                stamp=stamp,
            )
        )
    data: bytes = cal.to_ical()
    return data
