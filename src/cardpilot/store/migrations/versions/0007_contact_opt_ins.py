"""Customer opt-ins to message topics (education messages are sent only with one).

Revision ID: 0007_contact_opt_ins
Revises: 0005_overdue_treatments
Create Date: 2026-11-23 13:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_contact_opt_ins"
down_revision: str | None = "0005_overdue_treatments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contact_opt_ins",
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("topic", sa.String(length=32), nullable=False),
        sa.Column("opted_in", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.customer_id"],
            name=op.f("fk_contact_opt_ins_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("customer_id", "topic", name=op.f("pk_contact_opt_ins")),
    )


def downgrade() -> None:
    op.drop_table("contact_opt_ins")
