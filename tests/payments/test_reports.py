"""The reconciliation report: Markdown, HTML, PDF and the exceptions CSV, from runs recorded in a
real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from datetime import date
from pathlib import Path
from typing import Any

from flightdeck.clock import FakeClock
from flightdeck.config import load_config_text
from flightdeck.config.payments import ReconConfig
from flightdeck.payments.recon_store import (
    ItemRow,
    fail_run,
    finish_run,
    list_exceptions,
    resolve_exception,
    start_run,
)
from flightdeck.payments.records import Category
from flightdeck.reports import load_recon_report, write_recon_report
from flightdeck.reports.charts import Bar, BarRow, BarTone, bar_chart
from flightdeck.reports.recon import CSV_COLUMNS, HTML_ITEM_CAP, exceptions_csv, render_html, render_markdown
from flightdeck.store import Store

EVIL = "<script>alert('x')</script><img src=x onerror=alert(1)>"

SUMMARY: dict[str, Any] = {
    "categories": {
        "matched": {
            "items": 40,
            "internal_rows": 40,
            "statement_rows": 41,
            "internal_minor": {"EUR": 123450, "JPY": 5000},
            "statement_minor": {"EUR": 123450, "JPY": 5000},
        },
        "amount_mismatch": {
            "items": 1,
            "internal_rows": 1,
            "statement_rows": 1,
            "internal_minor": {"EUR": 1250},
            "statement_minor": {"EUR": 1200},
        },
        "missing_internally": {
            "items": 1,
            "internal_rows": 0,
            "statement_rows": 1,
            "statement_minor": {"JPY": 1000},
        },
        "duplicate": {"items": 1, "internal_rows": 2, "statement_rows": 0, "internal_minor": {"KWD": 12345}},
    },
    "matched_items": 40,
    "exception_items": 3,
    "files": [
        {"name": "balance-2025-01-05.csv", "sha256": "ab" * 32, "rows": 42, "skipped": None},
        {"name": "balance-old.csv", "sha256": "cd" * 32, "rows": 3, "skipped": "already read by run 7"},
    ],
    "currencies": ["EUR", "JPY", "KWD"],
    "engine": "duckdb 1.1.3",
}


def items() -> list[ItemRow]:
    return [
        ItemRow(
            "fp-mismatch",
            Category.AMOUNT_MISMATCH,
            "amount 12.50 EUR internally, 12.00 EUR on the statement",
            {"internal": ["ch_1"], "statement": ["ch_1"]},
            {"internal": [["datasource:main", 3]], "statement": [["balance-2025-01-05.csv", 4]]},
            "EUR",
            1250,
            1200,
            50,
        ),
        ItemRow(
            "fp-missing",
            Category.MISSING_INTERNALLY,
            '=HYPERLINK("http://evil.example") not in our records',
            {"internal": [], "statement": ["ch_9"]},
            {"internal": [], "statement": [["balance-2025-01-05.csv", 9]]},
            "JPY",
            None,
            1000,
            -1000,
        ),
        ItemRow(
            "fp-dup",
            Category.DUPLICATE,
            EVIL,
            {"internal": ["ord_5", "ord_5"], "statement": []},
            {"internal": [["datasource:main", 11], ["datasource:main", 12]], "statement": []},
            "KWD",
            12345,
            None,
            None,
        ),
    ]


def succeeded_run(store: Store, summary: dict[str, Any] | None = None, day: date = date(2025, 1, 5)) -> int:
    run_id = start_run(store, "stripe", day)
    finish_run(
        store,
        run_id,
        inputs_digest="ef" * 32,
        internal_rows=43,
        statement_rows=42,
        summary=SUMMARY if summary is None else summary,
        items=items(),
        files=[],
    )
    return run_id


def exception_id(store: Store, fingerprint: str) -> int:
    return list_exceptions(store, recon="stripe", fingerprints=[fingerprint])[0].id


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8-sig")


def test_writes_four_files_with_counts_and_amounts_per_currency(store: Store, tmp_path: Path) -> None:
    run_id = succeeded_run(store)
    resolve_exception(store, exception_id(store, "fp-mismatch"), "alice", "refund issued by hand")
    artifacts = write_recon_report(store, run_id, tmp_path / "reports")
    base = f"recon-stripe-2025-01-05-run{run_id}"
    assert [a.name for a in artifacts] == [
        f"{base}.md",
        f"{base}.html",
        f"{base}.pdf",
        f"{base}-exceptions.csv",
    ]
    for a in artifacts:
        path = tmp_path / "reports" / a.name
        data = path.read_bytes()
        assert a.uri == path.resolve().as_uri()
        assert a.size_bytes == len(data)
        assert a.sha256 == hashlib.sha256(data).hexdigest()
    assert [a.media_type.split(";")[0] for a in artifacts] == [
        "text/markdown",
        "text/html",
        "application/pdf",
        "text/csv",
    ]

    md = read(tmp_path / "reports" / f"{base}.md")
    assert "| Matched | 40 | 40 | 41 | 1,234.50 EUR; 5,000 JPY | 1,234.50 EUR; 5,000 JPY |" in md
    assert "| Amount mismatch | 1 | 1 | 1 | 12.50 EUR | 12.00 EUR |" in md
    assert "| Missing internally | 1 | 0 | 1 | — | 1,000 JPY |" in md
    assert "| Duplicate | 1 | 2 | 0 | 12.345 KWD | — |" in md  # three decimals for dinars
    assert "| Fee variance | 0 | — | — | — | — |" in md
    assert "**40** items matched" in md
    assert "**3** exceptions: **2** open, **1** resolved" in md
    assert "balance-old.csv | 3 |" in md
    assert "already read by run 7" in md
    assert "ab" * 32 in md
    assert "How to read this report" in md
    assert "resolved by alice" in md
    assert "refund issued by hand" in md

    html = read(tmp_path / "reports" / f"{base}.html")
    assert "1,234.50 EUR<br>5,000 JPY" in html
    assert "12.345 KWD" in html
    assert html.count('<svg class="bars"') == 4  # items per category, then EUR, JPY, KWD amounts
    assert "How to read this report" in html
    assert "duckdb 1.1.3" in html


def test_the_pdf_is_a_pdf(store: Store, tmp_path: Path) -> None:
    run_id = succeeded_run(store)
    pdf = next(a for a in write_recon_report(store, run_id, tmp_path) if a.name.endswith(".pdf"))
    data = (tmp_path / pdf.name).read_bytes()
    assert data.startswith(b"%PDF-")
    assert data.rstrip().endswith(b"%%EOF")
    assert len(data) > 5000


def test_csv_has_one_row_per_exception(store: Store, tmp_path: Path) -> None:
    run_id = succeeded_run(store)
    resolved = exception_id(store, "fp-mismatch")
    resolve_exception(store, resolved, "alice", "refund issued by hand")
    csv_file = next(
        a for a in write_recon_report(store, run_id, tmp_path) if a.name.endswith("-exceptions.csv")
    )
    rows = list(csv.DictReader(io.StringIO(read(tmp_path / csv_file.name))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [
        (r["category"], r["currency"], r["internal_amount"], r["statement_amount"], r["difference"])
        for r in rows
    ] == [
        ("amount_mismatch", "EUR", "12.50", "12.00", "0.50"),
        ("missing_internally", "JPY", "", "1000", "-1000"),
        ("duplicate", "KWD", "12.345", "", ""),
    ]
    mismatch, missing, dup = rows
    assert mismatch["exception_id"] == str(resolved)
    assert (mismatch["status"], mismatch["resolved_by"], mismatch["note"]) == (
        "resolved",
        "alice",
        "refund issued by hand",
    )
    assert mismatch["resolved_at"].startswith(store.clock.now().date().isoformat())
    assert (mismatch["internal_references"], mismatch["statement_references"]) == ("ch_1", "ch_1")
    assert mismatch["statement_source_rows"] == "balance-2025-01-05.csv:4"
    assert dup["internal_source_rows"] == "datasource:main:11, datasource:main:12"
    assert missing["status"] == "open"
    assert missing["resolved_by"] == ""
    # A spreadsheet must not run the reason as a formula.
    assert missing["reason"] == '\'=HYPERLINK("http://evil.example") not in our records'
    assert dup["reason"] == EVIL


def test_a_failed_run_is_reported_as_failed(store: Store, tmp_path: Path) -> None:
    run_id = start_run(store, "stripe", date(2025, 1, 6))
    fail_run(store, run_id, "statement inbox s3://stmts/stripe: access denied")
    artifacts = write_recon_report(store, run_id, tmp_path)
    md = read(tmp_path / artifacts[0].name)
    html = read(tmp_path / artifacts[1].name)
    for text in (md, html):
        assert "This run failed" in text
        assert "statement inbox s3://stmts/stripe: access denied" in text
        assert "Summary per category" not in text
        assert "every item matched" not in text
    assert "| Status | **failed** |" in md
    assert read(tmp_path / artifacts[3].name).strip() == ",".join(CSV_COLUMNS)
    assert (tmp_path / artifacts[2].name).read_bytes().startswith(b"%PDF-")


def test_a_run_that_never_finished_says_so(store: Store) -> None:
    run_id = start_run(store, "stripe", date(2025, 1, 7))
    md = render_markdown(load_recon_report(store, run_id))
    assert "This run did not finish" in md
    assert "Summary per category" not in md


def test_html_and_markdown_escape_what_the_data_says(store: Store) -> None:
    run_id = succeeded_run(store)
    resolve_exception(store, exception_id(store, "fp-dup"), "bob", "<b>bold</b> | pipe")
    report = load_recon_report(store, run_id, title="<i>Title</i>")
    html = render_html(report)
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "<i>Title</i>" not in html
    assert "&lt;i&gt;Title&lt;/i&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    md = render_markdown(report)
    assert "<script>" not in md
    assert "&lt;script&gt;" in md
    row = next(line for line in md.splitlines() if "&lt;script&gt;" in line)
    assert row.count(" | ") == 8  # nine cells: the note's pipe is escaped, the row stays a row
    assert "pipe" in row
    assert "\\|" in row


def test_a_summary_without_categories_is_counted_from_the_items(store: Store) -> None:
    run_id = succeeded_run(store, summary={"files": "not a list", "matched_items": 12})
    report = load_recon_report(store, run_id)
    assert report.categories_derived
    counts = {line.category: line.items for line in report.categories}
    assert counts[Category.MATCHED] == 12
    assert (
        counts[Category.AMOUNT_MISMATCH]
        == counts[Category.DUPLICATE]
        == counts[Category.MISSING_INTERNALLY]
        == 1
    )
    mismatch = next(line for line in report.categories if line.category is Category.AMOUNT_MISMATCH)
    assert [a.text for a in mismatch.internal] == ["12.50 EUR"]
    assert report.files == ()
    md = render_markdown(report)
    assert "counted from its exceptions" in md
    assert "| Amount mismatch | 1 | — | — | 12.50 EUR | 12.00 EUR |" in md


def test_exceptions_beyond_the_cap_are_in_the_csv_only(store: Store) -> None:
    many = [
        ItemRow(f"fp-{i}", Category.MISSING_IN_STATEMENT, f"payment p{i:04d} not on the statement",
                {"internal": [f"p{i:04d}"], "statement": []}, {"internal": [["datasource:main", i]], "statement": []},
                "EUR", 100 + i, None, 100 + i)
        for i in range(HTML_ITEM_CAP + 3)
    ]  # fmt: skip
    run_id = start_run(store, "stripe", date(2025, 1, 8))
    finish_run(
        store,
        run_id,
        inputs_digest="0" * 64,
        internal_rows=503,
        statement_rows=0,
        summary={},
        items=many,
        files=[],
    )
    report = load_recon_report(store, run_id)
    html = render_html(report)
    assert f"The first {HTML_ITEM_CAP} of {HTML_ITEM_CAP + 3:,} exceptions" in html
    assert "p0499 not on the statement" in html
    assert "p0500 not on the statement" not in html
    rows = list(csv.reader(io.StringIO(exceptions_csv(report))))
    assert len(rows) == 1 + HTML_ITEM_CAP + 3
    assert rows[-1][2] == "payment p0502 not on the statement"
    assert all(r[11] == "open" for r in rows[1:])


def test_the_same_run_gives_the_same_files_except_the_generation_time(
    store: Store, tmp_path: Path, clock: FakeClock
) -> None:
    run_id = succeeded_run(store)
    first = write_recon_report(store, run_id, tmp_path / "a")
    again = write_recon_report(store, run_id, tmp_path / "b")
    assert [a.sha256 for a in first] == [a.sha256 for a in again]
    clock.advance(3600)
    later = write_recon_report(store, run_id, tmp_path / "c")
    old = read(tmp_path / "a" / first[0].name).splitlines()
    new = read(tmp_path / "c" / later[0].name).splitlines()
    changed = [(a, b) for a, b in zip(old, new, strict=True) if a != b]
    assert len(changed) == 1
    assert "Generated at" in changed[0][0]
    assert later[3].sha256 == first[3].sha256  # the CSV carries no generation time


def test_the_configuration_adds_the_description(store: Store, tmp_path: Path) -> None:
    config = load_config_text(
        "datasources:\n  main: {url: 'postgresql://app@127.0.0.1:5432/app'}\n"
        "services:\n  web: {}\n"
        "payments:\n  reconciliations:\n    stripe:\n      service: web\n"
        "      description: Card payments against the Stripe balance report\n"
        "      internal: {datasource: main, query: SELECT 1}\n"
        "      statement: {inbox: inbox, mapping: stripe_balance}\n",
        "f.yaml",
        env={},
        base_dir=tmp_path,
    )
    run_id = succeeded_run(store)
    report = load_recon_report(store, run_id, config=config.payments.reconciliations["stripe"])
    assert report.service == "web"
    assert "Card payments against the Stripe balance report" in render_html(report)


def test_bar_chart_scales_bars_and_escapes_labels() -> None:
    svg = str(
        bar_chart(
            [
                BarRow("big", (Bar(100, "100", BarTone.GOOD),)),
                BarRow("<small>", (Bar(-50, "-50", BarTone.BAD), Bar(0, "0", BarTone.SIDE_B))),
            ],
            "a & b",
        )
    )
    assert 'aria-label="a &amp; b"' in svg
    assert "&lt;small&gt;" in svg
    assert "<small>" not in svg
    widths = [
        float(w) for w in re.findall(r'<rect class="bar[^"]*" x="[\d.]+" y="[\d.]+" width="([\d.]+)"', svg)
    ]
    assert widths[0] == 2 * widths[1]  # magnitude, not sign
    assert widths[2] == 0
    assert "Nothing to show" in str(bar_chart([], "empty"))


def _recon_config(tmp_path: Path, extra: str = "") -> ReconConfig:
    config = load_config_text(
        "datasources:\n  main: {url: 'postgresql://app@127.0.0.1:5432/app'}\n"
        "services:\n  web: {}\n"
        "payments:\n  reconciliations:\n    stripe:\n      service: web\n"
        "      internal: {datasource: main, query: SELECT 1}\n"
        "      statement: {inbox: inbox, mapping: stripe_balance}\n" + extra,
        "f.yaml",
        env={},
        base_dir=tmp_path,
    )
    return config.payments.reconciliations["stripe"]


def test_mixed_currencies_are_flagged_not_summed_without_rates(store: Store, tmp_path: Path) -> None:
    run_id = succeeded_run(store)
    report = load_recon_report(store, run_id, config=_recon_config(tmp_path))
    assert [(a.currency, a.minor) for a in report.totals] == [("EUR", 50), ("JPY", -1000)]
    assert report.total_converted is None
    assert "2 currencies (EUR, JPY) and no exchange rates are configured" in report.currency_note
    assert "not added up across currencies" in render_markdown(report)
    assert "not added up across currencies" in render_html(report)


def test_with_rates_the_exceptions_are_totalled_in_the_report_currency(store: Store, tmp_path: Path) -> None:
    rates = "      report_currency: EUR\n      rates: {JPY: '0.0062'}\n"
    run_id = succeeded_run(store)
    report = load_recon_report(store, run_id, config=_recon_config(tmp_path, rates))
    # 0.50 EUR - 1,000 JPY x 0.0062 = 0.50 - 6.20 = -5.70 EUR
    assert report.total_converted is not None
    assert (report.total_converted.currency, report.total_converted.minor) == ("EUR", -570)
    assert report.currency_note == ""
    assert "-5.70 EUR" in render_html(report)
    # A currency without a rate: no total, and the note says which.
    partial = load_recon_report(
        store,
        run_id,
        config=_recon_config(tmp_path, "      report_currency: USD\n      rates: {EUR: '1.1'}\n"),
    )
    assert partial.total_converted is None
    assert "JPY" in partial.currency_note
