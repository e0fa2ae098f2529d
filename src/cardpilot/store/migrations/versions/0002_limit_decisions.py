"""Limit review: review runs, auditable limit decisions, the watch after large increases.

Revision ID: 0002_limit_decisions
Revises: 0001
Create Date: 2026-11-23 10:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_limit_decisions"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "review_runs",
        sa.Column("id", _ID, nullable=False),
        sa.Column("cycle_id", sa.String(length=16), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("policy_version", sa.String(length=64), nullable=False),
        sa.Column("model_version", sa.String(length=128), nullable=True),
        sa.Column("engine", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("decided", sa.Integer(), nullable=False),
        sa.Column("increases", sa.Integer(), nullable=False),
        sa.Column("keeps", sa.Integer(), nullable=False),
        sa.Column("decreases", sa.Integer(), nullable=False),
        sa.Column("watched", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_runs")),
    )
    op.create_index(op.f("ix_review_runs_cycle_id"), "review_runs", ["cycle_id"])

    op.create_table(
        "limit_decisions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("run_id", _ID, nullable=False),
        sa.Column("cycle_id", sa.String(length=16), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("due_for_review", sa.Boolean(), nullable=False),
        sa.Column("grade", sa.String(length=32), nullable=True),
        sa.Column("segment", sa.String(length=32), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("pd", sa.Float(), nullable=True),
        sa.Column("old_limit_minor", sa.BigInteger(), nullable=False),
        sa.Column("new_limit_minor", sa.BigInteger(), nullable=False),
        sa.Column("increase_pct_bp", sa.Integer(), nullable=True),
        sa.Column("consecutive_overdue_months", sa.Integer(), nullable=True),
        sa.Column("reason_codes", sa.Text(), nullable=False),
        sa.Column("reason_texts_zh", sa.Text(), nullable=False),
        sa.Column("reason_texts_en", sa.Text(), nullable=False),
        sa.Column("policy_version", sa.String(length=64), nullable=False),
        sa.Column("model_version", sa.String(length=128), nullable=True),
        sa.Column(
            "decided_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["review_runs.id"], name=op.f("fk_limit_decisions_run_id_review_runs")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_limit_decisions_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_limit_decisions")),
        sa.UniqueConstraint("account_id", "cycle_id", name="uq_limit_decisions_account_cycle"),
    )
    op.create_index("ix_limit_decisions_run_account", "limit_decisions", ["run_id", "account_id"])
    op.create_index("ix_limit_decisions_cycle_id", "limit_decisions", ["cycle_id"])

    op.create_table(
        "limit_watch",
        sa.Column("id", _ID, nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("decision_id", _ID, nullable=False),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("old_limit_minor", sa.BigInteger(), nullable=False),
        sa.Column("new_limit_minor", sa.BigInteger(), nullable=False),
        sa.Column("policy_version", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"], name=op.f("fk_limit_watch_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["limit_decisions.id"],
            name=op.f("fk_limit_watch_decision_id_limit_decisions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_limit_watch")),
        sa.UniqueConstraint("decision_id", name=op.f("uq_limit_watch_decision_id")),
    )
    op.create_index("ix_limit_watch_account_id", "limit_watch", ["account_id"])

    op.create_table(
        "watch_flags",
        sa.Column("id", _ID, nullable=False),
        sa.Column("watch_id", _ID, nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("cycle_date", sa.Date(), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("reason_code", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column(
            "flagged_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["watch_id"], ["limit_watch.id"], name=op.f("fk_watch_flags_watch_id_limit_watch")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watch_flags")),
        sa.UniqueConstraint(
            "watch_id", "cycle_date", "rule", name="uq_watch_flags_watch_cycle_rule"
        ),
    )


def downgrade() -> None:
    op.drop_table("watch_flags")
    op.drop_index("ix_limit_watch_account_id", table_name="limit_watch")
    op.drop_table("limit_watch")
    op.drop_index("ix_limit_decisions_cycle_id", table_name="limit_decisions")
    op.drop_index("ix_limit_decisions_run_account", table_name="limit_decisions")
    op.drop_table("limit_decisions")
    op.drop_index(op.f("ix_review_runs_cycle_id"), table_name="review_runs")
    op.drop_table("review_runs")
