"""What every command shares: options, loading configuration and store, output, exit codes.

Exit codes: 0 everything passed; 1 something failed (a check, a verification); 2 usage or
configuration error; 3 flightdeck could not do its work (store unreachable, migration failed).
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, NoReturn, ParamSpec, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console

from flightdeck.config import Config, load_config, parse_duration
from flightdeck.errors import ConfigError, FlightdeckError, NotFoundError, StoreError
from flightdeck.evidence import Verdict
from flightdeck.store import Store

__all__ = [
    "EXIT_CONFIG",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_RUNTIME",
    "ConfigOption",
    "JsonOption",
    "console",
    "err_console",
    "fail",
    "handle_errors",
    "open_config",
    "open_store",
    "parse_since",
    "print_json",
    "verdict_style",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_RUNTIME = 3

DEFAULT_CONFIG = "flightdeck.yaml"
CONFIG_ENV = "FLIGHTDECK_CONFIG"

console = Console()
err_console = Console(stderr=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help=f"Configuration file [env {CONFIG_ENV}; default ./{DEFAULT_CONFIG}]",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout")]

_STYLES = {
    Verdict.PASS: "bold green",
    Verdict.WARN: "bold yellow",
    Verdict.FAIL: "bold red",
    Verdict.ERROR: "bold magenta",
    Verdict.UNKNOWN: "dim",
}


def verdict_style(v: Verdict) -> str:
    return _STYLES[v]


def fail(message: str, code: int = EXIT_CONFIG) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


P = ParamSpec("P")
R = TypeVar("R")


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn flightdeck's exceptions into a clear message and the documented exit code."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            for issue in exc.issues:
                err_console.print(f"[red]{issue}[/]", highlight=False, soft_wrap=True)
            n = len(exc.issues)
            err_console.print(f"{n} configuration error{'s' if n != 1 else ''}", style="bold red")
            raise typer.Exit(EXIT_CONFIG) from None
        except NotFoundError as exc:
            fail(str(exc), EXIT_CONFIG)
        except StoreError as exc:
            fail(str(exc), EXIT_RUNTIME)
        except FlightdeckError as exc:
            fail(str(exc), EXIT_RUNTIME)

    return wrapper


def config_path(path: Path | None) -> Path | None:
    if path is not None:
        return path
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    default = Path(DEFAULT_CONFIG)
    return default if default.exists() else None


def open_config(path: Path | None, required: bool = True) -> Config:
    """Load the configuration; without a file, an empty configuration (defaults) unless required."""
    p = config_path(path)
    if p is None:
        if required:
            fail(f"no configuration file: ./{DEFAULT_CONFIG} does not exist (give one with -c FILE)")
        return Config()
    return load_config(p)


def open_store(config: Config, migrate: bool = True) -> Store:
    store = Store(config.store.database_url())
    if migrate:
        store.migrate()
    return store


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=_default, indent=2, ensure_ascii=False) + "\n")


_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}")


def parse_since(value: str | None, now: datetime | None = None) -> datetime | None:
    """``1h`` (ago), ``7d`` (ago) or an ISO timestamp (UTC when no zone is given)."""
    if value is None:
        return None
    now = now or datetime.now(UTC)
    if _ISO.match(value):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            raise typer.BadParameter(f"{value!r} is not an ISO timestamp") from None
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    try:
        return now - timedelta(seconds=parse_duration(value))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
