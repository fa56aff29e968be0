"""Payment integrity: statement files, reconciliation runs, items, exceptions and their audit trail;
ledger hash chains and signed checkpoints.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 13:38:27.576292
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "ledger_chain",
        sa.Column("ledger", sa.String(length=100), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("row_key", sa.String(length=200), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.Column("chain_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("ledger", "seq", name=op.f("pk_ledger_chain")),
    )
    with op.batch_alter_table("ledger_chain", schema=None) as batch_op:
        batch_op.create_index("uq_ledger_chain_ledger_row_key", ["ledger", "row_key"], unique=True)

    op.create_table(
        "ledger_checkpoints",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("ledger", sa.String(length=100), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("chain_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("exported_uri", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_checkpoints")),
    )
    with op.batch_alter_table("ledger_checkpoints", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_checkpoints_ledger_seq", ["ledger", "seq"], unique=False)

    op.create_table(
        "recon_exceptions",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("recon", sa.String(length=100), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "refs",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("difference_minor", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("first_run_id", sa.BigInteger(), nullable=False),
        sa.Column("last_run_id", sa.BigInteger(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=100), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recon_exceptions")),
    )
    with op.batch_alter_table("recon_exceptions", schema=None) as batch_op:
        batch_op.create_index("ix_recon_exceptions_recon_status", ["recon", "status"], unique=False)
        batch_op.create_index("uq_recon_exceptions_recon_fingerprint", ["recon", "fingerprint"], unique=True)

    op.create_table(
        "recon_runs",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("recon", sa.String(length=100), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("inputs_digest", sa.String(length=64), nullable=True),
        sa.Column("internal_rows", sa.BigInteger(), nullable=True),
        sa.Column("statement_rows", sa.BigInteger(), nullable=True),
        sa.Column(
            "summary",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("evidence_id", sa.BigInteger(), nullable=True),
        sa.Column("node", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recon_runs")),
    )
    with op.batch_alter_table("recon_runs", schema=None) as batch_op:
        batch_op.create_index("ix_recon_runs_recon_started", ["recon", "started_at"], unique=False)

    op.create_table(
        "statement_files",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("recon", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("first_run_id", sa.BigInteger(), nullable=True),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statement_files")),
    )
    with op.batch_alter_table("statement_files", schema=None) as batch_op:
        batch_op.create_index("uq_statement_files_recon_sha256", ["recon", "sha256"], unique=True)

    op.create_table(
        "recon_audit",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("exception_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("run_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["exception_id"],
            ["recon_exceptions.id"],
            name=op.f("fk_recon_audit_exception_id_recon_exceptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recon_audit")),
    )
    with op.batch_alter_table("recon_audit", schema=None) as batch_op:
        batch_op.create_index("ix_recon_audit_exception", ["exception_id"], unique=False)

    op.create_table(
        "recon_items",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "refs",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "rows",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("internal_minor", sa.BigInteger(), nullable=True),
        sa.Column("statement_minor", sa.BigInteger(), nullable=True),
        sa.Column("difference_minor", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["recon_runs.id"], name=op.f("fk_recon_items_run_id_recon_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recon_items")),
    )
    with op.batch_alter_table("recon_items", schema=None) as batch_op:
        batch_op.create_index("ix_recon_items_run", ["run_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("recon_items", schema=None) as batch_op:
        batch_op.drop_index("ix_recon_items_run")

    op.drop_table("recon_items")
    with op.batch_alter_table("recon_audit", schema=None) as batch_op:
        batch_op.drop_index("ix_recon_audit_exception")

    op.drop_table("recon_audit")
    with op.batch_alter_table("statement_files", schema=None) as batch_op:
        batch_op.drop_index("uq_statement_files_recon_sha256")

    op.drop_table("statement_files")
    with op.batch_alter_table("recon_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_recon_runs_recon_started")

    op.drop_table("recon_runs")
    with op.batch_alter_table("recon_exceptions", schema=None) as batch_op:
        batch_op.drop_index("uq_recon_exceptions_recon_fingerprint")
        batch_op.drop_index("ix_recon_exceptions_recon_status")

    op.drop_table("recon_exceptions")
    with op.batch_alter_table("ledger_checkpoints", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_checkpoints_ledger_seq")

    op.drop_table("ledger_checkpoints")
    with op.batch_alter_table("ledger_chain", schema=None) as batch_op:
        batch_op.drop_index("uq_ledger_chain_ledger_row_key")

    op.drop_table("ledger_chain")
