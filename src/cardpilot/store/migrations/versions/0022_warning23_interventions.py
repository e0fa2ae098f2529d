"""Early warning: ``warning_scores`` (the watch list of each run) and ``warning_interventions``
(one stored decision per account, rule and statement cycle); see store/warning_models.py.

Revision ID: 0022_warning23_interventions
Revises: 0021_explain21_pending_limits
Create Date: 2026-12-05 15:00:00
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_warning23_interventions"
down_revision: str | None = "0021_explain21_pending_limits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _created_at() -> sa.Column[dt.datetime]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "warning_scores",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("score_change", sa.Float(), nullable=True),
        sa.Column("reason_codes", sa.Text(), nullable=False),
        sa.Column("model_version", sa.String(length=96), nullable=False),
        sa.Column("policy_version", sa.String(length=64), nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("account_id", "as_of", name=op.f("pk_warning_scores")),
    )
    op.create_index(
        "ix_warning_scores_as_of_score", "warning_scores", ["as_of", "score"], unique=False
    )
    op.create_table(
        "warning_interventions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("decision_ref", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("cycle_date", sa.Date(), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("intervention", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("advice", sa.Text(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("score_change", sa.Float(), nullable=True),
        sa.Column("hold_until", sa.Date(), nullable=True),
        sa.Column("policy_version", sa.String(length=64), nullable=False),
        sa.Column("model_version", sa.String(length=96), nullable=True),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warning_interventions")),
        sa.UniqueConstraint("decision_ref", name="uq_warning_interventions_decision_ref"),
        sa.UniqueConstraint(
            "account_id", "rule", "cycle_date", name="uq_warning_interventions_account_rule_cycle"
        ),
    )
    op.create_index(
        "ix_warning_interventions_as_of", "warning_interventions", ["as_of"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_warning_interventions_as_of", table_name="warning_interventions")
    op.drop_table("warning_interventions")
    op.drop_index("ix_warning_scores_as_of_score", table_name="warning_scores")
    op.drop_table("warning_scores")
