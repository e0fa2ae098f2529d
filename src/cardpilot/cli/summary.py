"""``cardpilot summary``: accounts, limits, balances, utilisation, days past due."""

from __future__ import annotations

from rich.table import Table

from cardpilot.cli import app
from cardpilot.cli.common import DATABASE_OPTION, open_engine
from cardpilot.cli.output import JSON_OPTION, console, emit_json
from cardpilot.domain.money import format_major
from cardpilot.jobs.summary import PortfolioSummary, summarise_portfolio


@app.command()
def summary(
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Summarise the portfolio in the store: limits, balances, utilisation, days past due."""
    result = summarise_portfolio(open_engine(database))
    if as_json:
        emit_json(result.as_json())
        return
    print_summary(result)


def print_summary(result: PortfolioSummary) -> None:
    console.print(
        f"[bold]Portfolio[/]: {result.accounts:,} accounts, {result.customers:,} customers, "
        f"{result.statements:,} statements"
    )
    for cs in result.by_currency:
        console.print(
            f"[bold]{cs.currency}[/]: limit {format_major(cs.total_limit_minor)}, "
            f"balance {format_major(cs.total_balance_minor)}, "
            f"utilisation {cs.utilisation:.2%}"
        )
        table = Table("days past due (latest cycle)", "accounts", "share", "balance")
        for band, n in cs.dpd_accounts.items():
            share = n / cs.accounts if cs.accounts else 0.0
            table.add_row(
                band, f"{n:,}", f"{share:.1%}", format_major(cs.dpd_balance_minor.get(band, 0))
            )
        console.print(table)
