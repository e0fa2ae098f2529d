"""Aging snapshots: days past due and bucket per account per cycle (or as-of) date.

Revision ID: 0004_aging_snapshots
Revises: 0003_notify_outbox
Create Date: 2026-11-23 10:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_aging_snapshots"
down_revision: str | None = "0003_notify_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "aging_snapshots",
        sa.Column("snapshot_date", sa.Date(), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("last_cycle_date", sa.Date(), nullable=False),
        sa.Column("days_past_due", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.String(length=16), nullable=False),
        sa.Column("cycles_delinquent", sa.SmallInteger(), nullable=False),
        sa.Column("consecutive_overdue_months", sa.SmallInteger(), nullable=False),
        sa.Column("cures", sa.SmallInteger(), nullable=False),
        sa.Column("balance_minor", sa.BigInteger(), nullable=False),
        sa.Column("overdue_balance_minor", sa.BigInteger(), nullable=False),
        sa.Column("write_off", sa.Boolean(), nullable=False),
        sa.Column("policy_version", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "kind IN ('cycle', 'daily')", name=op.f("ck_aging_snapshots_kind_known")
        ),
        sa.CheckConstraint("days_past_due >= 0", name=op.f("ck_aging_snapshots_dpd_non_negative")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_aging_snapshots_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("snapshot_date", "account_id", name=op.f("pk_aging_snapshots")),
    )
    with op.batch_alter_table("aging_snapshots", schema=None) as batch_op:
        batch_op.create_index(
            "ix_aging_snapshots_date_bucket", ["snapshot_date", "bucket"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("aging_snapshots", schema=None) as batch_op:
        batch_op.drop_index("ix_aging_snapshots_date_bucket")
    op.drop_table("aging_snapshots")
