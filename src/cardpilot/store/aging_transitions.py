"""The store's aging history as transitions: each account's bucket on one cycle snapshot and on
the next, with the overdue treatment it was given on the earlier date (if any), counted."""

from __future__ import annotations

import itertools

import polars as pl
from sqlalchemy import Engine, text

from cardpilot.store.overdue_report_reads import EXITED, cycle_snapshot_dates

TRANSITION_COLUMNS: dict[str, pl.DataType] = {
    "treatment": pl.String(),
    "from_bucket": pl.String(),
    "to_bucket": pl.String(),
    "accounts": pl.Int64(),
}
_PAIR = text(
    "SELECT t.risk_segment, p.bucket, COALESCE(c.bucket, :exited), COUNT(*)"
    " FROM aging_snapshots p"
    " LEFT JOIN aging_snapshots c ON c.snapshot_date = :later AND c.account_id = p.account_id"
    " LEFT JOIN overdue_treatments t ON t.as_of = :earlier AND t.account_id = p.account_id"
    " WHERE p.snapshot_date = :earlier"
    " GROUP BY t.risk_segment, p.bucket, COALESCE(c.bucket, :exited)"
)


def observed_transitions(db: Engine) -> pl.DataFrame:
    """``TRANSITION_COLUMNS`` summed over every pair of consecutive cycle snapshots (an account
    missing from the later one: ``exited``; accounts new in it are not counted)."""
    rows: dict[tuple[str | None, str, str], int] = {}
    with db.connect() as conn:
        days = cycle_snapshot_dates(conn)
        for earlier, later in itertools.pairwise(days):
            bound = {"earlier": earlier, "later": later, "exited": EXITED}
            for segment, from_bucket, to_bucket, n in conn.execute(_PAIR, bound):
                key = (segment, str(from_bucket), str(to_bucket))
                rows[key] = rows.get(key, 0) + int(n)
    return pl.DataFrame(
        [(*key, n) for key, n in rows.items()], schema=TRANSITION_COLUMNS, orient="row"
    )
