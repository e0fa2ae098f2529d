"""Drop the statements' index on ``cycle_date`` alone.

No query reads statements by cycle date across accounts except the one ``MAX(cycle_date)`` a
review or the demo asks for once per run (a scan of the table: about 0.3-0.6 CPU-s for 6M
statements on either store). Building it is the dearest step of a first import: the statements
arrive in account order, so this index (six distinct dates in 6M rows) is the one sort that
starts from unsorted input: 8.6-10.6 CPU-s of the PostgreSQL server and 5.3 CPU-s on SQLite
for 1M accounts, against 3.6 and 8.7 CPU-s for the primary key and the review's covering
index, which come presorted. Every other statement query leads with ``account_id`` (the
primary key and ``ix_statements_review``). Monthly increments no longer maintain it either.

Revision ID: 0010_statements_no_date_index
Revises: 0009_overdue_treatment_charges
Create Date: 2026-11-23 18:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010_statements_no_date_index"
down_revision: str | None = "0009_overdue_treatment_charges"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_statements_cycle_date", table_name="statements")


def downgrade() -> None:
    op.create_index("ix_statements_cycle_date", "statements", ["cycle_date"])
