"""Decreases that wait for their notice period: ``pending_limit_changes``.

A review's decrease is stored as a pending change with its effective date and applied to the
account by the first job whose as-of date reaches it (``cardpilot.store.pending_limits``).
Decisions made before this revision were applied on their decision date and have no row here.

Revision ID: 0021_explain21_pending_limits
Revises: 0020_events23_event_intake
Create Date: 2026-12-05 14:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_explain21_pending_limits"
down_revision: str | None = "0020_events23_event_intake"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TABLE = "pending_limit_changes"


def upgrade() -> None:
    op.create_table(
        _TABLE,
        sa.Column("id", _ID, nullable=False),
        sa.Column("decision_id", _ID, nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("old_limit_minor", sa.BigInteger(), nullable=False),
        sa.Column("new_limit_minor", sa.BigInteger(), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("applied_on", sa.Date(), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("apply_batch", sa.String(length=32), nullable=True),
        sa.Column("superseded_by", _ID, nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("policy_version", sa.String(length=64), nullable=False),
        sa.Column("model_version", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["limit_decisions.id"],
            name=op.f("fk_pending_limit_changes_decision_id_limit_decisions"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_pending_limit_changes_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_limit_changes")),
        sa.UniqueConstraint("decision_id", name=op.f("uq_pending_limit_changes_decision_id")),
    )
    op.create_index(
        "ix_pending_limit_changes_account_status", _TABLE, ["account_id", "status"], unique=False
    )
    op.create_index(
        "ix_pending_limit_changes_status_effective",
        _TABLE,
        ["status", "effective_on"],
        unique=False,
    )
    op.create_index("ix_pending_limit_changes_apply_batch", _TABLE, ["apply_batch"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_pending_limit_changes_apply_batch", table_name=_TABLE)
    op.drop_index("ix_pending_limit_changes_status_effective", table_name=_TABLE)
    op.drop_index("ix_pending_limit_changes_account_status", table_name=_TABLE)
    op.drop_table(_TABLE)
