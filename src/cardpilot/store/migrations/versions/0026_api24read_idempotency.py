"""The HTTP service's idempotent requests: ``idempotent_requests`` (per caller and
``Idempotency-Key``: the request's fingerprint and, once answered with success, the answer that
a retry with the same key gets again).

Revision ID: 0026_api24read_idempotency
Revises: 0025_ev23fold_feature_columns
Create Date: 2026-12-05 20:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026_api24read_idempotency"
down_revision: str | None = "0025_ev23fold_feature_columns"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotent_requests",
        sa.Column("actor", sa.String(length=160), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("route", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("media_type", sa.String(length=100), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("actor", "idempotency_key", name=op.f("pk_idempotent_requests")),
    )
    op.create_index(
        "ix_idempotent_requests_created_at", "idempotent_requests", ["created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_idempotent_requests_created_at", table_name="idempotent_requests")
    op.drop_table("idempotent_requests")
