"""Reconciliation records in the flightdeck store: runs, the exceptions each run found, exceptions
across runs (with their resolution) and the audit trail of every change.

Lifecycle, so nothing is ever half-reported:

1. :func:`start_run` writes a ``running`` row before any work starts.
2. :func:`finish_run` writes the run's items, folds them into ``recon_exceptions`` and marks the run
   ``succeeded`` in one transaction. A crash before that leaves the run ``running``;
   :func:`fail_run` marks it ``failed`` with the reason when flightdeck is still alive to do so.

Exceptions are keyed by ``(recon, fingerprint)``: re-running a day with the same inputs finds the
same fingerprints and creates nothing new. An exception a later run of the *same day* no longer finds
(a late statement arrived) is resolved automatically, with a note naming the run. A resolution by a
person carries over to later runs that still find the exception.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import JsonValue
from sqlalchemy import Connection, and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from flightdeck.errors import NotFoundError
from flightdeck.payments.errors import ReconError
from flightdeck.payments.records import Category
from flightdeck.store import Store
from flightdeck.store.tables import recon_audit, recon_exceptions, recon_items, recon_runs, statement_files

__all__ = [
    "AuditEntry",
    "ExceptionRow",
    "ExceptionStatus",
    "ItemRow",
    "RunRow",
    "RunStatus",
    "StoredFile",
    "audit_trail",
    "count_open",
    "count_open_in_run",
    "fail_run",
    "finish_run",
    "get_exception",
    "get_run",
    "known_files",
    "list_exceptions",
    "list_runs",
    "resolve_exception",
    "run_items",
    "start_run",
]

SYSTEM_ACTOR = "flightdeck"


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ExceptionStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class AuditAction(enum.StrEnum):
    OPENED = "opened"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    CLEARED = "cleared"  # resolved by flightdeck: a later run of the same day no longer finds it


@dataclass(frozen=True)
class RunRow:
    id: int
    recon: str
    day: str
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None
    inputs_digest: str | None
    internal_rows: int | None
    statement_rows: int | None
    summary: dict[str, Any] | None
    error: str | None


@dataclass(frozen=True)
class ItemRow:
    """One exception as a run found it (the shape :func:`finish_run` takes and :func:`run_items` gives)."""

    fingerprint: str
    category: Category
    reason: str
    refs: dict[str, list[str]]
    rows: dict[str, list[JsonValue]]
    currency: str | None
    internal_minor: int | None
    statement_minor: int | None
    difference_minor: int | None


@dataclass(frozen=True)
class ExceptionRow:
    id: int
    recon: str
    fingerprint: str
    day: str
    category: Category
    reason: str
    refs: dict[str, list[str]]
    currency: str | None
    difference_minor: int | None
    status: ExceptionStatus
    first_run_id: int
    last_run_id: int
    resolved_at: datetime | None
    resolved_by: str | None
    note: str | None


@dataclass(frozen=True)
class AuditEntry:
    id: int
    exception_id: int
    at: datetime
    actor: str
    action: str
    note: str | None
    run_id: int | None


@dataclass(frozen=True)
class StoredFile:
    """A statement file a run has read: by checksum, so the same file dropped twice is recognised."""

    name: str
    sha256: str
    size_bytes: int
    rows: int
    day: str | None  # the day of the run that first read it


def _run(row: Any) -> RunRow:
    m = row._mapping
    return RunRow(
        id=int(m["id"]),
        recon=m["recon"],
        day=m["day"],
        status=RunStatus(m["status"]),
        started_at=m["started_at"],
        finished_at=m["finished_at"],
        inputs_digest=m["inputs_digest"],
        internal_rows=m["internal_rows"],
        statement_rows=m["statement_rows"],
        summary=m["summary"],
        error=m["error"],
    )


def _exception(row: Any) -> ExceptionRow:
    m = row._mapping
    return ExceptionRow(
        id=int(m["id"]),
        recon=m["recon"],
        fingerprint=m["fingerprint"],
        day=m["day"],
        category=Category(m["category"]),
        reason=m["reason"],
        refs=m["refs"],
        currency=m["currency"],
        difference_minor=m["difference_minor"],
        status=ExceptionStatus(m["status"]),
        first_run_id=int(m["first_run_id"]),
        last_run_id=int(m["last_run_id"]),
        resolved_at=m["resolved_at"],
        resolved_by=m["resolved_by"],
        note=m["note"],
    )


def start_run(store: Store, recon: str, day: date, node: str | None = None) -> int:
    with store.engine.begin() as conn:
        result = conn.execute(
            insert(recon_runs).returning(recon_runs.c.id),
            [
                {
                    "recon": recon,
                    "day": day.isoformat(),
                    "status": RunStatus.RUNNING.value,
                    "started_at": store.clock.now(),
                    "node": node,
                }
            ],
        )
        return int(result.scalar_one())


def fail_run(store: Store, run_id: int, error: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            update(recon_runs)
            .where(and_(recon_runs.c.id == run_id, recon_runs.c.status == RunStatus.RUNNING.value))
            .values(status=RunStatus.FAILED.value, finished_at=store.clock.now(), error=error[:4000])
        )


def known_files(store: Store, recon: str, sha256s: Sequence[str]) -> dict[str, StoredFile]:
    """The files among ``sha256s`` some earlier run of ``recon`` already read, by checksum."""
    if not sha256s:
        return {}
    stmt = (
        select(statement_files, recon_runs.c.day)
        .select_from(statement_files.outerjoin(recon_runs, recon_runs.c.id == statement_files.c.first_run_id))
        .where(statement_files.c.recon == recon, statement_files.c.sha256.in_(list(sha256s)))
    )
    with store.engine.connect() as conn:
        return {
            r.sha256: StoredFile(r.name, r.sha256, int(r.size_bytes), int(r.rows), r.day)
            for r in conn.execute(stmt)
        }


def _insert_files(
    conn: Connection, recon: str, run_id: int, files: Sequence[StoredFile], now: datetime
) -> None:
    for f in files:
        exists = conn.execute(
            select(statement_files.c.id).where(
                statement_files.c.recon == recon, statement_files.c.sha256 == f.sha256
            )
        ).first()
        if exists is None:
            with contextlib.suppress(IntegrityError), conn.begin_nested():
                # A concurrent run recording the same file first is fine: the file is known either way.
                conn.execute(
                    insert(statement_files).values(
                        recon=recon,
                        name=f.name,
                        sha256=f.sha256,
                        size_bytes=f.size_bytes,
                        rows=f.rows,
                        first_run_id=run_id,
                        ingested_at=now,
                    )
                )


def _audit(
    conn: Connection,
    exception_id: int,
    now: datetime,
    actor: str,
    action: AuditAction,
    note: str | None,
    run_id: int | None,
) -> None:
    conn.execute(
        insert(recon_audit).values(
            exception_id=exception_id, at=now, actor=actor, action=action.value, note=note, run_id=run_id
        )
    )


def _upsert_exception(
    conn: Connection, recon: str, day: str, run_id: int, item: ItemRow, now: datetime
) -> bool:
    """Record one exception; True when it is new. Safe against a concurrent run inserting it too."""
    where = and_(recon_exceptions.c.recon == recon, recon_exceptions.c.fingerprint == item.fingerprint)
    existing = conn.execute(select(recon_exceptions.c.id).where(where)).first()
    if existing is None:
        try:
            with conn.begin_nested():
                new_id = conn.execute(
                    insert(recon_exceptions)
                    .returning(recon_exceptions.c.id)
                    .values(
                        recon=recon,
                        fingerprint=item.fingerprint,
                        day=day,
                        category=item.category.value,
                        reason=item.reason,
                        refs=item.refs,
                        currency=item.currency,
                        difference_minor=item.difference_minor,
                        status=ExceptionStatus.OPEN.value,
                        first_run_id=run_id,
                        last_run_id=run_id,
                    )
                ).scalar_one()
        except IntegrityError:
            pass  # another run inserted it between our select and insert: fall through to update
        else:
            _audit(conn, int(new_id), now, SYSTEM_ACTOR, AuditAction.OPENED, item.reason, run_id)
            return True
    conn.execute(update(recon_exceptions).where(where).values(last_run_id=run_id))
    # Cleared by flightdeck because an earlier run of the day no longer found it, and found again:
    # open again (a person's resolution, with its note, stands).
    reopened = conn.execute(
        update(recon_exceptions)
        .where(
            where,
            recon_exceptions.c.status == ExceptionStatus.RESOLVED.value,
            recon_exceptions.c.resolved_by == SYSTEM_ACTOR,
        )
        .values(status=ExceptionStatus.OPEN.value, resolved_at=None, resolved_by=None, note=None)
        .returning(recon_exceptions.c.id)
    ).first()
    if reopened is not None:
        _audit(
            conn,
            int(reopened.id),
            now,
            SYSTEM_ACTOR,
            AuditAction.REOPENED,
            f"found again by run {run_id}",
            run_id,
        )
    return False


def finish_run(
    store: Store,
    run_id: int,
    *,
    inputs_digest: str,
    internal_rows: int,
    statement_rows: int,
    summary: dict[str, Any],
    items: Sequence[ItemRow],
    files: Sequence[StoredFile],
) -> int:
    """Store a run's result in one transaction; returns how many exceptions are new."""
    now = store.clock.now()
    with store.engine.begin() as conn:
        run = conn.execute(select(recon_runs).where(recon_runs.c.id == run_id)).first()
        if run is None or run.status != RunStatus.RUNNING.value:
            raise ReconError(f"reconciliation run {run_id} is not running (marked failed meanwhile?)")
        recon, day = run.recon, run.day
        _insert_files(conn, recon, run_id, files, now)
        if items:
            conn.execute(
                insert(recon_items),
                [
                    {
                        "run_id": run_id,
                        "fingerprint": i.fingerprint,
                        "category": i.category.value,
                        "reason": i.reason,
                        "refs": i.refs,
                        "rows": i.rows,
                        "currency": i.currency,
                        "internal_minor": i.internal_minor,
                        "statement_minor": i.statement_minor,
                        "difference_minor": i.difference_minor,
                    }
                    for i in items
                ],
            )
        new = sum(_upsert_exception(conn, recon, day, run_id, i, now) for i in items)
        found = {i.fingerprint for i in items}
        stale = conn.execute(
            select(recon_exceptions.c.id, recon_exceptions.c.fingerprint).where(
                recon_exceptions.c.recon == recon,
                recon_exceptions.c.day == day,
                recon_exceptions.c.status == ExceptionStatus.OPEN.value,
            )
        ).all()
        for exc_id, fingerprint in stale:
            if fingerprint in found:
                continue
            conn.execute(
                update(recon_exceptions)
                .where(recon_exceptions.c.id == exc_id)
                .values(
                    status=ExceptionStatus.RESOLVED.value,
                    resolved_at=now,
                    resolved_by=SYSTEM_ACTOR,
                    note=f"no longer found by run {run_id}",
                )
            )
            _audit(
                conn,
                int(exc_id),
                now,
                SYSTEM_ACTOR,
                AuditAction.CLEARED,
                f"no longer found by run {run_id}",
                run_id,
            )
        conn.execute(
            update(recon_runs)
            .where(recon_runs.c.id == run_id)
            .values(
                status=RunStatus.SUCCEEDED.value,
                finished_at=now,
                inputs_digest=inputs_digest,
                internal_rows=internal_rows,
                statement_rows=statement_rows,
                summary=summary,
            )
        )
    return new


def get_run(store: Store, run_id: int) -> RunRow:
    with store.engine.connect() as conn:
        row = conn.execute(select(recon_runs).where(recon_runs.c.id == run_id)).first()
    if row is None:
        raise NotFoundError(f"no reconciliation run {run_id}")
    return _run(row)


def list_runs(store: Store, recon: str | None = None, limit: int = 50) -> list[RunRow]:
    stmt = select(recon_runs).order_by(recon_runs.c.id.desc()).limit(limit)
    if recon is not None:
        stmt = stmt.where(recon_runs.c.recon == recon)
    with store.engine.connect() as conn:
        return [_run(r) for r in conn.execute(stmt)]


def run_items(store: Store, run_id: int) -> list[ItemRow]:
    stmt = select(recon_items).where(recon_items.c.run_id == run_id).order_by(recon_items.c.id)
    with store.engine.connect() as conn:
        return [
            ItemRow(
                fingerprint=r.fingerprint,
                category=Category(r.category),
                reason=r.reason,
                refs=r.refs,
                rows=r.rows,
                currency=r.currency,
                internal_minor=r.internal_minor,
                statement_minor=r.statement_minor,
                difference_minor=r.difference_minor,
            )
            for r in conn.execute(stmt)
        ]


def list_exceptions(
    store: Store,
    recon: str | None = None,
    status: ExceptionStatus | None = None,
    fingerprints: Sequence[str] | None = None,
    limit: int = 500,
) -> list[ExceptionRow]:
    stmt = select(recon_exceptions).order_by(recon_exceptions.c.id.desc()).limit(limit)
    if recon is not None:
        stmt = stmt.where(recon_exceptions.c.recon == recon)
    if status is not None:
        stmt = stmt.where(recon_exceptions.c.status == status.value)
    if fingerprints is not None:
        stmt = stmt.where(recon_exceptions.c.fingerprint.in_(list(fingerprints)))
    with store.engine.connect() as conn:
        return [_exception(r) for r in conn.execute(stmt)]


def count_open(store: Store, recon: str) -> int:
    stmt = select(func.count()).where(
        recon_exceptions.c.recon == recon, recon_exceptions.c.status == ExceptionStatus.OPEN.value
    )
    with store.engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def count_open_in_run(store: Store, run_id: int) -> int:
    """Open exceptions among those run ``run_id`` found (one query, whatever their number)."""
    found = select(recon_items.c.fingerprint).where(recon_items.c.run_id == run_id)
    run_recon = select(recon_runs.c.recon).where(recon_runs.c.id == run_id).scalar_subquery()
    stmt = select(func.count()).where(
        recon_exceptions.c.recon == run_recon,
        recon_exceptions.c.status == ExceptionStatus.OPEN.value,
        recon_exceptions.c.fingerprint.in_(found),
    )
    with store.engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def get_exception(store: Store, exception_id: int) -> ExceptionRow:
    with store.engine.connect() as conn:
        row = conn.execute(select(recon_exceptions).where(recon_exceptions.c.id == exception_id)).first()
    if row is None:
        raise NotFoundError(f"no reconciliation exception {exception_id}")
    return _exception(row)


def resolve_exception(
    store: Store, exception_id: int, actor: str, note: str, *, reopen: bool = False
) -> ExceptionRow:
    """Resolve (or reopen) an exception with a note; compare-and-set on its status, audited.

    Raises :class:`NotFoundError` for an unknown id and :class:`ReconError` when it is already in
    the wanted state (someone else got there first).
    """
    if not note.strip():
        raise ReconError("a resolution needs a note saying why")
    old, new = (
        (ExceptionStatus.RESOLVED, ExceptionStatus.OPEN)
        if reopen
        else (ExceptionStatus.OPEN, ExceptionStatus.RESOLVED)
    )
    now = store.clock.now()
    with store.engine.begin() as conn:
        values: dict[str, Any] = {"status": new.value, "note": note}
        values.update(
            {"resolved_at": None, "resolved_by": None}
            if reopen
            else {"resolved_at": now, "resolved_by": actor}
        )
        changed = conn.execute(
            update(recon_exceptions)
            .where(recon_exceptions.c.id == exception_id, recon_exceptions.c.status == old.value)
            .values(**values)
        ).rowcount
        if changed != 1:
            exists = conn.execute(
                select(recon_exceptions.c.status).where(recon_exceptions.c.id == exception_id)
            ).first()
            if exists is None:
                raise NotFoundError(f"no reconciliation exception {exception_id}")
            raise ReconError(f"exception {exception_id} is already {exists.status}")
        _audit(
            conn,
            exception_id,
            now,
            actor,
            AuditAction.REOPENED if reopen else AuditAction.RESOLVED,
            note,
            None,
        )
    return get_exception(store, exception_id)


def audit_trail(
    store: Store, exception_id: int | None = None, recon: str | None = None, limit: int = 500
) -> list[AuditEntry]:
    stmt = select(recon_audit).order_by(recon_audit.c.id.desc()).limit(limit)
    if exception_id is not None:
        stmt = stmt.where(recon_audit.c.exception_id == exception_id)
    if recon is not None:
        stmt = stmt.join(recon_exceptions, recon_exceptions.c.id == recon_audit.c.exception_id).where(
            recon_exceptions.c.recon == recon
        )
    with store.engine.connect() as conn:
        return [
            AuditEntry(int(r.id), int(r.exception_id), r.at, r.actor, r.action, r.note, r.run_id)
            for r in conn.execute(stmt)
        ]
