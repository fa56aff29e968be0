"""The dry-run view of a retention plan: one row per backup, newest first, with every reason."""

from __future__ import annotations

from rich.table import Table

from flightdeck.backups.retention import RetentionPlan

__all__ = ["render_plan"]


def render_plan(plan: RetentionPlan) -> Table:
    table = Table(title=f"Retention: {plan.policy.describe()}", title_justify="left")
    table.add_column("action")
    table.add_column("backup")
    table.add_column(f"time ({plan.policy.timezone})")
    table.add_column("verified")
    table.add_column("why")
    zone = plan.policy.zone
    for d in plan.decisions:
        table.add_row(
            "[green]keep[/green]" if d.keep else "[red]prune[/red]",
            d.snapshot.id,
            f"{d.snapshot.time.astimezone(zone):%Y-%m-%d %H:%M}",
            "yes" if d.snapshot.verified else "",
            ", ".join(d.why),
        )
    return table
