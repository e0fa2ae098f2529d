"""Decided applications: ``application_decisions``, one row per application (``cardpilot apply``);
requests for more credit: ``limit_requests`` (``cardpilot request``).

Revision ID: 0023_customer25_applications
Revises: 0022_service24_users
Create Date: 2026-12-05 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_customer25_applications"
down_revision: str | None = "0022_service24_users"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "application_decisions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("application_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=True),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("grade", sa.String(length=16), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("pd", sa.Float(), nullable=True),
        sa.Column("initial_limit_minor", sa.BigInteger(), nullable=True),
        sa.Column("affordability_cap_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason_codes", sa.Text(), nullable=False),
        sa.Column("reason_texts_zh", sa.Text(), nullable=False),
        sa.Column("reason_texts_en", sa.Text(), nullable=False),
        sa.Column("policy_version", sa.String(length=64), nullable=False),
        sa.Column("customer_policy_version", sa.String(length=80), nullable=False),
        sa.Column("model_version", sa.String(length=128), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "action IN ('offer', 'decline', 'refer')",
            name=op.f("ck_application_decisions_action_known"),
        ),
        sa.CheckConstraint(
            "initial_limit_minor IS NULL OR initial_limit_minor >= 0",
            name=op.f("ck_application_decisions_limit_non_negative"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application_decisions")),
        sa.UniqueConstraint("application_id", name=op.f("uq_application_decisions_application_id")),
    )

    op.create_table(
        "limit_requests",
        sa.Column("id", _ID, nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=True),
        sa.Column("requested_minor", sa.BigInteger(), nullable=False),
        sa.Column("months", sa.Integer(), nullable=True),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("grade", sa.String(length=16), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("old_limit_minor", sa.BigInteger(), nullable=False),
        sa.Column("new_limit_minor", sa.BigInteger(), nullable=True),
        sa.Column("temporary_limit_minor", sa.BigInteger(), nullable=True),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason_codes", sa.Text(), nullable=False),
        sa.Column("reason_texts_zh", sa.Text(), nullable=False),
        sa.Column("reason_texts_en", sa.Text(), nullable=False),
        sa.Column("policy_version", sa.String(length=64), nullable=False),
        sa.Column("customer_policy_version", sa.String(length=80), nullable=False),
        sa.Column("model_version", sa.String(length=128), nullable=True),
        sa.CheckConstraint(
            "kind IN ('permanent', 'temporary')", name=op.f("ck_limit_requests_kind_known")
        ),
        sa.CheckConstraint(
            "action IN ('granted', 'declined')", name=op.f("ck_limit_requests_action_known")
        ),
        sa.CheckConstraint(
            "status IN ('decided', 'active', 'expired')",
            name=op.f("ck_limit_requests_status_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_limit_requests")),
    )
    op.create_index(
        op.f("ix_limit_requests_account_id"), "limit_requests", ["account_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_limit_requests_account_id"), table_name="limit_requests")
    op.drop_table("limit_requests")
    op.drop_table("application_decisions")
