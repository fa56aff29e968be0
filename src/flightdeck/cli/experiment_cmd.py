"""``flightdeck experiment run NAME`` and ``flightdeck experiment list``.

``run`` prints each step as it happens (phase, name, status, seconds), then the summary; the run is
recorded as evidence under the experiment's check (or ``SERVICE/experiment-NAME``) unless
``--no-record``. Exit codes: 0 completed; 1 deviated, aborted, failed or interrupted; 2 usage or
configuration error (unknown experiment); 3 the store could not be written.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

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
from flightdeck.config.types import format_duration
from flightdeck.evidence import Evidence
from flightdeck.experiments import ExperimentStatus, Journal, StepRecord, StepStatus, run_experiment
from flightdeck.experiments.run import journal_artifact

__all__ = ["app"]

app = typer.Typer(
    help="Experiments: failover and rollback drills with a journal of every step.", no_args_is_help=True
)

_MARKS = {
    StepStatus.OK: "[green]✓[/]",
    StepStatus.FAILED: "[bold red]✗[/]",
    StepStatus.SKIPPED: "[dim]–[/]",
    StepStatus.INTERRUPTED: "[bold yellow]![/]",
}
_STATUS_STYLE = {
    ExperimentStatus.COMPLETED: "bold green",
    ExperimentStatus.DEVIATED: "bold yellow",
    ExperimentStatus.ABORTED: "bold yellow",
    ExperimentStatus.FAILED: "bold red",
    ExperimentStatus.INTERRUPTED: "bold red",
}


def _print_step(step: StepRecord) -> None:
    seconds = f"{step.seconds:7.2f}s" if step.seconds is not None else " " * 8
    line = f"{_MARKS.get(step.status, ' ')} {seconds}  [dim]{step.phase.value:<19}[/] {escape(step.name)}"
    if step.held_after_seconds is not None:
        line += f" [dim](held after {step.held_after_seconds:.1f}s, {step.attempts} attempt(s))[/]"
    console.print(line, highlight=False)
    if step.status in (StepStatus.FAILED, StepStatus.INTERRUPTED) and step.output:
        console.print(f"             [red]{escape(step.output[:300])}[/]", highlight=False)


@app.command("run")
@handle_errors
def run_cmd(
    name: Annotated[str, typer.Argument(help="experiments.NAME")],
    config: ConfigOption = None,
    json_out: JsonOption = False,
    no_record: Annotated[bool, typer.Option("--no-record", help="Do not record evidence")] = False,
) -> None:
    """Run an experiment: steady state, method, rollbacks (always), recovery, steady state again."""
    cfg = open_config(config)
    experiment = pick(cfg.experiments, name, "experiment", "experiments")

    spinner = None if json_out else console.status("", spinner="dots")

    def progress(step: StepRecord) -> None:
        if spinner is None:
            return
        if step.status is StepStatus.RUNNING:
            spinner.update(f"{step.phase.value}: {escape(step.name)}")
        else:
            _print_step(step)

    if spinner is not None:
        spinner.start()
    try:
        journal = asyncio.run(run_experiment(cfg, name, progress=progress))
    finally:
        if spinner is not None:
            spinner.stop()
    evidence: Evidence | None = None
    if not no_record:
        artifact = journal_artifact(Path(journal.journal_file)) if journal.journal_file else None
        store = open_store(cfg)
        try:
            evidence = record_cli_run(
                cfg, store, kind="experiment", name=name, service=experiment.service,
                observation=journal.observation(artifact), started=journal.started,
                finished=journal.finished or datetime.now(journal.started.tzinfo),
            )  # fmt: skip
        finally:
            store.dispose()
    _report(journal, evidence, json_out)
    if journal.status is not ExperimentStatus.COMPLETED:
        raise typer.Exit(EXIT_FAILED)


def _report(journal: Journal, evidence: Evidence | None, json_out: bool) -> None:
    if json_out:
        print_json({**journal.model_dump(mode="json"), "evidence_id": evidence.id if evidence else None})
        return
    style = _STATUS_STYLE.get(journal.status, "bold")
    console.print(f"[{style}]{journal.status.value}[/] {escape(journal.summary)}", highlight=False)
    for finding in journal.findings[1:]:
        console.print(f"  [yellow]{escape(finding)}[/]", highlight=False)
    if journal.journal_file:
        console.print(f"  journal {journal.journal_file}", highlight=False)
    if evidence is not None:
        console.print(f"  evidence #{evidence.id} ({evidence.subject})", highlight=False)


@app.command("list")
@handle_errors
def list_cmd(config: ConfigOption = None, json_out: JsonOption = False) -> None:
    """The configured experiments, with their steps and recovery targets."""
    cfg = open_config(config)
    rows = [
        {
            "name": name,
            "service": exp.service,
            "description": exp.description,
            "steady_state": [p.name for p in exp.steady_state],
            "method": [s.name for s in exp.method],
            "rollbacks": [a.name for a in exp.rollbacks],
            "recovery": [p.name for p in exp.recovery.probes] if exp.recovery else [],
            "recovery_target_seconds": exp.recovery.target if exp.recovery else None,
        }
        for name, exp in sorted(cfg.experiments.items())
    ]
    if json_out:
        print_json(rows)
        return
    if not rows:
        console.print("no experiments configured")
    for name, exp in sorted(cfg.experiments.items()):
        recovery = f", recovery target {format_duration(exp.recovery.target)}" if exp.recovery else ""
        console.print(
            f"[bold]{name}[/] ({exp.service}): {len(exp.steady_state)} steady-state probe(s), "
            f"{len(exp.method)} method step(s), {len(exp.rollbacks)} rollback(s){recovery}",
            highlight=False,
        )
        if exp.description:
            console.print(f"  {escape(exp.description)}", highlight=False)
