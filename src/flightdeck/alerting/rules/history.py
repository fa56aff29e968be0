"""Reading evidence for rules: new records past the watermark, and a check's recent history to seed
a rule's state."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, func, select

from flightdeck.alerting.rules.base import EvidenceRow
from flightdeck.store.tables import evidence

__all__ = ["read_history", "read_new"]

_COLUMNS = (
    evidence.c.id,
    evidence.c.subject,
    evidence.c.service,
    evidence.c.check_name,
    evidence.c.kind,
    evidence.c.verdict,
    evidence.c.finished_at,
    evidence.c.duration_ms,
    evidence.c.summary,
    evidence.c.measurements,
)
_CHUNK = 500


def read_new(conn: Connection, after: int, limit: int) -> list[EvidenceRow]:
    """Records with id > ``after``, oldest first, at most ``limit``."""
    stmt = select(*_COLUMNS).where(evidence.c.id > after).order_by(evidence.c.id).limit(limit)
    return [EvidenceRow.from_mapping(m) for m in conn.execute(stmt).mappings()]


def read_history(
    conn: Connection, subjects: Sequence[str], before: int, rows: int, since: datetime | None
) -> dict[str, list[EvidenceRow]]:
    """Per subject, oldest first, records with id <= ``before``: the latest ``rows`` of them and
    every one finished after ``since``."""
    found: dict[int, EvidenceRow] = {}
    for i in range(0, len(subjects), _CHUNK):
        chunk = list(subjects[i : i + _CHUNK])
        if rows > 0:
            ranked = (
                select(
                    *_COLUMNS,
                    func.row_number()
                    .over(partition_by=evidence.c.subject, order_by=evidence.c.id.desc())
                    .label("rn"),
                )
                .where(evidence.c.subject.in_(chunk), evidence.c.id <= before)
                .subquery()
            )
            stmt = select(ranked).where(ranked.c.rn <= rows)
            for m in conn.execute(stmt).mappings():
                found[int(m["id"])] = EvidenceRow.from_mapping(m)
        if since is not None:
            stmt2 = select(*_COLUMNS).where(
                evidence.c.subject.in_(chunk), evidence.c.id <= before, evidence.c.finished_at > since
            )
            for m in conn.execute(stmt2).mappings():
                found[int(m["id"])] = EvidenceRow.from_mapping(m)
    out: dict[str, list[EvidenceRow]] = {}
    for row in sorted(found.values(), key=lambda r: r.id):
        out.setdefault(row.subject, []).append(row)
    return out
