"""What follows a watch flag: ``watch_actions``, one row per flag.

Each watch rule maps, in the policy's ``watch_actions``, to a notice, a hold on increases, a case
for an analyst or an early review; the action is stored beside its flag (the audit record) and
read by the next review (holds, early reviews) through ``(account_id, action)``.

Revision ID: 0019_cycles
Revises: 0018_cases_audit
Create Date: 2026-12-05 11:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_cycles"
down_revision: str | None = "0018_cases_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "watch_actions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("watch_id", _ID, nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("flag_cycle_date", sa.Date(), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("reason_code", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("hold_until", sa.Date(), nullable=True),
        sa.Column("case_id", _ID, nullable=True),
        sa.Column("policy_version", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["watch_id"], ["limit_watch.id"], name=op.f("fk_watch_actions_watch_id_limit_watch")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watch_actions")),
        sa.UniqueConstraint(
            "watch_id", "flag_cycle_date", "rule", name="uq_watch_actions_watch_cycle_rule"
        ),
    )
    op.create_index(
        "ix_watch_actions_account_action", "watch_actions", ["account_id", "action"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_watch_actions_account_action", table_name="watch_actions")
    op.drop_table("watch_actions")
