"""The disaster-recovery drill report: Markdown, HTML and PDF.

:func:`write_dr_report` renders one :class:`~flightdeck.backups.drill_result.DrillResult` (with the
earlier drills of the same name, for the history and the RTO trend) into ``out_dir``:

- ``dr-<drill>-<YYYYMMDDTHHMMSSZ>.md`` — readable as plain text, in a terminal or a code review;
- ``….html`` — a standalone page (styles inline, nothing fetched), with SVG charts;
- ``….pdf`` — the same HTML laid out for A4 by WeasyPrint, for auditors and email.

The report opens with a plain verdict, then the scope, the backup used, recovery time (RTO) per
phase and in total against its target, data loss (RPO) against its target, every verification,
every step with its times, tool versions, the manifest and the history of past drills. Each file is
written to a temporary name and renamed, so a reader never sees half a report; the returned
artifacts (name, ``file://`` URI, media type, size, SHA-256) go into the drill's evidence record.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from markupsafe import Markup

from flightdeck.backups.drill_result import DrillResult
from flightdeck.evidence import Artifact
from flightdeck.reports.charts import Bar, BarRow, BarTone, TrendPoint, bar_chart, trend_chart
from flightdeck.reports.common import ReportFormat, render_pdf, template_environment, write_report_file
from flightdeck.reports.dr_data import (
    DrillReport,
    build_drill_report,
    day_text,
    duration_text,
    load_drill_history,
    report_basename,
    result_table,
)

__all__ = [
    "DR_FORMATS",
    "load_drill_history",
    "phase_chart",
    "render_html",
    "render_markdown",
    "render_pdf",
    "report_path",
    "rto_trend_chart",
    "write_dr_report",
]

DR_FORMATS = (ReportFormat.MARKDOWN, ReportFormat.HTML, ReportFormat.PDF)
"""The formats a drill report is written in (there is no CSV)."""

_ENV = template_environment()
_ENV.filters["duration"] = duration_text
_ENV.filters["day"] = day_text
_ENV.globals["result_table"] = result_table


def report_path(out_dir: Path, result: DrillResult, fmt: ReportFormat) -> Path:
    """Where the ``fmt`` file of ``result`` goes (the name is built from the result, never from input)."""
    if fmt not in DR_FORMATS:
        raise ValueError(f"a drill report has no {fmt.value} file")
    return out_dir / f"{report_basename(result)}.{fmt.value}"


def phase_chart(report: DrillReport, *, narrow: bool = False) -> Markup:
    """Seconds per phase (fetch, decode, restore, verify); a failed phase in red."""
    rows = [
        BarRow(
            line.phase.value.capitalize(),
            (
                Bar(
                    round((line.seconds or 0.0) * 1000),
                    line.text,
                    BarTone.BAD if line.failed else BarTone.SIDE_A,
                ),
            ),
        )
        for line in report.phases
    ]
    return bar_chart(rows, f"Recovery time per phase, drill {report.result.drill}", narrow=narrow)


def _tooltip(d: DrillResult) -> str:
    if d.rto_seconds is None:
        return f"{day_text(d.started_at)}: failed, the restore did not finish"
    outcome = "passed" if d.passed else "failed"
    return f"{day_text(d.started_at)}: RTO {duration_text(d.rto_seconds)} ({outcome})"


def rto_trend_chart(history: Iterable[DrillResult], *, narrow: bool = False) -> Markup:
    """Total RTO of each drill in ``history`` (any order; drawn oldest first), one point each, the
    target as a dashed line; failed drills in red, a drill whose restore did not finish as a cross."""
    ordered = sorted(history, key=lambda d: d.started_at)
    points = [
        TrendPoint(
            label=f"{d.started_at:%d %b}",
            value=d.rto_seconds,
            text=_tooltip(d),
            ok=d.passed,
        )
        for d in ordered
    ]
    target = ordered[-1].rto_target_seconds if ordered else None
    name = ordered[-1].drill if ordered else ""
    return trend_chart(
        points,
        f"Recovery time (RTO) of the last {len(points)} drills {name}".rstrip(),
        fmt=duration_text,
        target=target,
        target_text=f"target {duration_text(target)}" if target is not None else "target",
        narrow=narrow,
    )


def _context(report: DrillReport) -> dict[str, object]:
    return {
        "r": report,
        "d": report.result,
        "phase_chart": phase_chart(report),
        "trend_chart": rto_trend_chart(report.timeline),
        "basename": report.basename,
    }


def render_markdown(report: DrillReport) -> str:
    return _ENV.get_template("dr.md").render(_context(report))


def render_html(report: DrillReport) -> str:
    return _ENV.get_template("dr.html").render(_context(report))


def write_dr_report(
    result: DrillResult,
    history: Sequence[DrillResult],
    out_dir: Path,
    *,
    formats: Sequence[ReportFormat] = DR_FORMATS,
    generated_at: datetime | None = None,
) -> list[Artifact]:
    """Write the report files of ``result`` into ``out_dir`` (created if needed), in the order of
    ``formats``; ``history`` holds earlier drills of the same name (with or without ``result``)."""
    wanted = list(dict.fromkeys(formats))
    for fmt in wanted:
        if fmt not in DR_FORMATS:
            raise ValueError(f"a drill report has no {fmt.value} file")
    report = build_drill_report(result, history, generated_at=generated_at)
    out_dir.mkdir(parents=True, exist_ok=True)
    html = render_html(report) if ReportFormat.HTML in wanted or ReportFormat.PDF in wanted else ""
    artifacts = []
    for fmt in wanted:
        if fmt is ReportFormat.MARKDOWN:
            data = render_markdown(report).encode()
        elif fmt is ReportFormat.HTML:
            data = html.encode()
        else:
            data = render_pdf(html)
        artifacts.append(write_report_file(report_path(out_dir, result, fmt), data, fmt))
    return artifacts
