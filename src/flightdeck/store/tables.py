"""The store's tables (SQLAlchemy Core). Schema changes go through Alembic migrations only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import JSONB

__all__ = [
    "api_tokens",
    "check_state",
    "evidence",
    "leases",
    "metadata",
    "rollup_watermarks",
    "rollups",
    "sessions",
    "users",
]


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        when: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")
BigId = BigInteger().with_variant(Integer(), "sqlite")

naming = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=naming)

# One immutable record per measurement. Rows are only ever inserted; retention deletes raw rows
# past their window after they have been rolled up. Database triggers reject UPDATE.
evidence = Table(
    "evidence",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("subject", String(200), nullable=False),
    Column("service", String(100), nullable=False),
    Column("check_name", String(100), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("producer", String(40), nullable=False, default="check"),
    Column("trigger", String(20), nullable=False),
    Column("config_digest", String(64), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=False),
    Column("verdict", String(10), nullable=False),
    Column("duration_ms", Float, nullable=False),
    Column("summary", String(500), nullable=False, default=""),
    Column("measurements", JSONType, nullable=False),
    Column("detail", JSONType, nullable=False),
    Column("artifacts", JSONType, nullable=False),
    Index("ix_evidence_subject_finished", "subject", "finished_at"),
    Index("ix_evidence_finished", "finished_at"),
    Index("ix_evidence_service_finished", "service", "finished_at"),
)

# One row per configured check: schedule position, lease, and the latest outcome.
check_state = Table(
    "check_state",
    metadata,
    Column("subject", String(200), primary_key=True),
    Column("service", String(100), nullable=False),
    Column("check_name", String(100), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("config_digest", String(64), nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("retired_at", UTCDateTime(), nullable=True),  # removed from the configuration
    Column("next_due_at", UTCDateTime(), nullable=True),
    Column("lease_owner", String(200), nullable=True),
    Column("lease_until", UTCDateTime(), nullable=True),
    Column("last_evidence_id", BigInteger, nullable=True),
    Column("last_verdict", String(10), nullable=True),
    Column("last_started_at", UTCDateTime(), nullable=True),
    Column("last_finished_at", UTCDateTime(), nullable=True),
    Column("last_duration_ms", Float, nullable=True),
    Column("last_summary", String(500), nullable=True),
    Column("last_change_at", UTCDateTime(), nullable=True),  # when the verdict last changed
    Column("last_failure_evidence_id", BigInteger, nullable=True),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("memo", JSONType, nullable=True),  # carried between runs (e.g. counters for rates)
    Index("ix_check_state_next_due", "next_due_at"),
    Index("ix_check_state_service", "service"),
)

# Aggregates per subject and time bucket, at minute / hour / day resolution.
rollups = Table(
    "rollups",
    metadata,
    Column("resolution", String(6), primary_key=True),  # minute | hour | day
    Column("subject", String(200), primary_key=True),
    Column("bucket_start", UTCDateTime(), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("pass_count", Integer, nullable=False),
    Column("warn_count", Integer, nullable=False),
    Column("fail_count", Integer, nullable=False),
    Column("error_count", Integer, nullable=False),
    Column("unknown_count", Integer, nullable=False),
    Column("duration_sum", Float, nullable=False),
    Column("duration_min", Float, nullable=True),
    Column("duration_max", Float, nullable=True),
    Column("latency_sketch", JSONType, nullable=False),  # mergeable log-bucket histogram of duration_ms
    Column("measurements", JSONType, nullable=False),  # {name: {count, sum, min, max, last}}
    Index("ix_rollups_bucket", "resolution", "bucket_start"),
    # SQLite: rows stored in primary-key order (clustered), so a check's buckets are read together.
    sqlite_with_rowid=False,
)

# Everything before rolled_until has been rolled up at that resolution.
rollup_watermarks = Table(
    "rollup_watermarks",
    metadata,
    Column("resolution", String(6), primary_key=True),
    Column("rolled_until", UTCDateTime(), nullable=False),
)

# Named leases for singleton jobs (rollup, retention, later backups and drills), claimed by CAS.
leases = Table(
    "leases",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("owner", String(200), nullable=True),
    Column("acquired_at", UTCDateTime(), nullable=True),
    Column("expires_at", UTCDateTime(), nullable=True),
)

users = Table(
    "users",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("username", String(100), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("role", String(20), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("disabled_at", UTCDateTime(), nullable=True),
)

# Cockpit sessions; the id is the SHA-256 of the cookie value, never the value itself.
sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=False),
)

# API tokens for scripts; only the SHA-256 of the token is stored, plus a short prefix to name it.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    Column("created_by", String(100), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=True),
    Column("last_used_at", UTCDateTime(), nullable=True),
    Column("revoked_at", UTCDateTime(), nullable=True),
)
