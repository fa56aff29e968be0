"""``flightdeck user``: people who may log in to the cockpit, with a role each."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from flightdeck.access import (
    Role,
    User,
    create_user,
    disable_user,
    enable_user,
    generate_password,
    list_users,
    set_password,
)
from flightdeck.access.errors import AccessPolicyError, AlreadyExistsError
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
from flightdeck.secret import Secret
from flightdeck.store import Store

__all__ = ["app"]

app = typer.Typer(
    help="Manage cockpit users. Roles: viewer (reads), operator (also runs checks now), admin "
    "(also manages users and tokens).",
    no_args_is_help=True,
)

RoleOption = Annotated[Role, typer.Option("--role", "-r", help="viewer, operator or admin")]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin")
]
Generate = Annotated[bool, typer.Option("--generate", help="Generate a random password and print it once")]


def user_json(u: User) -> dict[str, object]:
    return {
        "username": u.username,
        "role": u.role.value,
        "active": u.active,
        "created_at": u.created_at.isoformat(),
        "disabled_at": u.disabled_at.isoformat() if u.disabled_at else None,
    }


def _password(from_stdin: bool, generate: bool) -> tuple[Secret, bool]:
    """The new password and whether it was generated (and must be shown)."""
    if from_stdin and generate:
        fail("give --password-stdin or --generate, not both")
    if generate:
        return generate_password(), True
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            fail("no password on stdin")
        return Secret(line), False
    if not sys.stdin.isatty():
        fail("no terminal to ask for a password: use --password-stdin or --generate")
    first = typer.prompt("Password", hide_input=True)
    again = typer.prompt("Repeat password", hide_input=True)
    if first != again:
        fail("the passwords differ")
    return Secret(first), False


@app.command("add")
@handle_errors
def add(
    username: Annotated[str, typer.Argument(help="Login name")],
    role: RoleOption = Role.VIEWER,
    password_stdin: PasswordStdin = False,
    generate: Generate = False,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Add a user. The password is asked for, read from stdin, or generated and printed once."""
    password, generated = _password(password_stdin, generate)
    store = open_store(open_config(config, required=False))
    try:
        user = create_user(store, username, password, role)
    except (AccessPolicyError, AlreadyExistsError) as exc:
        fail(str(exc), EXIT_CONFIG)
    finally:
        store.dispose()
    _report(
        user,
        password if generated else None,
        json_out,
        f"Added [bold]{user.username}[/] ({user.role.value}).",
    )


def _report(user: User, generated: Secret | None, json_out: bool, message: str) -> None:
    """Print what changed; a generated password is shown this once (in JSON as ``password``)."""
    if json_out:
        out = user_json(user)
        if generated is not None:
            out["password"] = generated.reveal()
        print_json(out)
        return
    console.print(message, highlight=False)
    if generated is not None:
        console.print(f"Password (shown once): [bold]{generated.reveal()}[/]", highlight=False)


@app.command("list")
@handle_errors
def list_cmd(config: ConfigOption = None, json_out: JsonOption = False) -> None:
    """List users (never their passwords)."""
    store = open_store(open_config(config, required=False))
    try:
        users = list_users(store)
    finally:
        store.dispose()
    if json_out:
        print_json([user_json(u) for u in users])
        return
    table = Table(show_edge=False, header_style="bold")
    for col in ("User", "Role", "State", "Created (UTC)"):
        table.add_column(col)
    for u in users:
        state = "active" if u.active else f"disabled {u.disabled_at:%Y-%m-%d %H:%M}" if u.disabled_at else ""
        table.add_row(u.username, u.role.value, state, f"{u.created_at:%Y-%m-%d %H:%M}")
    console.print(table)
    if not users:
        err_console.print("No users yet: flightdeck user add NAME --role admin")


@app.command("passwd")
@handle_errors
def passwd(
    username: Annotated[str, typer.Argument(help="Login name")],
    password_stdin: PasswordStdin = False,
    generate: Generate = False,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Set a new password; the user's cockpit sessions end."""
    password, generated = _password(password_stdin, generate)
    store = open_store(open_config(config, required=False))
    try:
        user = set_password(store, username, password)
    except AccessPolicyError as exc:
        fail(str(exc), EXIT_CONFIG)
    finally:
        store.dispose()
    _report(
        user,
        password if generated else None,
        json_out,
        f"Password of [bold]{user.username}[/] changed; their sessions ended.",
    )


@app.command("disable")
@handle_errors
def disable(
    username: Annotated[str, typer.Argument(help="Login name")],
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Stop a user from logging in; their sessions end at once. Their history stays."""
    _set_active(disable_user, username, config, json_out, "is disabled.")


@app.command("enable")
@handle_errors
def enable(
    username: Annotated[str, typer.Argument(help="Login name")],
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Let a disabled user log in again."""
    _set_active(enable_user, username, config, json_out, "may log in again.")


def _set_active(
    change: Callable[[Store, str], User], username: str, config: Path | None, json_out: bool, outcome: str
) -> None:
    """Apply ``change`` (disable_user or enable_user) and report the user as JSON or as ``outcome``."""
    store = open_store(open_config(config, required=False))
    try:
        user = change(store, username)
    finally:
        store.dispose()
    if json_out:
        print_json(user_json(user))
        return
    console.print(f"[bold]{user.username}[/] {outcome}", highlight=False)
