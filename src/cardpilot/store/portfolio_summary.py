"""The portfolio summary's figures from the store: counts, and per currency and days-past-due
band the accounts, limits and balances of each account's latest statement cycle."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, text


@dataclass(frozen=True)
class BandTotals:
    """One currency's accounts in one days-past-due band (``no statement``: none yet)."""

    currency: str
    band: str
    accounts: int
    limit_minor: int
    balance_minor: int
    drawn_minor: int  # debit balances only


def portfolio_counts(db: Engine) -> tuple[int, int, int]:
    """(accounts, customers, statements)."""
    with db.connect() as conn:
        row = conn.execute(
            text(
                "SELECT (SELECT COUNT(*) FROM accounts), (SELECT COUNT(*) FROM customers),"
                " (SELECT COUNT(*) FROM statements)"
            )
        ).one()
    return int(row[0]), int(row[1]), int(row[2])


def band_totals(db: Engine, bands: Sequence[tuple[str, int, int | None]]) -> list[BandTotals]:
    """Totals per currency and band; ``bands``: (name, lowest, highest or None) days past
    due of each account's latest statement, in order."""
    band = (
        "CASE "
        + " ".join(
            f"WHEN l.days_past_due BETWEEN {lo} AND {hi} THEN '{name}'"
            if hi is not None
            else f"WHEN l.days_past_due >= {lo} THEN '{name}'"
            for name, lo, hi in bands
        )
        + " ELSE 'no statement' END"
    )
    sql = f"""
WITH latest_cycle AS (
    SELECT account_id, MAX(cycle_date) AS cycle_date FROM statements GROUP BY account_id
), latest AS (
    SELECT s.account_id, s.statement_balance_minor, s.days_past_due
    FROM statements s
    JOIN latest_cycle m ON m.account_id = s.account_id AND m.cycle_date = s.cycle_date
)
SELECT a.currency,
       {band} AS band,
       COUNT(*) AS accounts,
       SUM(a.credit_limit_minor) AS total_limit,
       SUM(COALESCE(l.statement_balance_minor, 0)) AS total_balance,
       SUM(CASE WHEN l.statement_balance_minor > 0 THEN l.statement_balance_minor ELSE 0 END)
           AS drawn_balance
FROM accounts a LEFT JOIN latest l ON l.account_id = a.account_id
GROUP BY a.currency, {band}
"""
    with db.connect() as conn:
        rows = conn.execute(text(sql)).all()
    return [
        BandTotals(str(c), str(b), int(n), int(lim or 0), int(bal or 0), int(drawn or 0))
        for c, b, n, lim, bal, drawn in rows
    ]
