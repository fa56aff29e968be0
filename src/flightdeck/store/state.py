"""Per-check state: which checks exist, their latest outcome, and their schedule position."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import JsonValue
from sqlalchemy import Connection, and_, case, insert, or_, select, update

from flightdeck.evidence import NewEvidence, Verdict
from flightdeck.store.tables import check_state

__all__ = ["CheckRow", "CheckStatus", "get_status", "list_statuses", "record_outcome", "sync_checks"]

_FAILING = (Verdict.FAIL.value, Verdict.ERROR.value)


@dataclass(frozen=True)
class CheckRow:
    """What the configuration says about one check, as stored."""

    subject: str
    service: str
    check: str
    kind: str
    config_digest: str
    enabled: bool


@dataclass(frozen=True)
class CheckStatus:
    subject: str
    service: str
    check: str
    kind: str
    enabled: bool
    retired: bool
    next_due_at: datetime | None
    lease_owner: str | None
    last_evidence_id: int | None
    last_verdict: Verdict | None
    last_finished_at: datetime | None
    last_duration_ms: float | None
    last_summary: str | None
    last_change_at: datetime | None
    last_failure_evidence_id: int | None
    consecutive_failures: int
    memo: JsonValue

    @property
    def verdict(self) -> Verdict:
        """The current verdict; a check that has never run is ``unknown``."""
        return self.last_verdict or Verdict.UNKNOWN


def _status(row: Any) -> CheckStatus:
    m = row._mapping
    return CheckStatus(
        subject=m["subject"],
        service=m["service"],
        check=m["check_name"],
        kind=m["kind"],
        enabled=bool(m["enabled"]),
        retired=m["retired_at"] is not None,
        next_due_at=m["next_due_at"],
        lease_owner=m["lease_owner"],
        last_evidence_id=m["last_evidence_id"],
        last_verdict=Verdict(m["last_verdict"]) if m["last_verdict"] else None,
        last_finished_at=m["last_finished_at"],
        last_duration_ms=m["last_duration_ms"],
        last_summary=m["last_summary"],
        last_change_at=m["last_change_at"],
        last_failure_evidence_id=m["last_failure_evidence_id"],
        consecutive_failures=int(m["consecutive_failures"] or 0),
        memo=m["memo"],
    )


def sync_checks(conn: Connection, rows: Sequence[CheckRow], now: datetime) -> None:
    """Make ``check_state`` match the configuration: add new checks, update changed ones, and mark
    removed ones retired (their history stays). Safe to run from several processes at once."""
    existing = {r.subject: r for r in conn.execute(select(check_state)).all()}
    wanted = {r.subject: r for r in rows}
    new = [r for s, r in wanted.items() if s not in existing]
    if new:
        values = [
            {
                "subject": r.subject,
                "service": r.service,
                "check_name": r.check,
                "kind": r.kind,
                "config_digest": r.config_digest,
                "enabled": r.enabled,
                "consecutive_failures": 0,
            }
            for r in new
        ]
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            conn.execute(pg_insert(check_state).on_conflict_do_nothing(index_elements=["subject"]), values)
        elif conn.dialect.name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            conn.execute(
                sqlite_insert(check_state).on_conflict_do_nothing(index_elements=["subject"]), values
            )
        else:
            conn.execute(insert(check_state), values)
    for subject, r in wanted.items():
        old = existing.get(subject)
        if old is None:
            continue
        om = old._mapping
        if (om["config_digest"], om["kind"], bool(om["enabled"]), om["retired_at"]) != (
            r.config_digest,
            r.kind,
            r.enabled,
            None,
        ):
            conn.execute(
                update(check_state)
                .where(check_state.c.subject == subject)
                .values(config_digest=r.config_digest, kind=r.kind, enabled=r.enabled, retired_at=None)
            )
    gone = [s for s, row in existing.items() if s not in wanted and row._mapping["retired_at"] is None]
    if gone:
        conn.execute(update(check_state).where(check_state.c.subject.in_(gone)).values(retired_at=now))


def record_outcome(
    conn: Connection,
    evidence_id: int,
    record: NewEvidence,
    memo: JsonValue = None,
    lease_owner: str | None = None,
    next_due_at: datetime | None = None,
) -> bool:
    """Fold a written evidence record into its check's state.

    With ``lease_owner`` the update is a compare-and-set on the lease (and releases it); returns
    False when the lease was no longer held. A record older than the state's latest is ignored.
    """
    v = record.verdict.value
    failing = v in _FAILING
    values: dict[str, Any] = {
        "last_change_at": case(
            (or_(check_state.c.last_verdict.is_(None), check_state.c.last_verdict != v), record.finished_at),
            else_=check_state.c.last_change_at,
        ),
        "consecutive_failures": (check_state.c.consecutive_failures + 1) if failing else 0,
        "last_evidence_id": evidence_id,
        "last_verdict": v,
        "last_started_at": record.started_at,
        "last_finished_at": record.finished_at,
        "last_duration_ms": record.duration_ms,
        "last_summary": record.summary,
        "memo": memo,
    }
    if failing:
        values["last_failure_evidence_id"] = evidence_id
    where = [check_state.c.subject == record.subject]
    if lease_owner is not None:
        where.append(check_state.c.lease_owner == lease_owner)
        values["lease_owner"] = None
        values["lease_until"] = None
        if next_due_at is not None:
            values["next_due_at"] = next_due_at
    else:
        where.append(
            or_(
                check_state.c.last_finished_at.is_(None), check_state.c.last_finished_at <= record.finished_at
            )
        )
    result = conn.execute(update(check_state).where(and_(*where)).values(**values))
    return result.rowcount == 1


def get_status(conn: Connection, subject: str) -> CheckStatus | None:
    row = conn.execute(select(check_state).where(check_state.c.subject == subject)).first()
    return _status(row) if row is not None else None


def list_statuses(
    conn: Connection,
    service: str | None = None,
    include_retired: bool = False,
    subjects: Iterable[str] | None = None,
) -> list[CheckStatus]:
    stmt = select(check_state).order_by(check_state.c.service, check_state.c.check_name)
    if service is not None:
        stmt = stmt.where(check_state.c.service == service)
    if not include_retired:
        stmt = stmt.where(check_state.c.retired_at.is_(None))
    if subjects is not None:
        stmt = stmt.where(check_state.c.subject.in_(list(subjects)))
    return [_status(r) for r in conn.execute(stmt).all()]
