"""What a disaster-recovery drill report shows, gathered once: :class:`DrillReport`.

The Markdown, HTML and PDF reports and the cockpit's drill page all render this one object, so they
cannot disagree. It is built from a :class:`~flightdeck.backups.drill_result.DrillResult` (what the
drill recorded) and the results of earlier drills of the same name, read back from the evidence
store by :func:`load_drill_history` — drills keep no table of their own.

Everything is worded for someone who is not an engineer: a verdict sentence first, durations as
``4 min 12 s``, times in UTC and saying so.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from pydantic import ValidationError

from flightdeck.backups.drill_result import (
    DRILL_DETAIL_KEY,
    DrillResult,
    DrillStep,
    Phase,
    StepStatus,
    Verification,
    VerificationKind,
)
from flightdeck.backups.manifest import manifest_key
from flightdeck.evidence import Evidence, Verdict
from flightdeck.store import EvidenceFilter, Store, list_evidence

__all__ = [
    "DRILL_KIND",
    "PHASE_LABELS",
    "DrillReport",
    "ManifestSummary",
    "PhaseLine",
    "ResultTable",
    "build_drill_report",
    "day_text",
    "drill_of",
    "drill_records",
    "duration_text",
    "iter_drill_records",
    "load_drill_history",
    "report_basename",
    "result_table",
]

log = logging.getLogger(__name__)

DRILL_KIND = "dr_drill"
"""The evidence kind of a drill's record; ``detail["drill"]`` holds its :class:`DrillResult`."""

PHASE_LABELS: dict[Phase, str] = {
    Phase.FETCH: "Fetch from storage (size and SHA-256 checked)",
    Phase.DECODE: "Decrypt and decompress",
    Phase.RESTORE: "Restore into the scratch database",
    Phase.VERIFY: "Verify the restored data",
}

VERIFICATION_LABELS: dict[VerificationKind, str] = {
    VerificationKind.SCHEMA: "Schema",
    VerificationKind.ROW_COUNTS: "Row count",
    VerificationKind.ROW_HASHES: "Row hash",
    VerificationKind.INVARIANT: "Invariant",
}

_PAGE = 200  # evidence records read per query while looking for a drill's records


def duration_text(seconds: float | None) -> str:
    """A duration for people: ``850 ms``, ``4.2 s``, ``4 min 12 s``, ``1 h``, ``2 d 3 h``; ``—`` for none."""
    if seconds is None:
        return "—"
    sign = "-" if seconds < 0 else ""
    s = abs(seconds)
    if s < 1:
        return f"{sign}{s * 1000:.0f} ms"
    if s < 10:
        return f"{sign}{s:.1f} s"
    whole = round(s)
    if whole < 60:
        return f"{sign}{whole} s"
    units = ((86400, "d", 3600, "h"), (3600, "h", 60, "min"), (60, "min", 1, "s"))
    big, big_name, small, small_name = next(u for u in units if whole >= u[0])
    first, rest = divmod(whole, big)
    second = rest // small
    return f"{sign}{first} {big_name}" + (f" {second} {small_name}" if second else "")


def day_text(when: datetime | None) -> str:
    """``23 Nov 2026 03:00 UTC``: a time for a sentence; ``—`` for none."""
    if when is None:
        return "—"
    utc = when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
    return f"{utc.day} {utc:%b %Y %H:%M} UTC"


def report_basename(result: DrillResult) -> str:
    """``dr-<drill>-<YYYYMMDDTHHMMSSZ of started_at>``, anything but ``[A-Za-z0-9_.-]`` replaced."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "_.-") else "-" for c in result.drill)
    started = result.started_at.astimezone(UTC) if result.started_at.tzinfo else result.started_at
    return f"dr-{safe}-{started:%Y%m%dT%H%M%SZ}"


def drill_of(record: Evidence) -> DrillResult | None:
    """The drill result held by a ``dr_drill`` record; ``None`` (logged) when its detail does not parse."""
    raw = record.detail.get(DRILL_DETAIL_KEY)
    if record.kind != DRILL_KIND or not isinstance(raw, Mapping):
        return None
    try:
        return DrillResult.model_validate(raw)
    except ValidationError as exc:
        log.warning(
            "evidence %s: detail.drill is not a drill result (%d problems)", record.id, exc.error_count()
        )
        return None


def iter_drill_records(
    store: Store,
    drill: str | None,
    *,
    before_id: int | None = None,
    verdicts: tuple[Verdict, ...] = (),
) -> Iterator[Evidence]:
    """The ``dr_drill`` records of ``drill`` (any drill when ``None``; only ``verdicts`` when given),
    newest first, read a page at a time for as long as the caller asks for more."""
    cursor = before_id
    f = EvidenceFilter(kind=DRILL_KIND, verdicts=verdicts)
    while True:
        with store.engine.connect() as conn:
            page = list_evidence(conn, f, limit=_PAGE, before_id=cursor)
        for record in page.items:
            raw = record.detail.get(DRILL_DETAIL_KEY)
            if isinstance(raw, Mapping) and (drill is None or raw.get("drill") == drill):
                yield record
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def drill_records(
    store: Store, drill: str | None, *, limit: int = 24, before_id: int | None = None
) -> list[Evidence]:
    """At most ``limit`` of :func:`iter_drill_records`."""
    return list(islice(iter_drill_records(store, drill, before_id=before_id), limit))


def load_drill_history(
    store: Store, drill: str, *, limit: int = 24, before_id: int | None = None
) -> list[tuple[int, DrillResult]]:
    """(evidence id, result) of up to ``limit`` past drills named ``drill``, newest first. Records
    whose detail does not parse are skipped (and logged)."""
    out: list[tuple[int, DrillResult]] = []
    for record in iter_drill_records(store, drill, before_id=before_id):
        if len(out) >= limit:
            break
        result = drill_of(record)
        if result is not None:
            out.append((record.id, result))
    return out


@dataclass(frozen=True)
class PhaseLine:
    phase: Phase
    seconds: float | None  # None: the phase did not run
    failed: bool

    @property
    def label(self) -> str:
        return PHASE_LABELS[self.phase]

    @property
    def text(self) -> str:
        if self.seconds is None:
            return "failed" if self.failed else "did not run"
        return duration_text(self.seconds) + (" (failed)" if self.failed else "")


@dataclass(frozen=True)
class ResultTable:
    """Rows an invariant's query returned, as a table: ``columns`` is empty when the rows are lists."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def _cell(value: Any) -> str:
    return "NULL" if value is None else str(value)


def result_table(value: Any) -> ResultTable | None:
    """The rows of an invariant's ``result`` (a list of objects or of lists); ``None`` for anything else."""
    if not isinstance(value, list) or not value:
        return None
    if all(isinstance(r, Mapping) for r in value):
        columns: list[str] = []
        for r in value:
            columns.extend(str(k) for k in r if str(k) not in columns)
        return ResultTable(tuple(columns), tuple(tuple(_cell(r.get(c)) for c in columns) for r in value))
    if all(isinstance(r, list) for r in value):
        width = max(len(r) for r in value)
        return ResultTable((), tuple(tuple(_cell(c) for c in r) + ("",) * (width - len(r)) for r in value))
    return ResultTable(("value",), tuple((_cell(r),) for r in value))


@dataclass(frozen=True)
class ArtifactLine:
    name: str
    size_bytes: int | None
    sha256: str | None


@dataclass(frozen=True)
class ManifestSummary:
    """What the backup's manifest says it holds (read tolerantly: every key may be missing)."""

    key: str | None
    tables: tuple[tuple[str, int], ...]
    consistent_point: tuple[tuple[str, str], ...]
    artifacts: tuple[ArtifactLine, ...]
    source: str | None
    flightdeck_version: str | None

    @property
    def total_rows(self) -> int:
        return sum(n for _, n in self.tables)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _manifest(result: DrillResult) -> ManifestSummary | None:
    raw = result.manifest
    key = manifest_key(result.backup_name, result.backup_id) if result.backup_id else None
    if not isinstance(raw, Mapping):
        return None if key is None else ManifestSummary(key, (), (), (), None, None)
    counts = raw.get("table_counts")
    tables = (
        tuple(sorted((str(t), n) for t, v in counts.items() if (n := _int(v)) is not None))
        if isinstance(counts, Mapping)
        else ()
    )
    point = raw.get("consistent_point")
    points = tuple(sorted((str(k), str(v)) for k, v in point.items())) if isinstance(point, Mapping) else ()
    artifacts = []
    listed = raw.get("artifacts")
    for a in listed if isinstance(listed, list) else []:
        if isinstance(a, Mapping):
            sha = a.get("sha256")
            artifacts.append(
                ArtifactLine(str(a.get("name", "?")), _int(a.get("size_bytes")), str(sha) if sha else None)
            )
    source, version = raw.get("source"), raw.get("flightdeck_version")
    return ManifestSummary(
        key=key,
        tables=tables,
        consistent_point=points,
        artifacts=tuple(artifacts),
        source=str(source) if source else None,
        flightdeck_version=str(version) if version else None,
    )


def _first_failed(steps: Sequence[DrillStep]) -> DrillStep | None:
    return next((s for s in steps if s.status is StepStatus.FAILED), None)


def _verdict(r: DrillResult) -> str:
    """One plain sentence: passed or failed, and why."""
    rto, target = duration_text(r.rto_seconds), duration_text(r.rto_target_seconds)
    if r.passed:
        return (
            f"The drill passed: the {r.service} database was restored from the backup of "
            f"{day_text(r.backup_finished_at or r.backup_started_at)} and checked in {rto}, "
            f"within the {target} target."
        )
    failed_checks = [v for v in r.verifications if v.status is StepStatus.FAILED]
    step = _first_failed(r.steps)
    if r.backup_id is None:
        why = f"no backup of {r.backup_name} could be selected, so nothing was restored"
    elif r.rto_seconds is None:
        why = "the restore did not finish, so there is no recovery time"
        if step is not None:
            what = f"the step “{step.name}” failed" + (f" ({step.message})" if step.message else "")
            why = f"{what}, so the restore did not finish and there is no recovery time"
    elif r.rto_met is False:
        why = f"the database was restored and checked in {rto}, over the {target} target"
    elif failed_checks:
        names = ", ".join(f"“{v.name}”" for v in failed_checks)
        why = (
            f"the database was restored in {rto}, but {len(failed_checks)} of {len(r.verifications)} "
            f"checks of the restored data failed: {names}"
        )
    elif r.rpo_met is False:
        why = (
            f"{duration_text(r.rpo_seconds)} of data would have been lost, over the "
            f"{duration_text(r.rpo_target_seconds)} target"
        )
    elif r.failures:
        why = r.failures[0].rstrip(".")
    else:
        why = "it did not pass, and no reason was recorded"
    return f"The drill failed: {why}."


def _rpo_sentence(r: DrillResult) -> str:
    if r.rpo_seconds is None:
        if r.rpo_target_seconds is None:
            return "No recovery point objective (RPO) is set for this drill, and none was measured."
        return (
            f"The data loss (RPO) could not be measured, so the {duration_text(r.rpo_target_seconds)} "
            "target is not shown as met."
        )
    text = (
        f"The newest data in the restored copy was from {day_text(r.newest_restored_at)}: had the "
        f"disaster happened at the end of the restore, {duration_text(r.rpo_seconds)} of data would have "
        "been lost (RPO)"
    )
    if r.rpo_target_seconds is None:
        return text + "; no RPO target is set."
    met = "within" if r.rpo_met else "over"
    return text + f", {met} the {duration_text(r.rpo_target_seconds)} target."


@dataclass(frozen=True)
class DrillReport:
    result: DrillResult
    timeline: tuple[DrillResult, ...]  # this drill and earlier ones, oldest first
    generated_at: datetime
    verdict: str
    rpo_sentence: str
    phases: tuple[PhaseLine, ...]
    manifest: ManifestSummary | None
    failed_step: DrillStep | None

    @property
    def title(self) -> str:
        return f"Disaster-recovery drill: {self.result.drill}, {day_text(self.result.started_at)}"

    @property
    def basename(self) -> str:
        return report_basename(self.result)

    @property
    def failed_verifications(self) -> list[Verification]:
        return [v for v in self.result.verifications if v.status is StepStatus.FAILED]

    @property
    def newest_first(self) -> tuple[DrillResult, ...]:
        return tuple(reversed(self.timeline))

    def verification_label(self, v: Verification) -> str:
        return VERIFICATION_LABELS[v.kind]


def _same(a: DrillResult, b: DrillResult) -> bool:
    return a.drill == b.drill and a.started_at == b.started_at


def build_drill_report(
    result: DrillResult, history: Sequence[DrillResult], *, generated_at: datetime | None = None
) -> DrillReport:
    """The report of ``result``; ``history`` (earlier drills of the same name, any order, with or
    without ``result`` itself) makes the history table and the RTO trend."""
    others = [h for h in history if not _same(h, result)]
    timeline = tuple(sorted([*others, result], key=lambda d: d.started_at))
    step = _first_failed(result.steps)
    phases = []
    for p in Phase:
        failed = step is not None and step.phase is p
        seconds = result.phases.get(p)
        if seconds is None and failed and step is not None:
            seconds = step.seconds  # how long the phase ran before it failed
        phases.append(PhaseLine(p, seconds, failed))
    return DrillReport(
        result=result,
        timeline=timeline,
        generated_at=generated_at or datetime.now(UTC),
        verdict=_verdict(result),
        rpo_sentence=_rpo_sentence(result),
        phases=tuple(phases),
        manifest=_manifest(result),
        failed_step=step,
    )
