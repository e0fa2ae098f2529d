"""Portfolio summary: the figures a risk team looks at first after a load.

Balances and days past due are taken from each account's latest statement cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import Engine

from cardpilot.domain.money import format_major
from cardpilot.store.portfolio_summary import band_totals, portfolio_counts

# Days-past-due bands for the summary; the overdue policy defines its own buckets.
DPD_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("current", 0, 0),
    ("1-30", 1, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("91-180", 91, 180),
    ("180+", 181, None),
)


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
    accounts, customers, statements = portfolio_counts(engine)
    for totals in band_totals(engine, DPD_BANDS):
        cs = per_currency.setdefault(totals.currency, CurrencySummary(totals.currency))
        cs.accounts += totals.accounts
        cs.total_limit_minor += totals.limit_minor
        cs.total_balance_minor += totals.balance_minor
        cs.drawn_balance_minor += totals.drawn_minor
        cs.dpd_accounts[totals.band] = totals.accounts
        cs.dpd_balance_minor[totals.band] = totals.balance_minor
    return PortfolioSummary(
        accounts=accounts,
        customers=customers,
        statements=statements,
        by_currency=sorted(per_currency.values(), key=lambda c: -c.accounts),
    )
