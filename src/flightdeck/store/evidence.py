"""Writing and reading evidence records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, func, insert, select

from flightdeck.errors import NotFoundError
from flightdeck.evidence import Artifact, Evidence, Measurement, NewEvidence, Trigger, Verdict
from flightdeck.store.tables import evidence

__all__ = [
    "EvidenceFilter",
    "EvidencePage",
    "count_evidence",
    "get_evidence",
    "insert_evidence",
    "list_evidence",
    "row_to_evidence",
]


def _row(record: NewEvidence) -> dict[str, Any]:
    return {
        "subject": record.subject,
        "service": record.service,
        "check_name": record.check,
        "kind": record.kind,
        "producer": record.producer,
        "trigger": record.trigger.value,
        "config_digest": record.config_digest,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "verdict": record.verdict.value,
        "duration_ms": record.duration_ms,
        "summary": record.summary,
        "measurements": [m.model_dump(mode="json") for m in record.measurements],
        "detail": record.detail,
        "artifacts": [a.model_dump(mode="json") for a in record.artifacts],
    }


def insert_evidence(conn: Connection, records: Sequence[NewEvidence]) -> list[int]:
    """Insert records in one statement; returns their ids in order."""
    if not records:
        return []
    if len(records) == 1:
        result = conn.execute(insert(evidence).returning(evidence.c.id), [_row(records[0])])
        return [int(result.scalar_one())]
    result = conn.execute(
        insert(evidence).returning(evidence.c.id, sort_by_parameter_order=True), [_row(r) for r in records]
    )
    return [int(i) for i in result.scalars().all()]


def row_to_evidence(row: Any) -> Evidence:
    m = row._mapping
    return Evidence(
        id=int(m["id"]),
        subject=m["subject"],
        service=m["service"],
        check=m["check_name"],
        kind=m["kind"],
        producer=m["producer"],
        trigger=Trigger(m["trigger"]),
        config_digest=m["config_digest"],
        started_at=m["started_at"],
        finished_at=m["finished_at"],
        verdict=Verdict(m["verdict"]),
        duration_ms=float(m["duration_ms"]),
        summary=m["summary"],
        measurements=tuple(Measurement.model_validate(x) for x in m["measurements"] or ()),
        detail=m["detail"] or {},
        artifacts=tuple(Artifact.model_validate(x) for x in m["artifacts"] or ()),
    )


def get_evidence(conn: Connection, evidence_id: int) -> Evidence:
    row = conn.execute(select(evidence).where(evidence.c.id == evidence_id)).first()
    if row is None:
        raise NotFoundError(f"no evidence record {evidence_id}")
    return row_to_evidence(row)


@dataclass(frozen=True)
class EvidenceFilter:
    service: str | None = None
    subject: str | None = None
    kind: str | None = None
    verdicts: tuple[Verdict, ...] = ()
    trigger: Trigger | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class EvidencePage:
    items: list[Evidence] = field(default_factory=list)
    next_cursor: int | None = None  # pass as ``before_id`` for the next (older) page


def _filtered(stmt: Select[Any], f: EvidenceFilter) -> Select[Any]:
    if f.service:
        stmt = stmt.where(evidence.c.service == f.service)
    if f.subject:
        stmt = stmt.where(evidence.c.subject == f.subject)
    if f.kind:
        stmt = stmt.where(evidence.c.kind == f.kind)
    if f.verdicts:
        stmt = stmt.where(evidence.c.verdict.in_([v.value for v in f.verdicts]))
    if f.trigger:
        stmt = stmt.where(evidence.c.trigger == f.trigger.value)
    if f.since:
        stmt = stmt.where(evidence.c.finished_at >= f.since)
    if f.until:
        stmt = stmt.where(evidence.c.finished_at < f.until)
    return stmt


def list_evidence(
    conn: Connection, f: EvidenceFilter | None = None, limit: int = 50, before_id: int | None = None
) -> EvidencePage:
    """Newest first, keyset-paged by id."""
    f = f or EvidenceFilter()
    limit = max(1, min(limit, 1000))
    stmt = _filtered(select(evidence), f).order_by(evidence.c.id.desc()).limit(limit + 1)
    if before_id is not None:
        stmt = stmt.where(evidence.c.id < before_id)
    rows = conn.execute(stmt).all()
    items = [row_to_evidence(r) for r in rows[:limit]]
    return EvidencePage(items=items, next_cursor=items[-1].id if len(rows) > limit and items else None)


def count_evidence(conn: Connection, f: EvidenceFilter | None = None) -> int:
    return int(
        conn.execute(
            _filtered(select(func.count()).select_from(evidence), f or EvidenceFilter())
        ).scalar_one()
    )
