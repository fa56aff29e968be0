"""``flightdeck check``: list checks, run them now."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

import typer
from pydantic import BaseModel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from flightdeck.cli.common import (
    EXIT_FAILED,
    ConfigOption,
    JsonOption,
    console,
    err_console,
    handle_errors,
    open_config,
    open_store,
    print_json,
    verdict_style,
)
from flightdeck.config import format_duration
from flightdeck.engine.oneshot import run_checks_now
from flightdeck.engine.runner import PreparedCheck, RunResult
from flightdeck.evidence import Evidence, Trigger, Verdict
from flightdeck.store import list_statuses

app = typer.Typer(help="List checks and run them now.", no_args_is_help=True)

_FAILING = {Verdict.FAIL, Verdict.ERROR, Verdict.UNKNOWN}


@app.command("run")
@handle_errors
def run(
    name: Annotated[
        str | None, typer.Argument(help="service, service/check, or a glob such as 'payments/*'")
    ] = None,
    config: ConfigOption = None,
    json_out: JsonOption = False,
    no_record: Annotated[bool, typer.Option("--no-record", help="Do not write evidence")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 on warn too")] = False,
) -> None:
    """Run checks once, now, and print the outcome.

    Exit 0 when every check passed (or warned), 1 when any failed, errored or is unknown.
    """
    cfg = open_config(config)
    store = None if no_record else open_store(cfg)
    show_progress = not json_out and err_console.is_terminal
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not show_progress,
    ) as progress:
        task = progress.add_task("running checks", total=None)

        def done(c: PreparedCheck, r: RunResult) -> None:
            progress.update(task, advance=1, description=f"{c.subject}: {r.evidence.verdict}")

        results = asyncio.run(run_checks_now(cfg, store, name, Trigger.MANUAL, on_done=done))
    records = [r.evidence for r in results]
    bad = _FAILING | ({Verdict.WARN} if strict else set())
    failed = [r for r in records if r.verdict in bad]
    if json_out:
        print_json(
            {
                "results": [r.model_dump(mode="json") for r in records],
                "passed": len(records) - len(failed),
                "failed": len(failed),
            }
        )
    else:
        table = Table(show_edge=False, header_style="bold")
        for col in ("Check", "Kind", "Verdict", "Time", "Summary"):
            table.add_column(col, overflow="fold", no_wrap=col in ("Check", "Verdict"))
        for r in records:
            table.add_row(
                r.subject,
                r.kind,
                f"[{verdict_style(r.verdict)}]{r.verdict}[/]",
                f"{r.duration_ms:.0f} ms",
                r.summary,
            )
        console.print(table)
        ids = [r.id for r in records if isinstance(r, Evidence)]
        note = f"; evidence {min(ids)}–{max(ids)}" if ids else ""
        style = "red" if failed else "green"
        console.print(
            f"[{style}]{len(records) - len(failed)} of {len(records)} passed[/]{note}", highlight=False
        )
    if store is not None:
        store.dispose()
    if failed:
        raise typer.Exit(EXIT_FAILED)


class CheckListing(BaseModel):
    subject: str
    service: str
    check: str
    kind: str
    schedule: str
    enabled: bool
    verdict: Verdict
    last_finished_at: datetime | None
    summary: str | None


@app.command("list")
@handle_errors
def list_checks(config: ConfigOption = None, json_out: JsonOption = False) -> None:
    """List configured checks with their schedule and latest verdict."""
    cfg = open_config(config)
    store = open_store(cfg)
    with store.engine.connect() as conn:
        statuses = {s.subject: s for s in list_statuses(conn)}
    store.dispose()
    rows: list[CheckListing] = []
    for service, spec in cfg.iter_checks():
        st = statuses.get(f"{service}/{spec.name}")
        if spec.cron:
            schedule = f"cron {spec.cron} ({spec.timezone})"
        else:
            schedule = f"every {format_duration(spec.interval or cfg.defaults.interval)}"
        rows.append(
            CheckListing(
                subject=f"{service}/{spec.name}",
                service=service,
                check=spec.name,
                kind=spec.kind,
                schedule=schedule,
                enabled=spec.enabled,
                verdict=st.verdict if st else Verdict.UNKNOWN,
                last_finished_at=st.last_finished_at if st else None,
                summary=st.last_summary if st else None,
            )
        )
    if json_out:
        print_json({"checks": [r.model_dump(mode="json") for r in rows]})
        return
    table = Table(show_edge=False, header_style="bold")
    for col in ("Check", "Kind", "Schedule", "Verdict", "Last run (UTC)", "Summary"):
        table.add_column(col, overflow="fold")
    for r in rows:
        label = f"[{verdict_style(r.verdict)}]{r.verdict}[/]" + ("" if r.enabled else " [dim](disabled)[/]")
        last = r.last_finished_at.strftime("%Y-%m-%d %H:%M:%S") if r.last_finished_at else "never"
        table.add_row(r.subject, r.kind, r.schedule, label, last, r.summary or "")
    console.print(table)
    if not rows:
        console.print("no checks configured", style="dim")
