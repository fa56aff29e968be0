"""``flightdeck oncall who|shifts|ical`` through typer's runner, with a real configuration file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from icalendar import Calendar
from typer.testing import CliRunner

from flightdeck.cli.oncall_cmd import app

runner = CliRunner()

CONFIG = """\
oncall:
  users: {abebe: {}, tendai: {}, chipo: {}, rudo: {}}
  schedules:
    primary:
      timezone: Africa/Addis_Ababa
      layers:
        - name: weekly
          rotation: {users: [abebe, tendai], length: weekly, handoff: "09:00", start: 2026-11-02}
      overrides:
        - {user: chipo, start: "2026-12-24T18:00", end: "2026-12-26T09:00"}
    harare:
      timezone: Africa/Harare
      layers:
        - name: daily
          rotation: {users: [rudo, chipo], length: daily, handoff: "08:00", start: 2026-11-02}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "flightdeck.yaml"
    path.write_text(CONFIG)
    return path


def test_who_at_a_local_time_in_every_schedule(config: Path) -> None:
    result = runner.invoke(app, ["who", "-c", str(config), "--at", "2026-12-25T08:30", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["schedule"]: r for r in json.loads(result.stdout)}
    primary = rows["primary"]
    assert primary["at"] == "2026-12-25T05:30:00+00:00"  # 08:30 in Addis Ababa
    assert primary["on_call"] == ["chipo"]
    assert primary["current"]["override"] is True
    assert primary["current"]["end_local"] == "2026-12-26T09:00:00+03:00"
    assert primary["next"]["user"] == "tendai"  # the week of 2026-12-21 is tendai's
    harare = rows["harare"]
    assert harare["at"] == "2026-12-25T06:30:00+00:00"  # 08:30 in Harare
    assert harare["current"]["start_local"] == "2026-12-25T08:00:00+02:00"
    assert harare["next"]["start_local"] == "2026-12-26T08:00:00+02:00"


def test_who_with_an_offset_and_one_schedule_as_a_table(config: Path) -> None:
    result = runner.invoke(app, ["who", "-c", str(config), "-s", "primary", "--at", "2026-11-03T12:00Z"])
    assert result.exit_code == 0, result.output
    assert "abebe" in result.stdout
    assert "tendai" in result.stdout
    assert "2026-11-09 09:00 EAT" in result.stdout
    assert "harare" not in result.stdout


def test_who_now_answers(config: Path) -> None:
    result = runner.invoke(app, ["who", "-c", str(config), "--json"])
    assert result.exit_code == 0, result.output
    assert {r["schedule"] for r in json.loads(result.stdout)} == {"primary", "harare"}


def test_bad_time_and_unknown_schedule_exit_2(config: Path) -> None:
    bad = runner.invoke(app, ["who", "-c", str(config), "--at", "tomorrow-ish"])
    assert bad.exit_code == 2
    assert "'tomorrow-ish' is not a time" in bad.stderr
    unknown = runner.invoke(app, ["who", "-c", str(config), "-s", "nope"])
    assert unknown.exit_code == 2
    assert "no on-call schedule named 'nope'" in unknown.stderr
    assert "harare, primary" in unknown.stderr


def test_shifts_lists_the_flattened_timeline(config: Path) -> None:
    args = ["shifts", "-c", str(config), "-s", "primary", "--start", "2026-12-21T09:00", "--days", "14"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["user"], r["override"]) for r in rows] == [
        ("tendai", False),
        ("chipo", True),
        ("tendai", False),
        ("abebe", False),
    ]
    assert rows[1]["start_local"] == "2026-12-24T18:00:00+03:00"
    assert rows[-1]["end_local"] == "2027-01-04T09:00:00+03:00"
    table = runner.invoke(app, args)
    assert table.exit_code == 0
    assert "override" in table.stdout
    assert "chipo" in table.stdout


def test_ical_to_a_file(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "primary.ics"
    args = ["ical", "-c", str(config), "-s", "primary", "--start", "2026-11-02T09:00", "--days", "28"]
    result = runner.invoke(app, [*args, "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["events"] == 4
    cal = Calendar.from_ical(out.read_bytes())
    assert [str(e["SUMMARY"]) for e in cal.walk("VEVENT")] == [
        "On call: abebe",
        "On call: tendai",
        "On call: abebe",
        "On call: tendai",
    ]
    printed = runner.invoke(app, args)
    assert printed.exit_code == 0
    assert printed.stdout.startswith("BEGIN:VCALENDAR")
