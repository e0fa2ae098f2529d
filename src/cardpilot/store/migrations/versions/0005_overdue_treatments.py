"""Overdue treatments (one per account and as-of date), repayment plans and plan events.

Revision ID: 0005_overdue_treatments
Revises: 0004_aging_snapshots
Create Date: 2026-11-23 10:45:32
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_overdue_treatments"
down_revision: str | None = "0004_aging_snapshots"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "overdue_treatments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("run_key", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("bucket", sa.String(length=16), nullable=False),
        sa.Column("days_past_due", sa.Integer(), nullable=False),
        sa.Column("cures", sa.SmallInteger(), nullable=False),
        sa.Column("broken_promises", sa.SmallInteger(), nullable=False),
        sa.Column("overdue_balance_minor", sa.BigInteger(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("pd", sa.Float(), nullable=True),
        sa.Column("risk_segment", sa.String(length=32), nullable=False),
        sa.Column("risk_level", sa.String(length=8), nullable=False),
        sa.Column("treatment", sa.String(length=32), nullable=False),
        sa.Column("penalty_rate_daily", sa.String(length=16), nullable=False),
        sa.Column("fee_waived", sa.Boolean(), nullable=False),
        sa.Column("fee_waiver_share_bp", sa.Integer(), nullable=False),
        sa.Column("fee_waived_minor", sa.BigInteger(), nullable=False),
        sa.Column("due_date_extension_days", sa.Integer(), nullable=False),
        sa.Column("limit_action", sa.String(length=8), nullable=False),
        sa.Column("limit_cut_share_bp", sa.Integer(), nullable=False),
        sa.Column("old_limit_minor", sa.BigInteger(), nullable=False),
        sa.Column("new_limit_minor", sa.BigInteger(), nullable=False),
        sa.Column("first_contact_dpd", sa.Integer(), nullable=False),
        sa.Column("contacts_per_week", sa.Integer(), nullable=False),
        sa.Column("contact_tone", sa.String(length=16), nullable=False),
        sa.Column("eligible_plans", sa.Text(), nullable=False),
        sa.Column("harmony_eligible", sa.Boolean(), nullable=False),
        sa.Column("reason_codes", sa.Text(), nullable=False),
        sa.Column("reason_texts_zh", sa.Text(), nullable=False),
        sa.Column("reason_texts_en", sa.Text(), nullable=False),
        sa.Column("policy_version", sa.String(length=64), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "limit_action IN ('none', 'freeze', 'cut')",
            name=op.f("ck_overdue_treatments_limit_action_known"),
        ),
        sa.CheckConstraint("days_past_due > 0", name=op.f("ck_overdue_treatments_overdue_only")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_overdue_treatments_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_overdue_treatments")),
        sa.UniqueConstraint("account_id", "as_of", name="uq_overdue_treatments_account_as_of"),
    )
    with op.batch_alter_table("overdue_treatments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_overdue_treatments_as_of_segment", ["as_of", "risk_segment"], unique=False
        )
        batch_op.create_index("ix_overdue_treatments_run_key", ["run_key"], unique=False)

    op.create_table(
        "repayment_plans",
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("months", sa.SmallInteger(), nullable=False),
        sa.Column("principal_minor", sa.BigInteger(), nullable=False),
        sa.Column("penalty_fees_minor", sa.BigInteger(), nullable=False),
        sa.Column("waiver_share_bp", sa.Integer(), nullable=False),
        sa.Column("instalments", sa.Text(), nullable=False),
        sa.Column("period_months", sa.SmallInteger(), nullable=False),
        sa.Column("grace_days", sa.SmallInteger(), nullable=False),
        sa.Column("offered_on", sa.Date(), nullable=False),
        sa.Column("accept_by", sa.Date(), nullable=True),
        sa.Column("risk_segment", sa.String(length=32), nullable=True),
        sa.Column("treatment_id", sa.BigInteger(), nullable=True),
        sa.Column("policy_version", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("paid_minor", sa.BigInteger(), nullable=False),
        sa.Column("waived_minor", sa.BigInteger(), nullable=False),
        sa.Column("reinstated_minor", sa.BigInteger(), nullable=False),
        sa.Column("status_on", sa.Date(), nullable=True),
        sa.Column("status_reason", sa.String(length=48), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "status IN ('offered', 'accepted', 'active', 'kept', 'broken', 'declined')",
            name=op.f("ck_repayment_plans_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_repayment_plans_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("plan_id", name=op.f("pk_repayment_plans")),
    )
    with op.batch_alter_table("repayment_plans", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_repayment_plans_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_repayment_plans_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "plan_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.String(length=96), nullable=False),
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("event_date", sa.Date(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.String(length=96), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.String(length=48), nullable=True),
        sa.Column(
            "recorded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "kind IN ('offered', 'accepted', 'declined', 'payment', 'day_closed')",
            name=op.f("ck_plan_events_kind_known"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["repayment_plans.plan_id"],
            name=op.f("fk_plan_events_plan_id_repayment_plans"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_plan_events_event_id")),
    )
    with op.batch_alter_table("plan_events", schema=None) as batch_op:
        batch_op.create_index("ix_plan_events_customer", ["customer_id"], unique=False)
        batch_op.create_index("ix_plan_events_plan", ["plan_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("plan_events", schema=None) as batch_op:
        batch_op.drop_index("ix_plan_events_plan")
        batch_op.drop_index("ix_plan_events_customer")

    op.drop_table("plan_events")
    with op.batch_alter_table("repayment_plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_repayment_plans_customer_id"))
        batch_op.drop_index(batch_op.f("ix_repayment_plans_account_id"))

    op.drop_table("repayment_plans")
    with op.batch_alter_table("overdue_treatments", schema=None) as batch_op:
        batch_op.drop_index("ix_overdue_treatments_run_key")
        batch_op.drop_index("ix_overdue_treatments_as_of_segment")

    op.drop_table("overdue_treatments")
