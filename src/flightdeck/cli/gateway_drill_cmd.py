"""``flightdeck gateway-drill``: a fault-injecting proxy between a service and its card gateway,
payments driven through the service, then double charges and lost payments counted.

Exit codes: 0 no money went wrong; 1 double charges, lost payments, amount mismatches or payments
left pending; 2 usage or configuration error; 3 the drill could not run.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

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
from flightdeck.payments.drill.demo import run_demo_gateway_drill
from flightdeck.payments.drill.proxy import FaultKind
from flightdeck.payments.drill.result import DrillResult
from flightdeck.payments.drill.run import DrillProgress, ProgressCallback, run_gateway_drill

__all__ = ["app"]

app = typer.Typer(
    help="Gateway fault drill: does the service charge each payment exactly once when the gateway "
    "errs, resets, stalls or loses responses?",
    no_args_is_help=True,
)


@contextmanager
def _progress(enabled: bool) -> Iterator[ProgressCallback | None]:
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        tasks: dict[str, TaskID] = {}

        def update(p: DrillProgress) -> None:
            if p.phase.value not in tasks:
                tasks[p.phase.value] = bar.add_task(p.phase.value, total=p.total)
            bar.update(tasks[p.phase.value], completed=p.done, total=p.total)

        yield update


def _report(result: DrillResult, json_out: bool) -> None:
    obs = result.observation()
    if json_out:
        print_json(
            {
                "verdict": "pass" if result.passed else "fail",
                "summary": obs.summary,
                "failures": obs.failures,
                "measurements": {m.name: m.value for m in obs.measurements},
                "detail": obs.detail,
            }
        )
        return
    injected = result.faults.injected
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for label, value in result.labels.items():
        grid.add_row(label, value)
    grid.add_row(
        "payments",
        f"{result.payments_created} driven: {result.succeeded} succeeded, {result.failed} failed, "
        f"{result.pending} pending",
    )
    grid.add_row(
        "faults",
        f"{result.faults.requests} gateway requests: {injected[FaultKind.ERROR]} errors, "
        f"{injected[FaultKind.RESET]} resets, {injected[FaultKind.LOST_RESPONSE]} lost responses",
    )
    grid.add_row("charges", f"{result.reconciliation.charges} at the gateway")
    style = "red" if result.double_charges else "green"
    grid.add_row("double charges", f"[{style}]{result.double_charges}[/]")
    style = "red" if result.lost_payments else "green"
    grid.add_row("lost payments", f"[{style}]{result.lost_payments}[/]")
    console.print(grid, highlight=False)
    for line in obs.failures:
        console.print(f"  [red]✗[/] {line}", highlight=False, soft_wrap=True)
    verdict = "[bold green]PASS[/]" if result.passed else "[bold red]FAIL[/]"
    console.print(f"{verdict} {obs.summary} ({result.duration_s:.1f} s)", highlight=False)


@app.command("run")
@handle_errors
def run_command(
    name: Annotated[str, typer.Argument(help="A drill under payments.gateway_drills")],
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Run a configured drill: the proxy listens where the service expects its gateway."""
    cfg = open_config(config)
    drills = cfg.payments.gateway_drills
    pick(drills, name, "gateway drill", "payments.gateway_drills")
    started = datetime.now(UTC)
    with _progress(not json_out) as progress:
        result = asyncio.run(run_gateway_drill(drills[name], name, progress))
    store = open_store(cfg)
    try:
        evidence = record_cli_run(
            cfg, store, kind="gateway_drill", name=name, service=drills[name].service,
            observation=result.observation(), started=started, finished=datetime.now(UTC),
        )  # fmt: skip
    finally:
        store.dispose()
    _report(result, json_out)
    if not json_out:
        console.print(f"evidence {evidence.id}: {evidence.subject} {evidence.verdict}", style="dim")
    if not result.passed:
        raise typer.Exit(EXIT_FAILED)


@app.command("demo")
@handle_errors
def demo_command(
    broken_retry: Annotated[
        bool,
        typer.Option("--broken-retry", help="Run the service with the retry bug (a new key per retry)"),
    ] = False,
    payments: Annotated[int, typer.Option("--payments", min=1, max=10_000, help="Payments to drive")] = 40,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=256, help="At once")] = 8,
    lost_response_rate: Annotated[
        float, typer.Option("--lost-response-rate", min=0, max=1, help="Responses the proxy loses")
    ] = 0.25,
    error_rate: Annotated[float, typer.Option("--error-rate", min=0, max=1, help="Answered 502/503")] = 0.1,
    reset_rate: Annotated[float, typer.Option("--reset-rate", min=0, max=1, help="Connections reset")] = 0.1,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the faults and amounts")] = 7,
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Folder for the drill's databases (default: a temporary one)")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Start the demo service, a fake card gateway and the fault proxy, drive payments, reconcile.

    With correct retry logic it finds no double charge however many responses are lost; with
    --broken-retry it names the payments that were charged twice. Exit 1 when money went wrong.
    """
    # The service logs every payment whose outcome stayed unknown: expected here, and noisy.
    logging.getLogger("flightdeck.demo.service").setLevel(logging.ERROR)
    retry = "broken" if broken_retry else "correct"
    with tempfile.TemporaryDirectory(prefix="flightdeck-drill-") as tmp, _progress(not json_out) as progress:
        folder = directory or Path(tmp)
        result = asyncio.run(
            run_demo_gateway_drill(
                folder,
                retry=retry,
                payments=payments,
                seed=seed,
                concurrency=concurrency,
                error_rate=error_rate,
                reset_rate=reset_rate,
                lost_response_rate=lost_response_rate,
                progress=progress,
            )
        )
    _report(result, json_out)
    if not result.passed:
        raise typer.Exit(EXIT_FAILED)
