"""``flightdeck wallets check`` and ``flightdeck settlements check``.

Exit codes: 0 no mismatch / nothing stuck; 1 mismatched wallets, stuck, failed, uncredited or late
payments; 2 usage or configuration error; 3 the database could not be read.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from flightdeck.checks.base import Observation
from flightdeck.cli.common import (
    EXIT_CONFIG,
    EXIT_FAILED,
    ConfigOption,
    JsonOption,
    fail,
    handle_errors,
    open_config,
    open_store,
)
from flightdeck.cli.jobs import record_cli_run
from flightdeck.cli.ledger_cmd import print_observation, resolve_datasource
from flightdeck.config import Config
from flightdeck.config.base import pick
from flightdeck.evidence import Evidence
from flightdeck.payments.settlements import check_settlements
from flightdeck.payments.wallets import check_wallets

__all__ = ["settlements_app", "wallets_app"]

wallets_app = typer.Typer(help="Wallet balances vs the sum of their ledger entries.", no_args_is_help=True)
settlements_app = typer.Typer(help="Stuck, failed, uncredited and late settlements.", no_args_is_help=True)


def _record(cfg: Config, kind: str, name: str, service: str, obs: Observation, started: datetime) -> Evidence:
    store = open_store(cfg)
    try:
        return record_cli_run(
            cfg, store, kind=kind, name=name, service=service, observation=obs, started=started,
            finished=datetime.now(UTC),
        )  # fmt: skip
    finally:
        store.dispose()


@wallets_app.command("check")
@handle_errors
def wallets_check(
    name: Annotated[str, typer.Argument(help="payments.wallets.NAME")],
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """List every wallet whose stored balance differs from its ledger entries. Exit 1 if any."""
    cfg = open_config(config)
    wallets = pick(cfg.payments.wallets, name, "wallets check", "payments.wallets")
    source = resolve_datasource(cfg, wallets.datasource)
    started = datetime.now(UTC)
    result = asyncio.run(check_wallets(wallets, source, name=name))
    obs = result.observation()
    evidence = _record(cfg, "wallets", name, wallets.service, obs, started)
    print_observation(f"wallets {name}", obs, json_out, evidence)
    if obs.failures:
        raise typer.Exit(EXIT_FAILED)


@settlements_app.command("check")
@handle_errors
def settlements_check(
    name: Annotated[str, typer.Argument(help="payments.settlements.NAME")],
    config: ConfigOption = None,
    json_out: JsonOption = False,
    settled: Annotated[
        Path | None,
        typer.Option("--settled-refs", help="File of references the gateway settled, one a line"),
    ] = None,
    now: Annotated[
        datetime | None, typer.Option("--now", help="Judge as of this UTC time (default: now)")
    ] = None,
) -> None:
    """Pending too long, failed, settled-but-not-credited and ageing against T+N. Exit 1 on any."""
    cfg = open_config(config)
    settlements = pick(cfg.payments.settlements, name, "settlements check", "payments.settlements")
    source = resolve_datasource(cfg, settlements.datasource)
    refs: set[str] | None = None
    if settled is not None:
        try:
            refs = {line.strip() for line in settled.read_text().splitlines() if line.strip()}
        except OSError as exc:
            fail(f"{settled}: {exc.strerror or exc}", EXIT_CONFIG)
    if refs is None and settlements.reconciliation is not None:
        # As the scheduled check does: what the newest reconciliation's statements say was settled.
        from flightdeck.payments.reconcile import gateway_settled_references

        store = open_store(cfg)
        try:
            refs = gateway_settled_references(cfg, store, settlements.reconciliation)
        finally:
            store.dispose()
    moment = (now.replace(tzinfo=UTC) if now.tzinfo is None else now) if now else datetime.now(UTC)
    started = datetime.now(UTC)
    result = asyncio.run(check_settlements(settlements, source, moment, refs, name=name))
    obs = result.observation()
    evidence = _record(cfg, "settlements", name, settlements.service, obs, started)
    print_observation(f"settlements {name}", obs, json_out, evidence)
    if obs.failures:
        raise typer.Exit(EXIT_FAILED)
