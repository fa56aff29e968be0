"""The ``flightdeck`` command line."""

from __future__ import annotations

import logging
import os
from typing import Annotated

import typer

from flightdeck import __version__
from flightdeck.cli import (
    backup_cmd,
    check_cmd,
    config_cmd,
    demo_cmd,
    drill_cmd,
    evidence_cmd,
    experiment_cmd,
    gateway_drill_cmd,
    incident_cmd,
    ledger_cmd,
    notify_cmd,
    oncall_cmd,
    recon_cmd,
    serve_cmd,
    token_cmd,
    user_cmd,
    wallets_cmd,
)

app = typer.Typer(
    name="flightdeck",
    help="Evidence that a web service is ready for production. Exit codes: 0 all passed, 1 something "
    "failed, 2 usage or configuration error, 3 flightdeck could not work.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(config_cmd.app, name="config")
app.add_typer(check_cmd.app, name="check")
app.add_typer(evidence_cmd.app, name="evidence")
app.command("serve")(serve_cmd.serve_command)
app.add_typer(demo_cmd.app, name="demo")
app.add_typer(gateway_drill_cmd.app, name="gateway-drill")
app.add_typer(recon_cmd.app, name="recon")
app.add_typer(backup_cmd.app, name="backup")
app.command("restore")(backup_cmd.restore_cmd)
app.add_typer(drill_cmd.app, name="drill")
app.add_typer(user_cmd.app, name="user")
app.add_typer(token_cmd.app, name="token")
app.add_typer(ledger_cmd.app, name="ledger")
app.add_typer(wallets_cmd.wallets_app, name="wallets")
app.add_typer(wallets_cmd.settlements_app, name="settlements")
app.add_typer(experiment_cmd.app, name="experiment")
app.add_typer(incident_cmd.alerts_app, name="alerts")
app.add_typer(incident_cmd.incidents_app, name="incidents")
app.add_typer(incident_cmd.silence_app, name="silence")
app.add_typer(oncall_cmd.app, name="oncall")
app.add_typer(notify_cmd.app, name="notify")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"flightdeck {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version")
    ] = False,
    log_level: Annotated[
        str, typer.Option("--log-level", envvar="FLIGHTDECK_LOG_LEVEL", help="debug, info, warning")
    ] = "warning",
) -> None:
    logging.basicConfig(
        level=getattr(logging, log_level.upper(), logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()
