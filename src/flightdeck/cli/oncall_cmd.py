"""``flightdeck oncall who|shifts|ical``: who is on call, when, and the iCalendar feed.

A TIME is ``now`` or ISO 8601 (``2026-03-29T02:30``, ``2026-03-29T00:30Z``, ``…+03:00``); without an
offset it is read in each schedule's own time zone. Exit codes: 0 done; 2 a bad TIME, an unknown
schedule or an invalid configuration.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from flightdeck.alerting.oncall import Shift, current_and_next, schedule_config, shifts
from flightdeck.alerting.rotation import to_instant
from flightdeck.cli.common import (
    EXIT_RUNTIME,
    ConfigOption,
    JsonOption,
    console,
    fail,
    handle_errors,
    open_config,
    print_json,
)
from flightdeck.config.oncall import zone

__all__ = ["app", "parse_time"]

app = typer.Typer(help="On-call schedules: who is on call now, next, or at a time.", no_args_is_help=True)

ScheduleOption = Annotated[str, typer.Option("--schedule", "-s", help="Schedule name (oncall.schedules)")]
StartOption = Annotated[
    str, typer.Option("--start", help="From TIME: now or ISO 8601 (no offset: the schedule's local time)")
]


def parse_time(value: str) -> datetime:
    """``now`` (aware, UTC) or an ISO 8601 date-time, naive when it has no offset. Exit 2 when bad."""
    text = value.strip()
    if text.lower() == "now":
        return datetime.now(UTC)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        fail(f"{value!r} is not a time: give now or ISO 8601 such as 2026-03-29T09:00 or 2026-03-29T07:00Z")


def _instant(when: datetime, timezone: str) -> datetime:
    return to_instant(when, zone(timezone))


def _local(value: datetime, timezone: str) -> str:
    return value.astimezone(zone(timezone)).strftime("%Y-%m-%d %H:%M %Z")


def _shift_json(shift: Shift | None, timezone: str) -> dict[str, object] | None:
    if shift is None:
        return None
    tz = zone(timezone)
    return {
        **shift.as_dict(),
        "start_local": shift.start.astimezone(tz).isoformat(),
        "end_local": shift.end.astimezone(tz).isoformat(),
    }


def _who(shift: Shift | None) -> str:
    if shift is None:
        return "[yellow]nobody[/]"
    return shift.user + (" (override)" if shift.override else "")


@app.command("who")
@handle_errors
def who_cmd(
    schedule: Annotated[
        str | None, typer.Option("--schedule", "-s", help="Only this schedule (default: every one)")
    ] = None,
    at: Annotated[
        str, typer.Option("--at", help="TIME: now or ISO 8601 (no offset: the schedule's local time)")
    ] = "now",
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Who is on call at TIME on every schedule (or one), until when, and who is next."""
    cfg = open_config(config)
    when = parse_time(at)
    names = [schedule] if schedule is not None else sorted(cfg.oncall.schedules)
    rows = []
    for name in names:
        tz = schedule_config(cfg, name).timezone
        instant = _instant(when, tz)
        current, following = current_and_next(cfg, name, instant)
        rows.append((name, tz, instant, current, following))
    if json_out:
        print_json(
            [
                {
                    "schedule": name,
                    "timezone": tz,
                    "at": instant.isoformat(),
                    "on_call": [current.user] if current is not None else [],
                    "current": _shift_json(current, tz),
                    "next": _shift_json(following, tz),
                }
                for name, tz, instant, current, following in rows
            ]
        )
        return
    if not rows:
        console.print("no on-call schedules configured (oncall.schedules)")
        return
    table = Table(title=f"On call at {when.isoformat(timespec='minutes')}", title_justify="left")
    for column in ("schedule", "on call", "until", "next", "from"):
        table.add_column(column, no_wrap=column in ("until", "from"))
    for name, tz, _instant_at, current, following in rows:
        table.add_row(
            f"{name}\n[dim]{tz}[/]",
            _who(current),
            _local(current.end, tz) if current is not None else "",
            _who(following) if following is not None else "[dim]nobody scheduled[/]",
            _local(following.start, tz) if following is not None else "",
        )
    console.print(table)


@app.command("shifts")
@handle_errors
def shifts_cmd(
    schedule: ScheduleOption,
    days: Annotated[int, typer.Option("--days", min=1, max=400, help="How many days ahead")] = 14,
    start: StartOption = "now",
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """The upcoming shifts of a schedule (layers and overrides applied), cut to the window."""
    cfg = open_config(config)
    tz = schedule_config(cfg, schedule).timezone
    begin = _instant(parse_time(start), tz)
    found = shifts(cfg, schedule, begin, begin + timedelta(days=days))
    if json_out:
        print_json([_shift_json(s, tz) for s in found])
        return
    table = Table(title=f"{schedule} ({tz}), {days} days", title_justify="left")
    for column in ("on call", "from", "until", "hours", "by"):
        table.add_column(column, no_wrap=column in ("from", "until"))
    for s in found:
        hours = (s.end - s.start).total_seconds() / 3600
        by = "override" if s.override else f"layer {s.layer}"
        table.add_row(s.user, _local(s.start, tz), _local(s.end, tz), f"{hours:g}", by)
    console.print(table if found else "nobody is on call in that window")


@app.command("ical")
@handle_errors
def ical_cmd(
    schedule: ScheduleOption,
    days: Annotated[int, typer.Option("--days", min=1, max=400, help="How many days ahead")] = 90,
    start: StartOption = "now",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to FILE (default: stdout)")
    ] = None,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """The schedule's shifts as an iCalendar (RFC 5545) feed, one event per shift."""
    cfg = open_config(config)
    tz = schedule_config(cfg, schedule).timezone
    begin = _instant(parse_time(start), tz)
    end = begin + timedelta(days=days)
    from flightdeck.alerting.ical import ical  # icalendar: only for this command

    data = ical(cfg, schedule, begin, end)
    if output is not None:
        try:
            output.write_bytes(data)
        except OSError as exc:
            fail(f"cannot write {output}: {exc.strerror or exc}", EXIT_RUNTIME)
    if json_out:
        print_json(
            {
                "schedule": schedule,
                "start": begin.isoformat(),
                "end": end.isoformat(),
                "events": data.count(b"BEGIN:VEVENT"),
                "file": str(output) if output is not None else None,
                "ical": None if output is not None else data.decode(),
            }
        )
    elif output is None:
        typer.echo(data.decode(), nl=False)
    else:
        console.print(
            f"wrote {data.count(b'BEGIN:VEVENT')} shifts of {schedule} to {output}", highlight=False
        )
