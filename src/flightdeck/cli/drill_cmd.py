"""``flightdeck drill run|list|report``: disaster-recovery drills.

``drill run NAME`` restores the newest backup into a scratch database, verifies it, measures RTO and
RPO, writes the DR report (Markdown, HTML, PDF) and records the drill as evidence under the
``dr_drill`` check that names it (``SERVICE/dr_drill-NAME`` when none does). Exit codes: 0 the drill
passed, 1 it failed (a step, a verification, or a target), 2 usage or configuration error, 3 flightdeck
could not work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from flightdeck.backups.drill_result import DrillResult, StepStatus
from flightdeck.cli.common import (
    EXIT_FAILED,
    ConfigOption,
    JsonOption,
    console,
    handle_errors,
    open_config,
    open_store,
    print_json,
)
from flightdeck.cli.jobs import record_cli_run
from flightdeck.config.base import pick
from flightdeck.config.drills import DrillConfig
from flightdeck.errors import NotFoundError
from flightdeck.evidence import Artifact, Evidence
from flightdeck.store import get_evidence

__all__ = ["app"]

app = typer.Typer(help="Disaster-recovery drills: restore, verify, measure RTO/RPO.", no_args_is_help=True)

_MARK = {StepStatus.PASSED: "[green]✓[/]", StepStatus.FAILED: "[red]✗[/]", StepStatus.SKIPPED: "[dim]–[/]"}


def _print(result: DrillResult, evidence: Evidence | None, artifacts: list[Artifact]) -> None:
    from flightdeck.reports.dr_data import duration_text

    verdict = "[bold green]PASSED[/]" if result.passed else "[bold red]FAILED[/]"
    console.print(f"{verdict} drill {result.drill} (backup {result.backup_id or '—'})", highlight=False)
    table = Table(show_edge=False, header_style="bold")
    for column in ("Phase", "Seconds"):
        table.add_column(column, justify="right" if column == "Seconds" else "left")
    for phase, seconds in result.phases.items():
        table.add_row(phase.value, f"{seconds:.2f}")
    console.print(table)
    console.print(
        f"  RTO {duration_text(result.rto_seconds)} (target {duration_text(result.rto_target_seconds)})"
        + (
            f"   RPO {duration_text(result.rpo_seconds)}"
            + (f" (target {duration_text(result.rpo_target_seconds)})" if result.rpo_target_seconds else "")
            if result.rpo_column
            else ""
        ),
        highlight=False,
    )
    for v in result.verifications:
        if v.status is not StepStatus.PASSED:
            console.print(
                f"  {_MARK[v.status]} {v.kind.value} {v.name}: {v.message or v.actual}", highlight=False
            )
    passed = sum(1 for v in result.verifications if v.status is StepStatus.PASSED)
    console.print(f"  {passed}/{len(result.verifications)} verifications passed", highlight=False)
    for line in result.failures:
        console.print(f"[red]✗ {line}[/]", highlight=False)
    for a in artifacts:
        console.print(f"  report {a.uri.removeprefix('file://')}", highlight=False)
    if evidence is not None:
        console.print(f"  evidence #{evidence.id} ({evidence.subject})", highlight=False)


@app.command("run")
@handle_errors
def run_cmd(
    name: Annotated[str, typer.Argument(help="drills.NAME")],
    config: ConfigOption = None,
    json_out: JsonOption = False,
    backup_id: Annotated[
        str | None, typer.Option("--backup", help="Drill this backup id, not the newest")
    ] = None,
    keep_scratch: Annotated[
        bool, typer.Option("--keep-scratch", help="Leave the scratch database for inspection")
    ] = False,
    no_record: Annotated[bool, typer.Option("--no-record", help="Write no evidence record")] = False,
) -> None:
    """Restore the newest backup into a scratch database, verify it, measure RTO/RPO. Exit 1 if it fails."""
    from flightdeck.backups.drill import current_operator, drill_observation, run_drill
    from flightdeck.reports.dr import write_dr_report
    from flightdeck.reports.dr_data import load_drill_history

    cfg = open_config(config)
    drill = pick(cfg.drills, name, "drill", "drills")
    service = cfg.backups[drill.backup].service
    with console.status(f"drill {name}", spinner="dots") as status:

        def progress(step: str, done: StepStatus | None) -> None:
            if json_out:
                return
            if done is None:
                status.update(f"drill {name}: {step}…")
            else:
                console.print(f"  {_MARK[done]} {step}", highlight=False)

        result = run_drill(
            cfg,
            name,
            backup_id=backup_id,
            operator=current_operator(),
            trigger="manual",
            keep_scratch=keep_scratch or None,
            progress=None if json_out else progress,
        )
    store = None if no_record else open_store(cfg)
    try:
        history = [r for _, r in load_drill_history(store, name)] if store is not None else []
        artifacts = write_dr_report(result, history, drill.reports_dir)
        obs = drill_observation(result, artifacts)
        evidence = None
        if store is not None:
            evidence = record_cli_run(
                cfg, store, kind="dr_drill", field="drill", name=name, service=service,
                observation=obs, started=result.started_at, finished=result.finished_at,
            )  # fmt: skip
    finally:
        if store is not None:
            store.dispose()
    if json_out:
        print_json(
            {
                "drill": result.model_dump(mode="json"),
                "evidence_id": evidence.id if evidence is not None else None,
                "reports": [a.model_dump(mode="json") for a in artifacts],
            }
        )
    else:
        _print(result, evidence, artifacts)
    if not result.passed:
        raise typer.Exit(EXIT_FAILED)


@app.command("list")
@handle_errors
def list_cmd(config: ConfigOption = None, json_out: JsonOption = False) -> None:
    """Configured drills with their targets and the last drill's outcome."""
    from flightdeck.reports.dr_data import duration_text, load_drill_history

    cfg = open_config(config)
    store = open_store(cfg)
    rows: list[tuple[str, DrillConfig, tuple[int, DrillResult] | None]] = []
    try:
        for name, drill in sorted(cfg.drills.items()):
            latest = load_drill_history(store, name, limit=1)
            rows.append((name, drill, latest[0] if latest else None))
    finally:
        store.dispose()
    if json_out:
        print_json(
            [
                {
                    "drill": name,
                    "backup": drill.backup,
                    "rto_target_seconds": drill.rto_target,
                    "rpo_target_seconds": drill.rpo_target,
                    "last": None
                    if last is None
                    else {"evidence_id": last[0], **last[1].model_dump(mode="json")},
                }
                for name, drill, last in rows
            ]
        )
        return
    table = Table(show_edge=False, header_style="bold")
    for column in ("Drill", "Backup", "RTO target", "Last drill", "Result", "RTO", "RPO"):
        table.add_column(column)
    for name, drill, last in rows:
        if last is None:
            table.add_row(name, drill.backup, duration_text(drill.rto_target), "never", "—", "—", "—")
            continue
        r = last[1]
        outcome = "[green]passed[/]" if r.passed else "[red]failed[/]"
        table.add_row(
            name, drill.backup, duration_text(drill.rto_target), f"{r.started_at:%Y-%m-%d %H:%M} UTC",
            outcome, duration_text(r.rto_seconds), duration_text(r.rpo_seconds),
        )  # fmt: skip
    console.print(table)
    if not rows:
        console.print("no drills configured (see docs/backups/drills.md)")


@app.command("report")
@handle_errors
def report_cmd(
    name: Annotated[str, typer.Argument(help="drills.NAME")],
    config: ConfigOption = None,
    json_out: JsonOption = False,
    evidence_id: Annotated[
        int | None, typer.Option("--evidence", help="The drill's evidence id (default: the newest drill)")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder (default: the drill's reports_dir)")
    ] = None,
) -> None:
    """Write the DR report of a recorded drill again (Markdown, HTML, PDF), with the history up to it."""
    from flightdeck.reports.dr import write_dr_report
    from flightdeck.reports.dr_data import drill_of, load_drill_history

    cfg = open_config(config)
    drill = pick(cfg.drills, name, "drill", "drills")
    store = open_store(cfg)
    try:
        if evidence_id is None:
            history = load_drill_history(store, name, limit=25)
            if not history:
                raise NotFoundError(f"no drill {name!r} has been recorded yet (flightdeck drill run {name})")
            (evidence_id, result), older = history[0], [r for _, r in history[1:]]
        else:
            with store.engine.connect() as conn:
                found = drill_of(get_evidence(conn, evidence_id))
            if found is None or found.drill != name:
                raise NotFoundError(f"evidence {evidence_id} is not a record of drill {name!r}")
            result = found
            older = [r for _, r in load_drill_history(store, name, before_id=evidence_id)]
    finally:
        store.dispose()
    artifacts = write_dr_report(result, older, out or drill.reports_dir)
    if json_out:
        print_json({"evidence_id": evidence_id, "reports": [a.model_dump(mode="json") for a in artifacts]})
        return
    for a in artifacts:
        console.print(f"{a.uri.removeprefix('file://')}", highlight=False)
