"""``flightdeck ledger``: keys, anchoring, verification and the append-only trigger of ledgers.

Exit codes: 0 verified (or done); 1 verification found tampering, imbalance or a bad checkpoint;
2 usage or configuration error (unknown ledger or datasource, unreadable ``--public-key``); 3 flightdeck
could not work (database unreachable, store error, unreadable key, an export refused or an unreadable
export file).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from flightdeck.checks.base import Observation
from flightdeck.cli.common import (
    EXIT_CONFIG,
    EXIT_FAILED,
    ConfigOption,
    JsonOption,
    console,
    fail,
    handle_errors,
    open_config,
    open_store,
    print_json,
)
from flightdeck.cli.jobs import record_cli_run
from flightdeck.config.base import pick
from flightdeck.config.models import Config, DatasourceConfig
from flightdeck.config.payments import LedgerConfig
from flightdeck.datasources import DatabaseUrl, Dialect
from flightdeck.evidence import Evidence
from flightdeck.payments.errors import LedgerError, LedgerTamperedError
from flightdeck.payments.ledger import anchor, generate_keypair, install_append_only_trigger, verify

__all__ = ["app", "print_observation", "resolve_datasource"]

app = typer.Typer(
    help="Tamper-evident ledgers: keygen, anchor, verify, export, verify-file, install-trigger.",
    no_args_is_help=True,
)

NameArgument = Annotated[str, typer.Argument(help="A ledger name (payments.ledgers.NAME)")]


def resolve_datasource(cfg: Config, name: str) -> DatasourceConfig:
    source = cfg.datasources.get(name)
    if source is None:
        fail(f"no datasource named {name!r} (datasources.{name})", EXIT_CONFIG)
    return source


def _ledger(cfg: Config, name: str) -> LedgerConfig:
    return pick(cfg.payments.ledgers, name, "ledger", "payments.ledgers")


def print_observation(title: str, obs: Observation, json_out: bool, evidence: Evidence | None = None) -> None:
    """The outcome of a job: JSON (``--json``) or a summary, its measurements, failures and warnings;
    and the evidence record it left, when it was recorded."""
    if json_out:
        print_json(
            {
                "name": title,
                "evidence_id": evidence.id if evidence is not None else None,
                "verdict": evidence.verdict.value if evidence is not None else None,
                "ok": not obs.failures,
                "summary": obs.summary,
                "failures": obs.failures,
                "warnings": obs.warnings,
                "measurements": [m.model_dump(mode="json") for m in obs.measurements],
                "detail": obs.detail,
            }
        )
        return
    style = "bold red" if obs.failures else "bold yellow" if obs.warnings else "bold green"
    verdict = "FAIL" if obs.failures else "WARN" if obs.warnings else "OK"
    console.print(f"[{style}]{verdict}[/] {title}: {obs.summary}", highlight=False)
    table = Table(show_edge=False, header_style="bold")
    table.add_column("Measurement")
    table.add_column("Value", justify="right")
    for m in obs.measurements:
        value = f"{m.value:,.0f}" if m.value == int(m.value) else f"{m.value:,.3f}"
        table.add_row(m.name, f"{value} {m.unit}".strip())
    console.print(table)
    for line in obs.failures:
        console.print(f"[red]✗ {line}[/]", highlight=False)
    for line in obs.warnings:
        console.print(f"[yellow]! {line}[/]", highlight=False)
    if evidence is not None:
        console.print(f"evidence {evidence.id}: {evidence.subject} {evidence.verdict}", style="dim")


@app.command("keygen")
@handle_errors
def keygen(
    out: Annotated[Path, typer.Option("--out", help="Folder for the key pair")],
    name: Annotated[str, typer.Option("--name", help="File name stem")] = "ledger-signing",
) -> None:
    """Create an Ed25519 key pair: NAME.key (private, mode 0600) and NAME.pub."""
    private, public = generate_keypair(out, name)
    console.print(f"private key: {private} (give it as signing_key_file; keep it off the database hosts)")
    console.print(f"public key:  {public}")


@app.command("anchor")
@handle_errors
def anchor_command(name: NameArgument, config: ConfigOption = None, json_out: JsonOption = False) -> None:
    """Chain the rows added since the last anchor and write a signed, exported checkpoint."""
    cfg = open_config(config)
    ledger = _ledger(cfg, name)
    source = resolve_datasource(cfg, ledger.datasource)
    store = open_store(cfg)
    try:
        result = asyncio.run(anchor(name, ledger, source, store))
    finally:
        store.dispose()
    print_observation(f"ledger {name}", result.observation(), json_out)


@app.command("verify")
@handle_errors
def verify_command(name: NameArgument, config: ConfigOption = None, json_out: JsonOption = False) -> None:
    """Re-hash every row and check the chain, checkpoints, double entry and trigger. Exit 1 on tampering."""
    cfg = open_config(config)
    ledger = _ledger(cfg, name)
    source = resolve_datasource(cfg, ledger.datasource)
    store = open_store(cfg)
    try:
        started = datetime.now(UTC)
        result = asyncio.run(verify(name, ledger, source, store))
        obs = result.observation()
        evidence = record_cli_run(
            cfg, store, kind="ledger", name=name, service=ledger.service, observation=obs,
            started=started, finished=datetime.now(UTC),
        )  # fmt: skip
    finally:
        store.dispose()
    print_observation(f"ledger {name}", obs, json_out, evidence)
    if obs.failures:
        raise typer.Exit(EXIT_FAILED)


@app.command("export")
@handle_errors
def export_command(
    name: NameArgument,
    out: Annotated[Path, typer.Option("--out", help="The export file to write (Arrow IPC)")],
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Write the verified ledger, up to its newest signed checkpoint, as a file for auditors."""
    from flightdeck.payments.ledger import export_ledger  # Arrow and DuckDB: only for this command

    cfg = open_config(config)
    ledger = _ledger(cfg, name)
    source = resolve_datasource(cfg, ledger.datasource)
    store = open_store(cfg)
    try:
        result = asyncio.run(export_ledger(name, ledger, source, store, out))
    except LedgerTamperedError as exc:
        fail(str(exc), EXIT_FAILED)
    finally:
        store.dispose()
    print_observation(f"ledger {name} export", result.observation(), json_out)


@app.command("verify-file")
@handle_errors
def verify_file_command(
    file: Annotated[Path, typer.Argument(help="A file written by flightdeck ledger export")],
    public_key: Annotated[Path, typer.Option("--public-key", help="The signer's Ed25519 public key (PEM)")],
    json_out: JsonOption = False,
) -> None:
    """Check an export file offline against the signer's public key. Exit 1 on tampering, 3 unreadable."""
    from flightdeck.payments.ledger import verify_file
    from flightdeck.payments.ledger.signing import load_public_key

    try:
        public = load_public_key(public_key.read_bytes())
    except OSError as exc:
        fail(f"--public-key {public_key}: {exc.strerror or exc}", EXIT_CONFIG)
    except LedgerError as exc:
        fail(f"--public-key {public_key}: {exc}", EXIT_CONFIG)
    result = verify_file(file, public)
    obs = result.observation()
    print_observation(f"ledger export {file}", obs, json_out)
    if obs.failures:
        raise typer.Exit(EXIT_FAILED)


@app.command("install-trigger")
@handle_errors
def install_trigger(name: NameArgument, config: ConfigOption = None) -> None:
    """Install the append-only trigger on a PostgreSQL ledger table (needs a role that may create it)."""
    cfg = open_config(config)
    ledger = _ledger(cfg, name)
    source = resolve_datasource(cfg, ledger.datasource)
    url = DatabaseUrl.parse(source.url)
    if url.dialect is not Dialect.POSTGRESQL:
        fail(f"ledger {name} is on {url.dialect.value}; the trigger is for PostgreSQL", EXIT_CONFIG)
    asyncio.run(install_append_only_trigger(url, ledger.table, connect_timeout=source.connect_timeout))
    console.print(f"append-only trigger installed on {ledger.table} ({url.describe()})", highlight=False)
