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
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

__all__ = [
    "alerting_cursors",
    "alerts",
    "api_tokens",
    "check_state",
    "evidence",
    "incident_events",
    "incidents",
    "leases",
    "ledger_chain",
    "ledger_checkpoints",
    "metadata",
    "outbox",
    "recon_audit",
    "recon_exceptions",
    "recon_items",
    "recon_runs",
    "rollup_watermarks",
    "rollups",
    "sessions",
    "silences",
    "statement_files",
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


# -- payment integrity ------------------------------------------------------------------------------

# One row per statement file a reconciliation has read, so a file dropped twice (same SHA-256) is
# recognised and never counted twice.
statement_files = Table(
    "statement_files",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("recon", String(100), nullable=False),
    Column("name", String(500), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("first_run_id", BigInteger, nullable=True),
    Column("ingested_at", UTCDateTime(), nullable=False),
    Index("uq_statement_files_recon_sha256", "recon", "sha256", unique=True),
)

# One row per reconciliation run; written "running" before the work starts, so a crash leaves a
# visible failed-to-finish run, never a silent gap.
recon_runs = Table(
    "recon_runs",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("recon", String(100), nullable=False),
    Column("day", String(10), nullable=False),  # YYYY-MM-DD, the reconciled business day
    Column("status", String(20), nullable=False),  # running | succeeded | failed
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("inputs_digest", String(64), nullable=True),
    Column("internal_rows", BigInteger, nullable=True),
    Column("statement_rows", BigInteger, nullable=True),
    Column("summary", JSONType, nullable=True),  # counts and amounts per category and currency
    Column("error", Text, nullable=True),
    Column("evidence_id", BigInteger, nullable=True),
    Column("node", String(200), nullable=True),
    Index("ix_recon_runs_recon_started", "recon", "started_at"),
)

# The exceptions one run found (matched items are only counted, in the run's summary).
recon_items = Table(
    "recon_items",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("run_id", BigInteger, ForeignKey("recon_runs.id", ondelete="CASCADE"), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("category", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("refs", JSONType, nullable=False),  # {"internal": [...], "statement": [...]} references
    Column("rows", JSONType, nullable=False),  # {"internal": [...], "statement": [...]} source rows
    Column("currency", String(3), nullable=True),
    Column("internal_minor", BigInteger, nullable=True),
    Column("statement_minor", BigInteger, nullable=True),
    Column("difference_minor", BigInteger, nullable=True),
    Index("ix_recon_items_run", "run_id"),
)

# Exceptions across runs, one per fingerprint: re-running a day never duplicates them, and a
# resolution (with its note) carries over.
recon_exceptions = Table(
    "recon_exceptions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("recon", String(100), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("day", String(10), nullable=False),
    Column("category", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("refs", JSONType, nullable=False),
    Column("currency", String(3), nullable=True),
    Column("difference_minor", BigInteger, nullable=True),
    Column("status", String(20), nullable=False),  # open | resolved
    Column("first_run_id", BigInteger, nullable=False),
    Column("last_run_id", BigInteger, nullable=False),
    Column("resolved_at", UTCDateTime(), nullable=True),
    Column("resolved_by", String(100), nullable=True),
    Column("note", Text, nullable=True),
    Index("uq_recon_exceptions_recon_fingerprint", "recon", "fingerprint", unique=True),
    Index("ix_recon_exceptions_recon_status", "recon", "status"),
)

# Every change to an exception: opened, resolved (with note), reopened. Append-only.
recon_audit = Table(
    "recon_audit",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("exception_id", BigInteger, ForeignKey("recon_exceptions.id", ondelete="CASCADE"), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(20), nullable=False),
    Column("note", Text, nullable=True),
    Column("run_id", BigInteger, nullable=True),
    Index("ix_recon_audit_exception", "exception_id"),
)

# The hash chain flightdeck keeps over a ledger table: one link per ledger row, in key order.
ledger_chain = Table(
    "ledger_chain",
    metadata,
    Column("ledger", String(100), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("row_key", String(200), nullable=False),
    Column("row_hash", String(64), nullable=False),
    Column("chain_hash", String(64), nullable=False),
    Index("uq_ledger_chain_ledger_row_key", "ledger", "row_key", unique=True),
)

# Signed checkpoints of a ledger's chain (also exported outside the database).
ledger_checkpoints = Table(
    "ledger_checkpoints",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("ledger", String(100), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("chain_hash", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("signature", Text, nullable=False),
    Column("exported_uri", Text, nullable=True),
    Index("ix_ledger_checkpoints_ledger_seq", "ledger", "seq"),
)


# -- alerting -------------------------------------------------------------------------------------

# One row per alert episode: it fires (or waits, pending a rule's ``for``), then resolves. At most one
# active (pending or firing) row per fingerprint. Every change bumps ``version`` and sets ``dirty``; the
# router takes dirty rows, groups them into incidents, and clears ``dirty`` by compare-and-set on
# ``version``.
alerts = Table(
    "alerts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("fingerprint", String(64), nullable=False),
    Column("source", String(20), nullable=False),  # rule | alertmanager | event
    Column("rule", String(200), nullable=False),  # the rule name (alertname)
    Column("severity", String(10), nullable=False),
    Column("service", String(100), nullable=False, default=""),
    Column("labels", JSONType, nullable=False),
    Column("annotations", JSONType, nullable=False),
    Column("summary", String(500), nullable=False, default=""),
    Column("runbook", Text, nullable=True),
    Column("state", String(10), nullable=False),  # pending | firing | resolved
    Column("value", Float, nullable=True),
    Column("evidence_id", BigInteger, nullable=True),
    Column("started_at", UTCDateTime(), nullable=False),  # first seen (pending or firing)
    Column("fired_at", UTCDateTime(), nullable=True),
    Column("last_seen_at", UTCDateTime(), nullable=False),
    Column("ends_at", UTCDateTime(), nullable=True),  # resolves by itself unless seen again (intake)
    Column("resolved_at", UTCDateTime(), nullable=True),
    Column("suppressed", String(20), nullable=True),  # silenced | inhibited | maintenance
    Column("suppressed_by", String(200), nullable=True),
    Column("incident_id", BigInteger, nullable=True),
    Column("version", Integer, nullable=False, default=1),
    Column("dirty", Boolean, nullable=False, default=True),
    Index(
        "uq_alerts_active_fingerprint",
        "fingerprint",
        unique=True,
        sqlite_where=text("state <> 'resolved'"),
        postgresql_where=text("state <> 'resolved'"),
    ),
    Index("ix_alerts_state", "state"),
    Index("ix_alerts_dirty", "dirty"),
    Index("ix_alerts_incident", "incident_id"),
)

# Incidents: a group of alerts (equal group_by labels) with one lifecycle, triggered → acknowledged →
# resolved. At most one open incident per group key.
incidents = Table(
    "incidents",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("group_key", String(64), nullable=False),
    Column("group_labels", JSONType, nullable=False),
    Column("title", String(500), nullable=False),
    Column("service", String(100), nullable=False, default=""),
    Column("severity", String(10), nullable=False),
    Column("status", String(20), nullable=False),  # triggered | acknowledged | resolved
    Column("policy", String(100), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("acknowledged_at", UTCDateTime(), nullable=True),
    Column("acknowledged_by", String(100), nullable=True),
    Column("resolved_at", UTCDateTime(), nullable=True),
    Column("resolved_by", String(100), nullable=True),
    Column("escalation_level", Integer, nullable=False, default=0),
    Column("escalation_round", Integer, nullable=False, default=0),
    Column("next_escalation_at", UTCDateTime(), nullable=True),
    Column("notify_at", UTCDateTime(), nullable=True),  # next group notification (wait/interval/repeat)
    Column("last_notified_at", UTCDateTime(), nullable=True),
    Column("notified", JSONType, nullable=False),  # {fingerprint: state} as of the last notification
    Column("announce", String(20), nullable=True),  # acknowledge | resolve: an update the router owes
    Column("version", Integer, nullable=False, default=1),
    Index(
        "uq_incidents_open_group_key",
        "group_key",
        unique=True,
        sqlite_where=text("status <> 'resolved'"),
        postgresql_where=text("status <> 'resolved'"),
    ),
    Index("ix_incidents_status", "status"),
    Index("ix_incidents_created", "created_at"),
    Index("ix_incidents_service_created", "service", "created_at"),
)

# An incident's timeline: every alert, notification attempt and outcome, escalation, ack, comment and
# resolve. Append-only.
incident_events = Table(
    "incident_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("incident_id", BigInteger, ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("actor", String(100), nullable=True),
    Column("message", Text, nullable=False),
    Column("detail", JSONType, nullable=False),
    Index("ix_incident_events_incident", "incident_id", "id"),
)

# Notifications, written before they are sent. The idempotency key is unique: enqueueing the same
# notification twice stores it once. Delivery claims a row by compare-and-set (pending → sending,
# with claim_until), so two processes never send it both.
outbox = Table(
    "outbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("incident_id", BigInteger, nullable=True),
    Column("channel", String(100), nullable=False),
    Column("recipient", String(100), nullable=True),  # the user notified, if any
    Column("address", Text, nullable=True),  # the user's address on the channel (phone, chat, email)
    Column("action", String(20), nullable=False),  # trigger | update | acknowledge | resolve | test
    Column("payload", JSONType, nullable=False),
    Column("state", String(12), nullable=False),  # pending | sending | sent | dead | cancelled
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("claimed_by", String(200), nullable=True),
    Column("claim_until", UTCDateTime(), nullable=True),
    Column("sent_at", UTCDateTime(), nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("cancel_on_ack", Boolean, nullable=False, default=False),
    Index("ix_outbox_state_next", "state", "next_attempt_at"),
    Index("ix_outbox_incident", "incident_id"),
)

# Silences: alerts matching every matcher are not notified between starts_at and ends_at.
silences = Table(
    "silences",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("matchers", JSONType, nullable=False),  # [{"name", "op": "=|!=|=~|!~", "value"}]
    Column("starts_at", UTCDateTime(), nullable=False),
    Column("ends_at", UTCDateTime(), nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("comment", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expired_at", UTCDateTime(), nullable=True),
    Column("expired_by", String(100), nullable=True),
    Index("ix_silences_ends", "ends_at"),
)

# Positions of the alerting engine's readers: the evidence watermark, each log file's inode and offset.
alerting_cursors = Table(
    "alerting_cursors",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("position", BigInteger, nullable=False, default=0),
    Column("detail", JSONType, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)
