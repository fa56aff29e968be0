"""``flightdeck oncall who|shifts|ical``: who is on call, when, and the iCalendar feed."""

from __future__ import annotations

import typer

__all__ = ["app"]

app = typer.Typer(help="On-call schedules: who is on call now, next, or at a time.", no_args_is_help=True)
