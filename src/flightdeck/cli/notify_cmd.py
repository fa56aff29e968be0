"""``flightdeck notify test|outbox|retry``: send a test notification; inspect the outbox.

Exit codes: ``test`` 0 when the channel accepted the message, 1 when it did not; ``retry`` 1 when
the notification is not a dead letter; 2 for an unknown channel or notification.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from flightdeck.cli.common import (
    EXIT_FAILED,
    ConfigOption,
    JsonOption,
    console,
    fail,
    handle_errors,
    open_config,
    open_store,
    print_json,
)

__all__ = ["app"]

app = typer.Typer(
    help="Notification channels: test them, see the outbox and dead letters.", no_args_is_help=True
)


@app.command("test")
@handle_errors
def send_test(
    channel: Annotated[str, typer.Argument(help="A key of channels:")],
    to: Annotated[
        str | None, typer.Option("--to", help="Address on the channel (phone, chat, email)")
    ] = None,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Queue a test message in the outbox and deliver it now; print what the channel answered."""
    from flightdeck.alerting.delivery import Deliverer, OutboxOutcome
    from flightdeck.alerting.outbox_admin import enqueue_test
    from flightdeck.clock import SystemClock

    cfg = open_config(config)
    store = open_store(cfg)
    try:
        now = datetime.now(UTC)
        with store.engine.begin() as conn:
            outbox_id = enqueue_test(conn, cfg, channel, to, now)
        deliverer = Deliverer(cfg, store, SystemClock(), f"{cfg.scheduler.node_id}-cli")

        async def deliver() -> OutboxOutcome:
            try:
                return await deliverer.deliver_one(outbox_id, now)
            finally:
                await deliverer.close()

        outcome = asyncio.run(deliver())
    finally:
        store.dispose()
    if json_out:
        print_json(
            {
                "outbox_id": outcome.outbox_id,
                "channel": outcome.channel,
                "sent": outcome.sent,
                "state": outcome.state.value,
                "status": outcome.status,
                "detail": outcome.detail,
            }
        )
    elif outcome.sent:
        console.print(f"[green]✓[/] {outcome.detail} (outbox {outcome.outbox_id})", highlight=False)
    else:
        console.print(f"[red]✗[/] {channel}: {outcome.detail or outcome.state.value}", highlight=False)
    if not outcome.sent:
        raise typer.Exit(EXIT_FAILED)


@app.command("outbox")
@handle_errors
def outbox_cmd(
    state: Annotated[
        str | None, typer.Option("--state", help="pending, sending, sent, dead or cancelled")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10000, help="At most this many")] = 50,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """List notifications, newest first (no payloads, no secrets)."""
    from flightdeck.alerting.model import OutboxState
    from flightdeck.alerting.outbox_admin import list_outbox

    try:
        wanted = OutboxState(state) if state is not None else None
    except ValueError:
        raise typer.BadParameter(
            f"{state!r}: use one of {', '.join(s.value for s in OutboxState)}", param_hint="--state"
        ) from None
    cfg = open_config(config)
    store = open_store(cfg)
    try:
        with store.engine.begin() as conn:
            entries = list_outbox(conn, state=wanted, limit=limit)
    finally:
        store.dispose()
    if json_out:
        print_json([e.to_json() for e in entries])
        return
    table = Table("id", "created", "channel", "to", "action", "incident", "state", "attempts", "last")
    for e in entries:
        last = " ".join(x for x in (str(e.last_status or ""), (e.last_error or "")[:80]) if x)
        table.add_row(
            str(e.id),
            f"{e.created_at:%Y-%m-%d %H:%M:%S}",
            e.channel,
            e.recipient or "",
            e.action,
            str(e.incident_id or ""),
            e.state.value,
            str(e.attempts),
            last,
        )
    console.print(table)


@app.command("retry")
@handle_errors
def retry_cmd(
    outbox_id: Annotated[int, typer.Argument(help="The dead letter's id (see notify outbox --state dead)")],
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Put a dead letter back to pending: the running server delivers it on its next pass."""
    from flightdeck.alerting.outbox_admin import retry_dead_letter

    cfg = open_config(config)
    store = open_store(cfg)
    try:
        with store.engine.begin() as conn:
            done = retry_dead_letter(conn, outbox_id, datetime.now(UTC))
    finally:
        store.dispose()
    if json_out:
        print_json({"outbox_id": outbox_id, "retried": done})
    if not done:
        if not json_out:
            fail(f"notification {outbox_id} is not a dead letter", EXIT_FAILED)
        raise typer.Exit(EXIT_FAILED)
    if not json_out:
        console.print(f"[green]✓[/] notification {outbox_id} is pending again", highlight=False)
