"""``cardpilot summary``: accounts, limits, balances, utilisation, days past due."""

from __future__ import annotations

from cardpilot.cli import app
from cardpilot.cli.common import DATABASE_OPTION, open_engine
from cardpilot.cli.output import JSON_OPTION, console, print_json, titled_table
from cardpilot.domain.money import to_major
from cardpilot.jobs.summary import DPD_BANDS, PortfolioSummary, summarise_portfolio

BAND_ORDER = {name: i for i, (name, _, _) in enumerate(DPD_BANDS)} | {"no statement": 99}


@app.command()
def summary(
    database: str | None = DATABASE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Summarise the portfolio in the store: limits, balances, utilisation, days past due."""
    result = summarise_portfolio(open_engine(database))
    if as_json:
        print_json("summary", result.as_json())
        return
    print_summary(result)


def print_summary(result: PortfolioSummary) -> None:
    console.print(
        f"[bold]Portfolio[/]: {result.accounts:,} accounts, {result.customers:,} customers, "
        f"{result.statements:,} statements"
    )
    for cs in result.by_currency:
        console.print(
            f"[bold]{cs.currency}[/]: limit {_grouped(cs.total_limit_minor)}, "
            f"balance {_grouped(cs.total_balance_minor)}, "
            f"utilisation {cs.utilisation:.2%}"
        )
        table = titled_table("days past due (latest cycle)", "accounts", "share", "balance")
        for band, n in sorted(cs.dpd_accounts.items(), key=lambda kv: BAND_ORDER[kv[0]]):
            share = n / cs.accounts if cs.accounts else 0.0
            table.add_row(
                band, f"{n:,}", f"{share:.1%}", _grouped(cs.dpd_balance_minor.get(band, 0))
            )
        console.print(table)


def _grouped(minor: int) -> str:
    """``123456789`` fen → ``1,234,567.89``: exact, grouped for reading."""
    return f"{to_major(minor):,.2f}"
