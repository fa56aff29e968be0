"""``flightdeck alerts``, ``flightdeck incidents`` and ``flightdeck silence``.

Changes are made as ``--as NAME`` (``--author`` for a silence), by default the login name in
``$USER`` (``cli`` when it is unset), with ``via`` ``cli`` in the incident's timeline. An unknown
incident or silence id exits 2 with a message; every command has ``--json``.
"""

from __future__ import annotations

import dataclasses
import os
from datetime import datetime, timedelta
from typing import Annotated, Any

import typer
from rich.table import Table

from flightdeck.alerting import incidents as incident_ops
from flightdeck.alerting.queries import (
    AlertFilter,
    IncidentFilter,
    incident_detail,
    list_alerts,
    list_incidents,
)
from flightdeck.alerting.silences import (
    Matcher,
    Silence,
    create_silence,
    expire_silence,
    get_silence,
    list_silences,
)
from flightdeck.cli.common import (
    ConfigOption,
    JsonOption,
    console,
    fail,
    handle_errors,
    open_config,
    open_store,
    parse_since,
    print_json,
)
from flightdeck.config.types import parse_duration
from flightdeck.store import Store

__all__ = ["alerts_app", "default_actor", "incidents_app", "silence_app"]

alerts_app = typer.Typer(help="Alerts: what is firing now.", no_args_is_help=True)
incidents_app = typer.Typer(
    help="Incidents: list, show, acknowledge, resolve, comment, MTTA/MTTR.", no_args_is_help=True
)
silence_app = typer.Typer(help="Silences: mute matching alerts for a while.", no_args_is_help=True)

ActorOption = Annotated[
    str | None, typer.Option("--as", help="Who makes the change [default: $USER]", show_default=False)
]


def default_actor(given: str | None = None) -> str:
    """``given``, else ``$USER``, else ``cli``."""
    return (given or os.environ.get("USER") or "cli").strip() or "cli"


def _store(config: Any) -> Store:
    return open_store(open_config(config))


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "—"


def _plain(value: Any) -> Any:
    return (
        dataclasses.asdict(value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type)
        else value
    )


def _silence_json(s: Silence, now: datetime) -> dict[str, Any]:
    return {
        "id": s.id,
        "matchers": [str(m) for m in s.matchers],
        "starts_at": s.starts_at,
        "ends_at": s.ends_at,
        "created_by": s.created_by,
        "comment": s.comment,
        "created_at": s.created_at,
        "expired_at": s.expired_at,
        "expired_by": s.expired_by,
        "state": s.state(now),
    }


@alerts_app.command("list")
@handle_errors
def alerts_list(
    config: ConfigOption = None,
    json_out: JsonOption = False,
    state: Annotated[
        AlertFilter, typer.Option(help="active, firing, pending, resolved or all")
    ] = AlertFilter.ACTIVE,
    service: Annotated[str | None, typer.Option(help="Only this service")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 200,
) -> None:
    """Alerts, most urgent first (active ones by default)."""
    store = _store(config)
    with store.engine.connect() as conn:
        rows = list_alerts(conn, state, service=service, limit=limit)
    store.dispose()
    if json_out:
        print_json([_plain(a) for a in rows])
        return
    table = Table(show_edge=False, header_style="bold")
    for col in ("Id", "Severity", "Rule", "Service", "State", "Since", "Suppressed", "Incident", "Summary"):
        table.add_column(col, overflow="fold")
    for a in rows:
        table.add_row(
            str(a.id),
            a.severity.value,
            a.rule,
            a.service or "—",
            a.state.value,
            _when(a.started_at),
            f"{a.suppressed}: {a.suppressed_by or ''}" if a.suppressed else "",
            f"#{a.incident_id}" if a.incident_id else "",
            a.summary,
        )
    console.print(table if rows else f"No {state.value} alerts.")


@incidents_app.command("list")
@handle_errors
def incidents_list(
    config: ConfigOption = None,
    json_out: JsonOption = False,
    status: Annotated[
        IncidentFilter, typer.Option(help="open, triggered, acknowledged, resolved or all")
    ] = IncidentFilter.OPEN,
    service: Annotated[str | None, typer.Option(help="Only this service")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
) -> None:
    """Incidents, newest first (open ones by default)."""
    store = _store(config)
    with store.engine.connect() as conn:
        page = list_incidents(conn, status, service=service, limit=limit)
    store.dispose()
    if json_out:
        print_json([_plain(i) for i in page.items])
        return
    table = Table(show_edge=False, header_style="bold")
    for col in ("Id", "Severity", "Status", "Service", "Title", "Opened", "By"):
        table.add_column(col, overflow="fold")
    for i in page.items:
        by = i.resolved_by if i.resolved_by else i.acknowledged_by
        table.add_row(
            str(i.id),
            i.severity.value,
            i.status.value,
            i.service or "—",
            i.title,
            _when(i.created_at),
            by or "",
        )
    console.print(table if page.items else f"No {status.value} incidents.")


@incidents_app.command("show")
@handle_errors
def incidents_show(
    incident_id: Annotated[int, typer.Argument(help="Incident id")],
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """One incident: its alerts, notifications (dead letters marked) and timeline."""
    store = _store(config)
    with store.engine.connect() as conn:
        d = incident_detail(conn, incident_id)
    store.dispose()
    i = d.incident
    if json_out:
        print_json(
            {
                **_plain(i),
                "alerts": [_plain(a) for a in d.alerts],
                "timeline": [_plain(e) for e in d.timeline],
                "notifications": [_plain(n) for n in d.notifications],
                "dead_letters": len(d.dead_letters),
                "mtta_seconds": d.mtta_seconds,
                "mttr_seconds": d.mttr_seconds,
            }
        )
        return
    console.print(
        f"[bold]#{i.id} {i.title}[/] — {i.severity.value} {i.service} [bold]{i.status.value}[/]",
        highlight=False,
    )
    console.print(
        f"opened {_when(i.created_at)}; MTTA {d.mtta_seconds if d.mtta_seconds is not None else '—'} s; "
        f"MTTR {d.mttr_seconds if d.mttr_seconds is not None else '—'} s",
        highlight=False,
    )
    alerts = Table(title="Alerts", show_edge=False, header_style="bold")
    for col in ("Severity", "Rule", "State", "Since", "Summary"):
        alerts.add_column(col, overflow="fold")
    for a in d.alerts:
        alerts.add_row(a.severity.value, a.rule, a.state.value, _when(a.started_at), a.summary)
    console.print(alerts)
    if d.notifications:
        sent = Table(title="Notifications", show_edge=False, header_style="bold")
        for col in ("Id", "Channel", "To", "Action", "State", "Attempts", "Last error"):
            sent.add_column(col, overflow="fold")
        for n in d.notifications:
            state = "[bold red]DEAD LETTER[/]" if n.dead else n.state.value
            sent.add_row(
                str(n.id), n.channel, n.recipient or "", n.action, state, str(n.attempts), n.last_error or ""
            )
        console.print(sent)
    events = Table(title="Timeline", show_edge=False, header_style="bold")
    for col in ("Time", "Event", "By", "What"):
        events.add_column(col, overflow="fold")
    for e in d.timeline:
        events.add_row(_when(e.at), e.kind.value, e.actor or "", e.message)
    console.print(events)


def _change(config: Any, incident_id: int, action: str, actor: str | None, json_out: bool) -> None:
    store = _store(config)
    who = default_actor(actor)
    op = incident_ops.acknowledge if action == "ack" else incident_ops.resolve_incident
    with store.engine.begin() as conn:
        changed = op(conn, incident_id, who, store.clock.now(), via="cli")
        row = incident_ops.get_incident(conn, incident_id)
    store.dispose()
    if json_out:
        print_json({"changed": changed, "incident": _plain(row)})
        return
    done = "acknowledged" if action == "ack" else "resolved"
    if changed:
        console.print(f"Incident #{incident_id} {done} by {who}.", highlight=False)
    else:
        console.print(
            f"Incident #{incident_id} is already {row.status.value}: nothing changed.", highlight=False
        )


@incidents_app.command("ack")
@handle_errors
def incidents_ack(
    incident_id: Annotated[int, typer.Argument(help="Incident id")],
    actor: ActorOption = None,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Acknowledge an incident: escalation stops."""
    _change(config, incident_id, "ack", actor, json_out)


@incidents_app.command("resolve")
@handle_errors
def incidents_resolve(
    incident_id: Annotated[int, typer.Argument(help="Incident id")],
    actor: ActorOption = None,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Resolve an incident and its alerts."""
    _change(config, incident_id, "resolve", actor, json_out)


@incidents_app.command("comment")
@handle_errors
def incidents_comment(
    incident_id: Annotated[int, typer.Argument(help="Incident id")],
    text: Annotated[str, typer.Argument(help="The comment")],
    actor: ActorOption = None,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Add a comment to an incident's timeline."""
    store = _store(config)
    who = default_actor(actor)
    try:
        with store.engine.begin() as conn:
            incident_ops.comment(conn, incident_id, who, text, store.clock.now())
    except ValueError as exc:
        fail(str(exc))
    finally:
        store.dispose()
    if json_out:
        print_json({"incident_id": incident_id, "actor": who, "comment": text.strip()})
    else:
        console.print(f"Comment added to incident #{incident_id}.", highlight=False)


@incidents_app.command("stats")
@handle_errors
def incidents_stats(
    config: ConfigOption = None,
    json_out: JsonOption = False,
    since: Annotated[str, typer.Option(help="ISO time or a duration ago (90d)")] = "90d",
    until: Annotated[str | None, typer.Option(help="ISO time or a duration ago [default: now]")] = None,
    service: Annotated[str | None, typer.Option(help="Only this service")] = None,
) -> None:
    """MTTA and MTTR per service and calendar month (UTC)."""
    from flightdeck.alerting.stats import incident_stats

    store = _store(config)
    now = store.clock.now()
    start = parse_since(since, now) or now - timedelta(days=90)
    end = parse_since(until, now) or now
    with store.engine.connect() as conn:
        rows = incident_stats(conn, start, end, service=service)
    store.dispose()
    if json_out:
        print_json([_plain(r) for r in rows])
        return
    table = Table(show_edge=False, header_style="bold")
    for col in ("Service", "Month", "Incidents", "Acknowledged", "Resolved", "MTTA", "MTTR"):
        table.add_column(col, justify="right" if col not in ("Service", "Month") else "left")

    def fmt(seconds: float | None) -> str:
        return "—" if seconds is None else f"{seconds / 60:.1f} min"

    for r in rows:
        table.add_row(
            r.service or "—",
            r.month,
            str(r.count),
            str(r.acknowledged),
            str(r.resolved),
            fmt(r.mtta_seconds),
            fmt(r.mttr_seconds),
        )
    console.print(table if rows else "No incidents in that period.")


@silence_app.command("add")
@handle_errors
def silence_add(
    matchers: Annotated[list[str], typer.Argument(help="name=value, name!=value, name=~regex, name!~regex")],
    comment: Annotated[str, typer.Option("--comment", "-m", help="Why")],
    duration: Annotated[str, typer.Option(help="How long, e.g. 2h, 30m")] = "2h",
    author: Annotated[str | None, typer.Option(help="Who [default: $USER]", show_default=False)] = None,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Silence alerts matching every MATCHER for --duration, starting now."""
    try:
        parsed = [Matcher.parse(m) for m in matchers]
        seconds = parse_duration(duration)
    except ValueError as exc:
        fail(str(exc))
    store = _store(config)
    now = store.clock.now()
    try:
        with store.engine.begin() as conn:
            silence_id = create_silence(
                conn, parsed, None, now + timedelta(seconds=seconds), default_actor(author), comment, now
            )
            silence = get_silence(conn, silence_id)
    except ValueError as exc:
        fail(str(exc))
    finally:
        store.dispose()
    if json_out:
        print_json(_silence_json(silence, now))
    else:
        console.print(
            f"Silence #{silence.id} ({silence.describe()}) until {_when(silence.ends_at)} UTC.",
            highlight=False,
        )


@silence_app.command("list")
@handle_errors
def silence_list(
    include_all: Annotated[bool, typer.Option("--all", help="Also ended and expired silences")] = False,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Active and pending silences, newest first."""
    store = _store(config)
    now = store.clock.now()
    with store.engine.connect() as conn:
        rows = list_silences(conn, now, include_expired=include_all)
    store.dispose()
    if json_out:
        print_json([_silence_json(s, now) for s in rows])
        return
    table = Table(show_edge=False, header_style="bold")
    for col in ("Id", "Matchers", "State", "From", "Until", "By", "Comment"):
        table.add_column(col, overflow="fold")
    for s in rows:
        table.add_row(
            str(s.id),
            s.describe(),
            s.state(now),
            _when(s.starts_at),
            _when(s.expired_at or s.ends_at),
            s.created_by,
            s.comment,
        )
    console.print(table if rows else "No silences.")


@silence_app.command("expire")
@handle_errors
def silence_expire(
    silence_id: Annotated[int, typer.Argument(help="Silence id")],
    actor: ActorOption = None,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """End a silence now."""
    store = _store(config)
    now = store.clock.now()
    with store.engine.begin() as conn:
        changed = expire_silence(conn, silence_id, default_actor(actor), now)
        silence = get_silence(conn, silence_id)
    store.dispose()
    if json_out:
        print_json({"changed": changed, "silence": _silence_json(silence, now)})
    elif changed:
        console.print(f"Silence #{silence_id} expired.", highlight=False)
    else:
        console.print(f"Silence #{silence_id} had already ended: nothing changed.", highlight=False)
