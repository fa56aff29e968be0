"""``flightdeck demo``: the demo estate (a sample payments service watched by flightdeck)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from flightdeck.cli.common import EXIT_FAILED, JsonOption, console, handle_errors, print_json
from flightdeck.config import format_duration, parse_duration
from flightdeck.demo.estate import DEFAULT_DIR, Estate, ServiceStatus
from flightdeck.demo.run import DemoOptions, DemoReady, run_demo
from flightdeck.demo.service.faults import FaultName

__all__ = ["app"]

app = typer.Typer(
    help="The demo estate: a sample payments service, its traffic and faults, watched by flightdeck.",
    invoke_without_command=True,
)
service_app = typer.Typer(help="Stop, start or inspect the demo payments service.", no_args_is_help=True)
app.add_typer(service_app, name="service")

DirOption = Annotated[
    Path,
    typer.Option("--dir", envvar="FLIGHTDECK_DEMO_DIR", help="Demo folder", show_default=True),
]


def _emit(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def _ready_text(r: DemoReady, interval: float) -> None:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("cockpit", f"[bold cyan]{r.cockpit_url}[/]")
    grid.add_row("user", r.username)
    grid.add_row("password", f"[bold yellow]{r.password.reveal()}[/]")
    grid.add_row("service", f"{r.service_url}  (http {r.service_http_url}, pid {r.service_pid})")
    grid.add_row("config", f"{r.config_file}  ({r.checks} checks)")
    for s in r.servers:
        state = "[green]watched[/]" if s.available else f"[dim]not watched: {s.reason}[/]"
        grid.add_row(s.kind.value, f"{s.display_url}  {state}")
    where = "" if r.state_dir == Estate(DEFAULT_DIR).dir else f" (add --dir {r.state_dir})"
    console.print("\n[bold green]flightdeck demo is running[/]", highlight=False)
    console.print(grid, highlight=False)
    console.print(
        f"\nIn another terminal{where}:\n"
        f"  flightdeck demo service stop   its checks turn red within {format_duration(interval)}\n"
        "  flightdeck demo service start  and green again\n"
        "  flightdeck demo fault drift    a wallet drifts from its ledger (--off repairs)\n"
        "  flightdeck demo fault          list faults: latency, errors, drift, stuck\n"
        "Ctrl-C stops everything.\n",
        highlight=False,
    )


@app.callback()
@handle_errors
def demo(
    ctx: typer.Context,
    directory: DirOption = DEFAULT_DIR,
    port: Annotated[
        int | None, typer.Option("--port", min=0, max=65535, help="Cockpit port; 0 picks a free one")
    ] = None,
    service_port: Annotated[
        int | None, typer.Option("--service-port", min=0, max=65535, help="Service HTTP port; 0: free")
    ] = None,
    service_https_port: Annotated[
        int | None, typer.Option("--service-https-port", min=0, max=65535, help="Service HTTPS port; 0: free")
    ] = None,
    chaos_every: Annotated[
        str,
        typer.Option("--chaos-every", help="Mean time between random faults, e.g. 5m; off (or 0) for none"),
    ] = "5m",
    interval: Annotated[
        str, typer.Option("--interval", help="How often the probes run (checks without their own interval)")
    ] = "10s",
    rate: Annotated[
        float, typer.Option("--rate", min=0.1, max=100, help="Traffic: actions per second")
    ] = 2.0,
    no_databases: Annotated[
        bool, typer.Option("--no-databases", help="Do not look for local PostgreSQL, MariaDB, Redis")
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Start the demo: payments service, traffic, faults, and flightdeck's scheduler and cockpit.

    Prints the cockpit URL and the admin password, then runs until Ctrl-C, which stops everything.
    State lives in --dir (default .flightdeck/demo); ports and password are kept for the next start.
    """
    if ctx.invoked_subcommand is not None:
        return
    off = chaos_every.strip().lower() in ("0", "off", "never")
    chaos = 0.0 if off else _duration(chaos_every, "--chaos-every")
    every = _duration(interval, "--interval")
    if every < 1:
        raise typer.BadParameter("must be at least 1s", param_hint="--interval")
    options = DemoOptions(
        directory=directory,
        cockpit_port=port,
        service_port=service_port,
        service_https_port=service_https_port,
        chaos_every=chaos,
        interval=every,
        traffic_rate=rate,
        probe_servers=not no_databases,
    )

    def ready(r: DemoReady) -> None:
        if not json_out:
            _ready_text(r, every)
            return
        _emit(
            {
                "event": "ready",
                "cockpit_url": r.cockpit_url,
                "username": r.username,
                "password": r.password.reveal(),
                "service_url": r.service_url,
                "service_http_url": r.service_http_url,
                "service_pid": r.service_pid,
                "checks": r.checks,
                "config_file": str(r.config_file),
                "state_dir": str(r.state_dir),
                "databases": [
                    {"kind": s.kind.value, "url": s.display_url, "watched": s.available, "reason": s.reason}
                    for s in r.servers
                ],
            }
        )

    def event(message: str) -> None:
        if json_out:
            _emit({"event": "payments", "message": message})
        else:
            console.print(f"[cyan]payments[/] {message}", highlight=False)

    if not json_out:
        console.print(f"preparing the demo in {directory} ...", highlight=False)
    # Interrupted before the server took over the signals: everything is stopped already.
    with contextlib.suppress(KeyboardInterrupt):
        run_demo(options, ready, event)
    if json_out:
        _emit({"event": "stopped"})
    else:
        console.print("demo stopped: service, traffic and flightdeck", highlight=False)


def _duration(text: str, option: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


def _status_out(status: ServiceStatus, json_out: bool, action: str | None = None) -> None:
    if json_out:
        data = status.model_dump(mode="json")
        if action:
            data["action"] = action
        print_json(data)
        return
    if status.running:
        health = "healthy" if status.healthy else "[red]not answering /health[/]"
        console.print(
            f"demo service [green]running[/] (pid {status.pid}, {health}) at {status.https_url}",
            highlight=False,
        )
    else:
        console.print(f"demo service [red]stopped[/] (log: {status.log_file})", highlight=False)


@service_app.command("status")
@handle_errors
def service_status(directory: DirOption = DEFAULT_DIR, json_out: JsonOption = False) -> None:
    """Is the demo service running and answering? Exit 0 when it is, 1 when not."""
    status = Estate(directory).service_status()
    _status_out(status, json_out)
    if not (status.running and status.healthy):
        raise typer.Exit(EXIT_FAILED)


@service_app.command("stop")
@handle_errors
def service_stop(directory: DirOption = DEFAULT_DIR, json_out: JsonOption = False) -> None:
    """Stop the demo service (its checks turn red within one interval)."""
    estate = Estate(directory)
    estate.load()
    was_running = estate.stop_service()
    _status_out(estate.service_status(), json_out, "stopped" if was_running else "already stopped")


@service_app.command("start")
@handle_errors
def service_start(directory: DirOption = DEFAULT_DIR, json_out: JsonOption = False) -> None:
    """Start the demo service again (its checks turn green at their next run)."""
    estate = Estate(directory)
    _status_out(estate.start_service(), json_out, "started")


@app.command("fault")
@handle_errors
def fault(
    name: Annotated[
        FaultName | None, typer.Argument(help="latency, errors, drift or stuck; none: list")
    ] = None,
    off: Annotated[
        bool, typer.Option("--off", help="Switch the fault off (and repair what it broke)")
    ] = False,
    duration: Annotated[
        str | None, typer.Option("--for", help="Switch it off again after this long, e.g. 2m")
    ] = None,
    directory: DirOption = DEFAULT_DIR,
    json_out: JsonOption = False,
) -> None:
    """Switch an injected fault on (or --off) in the running demo service, or list them.

    latency: every request waits 1.5 s. errors: half the API requests answer 503. drift: a wallet's
    balance changes without a ledger entry. stuck: a payment stays pending forever.
    """
    estate = Estate(directory)
    if name is None:
        faults = asyncio.run(estate.faults())
        if json_out:
            print_json({"faults": faults})
            return
        table = Table(show_edge=False, header_style="bold")
        for col in ("Fault", "State", "Origin", "Note"):
            table.add_column(col)
        for f in faults:
            label = "[bold red]on[/]" if f["active"] else "off"
            table.add_row(str(f["name"]), label, str(f["origin"] or ""), str(f["note"] or ""))
        console.print(table)
        return
    seconds = None if duration is None else _duration(duration, "--for")
    result = asyncio.run(estate.set_fault(name, not off, seconds))
    if json_out:
        print_json({"fault": result})
        return
    state = "[bold red]on[/]" if result["active"] else "[green]off[/]"
    note = f": {result['note']}" if result.get("note") else ""
    console.print(f"fault {name.value} {state}{note}", highlight=False)
