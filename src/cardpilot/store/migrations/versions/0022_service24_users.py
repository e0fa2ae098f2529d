"""The HTTP service's callers: ``service_users`` (staff, Argon2 password hashes) and
``service_api_keys`` (systems, SHA-256 of each key's secret).

Revision ID: 0022_service24_users
Revises: 0022_warning23_interventions
Create Date: 2026-12-05 14:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_service24_users"
down_revision: str | None = "0022_warning23_interventions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "service_users",
        sa.Column("id", _ID, nullable=False),
        sa.Column("username", sa.String(length=128), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_users")),
        sa.UniqueConstraint("username", name=op.f("uq_service_users_username")),
    )
    op.create_table(
        "service_api_keys",
        sa.Column("id", _ID, nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("secret_sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_api_keys")),
        sa.UniqueConstraint("key_id", name=op.f("uq_service_api_keys_key_id")),
    )


def downgrade() -> None:
    op.drop_table("service_api_keys")
    op.drop_table("service_users")
