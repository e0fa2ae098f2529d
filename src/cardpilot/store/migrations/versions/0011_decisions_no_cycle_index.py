"""Drop the decisions' index on ``cycle_id`` alone.

Every decision of a review run is inserted into it with the one key of the run's cycle, so it
costs each of a review's inserts a B-tree insert (0.07 of the SQLite writer's 0.45 CPU-s per
100,000 decisions appended). What it served, a cycle's decisions (the export, the report, the
cycle's counts, catch-up notices of a cycle), is read through the cycle's runs instead: a
decision's cycle is its run's (``review_runs.cycle_id``, indexed), and
``ix_limit_decisions_run_account`` leads with the run. The chunk reader's look-up of decided
accounts uses the unique ``(account_id, cycle_id)`` index, as before.

Revision ID: 0011_decisions_no_cycle_index
Revises: 0010_statements_no_date_index
Create Date: 2026-12-01 19:55:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011_decisions_no_cycle_index"
down_revision: str | None = "0010_statements_no_date_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_limit_decisions_cycle_id", table_name="limit_decisions")


def downgrade() -> None:
    op.create_index("ix_limit_decisions_cycle_id", "limit_decisions", ["cycle_id"])
