"""Schedule resolution: rotations, handoffs across DST changes, restrictions, layers and overrides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from flightdeck.alerting import ScheduleError
from flightdeck.alerting.oncall import (
    Shift,
    contacts_for,
    covering_shifts,
    current_and_next,
    on_call,
    shifts,
)
from flightdeck.alerting.rotation import localize
from flightdeck.config import Config, load_config_text
from flightdeck.errors import NotFoundError

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def schedule(timezone: str, layers: str, overrides: str = "[]", users: str = "a, b, c, d") -> Config:
    names = [u.strip() for u in users.split(",")]
    user_map = ", ".join(f"{u}: {{}}" for u in names)
    text = f"""\
oncall:
  users: {{{user_map}}}
  schedules:
    s:
      timezone: {timezone}
      allow_gaps: true
      layers: {layers}
      overrides: {overrides}
"""
    return load_config_text(text, "f.yaml", env={})


def spans(found: list[Shift]) -> list[tuple[str, datetime, datetime]]:
    return [(s.user, s.start, s.end) for s in found]


# --- local time resolution ------------------------------------------------------------------


def test_a_local_time_in_the_spring_forward_gap_is_the_first_instant_after_it() -> None:
    assert localize(datetime(2026, 3, 29, 2, 30), BERLIN) == utc("2026-03-29T01:00")
    assert localize(datetime(2026, 3, 8, 2, 0), NEW_YORK) == utc("2026-03-08T07:00")


def test_a_local_time_that_happens_twice_is_its_first_occurrence() -> None:
    assert localize(datetime(2026, 10, 25, 2, 30), BERLIN) == utc("2026-10-25T00:30")  # CEST, not CET
    assert localize(datetime(2026, 11, 1, 1, 30), NEW_YORK) == utc("2026-11-01T05:30")  # EDT, not EST


# --- rotations --------------------------------------------------------------------------------


def test_daily_handoff_keeps_local_wall_clock_time_across_both_berlin_dst_changes() -> None:
    cfg = schedule(
        "Europe/Berlin",
        '[{name: d, rotation: {users: [a, b], length: daily, handoff: "09:00", start: 2026-03-01}}]',
    )
    spring = shifts(cfg, "s", utc("2026-03-28T08:00"), utc("2026-03-30T07:00"))
    assert spans(spring) == [
        ("b", utc("2026-03-28T08:00"), utc("2026-03-29T07:00")),  # 23 h: 09:00 CET to 09:00 CEST
        ("a", utc("2026-03-29T07:00"), utc("2026-03-30T07:00")),
    ]
    autumn = shifts(cfg, "s", utc("2026-10-24T07:00"), utc("2026-10-25T08:00"))
    assert len(autumn) == 1
    assert autumn[0].end - autumn[0].start == timedelta(hours=25)
    assert autumn[0].end.astimezone(BERLIN).hour == 9


def test_weekly_handoff_in_new_york_across_dst_changes() -> None:
    cfg = schedule(
        "America/New_York",
        '[{name: w, rotation: {users: [a, b, c], length: weekly, handoff: "09:00", start: 2026-02-23}}]',
    )
    found = shifts(cfg, "s", utc("2026-03-02T14:00"), utc("2026-03-09T13:00"))
    assert spans(found) == [("b", utc("2026-03-02T14:00"), utc("2026-03-09T13:00"))]  # 167 h
    autumn = shifts(cfg, "s", utc("2026-10-26T13:00"), utc("2026-11-02T14:00"))
    assert len(autumn) == 1
    assert autumn[0].end - autumn[0].start == timedelta(hours=169)
    assert on_call(cfg, "s", utc("2026-11-02T13:30")) == [autumn[0].user]  # 08:30 EST: not handed off yet


def test_a_handoff_inside_the_gap_happens_when_the_clocks_have_jumped() -> None:
    cfg = schedule(
        "Europe/Berlin",
        '[{name: d, rotation: {users: [a, b], length: daily, handoff: "02:30", start: 2026-03-27}}]',
    )
    found = shifts(cfg, "s", utc("2026-03-28T00:00"), utc("2026-03-30T00:00"))
    assert spans(found) == [
        ("a", utc("2026-03-28T00:00"), utc("2026-03-28T01:30")),
        ("b", utc("2026-03-28T01:30"), utc("2026-03-29T01:00")),  # 03:00 CEST, the first instant after
        ("a", utc("2026-03-29T01:00"), utc("2026-03-30T00:00")),
    ]


def test_an_ambiguous_handoff_happens_at_the_first_occurrence() -> None:
    cfg = schedule(
        "America/New_York",
        '[{name: d, rotation: {users: [a, b], length: daily, handoff: "01:30", start: 2026-10-31}}]',
    )
    found = shifts(cfg, "s", utc("2026-11-01T00:00"), utc("2026-11-03T00:00"))
    assert [s.start for s in found[1:]] == [utc("2026-11-01T05:30"), utc("2026-11-02T06:30")]
    assert found[1].end - found[1].start == timedelta(hours=25)


def test_hourly_rotation_is_elapsed_time_through_the_repeated_hour() -> None:
    cfg = schedule(
        "Europe/Berlin", "[{name: h, rotation: {users: [a, b, c], length: hourly, start: 2026-10-24T00:00}}]"
    )
    found = shifts(cfg, "s", utc("2026-10-24T22:00"), utc("2026-10-25T03:00"))
    assert [s.end - s.start for s in found] == [timedelta(hours=1)] * 5
    # 24 shifts after the start: 00:00, 01:00, 02:00 CEST, 02:00 CET and 03:00 CET each get one person
    assert [s.user for s in found] == ["a", "b", "c", "a", "b"]
    assert [s.start.astimezone(BERLIN).hour for s in found] == [0, 1, 2, 2, 3]


def test_custom_length_is_elapsed_time_across_spring_forward() -> None:
    cfg = schedule(
        "America/New_York", "[{name: c, rotation: {users: [a, b], length: 12h, start: 2026-03-07T20:00}}]"
    )
    found = shifts(cfg, "s", utc("2026-03-08T01:00"), utc("2026-03-09T01:00"))
    assert spans(found) == [
        ("a", utc("2026-03-08T01:00"), utc("2026-03-08T13:00")),  # 20:00 EST → 09:00 EDT
        ("b", utc("2026-03-08T13:00"), utc("2026-03-09T01:00")),
    ]


@pytest.mark.parametrize(("timezone", "offset"), [("Africa/Addis_Ababa", 3), ("Africa/Harare", 2)])
def test_weekly_rotation_in_zones_without_dst(timezone: str, offset: int) -> None:
    cfg = schedule(
        timezone,
        '[{name: w, rotation: {users: [a, b], length: weekly, handoff: "09:00", start: 2026-11-02}}]',
    )
    handoff = utc(f"2026-11-09T{9 - offset:02d}:00")
    assert on_call(cfg, "s", handoff - timedelta(seconds=1)) == ["a"]
    assert on_call(cfg, "s", handoff) == ["b"]
    assert on_call(cfg, "s", handoff + timedelta(days=7)) == ["a"]
    assert on_call(cfg, "s", utc("2026-11-01T12:00")) == []  # before the rotation starts
    found = shifts(cfg, "s", handoff, handoff + timedelta(days=28))
    assert all(s.end - s.start == timedelta(days=7) for s in found)


# --- restrictions, layers, overrides ------------------------------------------------------------


HARARE_LAYERS = """[
  {name: base, rotation: {users: [a], length: weekly, start: 2026-11-02}},
  {name: office, rotation: {users: [b], length: weekly, start: 2026-11-02},
   restrictions: [{days: [mon, tue, wed, thu, fri], start: "08:00", end: "17:00"}]},
  {name: friday-night, rotation: {users: [c], length: weekly, start: 2026-11-02},
   restrictions: [{days: [fri], start: "22:00", end: "06:00"}]}
]"""


@pytest.mark.parametrize(
    ("local", "who"),
    [
        ("2026-11-09T10:00", "b"),  # Monday office hours: the later layer wins
        ("2026-11-09T18:00", "a"),  # Monday evening: the bottom layer
        ("2026-11-14T10:00", "a"),  # Saturday
        ("2026-11-13T23:00", "c"),  # Friday night
        ("2026-11-14T05:59", "c"),  # over midnight into Saturday
        ("2026-11-14T06:00", "a"),
        ("2026-11-12T23:00", "a"),  # Thursday night is not restricted to c
    ],
)
def test_restrictions_with_later_layers_winning(local: str, who: str) -> None:
    cfg = schedule("Africa/Harare", HARARE_LAYERS)
    at = datetime.fromisoformat(local).replace(tzinfo=ZoneInfo("Africa/Harare"))
    assert on_call(cfg, "s", at) == [who]


def test_a_restriction_window_over_the_spring_forward_night_is_an_hour_shorter() -> None:
    cfg = schedule(
        "Europe/Berlin",
        "[{name: n, rotation: {users: [a], length: weekly, start: 2026-03-01}, "
        'restrictions: [{days: [sat], start: "22:00", end: "06:00"}]}]',
    )
    found = shifts(cfg, "s", utc("2026-03-28T00:00"), utc("2026-03-30T00:00"))
    assert spans(found) == [("a", utc("2026-03-28T21:00"), utc("2026-03-29T04:00"))]


def test_overrides_win_and_the_timeline_is_flattened() -> None:
    cfg = schedule(
        "Africa/Addis_Ababa",
        '[{name: w, rotation: {users: [a, b], length: weekly, handoff: "09:00", start: 2026-11-02}}]',
        overrides='[{user: c, start: "2026-11-04T18:00", end: "2026-11-05T09:00"}, '
        '{user: d, start: "2026-11-06T10:00+00:00", end: "2026-11-06T11:00+00:00"}]',
    )
    found = shifts(cfg, "s", utc("2026-11-02T06:00"), utc("2026-11-09T06:00"))
    assert [(s.user, s.layer, s.override) for s in found] == [
        ("a", "w", False),
        ("c", None, True),
        ("a", "w", False),
        ("d", None, True),
        ("a", "w", False),
    ]
    assert (found[1].start, found[1].end) == (utc("2026-11-04T15:00"), utc("2026-11-05T06:00"))  # local
    assert (found[3].start, found[3].end) == (utc("2026-11-06T10:00"), utc("2026-11-06T11:00"))  # offset
    assert found[-1].end == utc("2026-11-09T06:00")
    assert on_call(cfg, "s", utc("2026-11-06T10:30")) == ["d"]


def test_pieces_of_the_same_person_are_merged_into_one_shift() -> None:
    cfg = schedule(
        "Africa/Harare",
        "[{name: base, rotation: {users: [a], length: daily, start: 2026-11-02}}, "
        "{name: top, rotation: {users: [a], length: hourly, start: 2026-11-02}, "
        'restrictions: [{start: "12:00", end: "13:00"}]}]',
    )
    found = shifts(cfg, "s", utc("2026-11-03T00:00"), utc("2026-11-06T00:00"))
    assert spans(found) == [("a", utc("2026-11-03T00:00"), utc("2026-11-06T00:00"))]
    assert found[0].layer == "base"


# --- now and next -------------------------------------------------------------------------------


def test_current_and_next_report_true_shift_edges() -> None:
    cfg = schedule(
        "Africa/Addis_Ababa",
        '[{name: w, rotation: {users: [a, b], length: weekly, handoff: "09:00", start: 2026-11-02}}]',
    )
    current, following = current_and_next(cfg, "s", utc("2026-11-12T12:00"))
    assert current is not None
    assert following is not None
    assert (current.user, current.start, current.end) == (
        "b",
        utc("2026-11-09T06:00"),
        utc("2026-11-16T06:00"),
    )
    assert (following.user, following.start, following.end) == (
        "a",
        utc("2026-11-16T06:00"),
        utc("2026-11-23T06:00"),
    )


def test_current_and_next_with_nobody_on_call_now() -> None:
    cfg = schedule(
        "Africa/Harare",
        "[{name: o, rotation: {users: [a], length: weekly, start: 2026-11-02}, "
        'restrictions: [{days: [mon], start: "08:00", end: "17:00"}]}]',
    )
    current, following = current_and_next(cfg, "s", utc("2026-11-04T12:00"))
    assert current is None
    assert following is not None
    assert (following.user, following.start) == ("a", utc("2026-11-09T06:00"))


def test_a_single_person_rotation_has_no_next_shift_within_the_horizon() -> None:
    cfg = schedule("UTC", "[{name: o, rotation: {users: [a], length: daily, start: 2026-01-01}}]")
    current, following = current_and_next(cfg, "s", utc("2026-06-01T00:00"))
    assert current is not None
    assert current.user == "a"
    assert current.start == utc("2026-01-01T09:00")
    assert following is None
    assert (
        covering_shifts(cfg, "s", utc("2026-06-01T00:00"), utc("2026-06-02T00:00"))[0].start == current.start
    )


# --- errors and contacts --------------------------------------------------------------------------


def test_unknown_schedule_and_naive_time_are_errors() -> None:
    cfg = schedule("UTC", "[{name: o, rotation: {users: [a], length: daily, start: 2026-01-01}}]")
    with pytest.raises(NotFoundError, match="no on-call schedule named 'nope'"):
        on_call(cfg, "nope", utc("2026-06-01T00:00"))
    with pytest.raises(ScheduleError, match="time zone"):
        on_call(cfg, "s", datetime(2026, 6, 1))
    assert shifts(cfg, "s", utc("2026-06-02T00:00"), utc("2026-06-01T00:00")) == []


def test_contacts_for_orders_by_delay_then_as_written() -> None:
    text = """\
channels:
  mail: {type: email, host: smtp.example.com, sender: alerts@example.com}
  chat: {type: slack, webhook_url: https://hooks.example.com/x}
oncall:
  users:
    abebe:
      contacts:
        - {channel: mail, to: abebe@example.com, after: 5m}
        - {channel: chat}
        - {channel: mail, to: other@example.com}
"""
    cfg = load_config_text(text, "f.yaml", env={})
    assert [(c.channel, c.to) for c in contacts_for(cfg, "abebe")] == [
        ("chat", None),
        ("mail", "other@example.com"),
        ("mail", "abebe@example.com"),
    ]
    with pytest.raises(NotFoundError):
        contacts_for(cfg, "nobody")


def test_on_call_agrees_with_the_timeline_through_a_dst_week() -> None:
    cfg = schedule("Europe/Berlin", HARARE_LAYERS.replace("2026-11-02", "2026-10-19"))
    start = utc("2026-10-22T00:00")
    found = shifts(cfg, "s", start, start + timedelta(days=7))
    for minutes in range(0, 7 * 24 * 60, 17):
        at = start + timedelta(minutes=minutes)
        expected = [s.user for s in found if s.start <= at < s.end]
        assert on_call(cfg, "s", at) == expected, at
