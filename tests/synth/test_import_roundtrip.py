"""A generated portfolio is a valid generic-layout import: nothing rejected, amounts exact."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
from sqlalchemy import text

from cardpilot.config import Settings
from cardpilot.jobs.importing import import_portfolio
from cardpilot.store.db import make_engine
from cardpilot.synth.generate import GenerateOptions, generate_portfolio


def test_generated_portfolio_imports_without_rejects(tmp_path: Path) -> None:
    out = tmp_path / "portfolio"
    generate_portfolio(
        GenerateOptions(
            accounts=300, out=out, seed=5, months=6, chunk_size=1000, end_cycle=dt.date(2026, 3, 31)
        )
    )
    url = f"sqlite:///{tmp_path / 'store.db'}"
    result = import_portfolio(
        out,
        layout="generic",
        database_url=url,
        rejects_path=tmp_path / "rejects.csv",
        settings=Settings(home=tmp_path / "home"),
    )
    transactions = pl.read_parquet(sorted((out / "transactions").glob("*.parquet")))
    assert result.rejected == 0
    assert (result.customers, result.accounts, result.statements, result.labels) == (
        300,
        300,
        1800,
        300,
    )
    assert result.transactions == transactions.height

    statements = pl.read_parquet(sorted((out / "statements").glob("*.parquet")))
    expected = int(statements["statement_balance"].sum() * 100)
    with make_engine(url).connect() as conn:
        stored = conn.execute(text("SELECT SUM(statement_balance_minor) FROM statements")).scalar()
    assert stored == expected
