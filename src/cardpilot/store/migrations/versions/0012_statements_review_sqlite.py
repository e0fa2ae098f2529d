"""The review's covering index of statements on SQLite only; PostgreSQL reads through the key.

Migration 0008 gave both stores a covering index of what the limit review reads. On SQLite it
is what makes the read one ordered scan: a statement's row sits in load order, and through the
key every row is a look-up (about 7 µs). On PostgreSQL the index repeated the primary key's
(account, cycle) order with every read column added: a second B-tree of the 6 million rows of
a million accounts, 597 MB beside the key's 232 MB, sorted, written and written again to the
WAL by every first import (about 6 of its 32 s), and grown by every monthly cycle. There a first
import writes the table itself in key order, a monthly cycle appends its rows in key order, and
the review's ordered read through the key visits the table's pages in runs; an index-only scan
would also wait for a vacuum to mark the new pages visible. So PostgreSQL drops it.

Revision ID: 0012_statements_review_sqlite
Revises: 0011_decisions_no_cycle_index
Create Date: 2026-12-01 22:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012_statements_review_sqlite"
down_revision: str | None = "0011_decisions_no_cycle_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = "ix_statements_review"
_COLUMNS = [
    "account_id",
    "cycle_date",
    "credit_limit_minor",
    "statement_balance_minor",
    "minimum_due_minor",
    "amount_paid_minor",
    "purchases_minor",
    "cash_advances_minor",
    "repayment_status",
    "days_past_due",
]


def _postgresql() -> bool:
    return op.get_context().dialect.name == "postgresql"


def upgrade() -> None:
    if _postgresql():
        op.drop_index(_NAME, table_name="statements")


def downgrade() -> None:
    if _postgresql():
        op.create_index(_NAME, "statements", _COLUMNS)
