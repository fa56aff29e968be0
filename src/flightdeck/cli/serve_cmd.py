"""``flightdeck serve``: scheduler, API and cockpit in one process."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import typer

from flightdeck.cli.common import ConfigOption, JsonOption, console, handle_errors, open_config, open_store
from flightdeck.server import Listening, serve

__all__ = ["serve_command"]


def _emit(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def _run(main: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop where it is installed (faster sockets for thousands of checks)."""
    factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main)


@handle_errors
def serve_command(
    config: ConfigOption = None,
    bind: Annotated[
        str | None, typer.Option("--bind", help="Address to listen on [default: server.bind, 127.0.0.1]")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port", min=0, max=65535, help="Port [default: server.port, 8450]; 0 picks a free one"
        ),
    ] = None,
    no_scheduler: Annotated[
        bool, typer.Option("--no-scheduler", help="Serve the API and cockpit only; run no checks")
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Run the scheduler, the HTTP API and the cockpit until SIGTERM or Ctrl-C.

    Migrates the store first. On SIGTERM/SIGINT it drains: no new runs, runs in flight get
    scheduler.drain_timeout to finish, the rest are cancelled without evidence; exit 0.
    """
    cfg = open_config(config)
    store = open_store(cfg)

    def listening(info: Listening) -> None:
        if json_out:
            _emit(
                {
                    "event": "listening",
                    "url": info.url,
                    "host": info.host,
                    "port": info.port,
                    "scheduler": info.checks is not None,
                    "checks": info.checks,
                    "node_id": cfg.scheduler.node_id,
                    "store": store.display_url,
                }
            )
            return
        what = f"scheduling {info.checks} checks" if info.checks is not None else "scheduler off"
        console.print(
            f"flightdeck listening on [bold]{info.url}[/] ({what}; store {store.display_url})",
            highlight=False,
        )

    try:
        _run(serve(cfg, store, bind=bind, port=port, run_scheduler=not no_scheduler, on_listening=listening))
    finally:
        store.dispose()
    if json_out:
        _emit({"event": "stopped"})
    else:
        console.print("flightdeck stopped", highlight=False)
