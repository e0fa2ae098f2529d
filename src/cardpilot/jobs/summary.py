"""Portfolio summary: the figures a risk team looks at first after a load.

Balances and days past due are taken from each account's latest statement cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import Engine, text

from cardpilot.domain.money import format_major

# Days-past-due bands for the summary; the overdue policy defines its own buckets.
DPD_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("current", 0, 0),
    ("1-30", 1, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("91-180", 91, 180),
    ("180+", 181, None),
)

_BAND_SQL = (
    "CASE "
    + " ".join(
        f"WHEN l.days_past_due BETWEEN {lo} AND {hi} THEN '{name}'"
        if hi is not None
        else f"WHEN l.days_past_due >= {lo} THEN '{name}'"
        for name, lo, hi in DPD_BANDS
    )
    + " ELSE 'no statement' END"
)

_SUMMARY_SQL = f"""
WITH latest_cycle AS (
    SELECT account_id, MAX(cycle_date) AS cycle_date FROM statements GROUP BY account_id
), latest AS (
    SELECT s.account_id, s.statement_balance_minor, s.days_past_due
    FROM statements s
    JOIN latest_cycle m ON m.account_id = s.account_id AND m.cycle_date = s.cycle_date
)
SELECT a.currency,
       {_BAND_SQL} AS band,
       COUNT(*) AS accounts,
       SUM(a.credit_limit_minor) AS total_limit,
       SUM(COALESCE(l.statement_balance_minor, 0)) AS total_balance,
       SUM(CASE WHEN l.statement_balance_minor > 0 THEN l.statement_balance_minor ELSE 0 END)
           AS drawn_balance
FROM accounts a LEFT JOIN latest l ON l.account_id = a.account_id
GROUP BY a.currency, {_BAND_SQL}
"""


@dataclass
class CurrencySummary:
    currency: str
    accounts: int = 0
    total_limit_minor: int = 0
    total_balance_minor: int = 0
    drawn_balance_minor: int = 0
    dpd_accounts: dict[str, int] = field(default_factory=dict)
    dpd_balance_minor: dict[str, int] = field(default_factory=dict)

    @property
    def utilisation(self) -> Decimal:
        """Drawn balance over total limit, 4 places (credit balances count as zero)."""
        if self.total_limit_minor == 0:
            return Decimal(0)
        return (Decimal(self.drawn_balance_minor) / Decimal(self.total_limit_minor)).quantize(
            Decimal("0.0001")
        )

    def as_json(self) -> dict[str, object]:
        return {
            "currency": self.currency,
            "accounts": self.accounts,
            "total_limit": format_major(self.total_limit_minor),
            "total_balance": format_major(self.total_balance_minor),
            "drawn_balance": format_major(self.drawn_balance_minor),
            "utilisation": str(self.utilisation),
            "days_past_due": {
                band: {
                    "accounts": self.dpd_accounts.get(band, 0),
                    "balance": format_major(self.dpd_balance_minor.get(band, 0)),
                }
                for band in [b[0] for b in DPD_BANDS] + ["no statement"]
                if band in self.dpd_accounts or band != "no statement"
            },
        }


@dataclass
class PortfolioSummary:
    accounts: int
    customers: int
    statements: int
    by_currency: list[CurrencySummary]

    def as_json(self) -> dict[str, object]:
        return {
            "accounts": self.accounts,
            "customers": self.customers,
            "statements": self.statements,
            "by_currency": [c.as_json() for c in self.by_currency],
        }


def summarise_portfolio(engine: Engine) -> PortfolioSummary:
    per_currency: dict[str, CurrencySummary] = {}
    with engine.connect() as conn:
        counts = conn.execute(
            text(
                "SELECT (SELECT COUNT(*) FROM accounts), (SELECT COUNT(*) FROM customers),"
                " (SELECT COUNT(*) FROM statements)"
            )
        ).one()
        for currency, band, n, limit, balance, drawn in conn.execute(text(_SUMMARY_SQL)):
            cs = per_currency.setdefault(currency, CurrencySummary(currency))
            cs.accounts += int(n)
            cs.total_limit_minor += int(limit or 0)
            cs.total_balance_minor += int(balance or 0)
            cs.drawn_balance_minor += int(drawn or 0)
            cs.dpd_accounts[band] = int(n)
            cs.dpd_balance_minor[band] = int(balance or 0)
    return PortfolioSummary(
        accounts=int(counts[0]),
        customers=int(counts[1]),
        statements=int(counts[2]),
        by_currency=sorted(per_currency.values(), key=lambda c: -c.accounts),
    )
