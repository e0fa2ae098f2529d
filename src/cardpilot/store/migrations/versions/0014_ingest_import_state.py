"""An import run's state: running, finished, failed or interrupted, and where it ran.

An import is one transaction, so a run that never finished left nothing behind but its
``import_runs`` row. The row now says what became of it: ``status`` (``running`` while its
process works, then ``finished`` or ``failed`` with ``error``), and ``host`` and ``pid`` so the
next import can tell a run whose process is gone and mark it ``interrupted``. Rows from before
this revision are ``finished`` when they have a finish time and ``interrupted`` otherwise.

Revision ID: 0014_ingest
Revises: 0013_reason_text_sets
Create Date: 2026-12-05 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_ingest"
down_revision: str | None = "0013_reason_text_sets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("import_runs") as batch:
        batch.add_column(
            sa.Column("status", sa.String(length=16), nullable=False, server_default="running")
        )
        batch.add_column(sa.Column("host", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("pid", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("error", sa.Text(), nullable=True))
    op.execute(
        "UPDATE import_runs SET status = CASE WHEN finished_at IS NULL "
        "THEN 'interrupted' ELSE 'finished' END"
    )


def downgrade() -> None:
    with op.batch_alter_table("import_runs") as batch:
        batch.drop_column("error")
        batch.drop_column("pid")
        batch.drop_column("host")
        batch.drop_column("status")
