"""Champion/challenger tests: ``experiments`` (one row per test: its two policies, the
challenger's share, its start, the error rates of its minimum detectable effect, its status),
and the test and arm of each decision it split (``limit_decisions`` and ``overdue_treatments``:
``experiment``, ``arm``; null for decisions made outside a test).

Revision ID: 0024_exp26_experiments
Revises: 0023_customer25_applications
Create Date: 2026-12-05 17:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_exp26_experiments"
down_revision: str | None = "0023_customer25_applications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_SPLIT = ("limit_decisions", "overdue_treatments")


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("id", _ID, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("champion", sa.Text(), nullable=False),
        sa.Column("challenger", sa.Text(), nullable=False),
        sa.Column("champion_version", sa.String(length=64), nullable=False),
        sa.Column("challenger_version", sa.String(length=64), nullable=False),
        sa.Column("share_bp", sa.Integer(), nullable=False),
        sa.Column("start_on", sa.Date(), nullable=False),
        sa.Column("alpha_bp", sa.Integer(), nullable=False),
        sa.Column("power_bp", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('limits', 'overdue')", name=op.f("ck_experiments_kind_known")),
        sa.CheckConstraint(
            "status IN ('running', 'stopped', 'promoted')",
            name=op.f("ck_experiments_status_known"),
        ),
        sa.CheckConstraint(
            "share_bp > 0 AND share_bp < 10000", name=op.f("ck_experiments_share_in_range")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiments")),
        sa.UniqueConstraint("name", name=op.f("uq_experiments_name")),
    )
    for table in _SPLIT:
        op.add_column(table, sa.Column("experiment", sa.String(length=64), nullable=True))
        op.add_column(table, sa.Column("arm", sa.String(length=16), nullable=True))


def downgrade() -> None:
    for table in _SPLIT:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("arm")
            batch.drop_column("experiment")
    op.drop_table("experiments")
