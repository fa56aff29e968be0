"""``flightdeck evidence``: what was measured, when, with which verdict."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table

from flightdeck.cli.common import (
    ConfigOption,
    JsonOption,
    console,
    handle_errors,
    open_config,
    open_store,
    parse_since,
    print_json,
    verdict_style,
)
from flightdeck.evidence import Verdict
from flightdeck.store import EvidenceFilter, get_evidence, list_evidence

app = typer.Typer(help="Read the evidence store.", no_args_is_help=True)


@app.command("list")
@handle_errors
def list_cmd(
    config: ConfigOption = None,
    json_out: JsonOption = False,
    service: Annotated[str | None, typer.Option("--service", "-s", help="Only this service")] = None,
    check: Annotated[str | None, typer.Option("--check", help="Only this check (service/check)")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="Only this kind (http, tls, ...)")] = None,
    verdict: Annotated[
        list[Verdict] | None, typer.Option("--verdict", "-v", help="Only these verdicts")
    ] = None,
    since: Annotated[str | None, typer.Option("--since", help="1h, 7d or an ISO timestamp")] = None,
    until: Annotated[str | None, typer.Option("--until", help="1h, 7d or an ISO timestamp")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000)] = 50,
    before: Annotated[int | None, typer.Option("--before", help="Page: records older than this id")] = None,
) -> None:
    """List evidence records, newest first."""
    cfg = open_config(config, required=False)
    store = open_store(cfg)
    f = EvidenceFilter(
        service=service,
        subject=check,
        kind=kind,
        verdicts=tuple(verdict or ()),
        since=parse_since(since),
        until=parse_since(until),
    )
    with store.engine.connect() as conn:
        page = list_evidence(conn, f, limit=limit, before_id=before)
    store.dispose()
    if json_out:
        print_json(
            {"items": [e.model_dump(mode="json") for e in page.items], "next_cursor": page.next_cursor}
        )
        return
    table = Table(show_edge=False, header_style="bold")
    for col in ("ID", "Finished (UTC)", "Check", "Verdict", "Time", "Summary"):
        table.add_column(col, overflow="fold", no_wrap=col in ("ID", "Finished (UTC)"))
    for e in page.items:
        table.add_row(
            str(e.id),
            e.finished_at.strftime("%Y-%m-%d %H:%M:%S"),
            e.subject,
            f"[{verdict_style(e.verdict)}]{e.verdict}[/]",
            f"{e.duration_ms:.0f} ms",
            e.summary,
        )
    console.print(table)
    if not page.items:
        console.print("no evidence matches", style="dim")
    elif page.next_cursor:
        console.print(f"more: --before {page.next_cursor}", style="dim")


@app.command("show")
@handle_errors
def show(
    evidence_id: Annotated[int, typer.Argument(help="Evidence id")],
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Show one evidence record in full: verdict, measurements, detail."""
    cfg = open_config(config, required=False)
    store = open_store(cfg)
    with store.engine.connect() as conn:
        e = get_evidence(conn, evidence_id)
    store.dispose()
    if json_out:
        print_json(e.model_dump(mode="json"))
        return
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("Check", e.subject)
    head.add_row("Kind", e.kind)
    head.add_row("Verdict", f"[{verdict_style(e.verdict)}]{e.verdict}[/]")
    head.add_row("Summary", e.summary)
    head.add_row("Started", e.started_at.isoformat())
    head.add_row("Finished", e.finished_at.isoformat())
    head.add_row("Duration", f"{e.duration_ms:.1f} ms")
    head.add_row("Trigger", e.trigger.value)
    head.add_row("Config digest", e.config_digest)
    console.print(Panel(head, title=f"evidence {e.id}", expand=False))
    if e.measurements:
        mt = Table(show_edge=False, header_style="bold")
        mt.add_column("Measurement")
        mt.add_column("Value", justify="right")
        mt.add_column("Unit")
        for m in e.measurements:
            mt.add_row(m.name, f"{m.value:g}", m.unit)
        console.print(mt)
    if e.detail:
        console.print(Syntax(json.dumps(e.detail, indent=2, ensure_ascii=False), "json", word_wrap=True))
