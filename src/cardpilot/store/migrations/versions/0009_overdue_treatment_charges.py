"""The charges a treatment decision assessed: penalty interest and late fee (after the cap).

``cardpilot overdue treat`` assesses each overdue account's charges for the period
(``overdue.charges.charge_exprs``) and stores them with the decision, with the waived share in
``fee_waived_minor``; the report reads them instead of deriving them. Nullable: decisions
stored before this revision have none (the report derives those as before).

Revision ID: 0009_overdue_treatment_charges
Revises: 0008_statements_review_index
Create Date: 2026-11-23 14:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_overdue_treatment_charges"
down_revision: str | None = "0008_statements_review_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("overdue_treatments") as batch:
        batch.add_column(sa.Column("penalty_interest_minor", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("late_fee_minor", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("overdue_treatments") as batch:
        batch.drop_column("late_fee_minor")
        batch.drop_column("penalty_interest_minor")
