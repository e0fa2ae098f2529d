"""The account ledger: append-only postings of money and events, one unique key each.

Revision ID: 0017_ledger
Revises: 0014_ingest
Create Date: 2026-12-05 11:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_ledger"
down_revision: str | None = "0014_ingest"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ledger_postings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("component", sa.String(length=16), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=160), nullable=False),
        sa.Column("reference", sa.String(length=160), nullable=True),
        sa.Column("basis", sa.String(length=16), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column(
            "recorded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "source IN ('import', 'decision', 'plan_event', 'event', 'manual')",
            name=op.f("ck_ledger_postings_source_known"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_ledger_postings_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_postings")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_ledger_postings_idempotency_key")),
    )
    op.create_index("ix_ledger_postings_account", "ledger_postings", ["account_id", "effective_on"])


def downgrade() -> None:
    op.drop_index("ix_ledger_postings_account", table_name="ledger_postings")
    op.drop_table("ledger_postings")
