"""Drill results for the DR report and cockpit tests, built directly (what the drill records), and
a helper that stores one as a ``dr_drill`` evidence record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flightdeck.backups.drill_result import (
    DRILL_DETAIL_KEY,
    DrillResult,
    DrillStep,
    Phase,
    StepStatus,
    Verification,
    VerificationKind,
)
from flightdeck.evidence import Artifact, NewEvidence, Trigger, Verdict
from flightdeck.store import Store, insert_evidence

START = datetime(2026, 11, 23, 3, 30, tzinfo=UTC)
BACKUP_AT = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
INVARIANT_SQL = (
    "SELECT account, sum(debit) - sum(credit) AS diff FROM ledger GROUP BY account "
    "HAVING sum(debit) <> sum(credit)"
)


def _step(
    name: str,
    phase: Phase | None,
    at: datetime,
    seconds: float,
    status: StepStatus = StepStatus.PASSED,
    message: str = "",
) -> DrillStep:
    return DrillStep(
        name=name,
        phase=phase,
        started_at=at,
        finished_at=at + timedelta(seconds=seconds),
        seconds=seconds,
        status=status,
        message=message,
    )


def drill(
    *,
    name: str = "payments-dr",
    started: datetime = START,
    outcome: str = "passed",
    restore_seconds: float = 150.0,
    source: str = "backup@db.internal:5432/payments",
) -> DrillResult:
    """``outcome``: ``passed`` (RTO 30 + 20 + restore + 52 s of a 1 h target), ``invariant`` (a
    ledger invariant returned a row) or ``restore`` (the restore failed: no RTO)."""
    steps = [
        _step("select backup", None, started, 0.2),
        _step("fetch and verify checksum", Phase.FETCH, started, 30.0),
        _step("decode", Phase.DECODE, started + timedelta(seconds=30), 20.0),
    ]
    phases = {Phase.FETCH: 30.0, Phase.DECODE: 20.0}
    verifications: list[Verification] = []
    failures: list[str] = []
    rto: float | None = None
    if outcome == "restore":
        steps.append(
            _step(
                "restore into the scratch database",
                Phase.RESTORE,
                started + timedelta(seconds=50),
                12.0,
                status=StepStatus.FAILED,
                message="pg_restore: error: could not execute query: relation already exists",
            )
        )
        failures.append("pg_restore exited with status 1")
    else:
        at = started + timedelta(seconds=50)
        steps.append(_step("restore into the scratch database", Phase.RESTORE, at, restore_seconds))
        steps.append(_step("verify", Phase.VERIFY, at + timedelta(seconds=restore_seconds), 52.0))
        phases.update({Phase.RESTORE: restore_seconds, Phase.VERIFY: 52.0})
        rto = 30.0 + 20.0 + restore_seconds + 52.0
        bad = outcome == "invariant"
        verifications = [
            Verification(
                kind=VerificationKind.ROW_COUNTS,
                name="table public.wallets",
                status=StepStatus.PASSED,
                expected="1200",
                actual="1200",
            ),
            Verification(
                kind=VerificationKind.INVARIANT,
                name="ledger debits = credits",
                status=StepStatus.FAILED if bad else StepStatus.PASSED,
                query=INVARIANT_SQL,
                result=[{"account": "acc-7731", "diff": 1250}] if bad else [],
                message="1 row returned" if bad else "",
            ),
        ]
        if bad:
            failures.append("invariant “ledger debits = credits” returned 1 row")
    restored = outcome != "restore"
    return DrillResult(
        drill=name,
        service="payments",
        backup_name="payments-db",
        backup_id="20261123T030000Z-ab12cd",
        backup_sha256="5e" * 32,
        backup_started_at=BACKUP_AT - timedelta(seconds=40),
        backup_finished_at=BACKUP_AT,
        manifest={
            "table_counts": {"public.wallets": 1200, "public.ledger": 48113},
            "consistent_point": {"lsn": "0/16B3748"},
            "artifacts": [{"name": "data", "size_bytes": 734003, "sha256": "5e" * 32}],
            "source": source,
        },
        engine="postgres",
        source=source,
        scratch="postgres@127.0.0.1:5432/flightdeck_drill_1",
        storage="local /var/backups/flightdeck",
        tool_versions={"pg_dump": "pg_dump (PostgreSQL) 16.4", "pg_restore": "pg_restore (PostgreSQL) 16.4"},
        operator="scheduler",
        trigger="schedule",
        started_at=started,
        finished_at=steps[-1].finished_at,
        steps=steps,
        phases=phases,
        rto_seconds=rto,
        rto_target_seconds=3600.0,
        rpo_seconds=1900.0 if restored else None,
        rpo_target_seconds=3600.0,
        rpo_column="ledger.created_at",
        newest_restored_at=started - timedelta(minutes=31) if restored else None,
        verifications=verifications,
        passed=outcome == "passed",
        failures=failures,
    )


def store_drill(store: Store, result: DrillResult, artifacts: tuple[Artifact, ...] = ()) -> int:
    """Insert ``result`` as its drill's ``dr_drill`` evidence record; returns the record's id."""
    record = NewEvidence(
        subject=f"{result.service}/drill:{result.drill}",
        service=result.service,
        check=f"drill:{result.drill}",
        kind="dr_drill",
        producer="job",
        trigger=Trigger.SCHEDULE,
        config_digest="d" * 64,
        started_at=result.started_at,
        finished_at=result.finished_at,
        verdict=Verdict.PASS if result.passed else Verdict.FAIL,
        duration_ms=(result.finished_at - result.started_at).total_seconds() * 1000,
        summary="drill passed" if result.passed else "; ".join(result.failures),
        detail={DRILL_DETAIL_KEY: result.model_dump(mode="json")},
        artifacts=artifacts,
    )
    with store.engine.begin() as conn:
        (evidence_id,) = insert_evidence(conn, [record])
    return evidence_id
