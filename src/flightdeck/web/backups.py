"""The cockpit's backup and disaster-recovery pages.

- ``/backups``: per configured backup, its latest run (``backup`` evidence) and freshness verdict
  (``backup_freshness``); per drill, its latest result — passed or failed, RTO and RPO against their
  targets, time per phase, the RTO trend — and how recently it last passed (``drill_recency``).
- ``/backups/drills/{evidence_id}``: one drill as its report shows it, with its report files.

Everything is read from evidence records, scrubbed of configured secrets before it is shown.
Downloads (``/backups/drills/{evidence_id}/files/{fmt}``: ``md``, ``html`` or ``pdf``) are served only
when the drill's evidence recorded that file under the name the report writer gives it, the file is
that name in the drill's configured ``reports_dir``, and it still has the recorded SHA-256: the path
is built from the drill, never taken from the request.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse
from markupsafe import Markup

from flightdeck.backups.drill_result import DrillResult
from flightdeck.config.backups import BackupConfig
from flightdeck.config.drills import DrillConfig
from flightdeck.errors import NotFoundError
from flightdeck.evidence import Artifact, Evidence
from flightdeck.reports.dr import DR_FORMATS, phase_chart, report_path, rto_trend_chart
from flightdeck.reports.dr_data import (
    DRILL_KIND,
    DrillReport,
    build_drill_report,
    drill_of,
    drill_records,
    duration_text,
    iter_drill_records,
    result_table,
)
from flightdeck.reports.recon import ReportFormat
from flightdeck.store import EvidenceFilter, get_evidence, list_evidence
from flightdeck.web.auth import ViewerDep
from flightdeck.web.context import WebContext, get_context
from flightdeck.web.pages import render
from flightdeck.web.views import scrub_evidence

__all__ = [
    "BACKUP_KIND",
    "DRILL_KIND",
    "FRESHNESS_KIND",
    "RECENCY_KIND",
    "BackupCard",
    "DrillCard",
    "configured_drills",
    "drill_history",
    "drill_names",
    "load_drill",
    "report_files",
    "router",
]

router = APIRouter(include_in_schema=False)

BACKUP_KIND = "backup"
FRESHNESS_KIND = "backup_freshness"
RECENCY_KIND = "drill_recency"
_SCAN = 200  # recent records of a kind searched for the latest per backup or drill
_TREND = 12  # drills on a card's trend chart
_HISTORY = 24  # drills in a drill page's history


def configured_drills(ctx: WebContext) -> dict[str, DrillConfig]:
    """``drills:`` of the configuration (name → drill configuration)."""
    return dict(ctx.config.drills)


def _latest_by(ctx: WebContext, kind: str, key: str) -> dict[str, Evidence]:
    """The newest record of ``kind`` per ``detail[key]`` (else the record's check name), scrubbed."""
    out: dict[str, Evidence] = {}
    with ctx.store.engine.connect() as conn:
        for record in list_evidence(conn, EvidenceFilter(kind=kind), limit=_SCAN).items:
            name = record.detail.get(key)
            out.setdefault(name if isinstance(name, str) else record.check, record)
    return {n: scrub_evidence(e, ctx.secrets) for n, e in out.items()}


def drill_history(
    ctx: WebContext, drill: str, *, limit: int, before_id: int | None = None
) -> list[tuple[Evidence, DrillResult]]:
    """Up to ``limit`` of the drill's records with their results, newest first, scrubbed; unreadable
    records skipped."""
    out: list[tuple[Evidence, DrillResult]] = []
    for record in iter_drill_records(ctx.store, drill, before_id=before_id):
        if len(out) >= limit:
            break
        scrubbed = scrub_evidence(record, ctx.secrets)
        result = drill_of(scrubbed)
        if result is not None:
            out.append((scrubbed, result))
    return out


def drill_names(ctx: WebContext) -> list[str]:
    """Configured drills first (in configuration order), then drills seen only in recent evidence."""
    names = list(configured_drills(ctx))
    for record in drill_records(ctx.store, None, limit=_SCAN):
        raw = record.detail.get("drill")
        name = raw.get("drill") if isinstance(raw, dict) else None
        if isinstance(name, str) and name not in names:
            names.append(name)
    return names


def load_drill(ctx: WebContext, evidence_id: int) -> tuple[Evidence, DrillResult]:
    """A drill's record (scrubbed) and result; ``NotFoundError`` when the id is no readable drill."""
    with ctx.store.engine.connect() as conn:
        record = scrub_evidence(get_evidence(conn, evidence_id), ctx.secrets)
    result = drill_of(record)
    if result is None:
        raise NotFoundError(f"evidence record {evidence_id} is not a disaster-recovery drill")
    return record, result


def _reports_dir(ctx: WebContext, drill: str) -> Path | None:
    cfg = ctx.config.drills.get(drill)
    return cfg.reports_dir.resolve() if cfg is not None else None


def _file_path(uri: str) -> Path | None:
    parts = urlsplit(uri)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        return None
    return Path(url2pathname(unquote(parts.path)))


def report_files(ctx: WebContext, record: Evidence, result: DrillResult) -> dict[ReportFormat, Artifact]:
    """The drill's report files that may be served: per format, the artifact recorded on its evidence
    under the name the report writer gives that format, whose file is that name in the drill's
    ``reports_dir`` (nothing when the drill is no longer configured)."""
    folder = _reports_dir(ctx, result.drill)
    if folder is None:
        return {}
    out = {}
    for fmt in DR_FORMATS:
        expected = report_path(folder, result, fmt)
        for artifact in record.artifacts:
            path = _file_path(artifact.uri)
            if artifact.name == expected.name and path is not None and path.resolve() == expected:
                out[fmt] = artifact
                break
    return out


@dataclass(frozen=True)
class BackupCard:
    """One configured backup on ``/backups``."""

    name: str
    config: BackupConfig
    latest: Evidence | None
    freshness: Evidence | None


@dataclass(frozen=True)
class DrillCard:
    """One drill on ``/backups``: its latest result, charts and recency verdict."""

    name: str
    configured: bool
    evidence: Evidence | None
    report: DrillReport | None
    phase_chart: Markup | None
    trend_chart: Markup | None
    recency: Evidence | None


@router.get("/backups", response_class=HTMLResponse)
def backups_page(request: Request, who: ViewerDep) -> HTMLResponse:
    ctx = get_context(request)
    runs = _latest_by(ctx, BACKUP_KIND, "backup")
    freshness = _latest_by(ctx, FRESHNESS_KIND, "backup")
    recency = _latest_by(ctx, RECENCY_KIND, "drill")
    backups = [BackupCard(n, cfg, runs.get(n), freshness.get(n)) for n, cfg in ctx.config.backups.items()]
    configured = configured_drills(ctx)
    drills = []
    for name in drill_names(ctx):
        history = drill_history(ctx, name, limit=_TREND)
        if history:
            record, latest = history[0]
            report = build_drill_report(latest, [r for _, r in history], generated_at=ctx.now())
            card = DrillCard(
                name,
                name in configured,
                record,
                report,
                phase_chart(report, narrow=True),
                rto_trend_chart(report.timeline, narrow=True),
                recency.get(name),
            )
        else:
            card = DrillCard(name, name in configured, None, None, None, None, recency.get(name))
        drills.append(card)
    return render(
        request,
        "backups.html",
        {
            "backups": backups,
            "drills": drills,
            "duration": duration_text,
        },
        who=who,
        refresh=True,
    )


@router.get("/backups/drills/{evidence_id}", response_class=HTMLResponse)
def drill_page(request: Request, who: ViewerDep, evidence_id: int) -> HTMLResponse:
    ctx = get_context(request)
    record, result = load_drill(ctx, evidence_id)
    history = drill_history(ctx, result.drill, limit=_HISTORY, before_id=evidence_id)
    report = build_drill_report(result, [r for _, r in history], generated_at=ctx.now())
    return render(
        request,
        "backups_drill.html",
        {
            "r": report,
            "d": result,
            "evidence": record,
            "phase_chart": phase_chart(report, narrow=True),
            "trend_chart": rto_trend_chart(report.timeline, narrow=True),
            "result_table": result_table,
            "duration": duration_text,
            "files": list(report_files(ctx, record, result)),
            "reports_dir": _reports_dir(ctx, result.drill) is not None,
            "history_ids": {**{r.started_at: e.id for e, r in history}, result.started_at: evidence_id},
        },
        who=who,
    )


@router.get("/backups/drills/{evidence_id}/files/{fmt}")
def drill_file(request: Request, who: ViewerDep, evidence_id: int, fmt: ReportFormat) -> FileResponse:
    """A report file of the drill, as its evidence recorded it (same SHA-256)."""
    ctx = get_context(request)
    record, result = load_drill(ctx, evidence_id)
    artifact = report_files(ctx, record, result).get(fmt)
    folder = _reports_dir(ctx, result.drill)
    if artifact is None or folder is None:
        raise NotFoundError(f"drill {evidence_id} recorded no {fmt.value} report in its reports folder")
    path = report_path(folder, result, fmt)
    if not path.is_file():
        raise NotFoundError(f"the report file {path.name!r} is no longer in the reports folder")
    if artifact.sha256 is not None and hashlib.sha256(path.read_bytes()).hexdigest() != artifact.sha256:
        raise NotFoundError(f"the report file {path.name!r} has changed since the drill recorded it")
    return FileResponse(
        path, media_type=fmt.media_type, filename=path.name, content_disposition_type="attachment"
    )
