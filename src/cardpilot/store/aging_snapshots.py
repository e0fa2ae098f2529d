"""Aging snapshots in the store (``aging_snapshots``): a date's snapshot replaces the rows
stored for that date, in one transaction, so storing it again is idempotent."""

from __future__ import annotations

import polars as pl
from sqlalchemy import Engine, delete, insert

from cardpilot.store.overdue_models import AgingSnapshot

STORE_BATCH_ROWS = 50_000
SNAPSHOT_COLUMNS = [
    "account_id",
    "last_cycle_date",
    "days_past_due",
    "bucket",
    "cycles_delinquent",
    "consecutive_overdue_months",
    "cures",
    "balance_minor",
    "overdue_balance_minor",
    "write_off",
    "policy_version",
]


def replace_snapshot(engine: Engine, snapshot: pl.DataFrame, kind: str) -> int:
    """Replace the snapshot of its date in ``aging_snapshots``; returns rows written."""
    if snapshot.is_empty():
        return 0
    day = snapshot["as_of"][0]
    table = AgingSnapshot
    rows = snapshot.select(SNAPSHOT_COLUMNS).with_columns(
        pl.lit(day).alias("snapshot_date"), pl.lit(kind).alias("kind")
    )
    with engine.begin() as conn:
        conn.execute(delete(table).where(table.snapshot_date == day))
        for offset in range(0, rows.height, STORE_BATCH_ROWS):
            conn.execute(insert(table), rows.slice(offset, STORE_BATCH_ROWS).to_dicts())
    return rows.height
