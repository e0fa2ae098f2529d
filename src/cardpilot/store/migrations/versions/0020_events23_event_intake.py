"""The event intake: ``event_receipts`` (each event id decided) and ``event_account_features``.

Revision ID: 0020_events23_event_intake
Revises: 0019_cycles
Create Date: 2026-12-05 14:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_events23_event_intake"
down_revision: str | None = "0019_cycles"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_receipts",
        sa.Column("event_id", sa.String(length=120), nullable=False),
        sa.Column("account_id", sa.String(length=120), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=True),
        sa.Column("field", sa.String(length=120), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.CheckConstraint(
            "outcome IN ('applied', 'dead')", name=op.f("ck_event_receipts_outcome_known")
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_event_receipts")),
    )
    op.create_index(
        "ix_event_receipts_account_sequence",
        "event_receipts",
        ["account_id", "sequence"],
        unique=False,
    )
    op.create_table(
        "event_account_features",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("last_sequence", sa.BigInteger(), nullable=False),
        sa.Column("last_occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("events_applied", sa.BigInteger(), nullable=False),
        sa.Column("utilisation_bp", sa.Integer(), nullable=True),
        sa.Column("spend_ratio_bp", sa.Integer(), nullable=True),
        sa.Column("payment_days_before_due", sa.Integer(), nullable=True),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_event_account_features_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_event_account_features")),
    )


def downgrade() -> None:
    op.drop_table("event_account_features")
    op.drop_index("ix_event_receipts_account_sequence", table_name="event_receipts")
    op.drop_table("event_receipts")
