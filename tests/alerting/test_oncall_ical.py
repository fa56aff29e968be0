"""The iCalendar feed of a schedule, read back with the icalendar library."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from icalendar import Calendar

from flightdeck.alerting.ical import ical
from flightdeck.config import Config, load_config_text

CONFIG = """\
oncall:
  users: {abebe: {}, tendai: {}, chipo: {}}
  schedules:
    primary:
      timezone: Europe/Berlin
      description: Payments primary
      layers:
        - name: daily
          rotation: {users: [abebe, tendai], length: daily, handoff: "09:00", start: 2026-03-23}
      overrides:
        - {user: chipo, start: "2026-03-30T12:00", end: "2026-03-30T14:00"}
"""


def config() -> Config:
    return load_config_text(CONFIG, "f.yaml", env={})


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def events(data: bytes) -> list[tuple[str, str, datetime, datetime]]:
    cal = Calendar.from_ical(data)
    return [
        (str(e["UID"]), str(e["SUMMARY"]), e.decoded("DTSTART"), e.decoded("DTEND"))
        for e in cal.walk("VEVENT")
    ]


def test_one_event_per_shift_in_utc_with_true_edges() -> None:
    data = ical(
        config(), "primary", utc("2026-03-28T12:00"), utc("2026-03-31T00:00"), stamp=utc("2026-03-01T00:00")
    )
    cal = Calendar.from_ical(data)
    assert str(cal["PRODID"]).startswith("-//flightdeck//")
    assert str(cal["VERSION"]) == "2.0"
    found = events(data)
    assert [(summary, start, end) for _, summary, start, end in found] == [
        ("On call: tendai", utc("2026-03-28T08:00"), utc("2026-03-29T07:00")),  # not cut at 12:00; 23 h
        ("On call: abebe", utc("2026-03-29T07:00"), utc("2026-03-30T07:00")),
        ("On call: tendai", utc("2026-03-30T07:00"), utc("2026-03-30T10:00")),
        ("On call: chipo", utc("2026-03-30T10:00"), utc("2026-03-30T12:00")),
        ("On call: tendai", utc("2026-03-30T12:00"), utc("2026-03-31T07:00")),
    ]
    assert all(start.tzinfo is not None and start.utcoffset() == timedelta(0) for _, _, start, _ in found)
    assert b"DTSTART:20260328T080000Z" in data
    assert len({uid for uid, *_ in found}) == len(found)
    stamps = {e.decoded("DTSTAMP") for e in cal.walk("VEVENT")}
    assert stamps == {utc("2026-03-01T00:00")}


def test_uids_are_stable_across_windows() -> None:
    first = {
        (start, uid)
        for uid, _, start, _ in events(
            ical(config(), "primary", utc("2026-03-28T12:00"), utc("2026-03-31T00:00"))
        )
    }
    later = {
        (start, uid)
        for uid, _, start, _ in events(
            ical(config(), "primary", utc("2026-03-29T18:00"), utc("2026-04-03T00:00"))
        )
    }
    shared = {start for start, _ in first} & {start for start, _ in later}
    assert len(shared) >= 3
    assert {x for x in first if x[0] in shared} == {x for x in later if x[0] in shared}
