"""One reconciliation run, end to end: statements from the inbox and internal records in, matched
items, exceptions, reports and an observation out.

:func:`run_reconciliation` records the run as ``running`` first, then:

1. lists the inbox (``statement.pattern``; ``{date}`` in it is replaced by the day, ``2026-11-22``),
   checksums every file and skips a file some earlier run of another day already read (same SHA-256),
   so a statement dropped twice is never counted twice;
2. reads every file completely before anything is stored: a malformed row fails the run with the
   file, line and column, and nothing from the run is kept but the failed run itself;
3. reads the internal records for the day, matches both sides (:mod:`flightdeck.payments.recon`),
   and stores the exceptions in one transaction (:mod:`flightdeck.payments.recon_store`);
4. writes the Markdown/HTML/PDF report and the exceptions CSV.

Re-running a day with the same inputs gives the same fingerprints, so no exception is duplicated.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
from pydantic import JsonValue

from flightdeck.checks.base import Observation
from flightdeck.config.base import pick
from flightdeck.config.models import Config
from flightdeck.config.payments import ReconConfig
from flightdeck.errors import FlightdeckError
from flightdeck.evidence import Artifact
from flightdeck.payments.errors import ReconError
from flightdeck.payments.internal import internal_records
from flightdeck.payments.recon import MatchItem, MatchResult, match
from flightdeck.payments.recon_store import (
    ItemRow,
    RunStatus,
    StoredFile,
    count_open,
    count_open_in_run,
    fail_run,
    finish_run,
    known_files,
    list_runs,
    start_run,
)
from flightdeck.payments.records import RECORD_SCHEMA, Category
from flightdeck.payments.statements import list_inbox, read_statement
from flightdeck.store import Store

__all__ = [
    "ReconOutcome",
    "default_day",
    "gateway_settled_references",
    "recon_config",
    "run_reconciliation",
]

Progress = Callable[[str], None]


@dataclass(frozen=True)
class FileInput:
    name: str
    sha256: str
    size_bytes: int
    rows: int
    skipped: str | None = None  # why the file was not read (already ingested for another day)

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "name": self.name,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "rows": self.rows,
            "skipped": self.skipped,
        }


@dataclass(frozen=True)
class ReconOutcome:
    """What one run found. ``open_exceptions`` are this run's exceptions nobody has resolved."""

    recon: str
    run_id: int
    day: date
    files: list[FileInput]
    internal_rows: int
    statement_rows: int
    summary: dict[str, Any]
    exceptions: list[ItemRow]
    new_exceptions: int
    open_exceptions: int
    open_exceptions_all_days: int
    artifacts: list[Artifact] = field(default_factory=list)
    report_error: str | None = None

    @property
    def category_counts(self) -> dict[str, int]:
        cats: dict[str, Any] = self.summary.get("categories", {})
        return {name: int(c.get("items", 0)) for name, c in cats.items()}

    def observation(self) -> Observation:
        obs = Observation(artifacts=list(self.artifacts))
        counts = self.category_counts
        for cat in Category:
            obs.measure(f"{cat.value}_items", counts.get(cat.value, 0))
        obs.measure("exception_items", len(self.exceptions))
        obs.measure("open_exceptions", self.open_exceptions)
        obs.measure("new_exceptions", self.new_exceptions)
        obs.measure("internal_rows", self.internal_rows)
        obs.measure("statement_rows", self.statement_rows)
        obs.measure("statement_files", sum(1 for f in self.files if f.skipped is None))
        obs.measure("skipped_files", sum(1 for f in self.files if f.skipped is not None))
        if self.open_exceptions:
            parts = ", ".join(f"{n} {c}" for c, n in sorted(counts.items()) if c != "matched" and n)
            obs.failures.append(f"{self.open_exceptions} open exceptions for {self.day} ({parts})")
        for f in self.files:
            if f.skipped:
                obs.warnings.append(f"{f.name}: {f.skipped}")
        if self.report_error:
            obs.warnings.append(self.report_error)
        obs.summary = (
            f"{self.day}: {counts.get('matched', 0)} matched, {len(self.exceptions)} exceptions "
            f"({self.open_exceptions} open)"
        )
        obs.detail = {
            "recon": self.recon,
            "run_id": self.run_id,
            "day": self.day.isoformat(),
            "files": [f.to_json() for f in self.files],
            "categories": dict(counts),
            "exceptions": [
                {
                    "category": i.category.value,
                    "reason": i.reason,
                    "refs": {k: list(v) for k, v in i.refs.items()},
                }
                for i in self.exceptions[:20]
            ],
        }
        return obs


def recon_config(config: Config, name: str) -> ReconConfig:
    return pick(config.payments.reconciliations, name, "reconciliation", "payments.reconciliations")


def default_day(today: date) -> date:
    """Reconciliations run for yesterday: the statement of a day arrives the morning after."""
    return today - timedelta(days=1)


def _base_dir(config: Config) -> Path:
    return config.source.parent if config.source is not None else Path.cwd()


def _read_statements(
    store: Store, name: str, recon: ReconConfig, day: date, base: Path, progress: Progress
) -> tuple[list[FileInput], pa.Table]:
    source = recon.statement.model_copy(
        update={"pattern": recon.statement.pattern.replace("{date}", day.isoformat())}
    )
    inbox = list_inbox(source, base)
    files: list[FileInput] = []
    tables: list[pa.Table] = []
    try:  # S3 objects are downloaded to private temporary files: always removed
        listed = [(f, f.sha256()) for f in inbox]
        seen = known_files(store, name, [sha for _, sha in listed])
        taken: set[str] = set()
        for f, sha in listed:
            prior = seen.get(sha)
            if prior is not None and prior.day not in (None, day.isoformat()):
                why = f"already ingested for {prior.day} as {prior.name}"
                files.append(FileInput(f.name, sha, f.size, prior.rows, why))
                continue
            if sha in taken:
                files.append(FileInput(f.name, sha, f.size, 0, "same content as another file in this run"))
                continue
            progress(f"reading {f.name}")
            table = read_statement(f.local_path(), source, display_name=f.name)
            tables.append(table)
            taken.add(sha)
            files.append(FileInput(f.name, sha, f.size, table.num_rows))
    finally:
        for f in inbox:
            f.close()
    if not tables:
        skipped = "; ".join(f"{f.name}: {f.skipped}" for f in files)
        raise ReconError(
            f"no statement file for {day} in {recon.statement.inbox} (pattern {source.pattern!r})"
            + (f"; skipped {skipped}" if skipped else "")
            + ": nothing to reconcile, and no earlier finding of the day is cleared"
        )
    combined = pa.concat_tables(tables) if tables else RECORD_SCHEMA.empty_table()
    return files, combined


class _HashSink(io.RawIOBase):
    """A write-only file that only hashes what is written to it."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.digest.update(data)
        return len(data)


def _table_digest(table: pa.Table) -> str:
    """SHA-256 of the table's Arrow IPC stream, hashed as it is written (no second copy of the table)."""
    sink = _HashSink()
    with pa.ipc.new_stream(pa.PythonFile(sink, mode="w"), table.schema) as writer:
        writer.write_table(table)
    return sink.digest.hexdigest()


def _item_row(item: MatchItem) -> ItemRow:
    return ItemRow(
        fingerprint=item.fingerprint,
        category=item.category,
        reason=item.reason,
        refs={"internal": list(item.internal_refs), "statement": list(item.statement_refs)},
        rows={
            "internal": [[s, r] for s, r in item.internal_rows],
            "statement": [[s, r] for s, r in item.statement_rows],
        },
        currency=item.currency,
        internal_minor=item.internal_minor,
        statement_minor=item.statement_minor,
        difference_minor=item.difference_minor,
    )


def _summary(result: MatchResult, files: list[FileInput]) -> dict[str, Any]:
    """The run's summary as stored (``recon_runs.summary``) and shown in reports."""
    categories: dict[str, Any] = {}
    currencies: set[str] = set()
    for cat in Category:
        s = result.summary.get(cat)
        if s is None:
            continue
        currencies.update(s.internal_amounts, s.statement_amounts)
        categories[cat.value] = {
            "items": s.items,
            "internal_rows": s.internal_rows,
            "statement_rows": s.statement_rows,
            "internal_minor": dict(sorted(s.internal_amounts.items())),
            "statement_minor": dict(sorted(s.statement_amounts.items())),
        }
    return {
        "categories": categories,
        "matched_items": result.matched_items,
        "exception_items": result.exception_items,
        "files": [f.to_json() for f in files],
        "currencies": sorted(currencies),
        "engine": result.engine,
    }


async def run_reconciliation(
    config: Config,
    store: Store,
    name: str,
    day: date | None = None,
    *,
    progress: Progress | None = None,
    write_reports: bool = True,
) -> ReconOutcome:
    """Reconcile one day (default: yesterday, UTC). Raises ReconError/StatementError when it
    could not run; the run is then recorded as failed with the reason."""
    recon = recon_config(config, name)
    day = day or default_day(store.clock.now().date())
    say = progress or (lambda _msg: None)
    run_id = start_run(store, name, day, config.scheduler.node_id)
    try:
        # Parsing, matching and storing are CPU-bound: off the event loop, so the scheduler and the
        # cockpit in the same process keep running meanwhile.
        base = _base_dir(config)
        files, statement = await asyncio.to_thread(_read_statements, store, name, recon, day, base, say)
        say("reading internal records")
        internal = await internal_records(config, recon.internal, day)
        say(f"matching {internal.num_rows:,} internal vs {statement.num_rows:,} statement rows")
        result = await asyncio.to_thread(match, internal, statement, recon.match)
        items = [_item_row(i) for i in result.exceptions]
        internal_digest = await asyncio.to_thread(_table_digest, internal)
        digest = hashlib.sha256(
            json.dumps(
                {"files": sorted(f.sha256 for f in files if f.skipped is None), "internal": internal_digest},
                sort_keys=True,
            ).encode()
        ).hexdigest()
        new = await asyncio.to_thread(
            finish_run,
            store,
            run_id,
            inputs_digest=digest,
            internal_rows=internal.num_rows,
            statement_rows=statement.num_rows,
            summary=_summary(result, files),
            items=items,
            files=[
                StoredFile(f.name, f.sha256, f.size_bytes, f.rows, None) for f in files if f.skipped is None
            ],
        )
    except FlightdeckError as exc:
        fail_run(store, run_id, str(exc))
        raise
    except Exception as exc:
        fail_run(store, run_id, f"{type(exc).__name__}: {exc}")
        raise ReconError(f"reconciliation {name!r} failed: {type(exc).__name__}: {exc}") from exc
    except BaseException as exc:  # timed out (cancelled) or interrupted: never left "running"
        fail_run(store, run_id, f"interrupted before it finished ({type(exc).__name__})")
        raise
    open_now = count_open_in_run(store, run_id)
    artifacts: list[Artifact] = []
    report_error: str | None = None
    if write_reports:
        from flightdeck.reports.recon import write_recon_report

        say("writing the report")
        try:
            artifacts = await asyncio.to_thread(
                write_recon_report, store, run_id, recon.reports_dir, config=recon
            )
        except (OSError, FlightdeckError, ValueError) as exc:  # the result stands; the report is missing
            report_error = f"the report could not be written to {recon.reports_dir}: {exc}"
    return ReconOutcome(
        recon=name,
        run_id=run_id,
        day=day,
        files=files,
        internal_rows=internal.num_rows,
        statement_rows=statement.num_rows,
        summary=_summary(result, files),
        exceptions=items,
        new_exceptions=new,
        open_exceptions=open_now,
        open_exceptions_all_days=count_open(store, name),
        artifacts=artifacts,
        report_error=report_error,
    )


def gateway_settled_references(config: Config, store: Store, name: str) -> set[str]:
    """References the gateway reported as settled in the statements of the newest successful run of
    reconciliation ``name`` (read again from the inbox); empty when there is none."""
    recon = recon_config(config, name)
    runs = [r for r in list_runs(store, name, limit=20) if r.status is RunStatus.SUCCEEDED]
    if not runs:
        return set()
    wanted = {f["sha256"] for f in (runs[0].summary or {}).get("files", []) if not f.get("skipped")}
    source = recon.statement.model_copy(
        update={"pattern": recon.statement.pattern.replace("{date}", runs[0].day)}
    )
    refs: set[str] = set()
    for f in list_inbox(source, _base_dir(config)):
        with f:
            if f.sha256() not in wanted:
                continue
            table = read_statement(f.local_path(), source, display_name=f.name)
        for ref, status in zip(
            table.column("reference").to_pylist(), table.column("status").to_pylist(), strict=True
        ):
            if status == "succeeded":
                refs.add(str(ref))
    return refs
