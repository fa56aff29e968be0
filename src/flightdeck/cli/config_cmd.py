"""``flightdeck config``: validate a configuration file."""

from __future__ import annotations

import typer

from flightdeck.cli.common import (
    EXIT_CONFIG,
    ConfigOption,
    JsonOption,
    config_path,
    console,
    err_console,
    fail,
    print_json,
)
from flightdeck.config import load_config
from flightdeck.errors import ConfigError

app = typer.Typer(help="Validate and inspect configuration.", no_args_is_help=True)


@app.command("validate")
def validate(config: ConfigOption = None, json_out: JsonOption = False) -> None:
    """Check a configuration file and report every error at once, with file, line and key path.

    Exit 0 when valid, 2 when not.
    """
    path = config_path(config)
    if path is None:
        fail("no configuration file: give one with -c FILE")
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        if json_out:
            print_json(
                {
                    "valid": False,
                    "file": str(path),
                    "errors": [
                        {"file": i.file, "line": i.line, "path": i.path, "message": i.message}
                        for i in exc.issues
                    ],
                }
            )
        else:
            for issue in exc.issues:
                err_console.print(f"[red]{issue}[/]", highlight=False, soft_wrap=True)
            n = len(exc.issues)
            err_console.print(f"{n} configuration error{'s' if n != 1 else ''} in {path}", style="bold red")
        raise typer.Exit(EXIT_CONFIG) from None
    checks = cfg.iter_checks()
    if json_out:
        print_json(
            {
                "valid": True,
                "file": str(path),
                "services": len(cfg.services),
                "checks": len(checks),
                "datasources": len(cfg.datasources),
            }
        )
        return
    console.print(
        f"[green]✓[/] {path} is valid: {len(cfg.services)} services, {len(checks)} checks, "
        f"{len(cfg.datasources)} datasources",
        highlight=False,
    )
