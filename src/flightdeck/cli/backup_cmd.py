"""``flightdeck backup``: run a backup, list complete backups, verify one, prune by retention, restore.

Backups are declared under ``backups:`` in the configuration file (see docs/backups/backups.md).

Exit codes: 0 done / verified / restored with matching row counts; 1 verification failed (checksum,
key) or restored row counts differ from the manifest; 2 usage or configuration error (unknown backup,
a restore refused without ``--force --confirm-name``); 3 the work could not be done (database
unreachable, dump or restore tool failed, storage error).

``restore`` is also registered at the top level (``flightdeck restore``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from flightdeck import backups
from flightdeck.backups import BackupError, DecryptionError, IntegrityError, Manifest, RestoreRefused
from flightdeck.checks.base import Observation
from flightdeck.cli.common import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_OK,
    ConfigOption,
    JsonOption,
    config_path,
    console,
    fail,
    handle_errors,
    open_config,
    open_store,
    print_json,
)
from flightdeck.cli.jobs import record_cli_run
from flightdeck.cli.retention_view import render_plan
from flightdeck.config import Config
from flightdeck.config.backups import BackupConfig, LocalStorageConfig
from flightdeck.config.base import pick
from flightdeck.config.models import DatasourceConfig
from flightdeck.datasources import DatabaseUrl
from flightdeck.evidence import Evidence

__all__ = ["app"]

app = typer.Typer(help="Backups: run, list, verify, prune, restore.", no_args_is_help=True)


def _record(cfg: Config, name: str, service: str, obs: Observation, started: datetime) -> Evidence:
    store = open_store(cfg)
    try:
        return record_cli_run(
            cfg, store, kind="backup", name=name, service=service, observation=obs, started=started,
            finished=datetime.now(UTC),
        )  # fmt: skip
    finally:
        store.dispose()


def _backup(cfg: Config, name: str) -> BackupConfig:
    return pick(cfg.backups, name, "backup", "backups")


@app.command("run")
@handle_errors
def run_cmd(
    name: str,
    config: ConfigOption = None,
    json_out: JsonOption = False,
    no_record: Annotated[bool, typer.Option("--no-record", help="Write no evidence record")] = False,
) -> None:
    """Dump, compress, encrypt and store one backup; the manifest is written last. The run (or its
    failure) is recorded as evidence of kind ``backup``, for freshness checks and the cockpit."""
    loaded = open_config(config)
    cfg = _backup(loaded, name)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), DownloadColumn(), TransferSpeedColumn())
    started = datetime.now(UTC)
    try:
        with Progress(
            *columns, TimeElapsedColumn(), console=console, disable=json_out, transient=True
        ) as bar:
            task = bar.add_task(f"backup {name}", total=None)
            result = backups.run_backup(
                name, cfg, loaded.datasources[cfg.datasource], progress=lambda n: bar.advance(task, n)
            )
    except (BackupError, KeyboardInterrupt) as exc:
        if not no_record:
            failed = Observation(failures=[str(exc) or "interrupted (Ctrl-C)"])
            failed.summary = f"backup {name} failed: {failed.failures[0]}"
            failed.detail = {"backup": name}
            _record(loaded, name, cfg.service, failed, started)
        raise
    obs = result.observation()
    evidence = None if no_record else _record(loaded, name, cfg.service, obs, started)
    if json_out:
        print_json(
            {
                "manifest": result.manifest.model_dump(mode="json"),
                "summary": obs.summary,
                "evidence_id": evidence.id if evidence is not None else None,
            }
        )
        return
    console.print(f"[green]✓[/] {obs.summary}", highlight=False)
    console.print(f"  manifest {result.manifest_key}", highlight=False)


@app.command("list")
@handle_errors
def list_cmd(name: str, config: ConfigOption = None, json_out: JsonOption = False) -> None:
    """Complete backups of NAME, newest first."""
    cfg = _backup(open_config(config), name)
    manifests = backups.list_backups(backups.open_storage(cfg), name)
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
            manifest = backups.find_backup(backups.open_storage(cfg), name, backup_id)
        except BackupError:
            continue
        key = cfg.encryption_key
        try:
            result = backups.verify_backup(backups.open_storage(cfg), manifest, key, deep=deep)
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
    from flightdeck.backups.prune import prune_backups

    cfg = _backup(open_config(config), name)
    if cfg.retention is None:
        fail(f"backups.{name} has no retention policy: nothing to prune", EXIT_CONFIG)
    result = prune_backups(backups.open_storage(cfg), name, cfg.retention, dry_run=dry_run,
                           key=cfg.encryption_key)  # fmt: skip
    if json_out:
        print_json({"dry_run": dry_run, "plan": result.plan.to_json(), "deleted": result.deleted})
        return
    console.print(render_plan(result.plan))
    verb = "would remove" if dry_run else "removed"
    console.print(
        f"{verb} {len(result.plan.removed)} of {len(result.plan.decisions)} backups", highlight=False
    )


def _locate(loaded: Config, backup_id: str, name: str | None) -> tuple[str, BackupConfig, Manifest]:
    names = [name] if name is not None else sorted(loaded.backups)
    found: tuple[str, BackupConfig, Manifest] | None = None
    for candidate in names:
        cfg = _backup(loaded, candidate)
        try:
            found = candidate, cfg, backups.find_backup(backups.open_storage(cfg), candidate, backup_id)
            break
        except BackupError:
            continue
    if found is None:
        where = f"backup {name!r}" if name is not None else "any configured backup"
        fail(f"no complete backup {backup_id!r} in {where}", EXIT_CONFIG)
    return found


def _safety_backup(
    loaded: Config, cfg: BackupConfig, to: str, target: DatabaseUrl, folder: Path
) -> Callable[[], str | None]:
    """A configured backup of the target's datasource when there is one; else the same engine, with the
    restored backup's encryption, into the local ``folder`` (backup name ``safety-<database>``)."""
    from flightdeck.backups.restore_target import target_name

    for name, candidate in sorted(loaded.backups.items()):
        ds = loaded.datasources.get(candidate.datasource)
        if ds is not None and DatabaseUrl.parse(ds.url).describe() == target.describe():
            return lambda: backups.run_backup(name, candidate, ds).manifest.backup_id
    local = cfg.model_copy(
        update={
            "storage": LocalStorageConfig(path=folder.resolve()),
            "retention": None,
            "tables_to_count": None,
        }
    )
    source = DatasourceConfig.model_validate({"url": to})
    return lambda: backups.run_backup(f"safety-{target_name(target)}", local, source).manifest.backup_id


@app.command("restore")
@handle_errors
def restore_cmd(
    backup_id: str,
    to: Annotated[str, typer.Option("--to", help="Target database URL (its password is never printed)")],
    backup: Annotated[str | None, typer.Option("--backup", help="Configured backup NAME holding it")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite a production-like target")] = False,
    confirm_name: Annotated[
        str | None, typer.Option("--confirm-name", help="With --force: the target database's name, typed")
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, max=64, help="pg_restore workers")] = 1,
    safety_dir: Annotated[
        Path | None,
        typer.Option("--safety-dir", help="Where a target's safety backup goes (default: safety-backups/)"),
    ] = None,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Restore BACKUP_ID into --to URL: verified and decrypted first, a safety backup of existing data."""
    from flightdeck.backups.restore import RestorePhase, restore_backup

    loaded = open_config(config)
    try:
        target = DatabaseUrl.parse(to)
    except ValueError as exc:
        fail(f"--to: {exc}", EXIT_CONFIG)
    name, cfg, manifest = _locate(loaded, backup_id, backup)
    if safety_dir is None:
        cfg_file = config_path(config)
        safety_dir = (cfg_file.parent if cfg_file is not None else Path.cwd()) / "safety-backups"
    key = cfg.encryption_key
    total = sum(a.raw_size_bytes for a in manifest.artifacts)
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    try:
        with Progress(*columns, console=console, disable=json_out, transient=True) as bar:
            tasks = {
                RestorePhase.DECODE: bar.add_task("verify + decrypt", total=total),
                RestorePhase.LOAD: bar.add_task(f"load into {target.describe()}", total=total),
            }
            result = restore_backup(
                backups.open_storage(cfg),
                manifest,
                key,
                target,
                force=force,
                confirm_name=confirm_name,
                safety_backup=_safety_backup(loaded, cfg, to, target, safety_dir),
                progress=lambda phase, n: bar.advance(tasks[phase], n),
                jobs=jobs,
            )
    except RestoreRefused as exc:
        _report_error(backup_id, exc, json_out)
        raise typer.Exit(EXIT_CONFIG) from None
    except (IntegrityError, DecryptionError) as exc:
        _report_error(backup_id, exc, json_out)
        raise typer.Exit(EXIT_FAILED) from None
    obs = result.observation()
    if json_out:
        print_json({"backup": name, "ok": result.ok, **obs.detail, "failures": obs.failures})
    else:
        mark = "[green]✓[/]" if result.ok else "[bold red]✗[/]"
        console.print(f"{mark} {obs.summary}", highlight=False)
        if result.safety_backup_id:
            console.print(
                f"  safety backup of the previous content: {result.safety_backup_id}", highlight=False
            )
        for failure in obs.failures:
            console.print(f"  [red]{failure}[/]", highlight=False)
    raise typer.Exit(EXIT_OK if result.ok else EXIT_FAILED)


def _report_error(backup_id: str, exc: BackupError, json_out: bool) -> None:
    if json_out:
        print_json({"backup_id": backup_id, "ok": False, "error": str(exc)})
    else:
        console.print(f"[bold red]✗[/] {exc}", highlight=False)
