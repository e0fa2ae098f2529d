"""The event intake's running features as typed columns instead of one JSON text per account:
``event_account_features`` gains a column per field of the state (its two lists, the months'
spending and the money events of the late window, as compact text written and read
column-wise: ``YYYY-MM:amount`` and ``epoch-µs:balance:paid:cash``, space-separated) and
loses ``state``. Stored states are converted.

Revision ID: 0025_ev23fold_feature_columns
Revises: 0024_exp26_experiments
Create Date: 2026-12-05 21:00:00
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0025_ev23fold_feature_columns"
down_revision: str | None = "0024_exp26_experiments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "event_account_features"
_WHEN = sa.DateTime(timezone=True)


def _new_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("statement_at", _WHEN, nullable=True),
        sa.Column("statement_balance_minor", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("credit_limit_minor", sa.BigInteger(), nullable=True),
        sa.Column("minimum_due_minor", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column(
            "balance_since_statement_minor", sa.BigInteger(), nullable=False, server_default="0"
        ),
        sa.Column(
            "paid_since_statement_minor", sa.BigInteger(), nullable=False, server_default="0"
        ),
        sa.Column("minimum_paid_on", sa.Date(), nullable=True),
        sa.Column("last_payment_on", sa.Date(), nullable=True),
        sa.Column("utilisation_at_statement_bp", sa.BigInteger(), nullable=True),
        sa.Column("spend_by_month", sa.Text(), nullable=False, server_default=""),
        sa.Column("first_month", sa.String(length=7), nullable=True),
        sa.Column("last_cash_advance_on", sa.Date(), nullable=True),
        sa.Column("cash_advances_this_cycle", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("last_contact_outcome", sa.String(length=20), nullable=True),
        sa.Column("last_contact_at", _WHEN, nullable=True),
        sa.Column("recent", sa.Text(), nullable=False, server_default=""),
    ]


_COLUMNS = _new_columns()
_SCALARS = [
    "currency",
    "statement_balance_minor",
    "credit_limit_minor",
    "minimum_due_minor",
    "balance_since_statement_minor",
    "paid_since_statement_minor",
    "utilisation_at_statement_bp",
    "first_month",
    "cash_advances_this_cycle",
    "last_contact_outcome",
]
_TIMES = ["statement_at", "last_contact_at"]
_DAYS = ["due_date", "minimum_paid_on", "last_payment_on", "last_cash_advance_on"]


def _epoch_us(text: str) -> int:
    at = dt.datetime.fromisoformat(text).astimezone(dt.UTC)
    return (at - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)


def _columns(state: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {c: state.get(c) for c in _SCALARS}
    for c in _TIMES:
        values[c] = None if state.get(c) is None else dt.datetime.fromisoformat(state[c])
    for c in _DAYS:
        values[c] = None if state.get(c) is None else dt.date.fromisoformat(state[c])
    values["spend_by_month"] = " ".join(f"{m}:{v}" for m, v in state["spend_by_month"])
    values["recent"] = " ".join(
        f"{_epoch_us(a)}:{b}:{p}:{int(c)}" for a, b, p, c in state["recent"]
    )
    return values


def upgrade() -> None:
    with op.batch_alter_table(_TABLE) as batch:
        for column in _new_columns():
            batch.add_column(column)
    table = sa.table(
        _TABLE,
        sa.column("account_id"),
        sa.column("state"),
        *(sa.column(c.name, c.type) for c in _COLUMNS),
    )
    conn = op.get_bind()
    rows = conn.execute(sa.select(table.c.account_id, table.c.state)).all()
    for account_id, text in rows:
        conn.execute(
            table.update()
            .where(table.c.account_id == account_id)
            .values(**_columns(json.loads(text)))
        )
    with op.batch_alter_table(_TABLE) as batch:
        batch.drop_column("state")


def downgrade() -> None:
    # The JSON is not rebuilt: the consumer folds the features again from the events.
    with op.batch_alter_table(_TABLE) as batch:
        batch.add_column(sa.Column("state", sa.Text(), nullable=False, server_default="{}"))
        for column in reversed(_COLUMNS):
            batch.drop_column(column.name)
