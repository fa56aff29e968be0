"""``flightdeck token``: API tokens for scripts (``Authorization: Bearer fd_…``)."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table

from flightdeck.access import ApiToken, Role, create_token, list_tokens, revoke_token
from flightdeck.access.errors import AccessPolicyError
from flightdeck.cli.common import (
    EXIT_CONFIG,
    ConfigOption,
    JsonOption,
    console,
    err_console,
    fail,
    handle_errors,
    open_config,
    open_store,
    print_json,
)
from flightdeck.config.types import parse_duration

__all__ = ["app"]

app = typer.Typer(help="Manage API tokens for scripts.", no_args_is_help=True)


def token_json(t: ApiToken, now: datetime) -> dict[str, object]:
    return {
        "id": t.id,
        "name": t.name,
        "prefix": t.prefix,
        "role": t.role.value,
        "state": t.state(now).value,
        "created_by": t.created_by,
        "created_at": t.created_at.isoformat(),
        "expires_at": t.expires_at.isoformat() if t.expires_at else None,
        "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
        "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
    }


def _who() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        return "cli"


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else "—"


@app.command("create")
@handle_errors
def create(
    name: Annotated[str, typer.Argument(help="What the token is for, e.g. ci or grafana")],
    role: Annotated[Role, typer.Option("--role", "-r", help="viewer, operator or admin")] = Role.VIEWER,
    expires: Annotated[
        str | None, typer.Option("--expires", help="Lifetime such as 90d or 12h [default: never]")
    ] = None,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Create a token and print it once: flightdeck keeps only its hash."""
    lifetime = None
    if expires is not None:
        try:
            lifetime = timedelta(seconds=parse_duration(expires))
        except ValueError as exc:
            fail(f"--expires: {exc}")
    store = open_store(open_config(config, required=False))
    try:
        value, token = create_token(store, name, role, lifetime, created_by=_who())
    except AccessPolicyError as exc:
        fail(str(exc), EXIT_CONFIG)
    finally:
        store.dispose()
    if json_out:
        print_json({**token_json(token, token.created_at), "token": value})
        return
    console.print(
        f"Created token [bold]{token.name}[/] (id {token.id}, {token.role.value}, "
        f"{'expires ' + _when(token.expires_at) + ' UTC' if token.expires_at else 'does not expire'}).",
        highlight=False,
    )
    console.print("Copy it now; it is not shown again:", highlight=False)
    console.print(value, highlight=False, soft_wrap=True)


@app.command("list")
@handle_errors
def list_cmd(
    config: ConfigOption = None,
    json_out: JsonOption = False,
    active: Annotated[bool, typer.Option("--active", help="Only tokens that work")] = False,
) -> None:
    """List tokens: name, prefix, role, state, last use (never the tokens themselves)."""
    store = open_store(open_config(config, required=False))
    try:
        tokens = list_tokens(store)
    finally:
        store.dispose()
    now = datetime.now(UTC)
    if active:
        tokens = [t for t in tokens if t.state(now).value == "active"]
    if json_out:
        print_json([token_json(t, now) for t in tokens])
        return
    table = Table(show_edge=False, header_style="bold")
    for col in ("ID", "Name", "Prefix", "Role", "State", "Created (UTC)", "Expires", "Last used"):
        table.add_column(col)
    for t in tokens:
        table.add_row(
            str(t.id),
            t.name,
            t.prefix + "…",
            t.role.value,
            t.state(now).value,
            _when(t.created_at),
            _when(t.expires_at) if t.expires_at else "never",
            _when(t.last_used_at),
        )
    console.print(table)
    if not tokens:
        err_console.print("No tokens: flightdeck token create NAME --role viewer")


@app.command("revoke")
@handle_errors
def revoke(
    token: Annotated[str, typer.Argument(help="The token's id, name or prefix (fd_…)")],
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Revoke a token: requests with it get 401 from now on."""
    store = open_store(open_config(config, required=False))
    try:
        revoked = revoke_token(store, token)
    except AccessPolicyError as exc:
        fail(str(exc), EXIT_CONFIG)
    finally:
        store.dispose()
    if json_out:
        print_json(token_json(revoked, datetime.now(UTC)))
        return
    console.print(f"Revoked token [bold]{revoked.name}[/] (id {revoked.id}).", highlight=False)
