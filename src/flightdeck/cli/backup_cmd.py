"""``flightdeck backup``: run a backup, list complete backups, verify one, prune by retention.

Backups are declared under ``backups:`` in the configuration file (see docs/backups/backups.md).

Exit codes: 0 done / verified; 1 verification failed (checksum, key); 2 usage or configuration error;
3 the backup could not be made (database unreachable, dump tool failed, storage error).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import (
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from flightdeck.backups import (
    BackupError,
    DecryptionError,
    IntegrityError,
    find_backup,
    list_backups,
    open_storage,
    run_backup,
    verify_backup,
)
from flightdeck.backups.prune import prune_backups
from flightdeck.cli.common import (
    EXIT_CONFIG,
    EXIT_FAILED,
    ConfigOption,
    JsonOption,
    console,
    fail,
    handle_errors,
    open_config,
    print_json,
)
from flightdeck.cli.retention_view import render_plan
from flightdeck.config import Config
from flightdeck.config.backups import BackupConfig

__all__ = ["app"]

app = typer.Typer(help="Backups: run, list, verify, prune.", no_args_is_help=True)


def _backup(cfg: Config, name: str) -> BackupConfig:
    backup = cfg.backups.get(name)
    if backup is None:
        fail(f"no backup named {name!r} (backups: {', '.join(sorted(cfg.backups)) or 'none'})", EXIT_CONFIG)
    return backup


@app.command("run")
@handle_errors
def run_cmd(name: str, config: ConfigOption = None, json_out: JsonOption = False) -> None:
    """Dump, compress, encrypt and store one backup; the manifest is written last."""
    loaded = open_config(config)
    cfg = _backup(loaded, name)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console, disable=json_out, transient=True) as bar:
        task = bar.add_task(f"backup {name}", total=None)
        result = run_backup(
            name, cfg, loaded.datasources[cfg.datasource], progress=lambda n: bar.advance(task, n)
        )
    obs = result.observation()
    if json_out:
        print_json({"manifest": result.manifest.model_dump(mode="json"), "summary": obs.summary})
        return
    console.print(f"[green]✓[/] {obs.summary}", highlight=False)
    console.print(f"  manifest {result.manifest_key}", highlight=False)


@app.command("list")
@handle_errors
def list_cmd(name: str, config: ConfigOption = None, json_out: JsonOption = False) -> None:
    """Complete backups of NAME, newest first."""
    cfg = _backup(open_config(config), name)
    manifests = list_backups(open_storage(cfg), name)
    if json_out:
        print_json([m.model_dump(mode="json") for m in manifests])
        return
    for m in manifests:
        size = sum(a.size_bytes for a in m.artifacts)
        console.print(f"{m.backup_id}  {m.started_at:%Y-%m-%d %H:%M:%S}  {size:>12} B  {m.total_rows} rows")
    if not manifests:
        console.print("no complete backups")


@app.command("verify")
@handle_errors
def verify_cmd(
    backup_id: str,
    config: ConfigOption = None,
    deep: Annotated[bool, typer.Option("--deep", help="Also decrypt and decompress end to end")] = False,
    json_out: JsonOption = False,
) -> None:
    """Check every artifact of BACKUP_ID against its manifest (size, SHA-256; --deep: key and zstd)."""
    loaded = open_config(config)
    for name, cfg in loaded.backups.items():
        try:
            manifest = find_backup(open_storage(cfg), name, backup_id)
        except BackupError:
            continue
        key = cfg.encryption.key_bytes if cfg.encryption is not None else None
        try:
            result = verify_backup(open_storage(cfg), manifest, key, deep=deep)
        except (IntegrityError, DecryptionError) as exc:
            if json_out:
                print_json({"backup_id": backup_id, "ok": False, "error": str(exc)})
            else:
                console.print(f"[bold red]✗[/] {exc}", highlight=False)
            raise typer.Exit(EXIT_FAILED) from None
        if json_out:
            print_json({"backup_id": backup_id, "ok": True, "artifacts": result.artifacts, "deep": deep})
        else:
            console.print(
                f"[green]✓[/] {backup_id}: {result.artifacts} artifact(s) verified", highlight=False
            )
        return
    fail(f"no complete backup {backup_id!r} in any configured backup", EXIT_CONFIG)


@app.command("prune")
@handle_errors
def prune_cmd(
    name: str,
    config: ConfigOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be pruned and why")] = False,
    json_out: JsonOption = False,
) -> None:
    """Remove the backups NAME's retention policy does not keep; the newest verified one is never removed."""
    cfg = _backup(open_config(config), name)
    if cfg.retention is None:
        fail(f"backups.{name} has no retention policy: nothing to prune", EXIT_CONFIG)
    result = prune_backups(open_storage(cfg), name, cfg.retention, dry_run=dry_run,
                           key=cfg.encryption.key_bytes if cfg.encryption is not None else None)  # fmt: skip
    if json_out:
        print_json({"dry_run": dry_run, "plan": result.plan.to_json(), "deleted": result.deleted})
        return
    console.print(render_plan(result.plan))
    verb = "would remove" if dry_run else "removed"
    console.print(
        f"{verb} {len(result.plan.removed)} of {len(result.plan.decisions)} backups", highlight=False
    )
