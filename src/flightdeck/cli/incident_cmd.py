"""``flightdeck alerts``, ``flightdeck incidents`` and ``flightdeck silence``."""

from __future__ import annotations

import typer

__all__ = ["alerts_app", "incidents_app", "silence_app"]

alerts_app = typer.Typer(help="Alerts: what is firing now.", no_args_is_help=True)
incidents_app = typer.Typer(
    help="Incidents: list, show, acknowledge, resolve, comment, MTTA/MTTR.", no_args_is_help=True
)
silence_app = typer.Typer(help="Silences: mute matching alerts for a while.", no_args_is_help=True)
