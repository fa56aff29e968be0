"""The cockpit's pages: overview, service, check, evidence. Server-rendered HTML, inline SVG charts.

Every page needs a login (a 401 with the login form otherwise). Pages read through the same
functions as the API and keep their queries bounded by the page size.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import Connection

from flightdeck.config.check_spec import CheckSpec
from flightdeck.engine.oneshot import run_checks_now
from flightdeck.errors import NotFoundError
from flightdeck.evidence import Evidence, Trigger, Verdict
from flightdeck.store import CheckStatus, EvidenceFilter, get_evidence, list_evidence, list_statuses
from flightdeck.store.stats import Series, check_summaries, series
from flightdeck.web.auth import OperatorDep, ViewerDep
from flightdeck.web.charts import ChartPoint, time_chart
from flightdeck.web.context import get_context
from flightdeck.web.format import humanize, unit_of
from flightdeck.web.pages import render
from flightdeck.web.queries import (
    CheckQuery,
    StatusFilter,
    check_page,
    service_counts,
    sparklines,
    total_counts,
    verdict_counts,
)
from flightdeck.web.views import (
    TimeRange,
    find_spec,
    load_check,
    load_services,
    scrub_evidence,
    scrub_statuses,
)

__all__ = ["PANEL_KINDS", "Panel", "router"]

router = APIRouter(include_in_schema=False)

PER_PAGE = 100
HISTORY_PAGE = 25
PANEL_KINDS = frozenset({"metrics", "sql"})
"""Kinds whose every measurement becomes a panel on the service page."""
DB_KINDS = frozenset({"postgres", "mysql", "redis"})
"""Kinds whose latency measurements (``*_ms``) become panels on the service page."""
_GENERIC = frozenset({"value", "result", "count", "rows"})
_NOT_PANELS = frozenset({"scrape_ms", "scrape_samples"})  # about the scrape, not the service
_DB_LATENCY = "ping_ms"
TITLES = {
    "requests_per_s": "Request rate",
    "error_ratio": "Error ratio (5xx)",
    "latency_p50_ms": "Request latency p50",
    "latency_p95_ms": "Request latency p95",
    "latency_p99_ms": "Request latency p99",
    "cpu_pct": "CPU",
    "memory_rss_bytes": "Memory (resident)",
    "db_pool_used_pct": "DB pool in use",
    "ping_ms": "DB response time",
}
"""Titles of the measurements the ``metrics`` presets and the database kinds produce."""


def _chart_points(s: Series) -> list[ChartPoint]:
    return [
        ChartPoint(
            start=p.start,
            value=p.mean,
            low=p.min,
            high=p.max,
            p95=p.p95,
            runs=p.verdicts.total,
            failures=p.verdicts.down,
        )
        for p in s.points
    ]


def _chart(s: Series, unit: str, label: str) -> Any:
    return time_chart(_chart_points(s), s.since, s.until, s.step_seconds, unit=unit, label=label)


@router.get("/", response_class=HTMLResponse)
def overview(
    request: Request,
    who: ViewerDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    service: str | None = None,
    status: StatusFilter = StatusFilter.ALL,
    kind: str | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    ctx = get_context(request)
    now = ctx.now()
    query = CheckQuery(
        service=service or None,
        status=status,
        kind=kind or None,
        text=q or None,
        offset=(page - 1) * PER_PAGE,
        limit=PER_PAGE,
    )
    with ctx.store.engine.connect() as conn:
        by_service = service_counts(conn)
        services = load_services(conn, ctx.config, by_service)
        counts = total_counts(by_service)
        result = check_page(conn, query, by_service)
        result = dataclasses.replace(result, items=scrub_statuses(result.items, ctx.secrets))
        subjects = [s.subject for s in result.items]
        summaries = check_summaries(conn, subjects, now)
        sparks = sparklines(conn, subjects, now)
    filters = {"q": q or "", "service": service or "", "status": status.value, "kind": kind or ""}
    return render(
        request,
        "overview.html",
        {
            "services": services,
            "counts": counts,
            "chip_counts": {f.value: sum(counts[v] for v in f.verdicts) for f in StatusFilter}
            | {StatusFilter.ALL.value: sum(counts.values())},
            "total": sum(counts.values()),
            "result": result,
            "summaries": summaries,
            "sparks": sparks,
            "filters": filters,
            "status_filters": list(StatusFilter),
            "kinds": ctx.kinds,
        },
        who=who,
        refresh=True,
    )


@dataclass(frozen=True)
class Panel:
    """One chart on a service page: a measurement of one check over time."""

    title: str
    subject: str
    measurement: str
    unit: str
    latest: float | None
    chart: Any


def _panel_title(spec: CheckSpec | None, status: CheckStatus, measurement: str, single: bool) -> str:
    labels = spec.labels if spec is not None else {}
    named = labels.get(f"panel.{measurement}") or (labels.get("panel") if single else None)
    if named:
        return named
    if measurement in _GENERIC:
        return humanize(status.check)
    title = TITLES.get(measurement) or humanize(measurement)
    return f"{title} · {status.check}" if status.kind in DB_KINDS else title


def _panels(
    conn: Connection,
    statuses: list[CheckStatus],
    specs: dict[str, CheckSpec | None],
    since: datetime,
    until: datetime,
) -> list[Panel]:
    panels: list[Panel] = []
    for st in statuses:
        if st.kind not in PANEL_KINDS | DB_KINDS or st.last_evidence_id is None:
            continue
        try:
            latest = get_evidence(conn, st.last_evidence_id)
        except NotFoundError:
            continue
        measurements = [m for m in latest.measurements if m.name not in _NOT_PANELS]
        declared = getattr(specs.get(st.subject), "measurement", None)
        if st.kind == "sql" and isinstance(declared, str):
            # The query's result; connect and query times are about the probe, not the business.
            measurements = [m for m in measurements if m.name == declared] or measurements
        if st.kind in DB_KINDS:
            ping = [m for m in measurements if m.name == _DB_LATENCY]
            measurements = ping or [m for m in measurements if unit_of(m.name, m.unit) == "ms"]
        for m in measurements:
            s = series(conn, st.subject, since, until, measurement=m.name, max_points=120)
            unit = unit_of(m.name, m.unit)
            title = _panel_title(specs.get(st.subject), st, m.name, len(measurements) == 1)
            panels.append(Panel(title, st.subject, m.name, unit, m.value, _chart(s, unit, title)))
    return panels


@router.get("/services/{service}", response_class=HTMLResponse)
def service_page(
    request: Request,
    who: ViewerDep,
    service: str,
    range_: Annotated[TimeRange, Query(alias="range")] = TimeRange.DAY,
) -> HTMLResponse:
    ctx = get_context(request)
    svc = ctx.config.services.get(service)
    if svc is None:
        raise NotFoundError(f"no service {service!r}")
    now = ctx.now()
    since = now - range_.width
    specs: dict[str, CheckSpec | None] = {f"{service}/{c.name}": c for c in svc.checks}
    with ctx.store.engine.connect() as conn:
        statuses = scrub_statuses(list_statuses(conn, service=service), ctx.secrets)
        known = {s.subject for s in statuses}
        subjects = [s.subject for s in statuses]
        summaries = check_summaries(conn, subjects, now)
        sparks = sparklines(conn, subjects, now)
        panels = _panels(conn, statuses, specs, since, now)
        counts = verdict_counts(conn, service=service)
    missing = [c for c in svc.checks if f"{service}/{c.name}" not in known]
    return render(
        request,
        "service.html",
        {
            "name": service,
            "service": svc,
            "statuses": sorted(statuses, key=lambda s: (-s.verdict.rank, s.check)),
            "missing": missing,
            "summaries": summaries,
            "sparks": sparks,
            "panels": panels,
            "counts": counts,
            "range": range_.value,
            "ranges": list(TimeRange),
        },
        who=who,
        refresh=True,
    )


@router.get("/checks/{service}/{check}", response_class=HTMLResponse)
def check_page_view(
    request: Request,
    who: ViewerDep,
    service: str,
    check: str,
    range_: Annotated[TimeRange, Query(alias="range")] = TimeRange.DAY,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    ctx = get_context(request)
    now = ctx.now()
    since = now - range_.width
    subject = f"{service}/{check}"
    with ctx.store.engine.connect() as conn:
        view = load_check(conn, ctx.config, service, check, now, ctx.secrets)
        latency = series(conn, subject, since, now, max_points=240)
        history = list_evidence(conn, EvidenceFilter(subject=subject), limit=HISTORY_PAGE, before_id=before)
    return render(
        request,
        "check.html",
        {
            "view": view,
            "status": view.status,
            "spec": view.spec,
            "stats": view.summary,
            "failure": view.last_failure,
            "chart": _chart(latency, "ms", f"{subject} run duration"),
            "series": latency,
            "history": [scrub_evidence(e, ctx.secrets) for e in history.items],
            "next_cursor": history.next_cursor,
            "before": before,
            "range": range_.value,
            "ranges": list(TimeRange),
            "timeout": (
                view.spec.timeout
                if view.spec and view.spec.timeout is not None
                else ctx.config.defaults.timeout
            ),
        },
        who=who,
        refresh=before is None,
    )


@router.post("/checks/{service}/{check}/run")
async def run_check_now(request: Request, who: OperatorDep, service: str, check: str) -> RedirectResponse:
    """Run the check once (trigger ``manual``) and show the evidence it produced."""
    ctx = get_context(request)
    if find_spec(ctx.config, service, check) is None:
        raise NotFoundError(f"no check {service}/{check!r} in the configuration")
    results = await run_checks_now(ctx.config, ctx.store, f"{service}/{check}", trigger=Trigger.MANUAL)
    record = results[0].evidence
    target = f"/evidence/{record.id}" if isinstance(record, Evidence) else f"/checks/{service}/{check}"
    return RedirectResponse(target, status_code=303)


@router.get("/evidence", response_class=HTMLResponse)
def evidence_list_page(
    request: Request,
    who: ViewerDep,
    service: str | None = None,
    check: str | None = None,
    verdict: Verdict | None = None,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    ctx = get_context(request)
    subject = check if check and "/" in check else (f"{service}/{check}" if service and check else None)
    f = EvidenceFilter(service=service or None, subject=subject, verdicts=(verdict,) if verdict else ())
    with ctx.store.engine.connect() as conn:
        page = list_evidence(conn, f, limit=50, before_id=before)
    return render(
        request,
        "evidence_list.html",
        {
            "items": [scrub_evidence(e, ctx.secrets) for e in page.items],
            "next_cursor": page.next_cursor,
            "before": before,
            "filters": {
                "service": service or "",
                "check": check or "",
                "verdict": verdict.value if verdict else "",
            },
            "services": sorted(ctx.config.services),
            "verdicts": list(Verdict),
        },
        who=who,
    )


@router.get("/evidence/{evidence_id}", response_class=HTMLResponse)
def evidence_page(request: Request, who: ViewerDep, evidence_id: int) -> HTMLResponse:
    ctx = get_context(request)
    with ctx.store.engine.connect() as conn:
        record = scrub_evidence(get_evidence(conn, evidence_id), ctx.secrets)
    detail = dict(record.detail)
    conditions = detail.pop("conditions", None)
    return render(
        request,
        "evidence.html",
        {"e": record, "detail": detail, "conditions": conditions if isinstance(conditions, list) else []},
        who=who,
    )
