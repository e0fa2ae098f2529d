"""The audit trail and human-review cases.

``audit_log``: the append-only hash chain of every state change (``cardpilot.audit.chain``).
``review_cases``: requests for human review of a limit decision and their outcomes.
``limit_decisions.source``: ``review`` for a review run's decisions (every existing row),
``case`` for an analyst's override; a plain ADD COLUMN with a default on both stores.

Revision ID: 0018_cases_audit
Revises: 0017_ledger
Create Date: 2026-12-05 11:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_cases_audit"
down_revision: str | None = "0017_ledger"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", _ID, autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("before_digest", sa.String(length=64), nullable=True),
        sa.Column("after_digest", sa.String(length=64), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("payload_digest", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("prev_hash", name=op.f("uq_audit_log_prev_hash")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_log_hash")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    op.create_table(
        "review_cases",
        sa.Column("id", _ID, nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("decision_id", _ID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_by", sa.String(length=128), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("new_limit_minor", sa.BigInteger(), nullable=True),
        sa.Column("override_decision_id", _ID, nullable=True),
        sa.Column("hold_until", sa.Date(), nullable=True),
        sa.Column("case_policy_version", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_review_cases_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["limit_decisions.id"],
            name=op.f("fk_review_cases_decision_id_limit_decisions"),
        ),
        sa.ForeignKeyConstraint(
            ["override_decision_id"],
            ["limit_decisions.id"],
            name=op.f("fk_review_cases_override_decision_id_limit_decisions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_cases")),
    )
    op.create_index(op.f("ix_review_cases_account_id"), "review_cases", ["account_id"])
    op.create_index(op.f("ix_review_cases_status"), "review_cases", ["status"])
    op.add_column(
        "limit_decisions",
        sa.Column("source", sa.String(length=16), nullable=False, server_default="review"),
    )


def downgrade() -> None:
    with op.batch_alter_table("limit_decisions") as batch:
        batch.drop_column("source")
    op.drop_index(op.f("ix_review_cases_status"), table_name="review_cases")
    op.drop_index(op.f("ix_review_cases_account_id"), table_name="review_cases")
    op.drop_table("review_cases")
    op.drop_index(op.f("ix_audit_log_at"), table_name="audit_log")
    op.drop_table("audit_log")
