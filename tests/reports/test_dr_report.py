"""The disaster-recovery drill report: what it says for a passed drill, a failed invariant and a
restore that never finished; its charts; its files (atomic, hashed); and reading past drills back
from the evidence store (on SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flightdeck.backups.drill_result import DrillResult
from flightdeck.evidence import NewEvidence, Verdict
from flightdeck.reports.dr import render_html, render_markdown, rto_trend_chart, write_dr_report
from flightdeck.reports.dr_data import (
    build_drill_report,
    duration_text,
    load_drill_history,
    report_basename,
)
from flightdeck.reports.recon import ReportFormat
from flightdeck.store import Store, insert_evidence
from tests.reports.drills import INVARIANT_SQL, START, drill, store_drill

GENERATED = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def weekly(n: int, *, failed_restore_at: int | None = None) -> list[DrillResult]:
    """``n`` earlier drills a week apart (oldest last), restores getting slower; one may have failed."""
    return [
        drill(
            started=START - timedelta(days=7 * (i + 1)),
            restore_seconds=100.0 + 10 * i,
            outcome="restore" if i == failed_restore_at else "passed",
        )
        for i in range(n)
    ]


def points(svg: str) -> list[str]:
    return re.findall(r'class="trend-point ([^"]*)"', svg)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.85, "850 ms"), (4.24, "4.2 s"), (59.4, "59 s"), (252, "4 min 12 s"), (3600, "1 h"), (5400, "1 h 30 min"),
     (93600, "1 d 2 h"), (None, "—")],
)  # fmt: skip
def test_durations_read_like_speech(seconds: float | None, text: str) -> None:
    assert duration_text(seconds) == text


def test_a_passed_drill_opens_with_a_plain_verdict_and_its_figures() -> None:
    result = drill()
    report = build_drill_report(result, weekly(3), generated_at=GENERATED)
    assert report.verdict == (
        "The drill passed: the payments database was restored from the backup of 23 Nov 2026 03:00 UTC "
        "and checked in 4 min 12 s, within the 1 h target."
    )
    md = render_markdown(report)
    html = render_html(report)
    for text in (md, html):
        assert report.verdict in text
        assert "31 min 40 s of data would have been lost (RPO), within the 1 h target" in text
        assert "All times are in UTC" in text
        assert "20261123T030000Z-ab12cd" in text  # the backup used
        assert "5e" * 32 in text  # its checksum
        assert "payments-db/20261123T030000Z-ab12cd/manifest.json" in text  # its manifest
        assert "restore (PostgreSQL) 16.4" in text  # tool versions (Markdown escapes the _)
        assert "48,113" in text  # per-table rows from the manifest
        assert "0/16B3748" in text  # its consistent point
        assert "2026-11-23 03:30:50 UTC" in text  # a step's timestamp
        assert "2 min 30 s" in text  # the restore phase
        assert "Generated" in text or "generated" in text
    assert md.startswith("# Disaster-recovery drill: payments-dr, 23 Nov 2026 03:30 UTC\n")
    assert "**PASSED.**" in md
    assert "**Total: 4 min 12 s** against a target of **1 h**: met." in md
    assert "| Restore into the scratch database | 2 min 30 s |" in md
    assert "scheduler (schedule)" in md  # who ran it
    assert 'class="banner verdict ok"' in html
    # The phase chart: one bar per phase.
    assert html.count('class="bar bar-side-a"') == 4
    # History: this drill and three earlier ones, newest first, and a point each on the trend.
    assert len(report.timeline) == 4
    assert points(html) == ["trend-ok"] * 4
    rows = re.findall(r"^\| 2026-\d\d-\d\d 03:30:00 UTC \| (\w+)", md, re.M)
    assert rows == ["passed"] * 4


def test_a_failed_invariant_shows_its_sql_and_the_rows_it_returned() -> None:
    report = build_drill_report(drill(outcome="invariant"), [], generated_at=GENERATED)
    assert report.verdict == (
        "The drill failed: the database was restored in 4 min 12 s, but 1 of 2 checks of the restored "
        "data failed: “ledger debits = credits”."
    )
    md = render_markdown(report)
    html = render_html(report)
    assert f"```sql\n{INVARIANT_SQL}\n```" in md
    assert "| account | diff |" in md
    assert "| acc-7731 | 1250 |" in md
    assert "**FAILED.**" in md
    assert "invariant “ledger debits = credits” returned 1 row" in md
    escaped = INVARIANT_SQL.replace("<", "&lt;").replace(">", "&gt;")
    assert f'<pre class="sql">{escaped}</pre>' in html
    assert "<th>account</th><th>diff</th>" in html
    assert "<td><code>acc-7731</code></td><td><code>1250</code></td>" in html
    assert 'class="banner verdict bad"' in html
    assert points(html) == ["trend-fail"]


def test_a_restore_that_never_finished_renders_and_says_what_failed() -> None:
    result = drill(outcome="restore")
    assert result.rto_seconds is None
    report = build_drill_report(result, weekly(2), generated_at=GENERATED)
    assert report.verdict == (
        "The drill failed: the step “restore into the scratch database” failed (pg_restore: error: could "
        "not execute query: relation already exists), so the restore did not finish and there is no "
        "recovery time."
    )
    md = render_markdown(report)
    html = render_html(report)
    assert "**No total**: the restore did not finish. The target is 1 h." in md
    assert "| Restore into the scratch database | 12 s (failed) |" in md
    assert "| Verify the restored data | did not run |" in md
    assert "The data loss (RPO) could not be measured" in md
    assert "pg\\_restore exited with status 1" in md  # the recorded failure, Markdown-escaped
    assert "The first step that failed was **restore into the scratch database**" in md
    assert "No verification ran." in md
    assert "did not finish" in html
    assert html.count('class="bar bar-bad"') == 1  # the failed phase in red
    # The failed drill is on the trend as a cross; the two earlier passes as dots.
    assert points(html) == ["trend-ok", "trend-ok", "trend-fail trend-missing"]


def test_no_backup_selected_is_said_plainly() -> None:
    result = drill(outcome="restore").model_copy(
        update={"backup_id": None, "backup_sha256": None, "manifest": None, "steps": [], "phases": {}}
    )
    report = build_drill_report(result, [], generated_at=GENERATED)
    assert (
        report.verdict
        == "The drill failed: no backup of payments-db could be selected, so nothing was restored."
    )
    assert "No backup could be selected: nothing was restored." in render_markdown(report)
    assert "No step was recorded." in render_html(report)


def test_trend_has_one_point_per_drill_a_target_line_and_marks_failures() -> None:
    history = weekly(5, failed_restore_at=1)  # the drill of 9 Nov never finished
    svg = str(rto_trend_chart(history))
    assert len(points(svg)) == len(history)
    assert points(svg) == ["trend-ok", "trend-ok", "trend-ok", "trend-fail trend-missing", "trend-ok"]
    assert svg.count('class="trend-target"') == 1
    assert "target 1 h" in svg
    assert svg.count("<title>") == len(history) + 1  # the chart's and one per point
    assert "9 Nov 2026 03:30 UTC: failed, the restore did not finish" in svg
    assert "16 Nov 2026 03:30 UTC: RTO 3 min 22 s (passed)" in svg
    assert "target 1 h (above the scale)" in svg  # RTOs of minutes: the 1 h target is off the scale
    near = [d.model_copy(update={"rto_target_seconds": 300.0}) for d in history]
    near_svg = str(rto_trend_chart(near))
    assert "target 5 min</text>" in near_svg
    target_y = float(re.findall(r'class="trend-target" x1="[\d.]+" y1="([\d.]+)"', near_svg)[0])
    highest_y = min(
        float(y) for y in re.findall(r'<circle class="trend-point[^"]*" cx="[\d.]+" cy="([\d.]+)"', near_svg)
    )
    assert target_y < highest_y  # 5 min is drawn above the slowest drill (3 min 40 s)
    # The same drill given twice (as this drill and in its history) is one point.
    report = build_drill_report(history[0], history, generated_at=GENERATED)
    assert len(report.timeline) == len(history)


def test_text_from_the_drill_cannot_inject_markup() -> None:
    result = drill(outcome="invariant").model_copy(update={"operator": "<script>x</script>|*ops*"})
    report = build_drill_report(result, [], generated_at=GENERATED)
    assert "<script>" not in render_html(report)
    assert "&lt;script&gt;x&lt;/script&gt;" in render_html(report)
    assert "&lt;script&gt;x&lt;/script&gt;\\|\\*ops\\*" in render_markdown(report)


def test_write_dr_report_writes_three_files_whose_artifacts_match(tmp_path: Path) -> None:
    result = drill(outcome="invariant")
    out = tmp_path / "reports"
    artifacts = write_dr_report(result, weekly(2), out, generated_at=GENERATED)
    base = "dr-payments-dr-20261123T033000Z"
    assert report_basename(result) == base
    assert [a.name for a in artifacts] == [f"{base}.md", f"{base}.html", f"{base}.pdf"]
    assert sorted(p.name for p in out.iterdir()) == sorted(a.name for a in artifacts)  # no temp file left
    for a in artifacts:
        data = (out / a.name).read_bytes()
        assert a.uri == (out / a.name).resolve().as_uri()
        assert a.size_bytes == len(data)
        assert a.sha256 == hashlib.sha256(data).hexdigest()
    assert [a.media_type for a in artifacts] == ["text/markdown; charset=utf-8", "text/html; charset=utf-8",
                                                  "application/pdf"]  # fmt: skip
    assert (out / f"{base}.pdf").read_bytes().startswith(b"%PDF-")
    assert INVARIANT_SQL in (out / f"{base}.md").read_text()
    # The same drill rendered again at the same time gives the same Markdown and HTML.
    again = write_dr_report(result, weekly(2), tmp_path / "again", generated_at=GENERATED)
    assert [a.sha256 for a in again[:2]] == [a.sha256 for a in artifacts[:2]]

    only_md = write_dr_report(result, [], tmp_path / "md", formats=[ReportFormat.MARKDOWN])
    assert [a.name for a in only_md] == [f"{base}.md"]
    with pytest.raises(ValueError, match="no csv file"):
        write_dr_report(result, [], tmp_path / "csv", formats=[ReportFormat.CSV])


def test_a_failed_write_leaves_the_previous_file_and_no_partial_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = drill()
    out = tmp_path / "reports"
    (first,) = write_dr_report(result, [], out, formats=[ReportFormat.MARKDOWN], generated_at=GENERATED)
    before = (out / first.name).read_bytes()

    def refuse(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        write_dr_report(result, [drill(outcome="invariant")], out, formats=[ReportFormat.MARKDOWN])
    assert [p.name for p in out.iterdir()] == [first.name]  # the temporary file was removed
    assert (out / first.name).read_bytes() == before


def test_load_drill_history_reads_past_drills_newest_first(store: Store) -> None:
    older = store_drill(store, drill(started=START - timedelta(days=14), restore_seconds=120.0))
    failed = store_drill(store, drill(started=START - timedelta(days=7), outcome="restore"))
    other = store_drill(store, drill(name="orders-dr"))
    with store.engine.begin() as conn:  # a record whose detail is not a drill result, and another kind
        now = store.clock.now()
        bad = NewEvidence(
            subject="payments/drill:payments-dr", service="payments", check="drill:payments-dr",
            kind="dr_drill", config_digest="d" * 64, started_at=now, finished_at=now,
            verdict=Verdict.ERROR, duration_ms=1.0, detail={"drill": {"drill": "payments-dr", "rto": "?"}},
        )  # fmt: skip
        backup = bad.model_copy(update={"kind": "backup", "detail": {"backup": "payments-db"}})
        insert_evidence(conn, [bad, backup])
    latest = store_drill(store, drill())

    history = load_drill_history(store, "payments-dr")
    assert [(i, r.started_at) for i, r in history] == [
        (latest, START),
        (failed, START - timedelta(days=7)),
        (older, START - timedelta(days=14)),
    ]
    assert history[1][1].rto_seconds is None
    assert [i for i, _ in load_drill_history(store, "payments-dr", limit=2)] == [latest, failed]
    assert [i for i, _ in load_drill_history(store, "payments-dr", before_id=latest)] == [failed, older]
    assert [i for i, _ in load_drill_history(store, "orders-dr")] == [other]
    assert load_drill_history(store, "no-such-drill") == []


def test_load_drill_history_pages_past_other_drills(store: Store) -> None:
    """More records of other drills than one page of the store holds lie between two of this one's."""
    first = store_drill(store, drill(started=START - timedelta(days=7)))
    noise = [drill(name="orders-dr", started=START - timedelta(minutes=i)) for i in range(450)]
    records = [
        NewEvidence(
            subject="shop/drill:orders-dr", service="shop", check="drill:orders-dr", kind="dr_drill",
            config_digest="d" * 64, started_at=d.started_at, finished_at=d.finished_at, verdict=Verdict.PASS,
            duration_ms=1.0, detail={"drill": d.model_dump(mode="json")},
        )
        for d in noise
    ]  # fmt: skip
    with store.engine.begin() as conn:
        insert_evidence(conn, records)
    second = store_drill(store, drill())
    assert [i for i, _ in load_drill_history(store, "payments-dr")] == [second, first]
