"""Incident statistics per service and calendar month (UTC): how many, how fast acknowledged, how
fast resolved.

- **MTTA** (mean time to acknowledge): the mean of ``acknowledged_at - created_at`` over the
  incidents that were acknowledged. An incident resolved without an acknowledgement does not count.
- **MTTR** (mean time to resolve): the mean of ``resolved_at - created_at`` over the resolved
  incidents, whether a person or flightdeck (every alert resolved) resolved them.

Both are in seconds, with the median (p50) beside them. An incident belongs to the month it was
created in.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, and_, select

from flightdeck.store.tables import incidents

__all__ = ["IncidentStats", "incident_stats"]


@dataclass(frozen=True)
class IncidentStats:
    """One service in one month (``YYYY-MM``)."""

    service: str
    month: str
    count: int
    acknowledged: int
    resolved: int
    mtta_seconds: float | None
    mttr_seconds: float | None
    mtta_p50_seconds: float | None
    mttr_p50_seconds: float | None


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _median(values: list[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def incident_stats(
    conn: Connection, since: datetime, until: datetime, service: str | None = None
) -> list[IncidentStats]:
    """Statistics of the incidents created in ``[since, until)``, optionally of one service, sorted
    by service and month."""
    query = select(
        incidents.c.service, incidents.c.created_at, incidents.c.acknowledged_at, incidents.c.resolved_at
    ).where(and_(incidents.c.created_at >= since, incidents.c.created_at < until))
    if service is not None:
        query = query.where(incidents.c.service == service)
    groups: dict[tuple[str, str], list[tuple[datetime, datetime | None, datetime | None]]] = defaultdict(list)
    for svc, created, acked, resolved in conn.execute(query):
        month = created.astimezone(UTC).strftime("%Y-%m")
        groups[(svc or "", month)].append((created, acked, resolved))
    out: list[IncidentStats] = []
    for (svc, month), rows in sorted(groups.items()):
        tta = [(a - c).total_seconds() for c, a, _ in rows if a is not None]
        ttr = [(r - c).total_seconds() for c, _, r in rows if r is not None]
        out.append(
            IncidentStats(
                service=svc,
                month=month,
                count=len(rows),
                acknowledged=len(tta),
                resolved=len(ttr),
                mtta_seconds=_mean(tta),
                mttr_seconds=_mean(ttr),
                mtta_p50_seconds=_median(tta),
                mttr_p50_seconds=_median(ttr),
            )
        )
    return out
