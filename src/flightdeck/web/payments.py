"""The cockpit's payment-integrity pages: reconciliations, runs, exceptions and their resolution.

- ``/payments``: one card per configured reconciliation (its latest run, open exceptions, a chart
  of items per category) and the latest verdict of every ledger, wallets, settlements and gateway
  drill check.
- ``/payments/runs/{run_id}``: a run as its report shows it, with the report files to download.
- ``/payments/exceptions`` and ``/payments/exceptions/{exception_id}``: exceptions across runs, the
  resolve and reopen forms (operators and admins; a note is required) and the audit trail.

Downloads are served only from the reconciliation's configured ``reports_dir`` under the name the
report writer gives the run's files (built from the run, never from the request); a missing file
is written on demand. They are sent as attachments: a report is a standalone document, not a page
of the cockpit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection

from flightdeck.config.payments import ReconConfig
from flightdeck.errors import NotFoundError
from flightdeck.evidence import Evidence
from flightdeck.payments.errors import ReconError
from flightdeck.payments.recon_store import (
    ExceptionStatus,
    RunRow,
    audit_trail,
    count_open,
    get_exception,
    get_run,
    list_exceptions,
    list_runs,
    resolve_exception,
)
from flightdeck.reports.recon import (
    HTML_ITEM_CAP,
    ReportFormat,
    amount_charts,
    category_chart,
    items_chart,
    report_path,
    write_recon_report,
)
from flightdeck.reports.recon_data import CategoryLine, amount_text, category_lines, load_recon_report
from flightdeck.store import CheckStatus, EvidenceFilter, list_evidence, list_statuses
from flightdeck.web.auth import OperatorDep, Principal, ViewerDep
from flightdeck.web.context import get_context
from flightdeck.web.pages import render, safe_next
from flightdeck.web.views import scrub_evidence, scrub_statuses

__all__ = ["CHECK_KINDS", "RECON_KIND", "ReconCard", "router"]

router = APIRouter(include_in_schema=False)

CHECK_KINDS = ("ledger", "wallets", "settlements", "gateway_drill")
"""Kinds of payment-integrity checks whose latest verdict ``/payments`` shows."""
RECON_KIND = "reconciliation"
"""The check kind whose evidence records a reconciliation run (``detail.run_id``)."""
_EVIDENCE_SCAN = 200  # recent reconciliation records searched for a run's evidence
_EXCEPTIONS_PAGE = 200


@dataclass(frozen=True)
class ReconCard:
    """One configured reconciliation on ``/payments``."""

    name: str
    config: ReconConfig
    latest: RunRow | None
    recent: list[RunRow]
    open_exceptions: int
    lines: tuple[CategoryLine, ...]

    @property
    def matched(self) -> int | None:
        return next((c.items for c in self.lines if not c.is_exception), None) if self.lines else None

    @property
    def exceptions(self) -> int | None:
        return sum(c.items for c in self.lines if c.is_exception) if self.lines else None


def _recon_config(request: Request, recon: str) -> ReconConfig | None:
    return get_context(request).config.payments.reconciliations.get(recon)


def _run_evidence(conn: Connection, service: str | None, run_id: int) -> Evidence | None:
    """The evidence record of a run: a recent ``reconciliation`` record whose detail names it."""
    f = EvidenceFilter(service=service, kind=RECON_KIND)
    for record in list_evidence(conn, f, limit=_EVIDENCE_SCAN).items:
        if record.detail.get("run_id") == run_id:
            return record
    return None


@router.get("/payments", response_class=HTMLResponse)
def payments_page(request: Request, who: ViewerDep) -> HTMLResponse:
    ctx = get_context(request)
    cards = []
    for name, cfg in ctx.config.payments.reconciliations.items():
        recent = list_runs(ctx.store, name, limit=5)
        latest = recent[0] if recent else None
        lines = category_lines(latest) if latest is not None else ()
        cards.append(ReconCard(name, cfg, latest, recent, count_open(ctx.store, name), lines))
    with ctx.store.engine.connect() as conn:
        statuses: list[CheckStatus] = [s for s in list_statuses(conn) if s.kind in CHECK_KINDS]
        # Jobs run on demand that no configured check names (e.g. the demo's gateway drills) have
        # evidence but no check state: show their latest record each.
        scheduled = {s.subject for s in statuses}
        unscheduled: dict[str, Evidence] = {}
        for record in list_evidence(conn, EvidenceFilter(kind="gateway_drill"), limit=50).items:
            if record.subject not in scheduled:
                unscheduled.setdefault(record.subject, record)
    checks = sorted(scrub_statuses(statuses, ctx.secrets), key=lambda s: (-s.verdict.rank, s.subject))
    return render(
        request,
        "payments.html",
        {
            "cards": cards,
            "charts": {
                c.name: category_chart(
                    c.lines, f"{c.name}: items per category, run {c.latest.id}", narrow=True
                )
                for c in cards
                if c.lines and c.latest is not None
            },
            "checks": checks,
            "runs_on_demand": [scrub_evidence(e, ctx.secrets) for e in unscheduled.values()],
            "check_kinds": CHECK_KINDS,
        },
        who=who,
        refresh=True,
    )


@router.get("/payments/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, who: ViewerDep, run_id: int) -> HTMLResponse:
    ctx = get_context(request)
    run = get_run(ctx.store, run_id)
    cfg = _recon_config(request, run.recon)
    report = load_recon_report(ctx.store, run_id, config=cfg)
    with ctx.store.engine.connect() as conn:
        record = _run_evidence(conn, cfg.service if cfg else None, run_id)
    return render(
        request,
        "payments_run.html",
        {
            "r": report,
            "run": report.run,
            "shown": report.items[:HTML_ITEM_CAP],
            "cap": HTML_ITEM_CAP,
            "items_chart": items_chart(report, narrow=True) if report.categories else None,
            "amount_charts": amount_charts(report, narrow=True),
            "evidence": scrub_evidence(record, ctx.secrets) if record is not None else None,
            "formats": list(ReportFormat) if cfg is not None else [],
        },
        who=who,
    )


@router.get("/payments/runs/{run_id}/files/{fmt}")
def run_file(request: Request, who: ViewerDep, run_id: int, fmt: ReportFormat) -> FileResponse:
    """A report file of the run, from the reconciliation's reports folder; written if missing."""
    ctx = get_context(request)
    run = get_run(ctx.store, run_id)
    cfg = _recon_config(request, run.recon)
    if cfg is None:
        raise NotFoundError(f"reconciliation {run.recon!r} is no longer configured: its reports are unknown")
    folder = cfg.reports_dir.resolve()
    path = report_path(folder, run, fmt)
    if path.parent != folder:  # pragma: no cover - the name is built from the run, without separators
        raise NotFoundError("no such report file")
    if not path.is_file():
        write_recon_report(ctx.store, run_id, folder, config=cfg)
    return FileResponse(
        path, media_type=fmt.media_type, filename=path.name, content_disposition_type="attachment"
    )


@router.get("/payments/exceptions", response_class=HTMLResponse)
def exceptions_page(
    request: Request,
    who: ViewerDep,
    recon: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[str, Query(pattern="^(open|resolved|all)$")] = "open",
) -> HTMLResponse:
    ctx = get_context(request)
    wanted = None if status == "all" else ExceptionStatus(status)
    items = list_exceptions(ctx.store, recon=recon or None, status=wanted, limit=_EXCEPTIONS_PAGE + 1)
    return render(
        request,
        "payments_exceptions.html",
        {
            "items": items[:_EXCEPTIONS_PAGE],
            "more": len(items) > _EXCEPTIONS_PAGE,
            "limit": _EXCEPTIONS_PAGE,
            "filters": {"recon": recon or "", "status": status},
            "recons": sorted(ctx.config.payments.reconciliations),
            "amount": amount_text,
            "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        },
        who=who,
    )


def _exception_page(
    request: Request, who: Principal, exception_id: int, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    ctx = get_context(request)
    exc = get_exception(ctx.store, exception_id)
    return render(
        request,
        "payments_exception.html",
        {
            "x": exc,
            "trail": audit_trail(ctx.store, exception_id),
            "difference": amount_text(exc.difference_minor, exc.currency),
            "error": error,
        },
        who=who,
        status_code=status_code,
    )


@router.get("/payments/exceptions/{exception_id}", response_class=HTMLResponse)
def exception_page(request: Request, who: ViewerDep, exception_id: int) -> HTMLResponse:
    return _exception_page(request, who, exception_id)


def _change(
    request: Request, who: Principal, exception_id: int, note: str, next_url: str, reopen: bool
) -> Response:
    ctx = get_context(request)
    if not note.strip():
        get_exception(ctx.store, exception_id)  # 404 first for an unknown id
        return _exception_page(request, who, exception_id, "Write a note saying why.", 400)
    try:
        resolve_exception(ctx.store, exception_id, who.name, note.strip(), reopen=reopen)
    except ReconError as exc:  # someone else got there first
        return _exception_page(request, who, exception_id, str(exc), 409)
    target = safe_next(next_url) if next_url else f"/payments/exceptions/{exception_id}"
    return RedirectResponse(target, status_code=303)


@router.post("/payments/exceptions/{exception_id}/resolve")
def resolve_form(
    request: Request,
    who: OperatorDep,
    exception_id: int,
    note: Annotated[str, Form(max_length=4000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    return _change(request, who, exception_id, note, next, reopen=False)


@router.post("/payments/exceptions/{exception_id}/reopen")
def reopen_form(
    request: Request,
    who: OperatorDep,
    exception_id: int,
    note: Annotated[str, Form(max_length=4000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    return _change(request, who, exception_id, note, next, reopen=True)
