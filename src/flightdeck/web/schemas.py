"""What the API returns (and documents in OpenAPI)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, JsonValue, field_validator

from flightdeck.access import ApiToken, Role, TokenState, User
from flightdeck.evidence import Evidence, Verdict
from flightdeck.payments.recon_store import AuditEntry, ExceptionRow, ExceptionStatus, RunRow, RunStatus
from flightdeck.payments.records import Category
from flightdeck.store import CheckStatus
from flightdeck.store.stats import CheckSummary, Series

__all__ = [
    "CheckDetailOut",
    "CheckListOut",
    "CheckOut",
    "ErrorBody",
    "ErrorOut",
    "EvidencePageOut",
    "MeOut",
    "ReconAuditOut",
    "ReconExceptionOut",
    "ReconItemOut",
    "ReconOut",
    "ReconResolveIn",
    "ReconRunDetailOut",
    "ReconRunOut",
    "SeriesOut",
    "SeriesPointOut",
    "ServiceOut",
    "StatsOut",
    "TokenCreatedOut",
    "TokenIn",
    "TokenOut",
    "UserOut",
]


class ErrorBody(BaseModel):
    code: str = Field(description="unauthenticated, forbidden, not_found, invalid, conflict, throttled")
    message: str


class ErrorOut(BaseModel):
    error: ErrorBody


class StatsOut(BaseModel):
    """Uptime as ratios in [0, 1] (null: no runs that were up or down); latency over 24 h."""

    uptime_24h: float | None
    uptime_7d: float | None
    uptime_30d: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    runs_24h: int
    failures_24h: int

    @classmethod
    def of(cls, s: CheckSummary) -> StatsOut:
        return cls(
            uptime_24h=s.uptime_24h,
            uptime_7d=s.uptime_7d,
            uptime_30d=s.uptime_30d,
            latency_p50_ms=s.latency_p50_ms,
            latency_p95_ms=s.latency_p95_ms,
            latency_p99_ms=s.latency_p99_ms,
            runs_24h=s.runs_24h,
            failures_24h=s.failures_24h,
        )


class CheckOut(BaseModel):
    subject: str = Field(description="service/check")
    service: str
    check: str
    kind: str
    enabled: bool
    verdict: Verdict = Field(description="the latest run's verdict; unknown when it never ran")
    last_run_at: datetime | None
    last_duration_ms: float | None
    last_summary: str | None
    verdict_since: datetime | None = Field(description="when the verdict last changed")
    consecutive_failures: int
    last_evidence_id: int | None
    last_failure_evidence_id: int | None
    next_due_at: datetime | None
    stats: StatsOut | None = None

    @classmethod
    def of(cls, s: CheckStatus, summary: CheckSummary | None = None) -> CheckOut:
        return cls(
            subject=s.subject,
            service=s.service,
            check=s.check,
            kind=s.kind,
            enabled=s.enabled,
            verdict=s.verdict,
            last_run_at=s.last_finished_at,
            last_duration_ms=s.last_duration_ms,
            last_summary=s.last_summary,
            verdict_since=s.last_change_at,
            consecutive_failures=s.consecutive_failures,
            last_evidence_id=s.last_evidence_id,
            last_failure_evidence_id=s.last_failure_evidence_id,
            next_due_at=s.next_due_at,
            stats=StatsOut.of(summary) if summary is not None else None,
        )


class CheckDetailOut(CheckOut):
    description: str = ""
    interval_s: float | None = Field(default=None, description="null for cron schedules")
    cron: str | None = None
    timeout_s: float | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    configured: bool = Field(description="false when the check is no longer in the configuration")
    last_failure: Evidence | None = None


class CheckListOut(BaseModel):
    items: list[CheckOut]
    total: int = Field(description="checks matching the filter")
    offset: int
    limit: int
    counts: dict[Verdict, int] = Field(description="checks at each verdict, over every check")


class ServiceOut(BaseModel):
    name: str
    description: str
    url: str | None
    owner: str
    labels: dict[str, str]
    checks: int
    verdict: Verdict = Field(description="the worst current verdict among its checks")
    counts: dict[Verdict, int]


class EvidencePageOut(BaseModel):
    items: list[Evidence]
    next_cursor: int | None = Field(description="pass as cursor= for the next (older) page; null at the end")


class SeriesPointOut(BaseModel):
    start: datetime
    count: int
    mean: float | None
    min: float | None
    max: float | None
    p50: float | None
    p95: float | None
    runs: int
    failures: int = Field(description="fail + error runs in this step")


class SeriesOut(BaseModel):
    subject: str
    measurement: str
    resolution: str = Field(description="raw, minute, hour or day: where the points were read from")
    step_seconds: int
    since: datetime
    until: datetime
    points: list[SeriesPointOut]

    @classmethod
    def of(cls, s: Series) -> SeriesOut:
        return cls(
            subject=s.subject,
            measurement=s.measurement,
            resolution=s.resolution.value,
            step_seconds=s.step_seconds,
            since=s.since,
            until=s.until,
            points=[
                SeriesPointOut(
                    start=p.start,
                    count=p.count,
                    mean=p.mean,
                    min=p.min,
                    max=p.max,
                    p50=p.p50,
                    p95=p.p95,
                    runs=p.verdicts.total,
                    failures=p.verdicts.down,
                )
                for p in s.points
            ],
        )


class MeOut(BaseModel):
    name: str
    role: Role
    method: str = Field(description="session or token")


class UserOut(BaseModel):
    username: str
    role: Role
    created_at: datetime
    disabled_at: datetime | None

    @classmethod
    def of(cls, u: User) -> UserOut:
        return cls(username=u.username, role=u.role, created_at=u.created_at, disabled_at=u.disabled_at)


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str = Field(description="the token's first characters, to tell tokens apart")
    role: Role
    state: TokenState
    created_by: str | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="to the minute")
    revoked_at: datetime | None

    @classmethod
    def of(cls, t: ApiToken, now: datetime) -> TokenOut:
        return cls(
            id=t.id,
            name=t.name,
            prefix=t.prefix,
            role=t.role,
            state=t.state(now),
            created_by=t.created_by,
            created_at=t.created_at,
            expires_at=t.expires_at,
            last_used_at=t.last_used_at,
            revoked_at=t.revoked_at,
        )


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    role: Role = Role.VIEWER
    expires_in: str | None = Field(default=None, description="lifetime such as 90d or 12h; null: never")


class TokenCreatedOut(TokenOut):
    token: str = Field(description="the token itself: shown this once, never again")


class ReconRunOut(BaseModel):
    """A reconciliation run. ``summary`` is the run's summary as recorded (counts and amounts per
    category, input files, currencies); null until the run succeeded."""

    id: int
    recon: str
    day: str = Field(description="the reconciled day, YYYY-MM-DD")
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None
    inputs_digest: str | None
    internal_rows: int | None
    statement_rows: int | None
    summary: dict[str, JsonValue] | None
    error: str | None = Field(description="why the run failed")

    @classmethod
    def of(cls, r: RunRow) -> ReconRunOut:
        return cls(
            id=r.id,
            recon=r.recon,
            day=r.day,
            status=r.status,
            started_at=r.started_at,
            finished_at=r.finished_at,
            inputs_digest=r.inputs_digest,
            internal_rows=r.internal_rows,
            statement_rows=r.statement_rows,
            summary=r.summary,
            error=r.error,
        )


class ReconOut(BaseModel):
    name: str
    service: str
    description: str
    latest_run: ReconRunOut | None
    open_exceptions: int


class ReconItemOut(BaseModel):
    """An exception as a run found it. Amounts are integers in the currency's minor units."""

    fingerprint: str
    category: Category
    reason: str
    refs: dict[str, list[str]] = Field(description="references on each side: internal, statement")
    rows: dict[str, list[JsonValue]] = Field(description="[source, row] of each record on each side")
    currency: str | None
    internal_minor: int | None
    statement_minor: int | None
    difference_minor: int | None
    exception_id: int | None = Field(description="the exception across runs; null if it is gone")
    status: ExceptionStatus | None


class ReconRunDetailOut(ReconRunOut):
    items: list[ReconItemOut]


class ReconExceptionOut(BaseModel):
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

    @classmethod
    def of(cls, e: ExceptionRow) -> ReconExceptionOut:
        return cls(**{f: getattr(e, f) for f in cls.model_fields})


class ReconResolveIn(BaseModel):
    note: str = Field(min_length=1, max_length=4000, description="why: required, kept in the audit trail")
    reopen: bool = Field(default=False, description="reopen a resolved exception instead")

    @field_validator("note")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a note saying why is required")
        return value.strip()


class ReconAuditOut(BaseModel):
    id: int
    exception_id: int
    at: datetime
    actor: str = Field(description="user name, token:NAME, or flightdeck for automatic changes")
    action: str = Field(description="opened, resolved, reopened or cleared")
    note: str | None
    run_id: int | None

    @classmethod
    def of(cls, a: AuditEntry) -> ReconAuditOut:
        return cls(
            id=a.id,
            exception_id=a.exception_id,
            at=a.at,
            actor=a.actor,
            action=a.action,
            note=a.note,
            run_id=a.run_id,
        )
