"""The synthetic portfolio generator: layout, determinism, well-formed data, fitted marginals."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cardpilot.synth.copula import load_params
from cardpilot.synth.generate import (
    SCHEMAS,
    GenerateError,
    GenerateOptions,
    decimal_from_fen,
    generate_portfolio,
)
from cardpilot.synth.people import national_id_check_digit

END = dt.date(2026, 10, 31)
CONTRACT_COLUMNS = {
    "customers": "customer_id name national_id phone email birth_year education sex "
    "marital_status annual_income locale timezone",
    "accounts": "account_id customer_id currency credit_limit open_date status temp_limit "
    "temp_limit_expires_on",
    "statements": "account_id cycle_date due_date credit_limit statement_balance minimum_due "
    "amount_paid purchases cash_advances repayment_status days_past_due",
    "transactions": "transaction_id account_id posted_at kind amount currency merchant_category",
    "labels": "account_id label observed_on value",
}


def _generate(out: Path, **overrides: object) -> dict[str, Any]:
    options: dict[str, object] = {
        "accounts": 2_500,
        "out": out,
        "seed": 11,
        "months": 12,
        "chunk_size": 1_000,
        "end_cycle": END,
    }
    options.update(overrides)
    return generate_portfolio(GenerateOptions(**options)).as_dict()  # type: ignore[arg-type]


def _read(out: Path, table: str) -> pl.DataFrame:
    return pl.read_parquet(sorted((out / table).glob("*.parquet")))


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    _generate(out)
    return out


def test_layout_has_every_table_as_parts_with_the_contract_columns(portfolio: Path) -> None:
    for table, columns in CONTRACT_COLUMNS.items():
        parts = sorted((portfolio / table).glob("*.parquet"))
        assert parts, table
        schema = pq.read_schema(parts[0])
        assert schema.names == columns.split(), table
        assert schema.equals(SCHEMAS[table]), table
    amounts = pq.read_schema(next((portfolio / "statements").glob("*.parquet")))
    assert amounts.field("statement_balance").type == pa.decimal128(18, 2)


def test_chunking_writes_several_parts_and_one_row_per_account(portfolio: Path) -> None:
    assert len(list((portfolio / "accounts").glob("*.parquet"))) == 3  # 2,500 in 1,000s
    accounts = _read(portfolio, "accounts")
    assert accounts.height == 2_500
    assert accounts["account_id"].n_unique() == 2_500
    statements = _read(portfolio, "statements")
    assert statements.height == 2_500 * 12
    assert statements.select(pl.struct("account_id", "cycle_date").n_unique()).item() == 30_000
    transactions = _read(portfolio, "transactions")
    assert transactions["transaction_id"].n_unique() == transactions.height
    manifest = json.loads((portfolio / "synth.json").read_text())
    assert manifest["rows"]["statements"] == 30_000


def test_same_seed_same_rows_whatever_the_chunk_size(tmp_path: Path) -> None:
    _generate(tmp_path / "a", accounts=2_200, chunk_size=1_000, months=6)
    _generate(tmp_path / "b", accounts=2_200, chunk_size=5_000, months=6)
    _generate(tmp_path / "c", accounts=2_200, chunk_size=1_000, months=6, seed=12)
    for table in ("customers", "statements", "transactions", "labels"):
        a, b = _read(tmp_path / "a", table), _read(tmp_path / "b", table)
        assert a.equals(b), table
    assert not _read(tmp_path / "a", "statements").equals(_read(tmp_path / "c", "statements"))


def test_refuses_to_mix_with_an_existing_portfolio_unless_told(tmp_path: Path) -> None:
    _generate(tmp_path, accounts=10, months=1, transactions=False)
    with pytest.raises(GenerateError, match="--overwrite"):
        _generate(tmp_path, accounts=10, months=1, transactions=False)
    _generate(tmp_path, accounts=20, months=1, transactions=False, overwrite=True)
    assert _read(tmp_path, "accounts").height == 20


def test_an_interrupted_run_resumes_to_the_same_portfolio(tmp_path: Path) -> None:
    _generate(tmp_path / "whole", accounts=3_000, months=3)
    _generate(tmp_path / "cut", accounts=3_000, months=3)
    # Simulate an interruption after the first chunk: later parts never got written.
    for table in ("customers", "accounts", "statements", "transactions", "labels"):
        for part in (tmp_path / "cut" / table).glob("part-0000[12]*.parquet"):
            part.unlink()
    with pytest.raises(GenerateError, match="different months"):
        _generate(tmp_path / "cut", accounts=3_000, months=4, resume=True)
    result = _generate(tmp_path / "cut", accounts=3_000, months=3, resume=True)
    assert result["rows"]["accounts"] == 3_000
    for table in ("customers", "statements", "transactions", "labels"):
        assert _read(tmp_path / "cut", table).equals(_read(tmp_path / "whole", table)), table


def test_no_transactions_leaves_the_optional_table_out(tmp_path: Path) -> None:
    result = _generate(tmp_path, accounts=50, months=6, transactions=False)
    assert not (tmp_path / "transactions").exists()
    assert result["rows"] == {"customers": 50, "accounts": 50, "statements": 300, "labels": 50}


def test_national_ids_are_well_formed_and_match_birth_year_and_sex(portfolio: Path) -> None:
    customers = _read(portfolio, "customers")
    for row in customers.head(500).iter_rows(named=True):
        nid = row["national_id"]
        assert len(nid) == 18
        assert nid[:17].isdigit()
        assert nid[17] == national_id_check_digit(nid[:17])
        assert int(nid[6:10]) == row["birth_year"]
        dt.date(int(nid[6:10]), int(nid[10:12]), int(nid[12:14]))  # a real calendar date
        assert (int(nid[16]) % 2 == 1) == (row["sex"] == "male")


def test_check_digit_matches_the_standard_example() -> None:
    # GB 11643-1999 worked example: 11010519491231002X.
    assert national_id_check_digit("11010519491231002") == "X"


def test_contact_details_are_well_formed_and_unreachable(portfolio: Path) -> None:
    customers = _read(portfolio, "customers")
    phones = customers["phone"].drop_nulls()
    assert phones.str.contains(r"^1[3-9]\d{9}$").all()
    emails = customers["email"].drop_nulls()
    assert emails.str.contains(r"^[a-z]+\d+@example\.(com|cn)$").all()
    assert customers["name"].str.len_chars().is_between(2, 4).all()
    assert 0.4 < customers["annual_income"].is_not_null().mean() < 0.7  # type: ignore[operator]


def test_days_past_due_follow_the_repayment_status_mapping(portfolio: Path) -> None:
    statements = _read(portfolio, "statements")
    expected = (
        pl.when(pl.col("repayment_status") <= 0)
        .then(0)
        .when(pl.col("repayment_status") >= 9)
        .then(270)
        .otherwise(pl.col("repayment_status").cast(pl.Int32) * 30)
    )
    mismatches = statements.filter(pl.col("days_past_due") != expected)
    assert mismatches.height == 0
    assert (
        statements["due_date"] - statements["cycle_date"]
    ).dt.total_days().unique().to_list() == [20]


def test_statements_and_transactions_add_up(portfolio: Path) -> None:
    statements = _read(portfolio, "statements").sort("account_id", "cycle_date")
    # Minimum due: 10 % of a positive balance, at least 100 yuan, never above the balance.
    positive = statements.filter(pl.col("statement_balance") > 0)
    assert (positive["minimum_due"] <= positive["statement_balance"]).all()
    assert (statements.filter(pl.col("statement_balance") <= 0)["minimum_due"] == 0).all()
    transactions = _read(portfolio, "transactions").with_columns(
        cycle=pl.col("posted_at").dt.convert_time_zone("Asia/Shanghai").dt.month_end().dt.date()
    )
    sums = transactions.pivot(
        on="kind", index=["account_id", "cycle"], values="amount", aggregate_function="sum"
    )
    kinds = ["purchase", "cash_advance", "payment", "fee", "interest", "refund"]
    assert set(kinds) <= set(sums.columns)
    joined = statements.join(
        sums, left_on=["account_id", "cycle_date"], right_on=["account_id", "cycle"], how="left"
    ).with_columns(pl.col(kinds).fill_null(Decimal(0)))
    for kind, column in (
        ("purchase", "purchases"),
        ("cash_advance", "cash_advances"),
        ("payment", "amount_paid"),
    ):
        assert (joined[kind] == joined[column]).all(), kind
    # The balance identity holds exactly, in fen, from the second cycle on.
    change = joined.with_columns(previous=pl.col("statement_balance").shift(1).over("account_id"))
    later = change.filter(pl.col("previous").is_not_null())
    rebuilt = (
        later["previous"]
        - later["payment"]
        + later["purchase"]
        + later["cash_advance"]
        + later["interest"]
        + later["fee"]
        - later["refund"]
    )
    assert (rebuilt == later["statement_balance"]).all()


def test_default_rate_and_marginals_are_near_the_fitted_ones(tmp_path: Path) -> None:
    params = load_params()
    _generate(tmp_path, accounts=20_000, months=6, transactions=False, chunk_size=10_000)
    labels = _read(tmp_path, "labels")
    assert labels["value"].mean() == pytest.approx(params["default_rate"], abs=0.015)
    limits = _read(tmp_path, "accounts")["credit_limit"].cast(pl.Float64).to_numpy()
    fitted = next(v for v in params["variables"] if v["name"] == "credit_limit_cny")
    grid = np.asarray(fitted["probabilities"])
    for p in (0.25, 0.5, 0.75):
        expected = float(np.interp(p, grid, fitted["quantiles"]))
        assert np.quantile(limits, p) == pytest.approx(expected, rel=0.06)
    assert (limits % 100 == 0).all()
    statements = _read(tmp_path, "statements")
    latest = statements.filter(pl.col("cycle_date") == pl.lit(END))
    status = latest["repayment_status"].to_numpy()
    fitted_status = next(v for v in params["variables"] if v["name"] == "status_m5")
    for code, p in zip(fitted_status["values"], fitted_status["probabilities"], strict=True):
        if p > 0.05:
            assert np.mean(status == code) == pytest.approx(p, abs=0.02), code
    # Late payers default far more often, as in the real data.
    joined = latest.join(labels, on="account_id")
    late = joined.filter(pl.col("repayment_status") >= 2)["value"].mean()
    current = joined.filter(pl.col("repayment_status") <= 0)["value"].mean()
    assert late > 2 * current  # type: ignore[operator]


def test_decimal_conversion_is_exact_for_negative_and_large_amounts() -> None:
    fen = np.array([0, 1, -1, 12_345, -987_654_321, 10**17 - 1], dtype=np.int64)
    valid = np.array([True, True, True, True, False, True])
    values = decimal_from_fen(fen, valid).to_pylist()
    assert values == [
        Decimal("0.00"),
        Decimal("0.01"),
        Decimal("-0.01"),
        Decimal("123.45"),
        None,
        Decimal("999999999999999.99"),
    ]


def test_cycles_must_end_on_a_month_end(tmp_path: Path) -> None:
    with pytest.raises(GenerateError, match="last day of a month"):
        _generate(tmp_path, accounts=5, end_cycle=dt.date(2026, 10, 15))
