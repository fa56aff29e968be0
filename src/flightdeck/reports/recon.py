"""The daily reconciliation report: Markdown, HTML, PDF, and a CSV of the exceptions.

:func:`write_recon_report` gathers a run once (:func:`~flightdeck.reports.recon_data.load_recon_report`)
and renders it four ways into ``out_dir``:

- ``recon-<name>-<day>-run<id>.md`` — readable as plain text, in a terminal or a code review;
- ``….html`` — a standalone page (styles inline, no other file, nothing fetched), with SVG charts;
- ``….pdf`` — the same HTML laid out for A4 by WeasyPrint, for auditors and email;
- ``…-exceptions.csv`` — every exception, one row each, amounts as plain decimals.

HTML and PDF list at most :data:`HTML_ITEM_CAP` exceptions and point to the CSV for the rest. Each
file is written to a temporary name and renamed, so a reader never sees half a report. For the same
run the files are identical except for the generation time. The returned artifacts (name,
``file://`` URI, media type, size, SHA-256) go into the run's evidence record.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from markupsafe import Markup

from flightdeck.config.payments import ReconConfig
from flightdeck.evidence import Artifact
from flightdeck.payments.recon_store import RunRow
from flightdeck.payments.records import Category
from flightdeck.reports.charts import Bar, BarRow, BarTone, bar_chart
from flightdeck.reports.common import ReportFormat, render_pdf, template_environment, write_report_file
from flightdeck.reports.recon_data import (
    CategoryLine,
    ReconReport,
    ReportItem,
    decimal_text,
    load_recon_report,
    report_basename,
)
from flightdeck.store import Store

__all__ = [
    "CSV_COLUMNS",
    "HTML_ITEM_CAP",
    "ReportFormat",
    "amount_charts",
    "category_chart",
    "exceptions_csv",
    "items_chart",
    "render_html",
    "render_markdown",
    "render_pdf",
    "report_path",
    "write_recon_report",
]

HTML_ITEM_CAP = 500
"""Exceptions listed in the HTML and PDF reports; the CSV has every one."""

CSV_COLUMNS = (
    "exception_id",
    "category",
    "reason",
    "internal_references",
    "statement_references",
    "internal_source_rows",
    "statement_source_rows",
    "currency",
    "internal_amount",
    "statement_amount",
    "difference",
    "status",
    "resolved_by",
    "resolved_at",
    "note",
)


def report_path(out_dir: Path, run: RunRow, fmt: ReportFormat) -> Path:
    """Where the ``fmt`` file of ``run`` goes in ``out_dir`` (the name is built, never taken from input)."""
    return out_dir / f"{report_basename(run)}{fmt.suffix}"


_ENV = template_environment()


def category_chart(lines: Sequence[CategoryLine], label: str, *, narrow: bool = False) -> Markup:
    """Items per category: matched in green, exceptions in red."""
    rows = [
        BarRow(
            line.label,
            (Bar(line.items, f"{line.items:,}", BarTone.BAD if line.is_exception else BarTone.GOOD),),
        )
        for line in lines
    ]
    return bar_chart(rows, label, narrow=narrow)


def items_chart(report: ReconReport, *, narrow: bool = False) -> Markup:
    return category_chart(report.categories, f"Items per category, run {report.run.id}", narrow=narrow)


def amount_charts(report: ReconReport, *, narrow: bool = False) -> list[tuple[str, Markup]]:
    """Per currency: each category's internal and statement amounts side by side."""
    currencies = sorted({a.currency for line in report.categories for a in (*line.internal, *line.statement)})
    charts = []
    for currency in currencies:
        rows = []
        for line in report.categories:
            internal = next((a for a in line.internal if a.currency == currency), None)
            statement = next((a for a in line.statement if a.currency == currency), None)
            if internal is None and statement is None:
                continue
            bars = []
            if internal is not None:
                bars.append(Bar(internal.minor, internal.text, BarTone.SIDE_A))
            if statement is not None:
                bars.append(Bar(statement.minor, statement.text, BarTone.SIDE_B))
            rows.append(BarRow(line.label, tuple(bars)))
        charts.append((currency, bar_chart(rows, f"Amounts per category in {currency}", narrow=narrow)))
    return charts


def _context(report: ReconReport) -> dict[str, object]:
    shown = report.items[:HTML_ITEM_CAP]
    return {
        "r": report,
        "run": report.run,
        "shown": shown,
        "hidden": len(report.items) - len(shown),
        "cap": HTML_ITEM_CAP,
        "items_chart": items_chart(report) if report.categories else None,
        "amount_charts": amount_charts(report),
        "exception_categories": [c for c in Category if c.is_exception],
        "basename": report.basename,
    }


def render_markdown(report: ReconReport) -> str:
    return _ENV.get_template("recon.md").render(_context(report))


def render_html(report: ReconReport) -> str:
    return _ENV.get_template("recon.html").render(_context(report))


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """Free text for a spreadsheet: a leading ``=``, ``+``, ``-`` or ``@`` would make a formula of
    it (CSV injection), so such text gets a leading apostrophe."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_row(entry: ReportItem) -> list[str]:
    item, exc = entry.item, entry.exception
    return [
        str(exc.id) if exc is not None else "",
        item.category.value,
        _cell(item.reason),
        _cell(entry.refs("internal")),
        _cell(entry.refs("statement")),
        _cell(entry.rows("internal")),
        _cell(entry.rows("statement")),
        item.currency or "",
        decimal_text(item.internal_minor, item.currency),
        decimal_text(item.statement_minor, item.currency),
        decimal_text(item.difference_minor, item.currency),
        entry.status,
        _cell(exc.resolved_by or "") if exc is not None else "",
        exc.resolved_at.isoformat() if exc is not None and exc.resolved_at is not None else "",
        _cell(exc.note or "") if exc is not None else "",
    ]


def exceptions_csv(report: ReconReport) -> str:
    """One row per exception the run found (all of them), in the order the run found them."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for entry in report.items:
        writer.writerow(_csv_row(entry))
    return out.getvalue()


def write_recon_report(
    store: Store,
    run_id: int,
    out_dir: Path,
    *,
    title: str | None = None,
    config: ReconConfig | None = None,
) -> list[Artifact]:
    """Write the four report files of run ``run_id`` into ``out_dir`` (created if needed); returns
    them as artifacts in the order Markdown, HTML, PDF, CSV. ``config`` adds the reconciliation's
    description. Raises ``NotFoundError`` for an unknown run."""
    report = load_recon_report(store, run_id, config=config, title=title)
    out_dir.mkdir(parents=True, exist_ok=True)
    html = render_html(report)
    contents = {
        ReportFormat.MARKDOWN: render_markdown(report).encode(),
        ReportFormat.HTML: html.encode(),
        ReportFormat.PDF: render_pdf(html),
        ReportFormat.CSV: exceptions_csv(report).encode("utf-8-sig"),  # BOM: Excel reads it as UTF-8
    }
    return [
        write_report_file(report_path(out_dir, report.run, fmt), data, fmt) for fmt, data in contents.items()
    ]
