"""``flightdeck recon``: reconcile payments against gateway statements, review and resolve exceptions."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from flightdeck.cli.common import (
    EXIT_FAILED,
    ConfigOption,
    JsonOption,
    console,
    err_console,
    fail,
    handle_errors,
    open_config,
    open_store,
    print_json,
    verdict_style,
)
from flightdeck.config import Config
from flightdeck.config.base import pick
from flightdeck.config.payments import ReconConfig
from flightdeck.evidence import Evidence, Verdict
from flightdeck.payments.errors import ReconError
from flightdeck.payments.jobs import Job, prepare_job, record_job
from flightdeck.payments.kinds import ReconciliationCheck
from flightdeck.payments.money import format_minor
from flightdeck.payments.recon_store import (
    ExceptionStatus,
    ItemRow,
    audit_trail,
    count_open,
    get_run,
    list_exceptions,
    list_runs,
    resolve_exception,
    run_items,
)
from flightdeck.store import Store


def recon_config(cfg: Config, name: str) -> ReconConfig:
    return pick(cfg.payments.reconciliations, name, "reconciliation", "payments.reconciliations")


app = typer.Typer(help="Reconcile payments against gateway and bank statements.", no_args_is_help=True)


def _amount(minor: int | None, currency: str | None) -> str:
    return "" if minor is None or not currency else format_minor(minor, currency)


def _items_table(items: list[ItemRow], limit: int = 50) -> Table:
    table = Table(show_edge=False, header_style="bold")
    for col in ("Category", "References", "Internal", "Statement", "Difference", "Reason"):
        table.add_column(col, overflow="fold", no_wrap=col not in ("References", "Reason"))
    for i in items[:limit]:
        refs = ", ".join(sorted(set(i.refs.get("internal", []) + i.refs.get("statement", []))))
        table.add_row(
            i.category.value,
            refs,
            _amount(i.internal_minor, i.currency),
            _amount(i.statement_minor, i.currency),
            _amount(i.difference_minor, i.currency),
            i.reason,
        )
    return table


@app.command("run")
@handle_errors
def run_cmd(
    name: Annotated[str, typer.Argument(help="A key of payments.reconciliations")],
    config: ConfigOption = None,
    json_out: JsonOption = False,
    day: Annotated[
        str | None, typer.Option("--date", "-d", help="Day to reconcile, YYYY-MM-DD (default: yesterday)")
    ] = None,
) -> None:
    """Reconcile one day: read the inbox's statements and the internal records, match, report.

    Exit 0 when nothing is open, 1 when exceptions remain open (or no statement arrived), 3 when the
    run could not be done (malformed statement, database unreachable): the run is then recorded as
    failed with the reason.
    """
    cfg = open_config(config)
    recon = recon_config(cfg, name)
    overrides: dict[str, Any] = {}
    if day is not None:
        try:
            overrides["day"] = date.fromisoformat(day)
        except ValueError:
            fail(f"--date {day!r} is not a date (YYYY-MM-DD)")
    store = open_store(cfg)
    job = prepare_job(
        cfg, store, kind="reconciliation", field="reconciliation", name=name, service=recon.service,
        overrides=overrides,
    )  # fmt: skip
    check = job.prepared.check
    assert isinstance(check, ReconciliationCheck)
    with console.status(f"reconciling {name}", spinner="dots") if not json_out else contextlib.nullcontext():
        evidence = asyncio.run(_run(cfg, store, job))
    outcome = check.outcome
    store.dispose()
    assert evidence is not None
    if outcome is None:
        if json_out:
            print_json({"evidence": evidence.model_dump(mode="json"), "outcome": None})
        else:
            err_console.print(f"[red]reconciliation {name} could not run: {evidence.summary}[/]")
        raise typer.Exit(3)
    if json_out:
        print_json(
            {
                "run_id": outcome.run_id,
                "recon": name,
                "day": outcome.day.isoformat(),
                "verdict": evidence.verdict.value,
                "evidence_id": evidence.id,
                "summary": outcome.summary,
                "new_exceptions": outcome.new_exceptions,
                "open_exceptions": outcome.open_exceptions,
                "exceptions": [dataclasses.asdict(i) for i in outcome.exceptions],
                "artifacts": [a.model_dump(mode="json") for a in outcome.artifacts],
            }
        )
    else:
        console.print(
            f"[bold]{name}[/] {outcome.day}: run {outcome.run_id}, "
            f"[{verdict_style(evidence.verdict)}]{evidence.verdict}[/] — {evidence.summary}"
        )
        for f in outcome.files:
            note = f" [yellow](skipped: {f.skipped})[/]" if f.skipped else ""
            console.print(f"  statement {f.name}: {f.rows:,} rows, sha256 {f.sha256[:12]}…{note}")
        console.print(f"  internal records: {outcome.internal_rows:,}")
        counts = outcome.category_counts
        console.print("  " + ", ".join(f"{c}: {n}" for c, n in counts.items() if n) or "  nothing to match")
        if outcome.exceptions:
            console.print(_items_table(outcome.exceptions))
        for a in outcome.artifacts:
            console.print(f"  report: {a.uri}", style="dim")
    if evidence.verdict not in (Verdict.PASS, Verdict.WARN):
        raise typer.Exit(EXIT_FAILED)


async def _run(cfg: Config, store: Store, job: Job) -> Evidence | None:
    try:
        return await record_job(cfg, store, job)
    finally:
        await job.aclose()


@app.command("list")
@handle_errors
def list_cmd(config: ConfigOption = None, json_out: JsonOption = False) -> None:
    """Configured reconciliations with their latest run."""
    cfg = open_config(config)
    store = open_store(cfg)
    rows = []
    for name, recon in sorted(cfg.payments.reconciliations.items()):
        runs = list_runs(store, name, limit=1)
        open_n = count_open(store, name)
        rows.append((name, recon, runs[0] if runs else None, open_n))
    store.dispose()
    if json_out:
        print_json(
            [
                {
                    "name": n,
                    "service": r.service,
                    "description": r.description,
                    "latest_run": dataclasses.asdict(run) if run else None,
                    "open_exceptions": o,
                }
                for n, r, run, o in rows
            ]
        )
        return
    table = Table(show_edge=False, header_style="bold")
    for col in ("Name", "Service", "Latest run", "Day", "Status", "Open exceptions"):
        table.add_column(col)
    for n, r, run, o in rows:
        table.add_row(n, r.service, str(run.id) if run else "-", run.day if run else "-",
                      run.status.value if run else "never run", str(o))  # fmt: skip
    console.print(table)


@app.command("show")
@handle_errors
def show_cmd(
    run_id: Annotated[int, typer.Argument(help="A run id (flightdeck recon runs)")],
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """One run: its inputs, counts per category and its exceptions."""
    cfg = open_config(config)
    store = open_store(cfg)
    run = get_run(store, run_id)
    items = run_items(store, run_id)
    store.dispose()
    if json_out:
        print_json({"run": dataclasses.asdict(run), "exceptions": [dataclasses.asdict(i) for i in items]})
        return
    console.print(f"[bold]run {run.id}[/] {run.recon} {run.day}: {run.status.value}")
    if run.error:
        console.print(f"  [red]{run.error}[/]")
    cats = (run.summary or {}).get("categories", {})
    for c, v in cats.items():
        console.print(f"  {c}: {v.get('items', 0)}")
    if items:
        console.print(_items_table(items, limit=500))


@app.command("runs")
@handle_errors
def runs_cmd(
    name: Annotated[str | None, typer.Argument(help="Only this reconciliation")] = None,
    config: ConfigOption = None,
    json_out: JsonOption = False,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000)] = 20,
) -> None:
    """Recent runs, newest first (failed and still-running runs included)."""
    cfg = open_config(config)
    store = open_store(cfg)
    runs = list_runs(store, name, limit=limit)
    store.dispose()
    if json_out:
        print_json([dataclasses.asdict(r) for r in runs])
        return
    table = Table(show_edge=False, header_style="bold")
    for col in ("Run", "Reconciliation", "Day", "Status", "Started (UTC)", "Exceptions", "Error"):
        table.add_column(col, overflow="fold")
    for r in runs:
        style = {"succeeded": "green", "failed": "red"}.get(r.status.value, "yellow")
        table.add_row(
            str(r.id), r.recon, r.day, f"[{style}]{r.status.value}[/]",
            r.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            str((r.summary or {}).get("exception_items", "")), r.error or "",
        )  # fmt: skip
    console.print(table)


@app.command("exceptions")
@handle_errors
def exceptions_cmd(
    name: Annotated[str | None, typer.Argument(help="Only this reconciliation")] = None,
    config: ConfigOption = None,
    json_out: JsonOption = False,
    status: Annotated[
        ExceptionStatus | None, typer.Option("--status", help="open or resolved (default: both)")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=10000)] = 200,
) -> None:
    """Exceptions across runs, one per fingerprint, with their resolution."""
    cfg = open_config(config)
    store = open_store(cfg)
    rows = list_exceptions(store, name, status, limit=limit)
    store.dispose()
    if json_out:
        print_json([dataclasses.asdict(e) for e in rows])
        return
    table = Table(show_edge=False, header_style="bold")
    for col in ("ID", "Recon", "Day", "Category", "Status", "Difference", "Reason", "Note"):
        table.add_column(col, overflow="fold", no_wrap=col not in ("Reason", "Note"))
    for e in rows:
        table.add_row(str(e.id), e.recon, e.day, e.category.value, e.status.value,
                      _amount(e.difference_minor, e.currency), e.reason, e.note or "")  # fmt: skip
    console.print(table)
    if not rows:
        console.print("no exceptions", style="dim")


@app.command("resolve")
@handle_errors
def resolve_cmd(
    exception_id: Annotated[int, typer.Argument(help="An exception id (flightdeck recon exceptions)")],
    note: Annotated[str, typer.Option("--note", "-m", help="Why it is resolved (kept in the audit trail)")],
    config: ConfigOption = None,
    json_out: JsonOption = False,
    actor: Annotated[str | None, typer.Option("--as", help="Who resolves (default: $USER)")] = None,
    reopen: Annotated[bool, typer.Option("--reopen", help="Reopen a resolved exception instead")] = False,
) -> None:
    """Resolve an exception with a note (or reopen it). Every change is in the audit trail."""
    import getpass

    if not note.strip():
        fail("--note must say why (it is kept in the audit trail)")
    cfg = open_config(config)
    store = open_store(cfg)
    who = actor or getpass.getuser()
    try:
        row = resolve_exception(store, exception_id, who, note, reopen=reopen)
    except ReconError as exc:  # already in that state: someone got there first
        store.dispose()
        fail(str(exc), EXIT_FAILED)
    trail = audit_trail(store, exception_id)
    store.dispose()
    if json_out:
        print_json({"exception": dataclasses.asdict(row), "audit": [dataclasses.asdict(a) for a in trail]})
        return
    console.print(f"exception {row.id} is now [bold]{row.status.value}[/] ({who}: {note})")


@app.command("audit")
@handle_errors
def audit_cmd(
    exception_id: Annotated[int | None, typer.Argument(help="One exception (default: all)")] = None,
    config: ConfigOption = None,
    json_out: JsonOption = False,
    recon: Annotated[str | None, typer.Option("--recon", help="Only this reconciliation")] = None,
) -> None:
    """The audit trail: every exception opened, resolved, reopened or cleared, by whom and why."""
    cfg = open_config(config)
    store = open_store(cfg)
    trail = audit_trail(store, exception_id, recon)
    store.dispose()
    if json_out:
        print_json([dataclasses.asdict(a) for a in trail])
        return
    table = Table(show_edge=False, header_style="bold")
    for col in ("At (UTC)", "Exception", "Action", "By", "Run", "Note"):
        table.add_column(col, overflow="fold")
    for a in trail:
        table.add_row(a.at.strftime("%Y-%m-%d %H:%M:%S"), str(a.exception_id), a.action, a.actor,
                      str(a.run_id or ""), a.note or "")  # fmt: skip
    console.print(table)


@app.command("report")
@handle_errors
def report_cmd(
    run_id: Annotated[int, typer.Argument(help="A run id")],
    config: ConfigOption = None,
    json_out: JsonOption = False,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Folder (default: the recon's reports_dir)")
    ] = None,
) -> None:
    """(Re)write a run's report: Markdown, HTML, PDF and the exceptions CSV."""
    from flightdeck.reports.recon import write_recon_report

    cfg = open_config(config)
    store = open_store(cfg)
    run = get_run(store, run_id)
    recon = recon_config(cfg, run.recon)
    artifacts = write_recon_report(store, run_id, out or recon.reports_dir, config=recon)
    store.dispose()
    if json_out:
        print_json([a.model_dump(mode="json") for a in artifacts])
        return
    for a in artifacts:
        console.print(a.uri)
