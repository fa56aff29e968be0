"""``flightdeck notify test|outbox|retry``: send a test notification; inspect the outbox."""

from __future__ import annotations

import typer

__all__ = ["app"]

app = typer.Typer(
    help="Notification channels: test them, see the outbox and dead letters.", no_args_is_help=True
)
