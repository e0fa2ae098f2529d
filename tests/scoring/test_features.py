"""Behaviour features from statement frames built here (no data files needed)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl
import pytest

from cardpilot.scoring.features import FEATURE_NAMES, behaviour_features

AS_OF = dt.date(2005, 9, 30)
CYCLES = [dt.date(2005, m, 1) for m in range(4, 10)]  # oldest first


@dataclass(frozen=True)
class Frames:
    statements: pl.DataFrame
    accounts: pl.DataFrame
    customers: pl.DataFrame


def frames(
    dpd: dict[str, list[int]],
    balance: list[int] | None = None,
    paid: list[int] | None = None,
    sex: str = "female",
) -> Frames:
    rows = []
    for acc, days in dpd.items():
        for i, (cycle, d) in enumerate(zip(CYCLES, days, strict=True)):
            rows.append(
                {
                    "account_id": acc,
                    "cycle_date": cycle,
                    "credit_limit_minor": 1_000_000,
                    "statement_balance_minor": (balance or [500_000] * 6)[i],
                    "minimum_due_minor": None,
                    "amount_paid_minor": (paid or [100_000] * 6)[i],
                    "purchases_minor": None,
                    "cash_advances_minor": None,
                    "repayment_status": d // 30,
                    "days_past_due": d,
                }
            )
    statements = pl.DataFrame(rows).with_columns(
        pl.col("repayment_status").cast(pl.Int16), pl.col("days_past_due").cast(pl.Int32)
    )
    ids = list(dpd)
    accounts = pl.DataFrame(
        {
            "account_id": ids,
            "customer_id": [f"C{a}" for a in ids],
            "credit_limit_minor": [1_000_000] * len(ids),
            "open_date": [dt.date(2003, 1, 15)] * len(ids),
            "status": ["active"] * len(ids),
            "currency": ["TWD"] * len(ids),
        }
    )
    customers = pl.DataFrame(
        {
            "customer_id": [f"C{a}" for a in ids],
            "birth_year": [1970] * len(ids),
            "education": ["university"] * len(ids),
            "annual_income_minor": [None] * len(ids),
            "sex": [sex] * len(ids),
            "marital_status": ["single"] * len(ids),
        },
        schema_overrides={"annual_income_minor": pl.Int64},
    )
    return Frames(statements, accounts, customers)


def one(f: Frames, account: str = "A") -> dict[str, object]:
    table = behaviour_features(f, AS_OF)
    return table.filter(pl.col("account_id") == account).to_dicts()[0]


def test_consecutive_overdue_months_counts_only_the_unbroken_recent_run() -> None:
    # oldest → latest: overdue, overdue, clean, overdue, overdue, overdue
    row = one(frames({"A": [30, 60, 0, 30, 60, 90]}))
    assert row["consecutive_overdue_months"] == 3
    assert row["overdue_count_6m"] == 5
    assert row["overdue_count_3m"] == 3
    assert row["months_overdue_latest"] == 3
    assert row["max_months_overdue_6m"] == 3
    assert row["months_since_last_overdue"] == 0


def test_clean_latest_cycle_means_no_consecutive_overdue_and_counts_months_since() -> None:
    row = one(frames({"A": [0, 60, 0, 0, 0, 0]}))
    assert row["consecutive_overdue_months"] == 0
    assert row["months_since_last_overdue"] == 4
    assert row["max_months_overdue_3m"] == 0


def test_never_overdue_has_null_months_since_last_overdue() -> None:
    row = one(frames({"A": [0] * 6}))
    assert row["months_since_last_overdue"] is None
    assert row["consecutive_overdue_months"] == 0


def test_payment_ratio_pairs_a_payment_with_the_previous_bill() -> None:
    balance = [100_000, 200_000, 400_000, 400_000, 800_000, 800_000]
    paid = [0, 50_000, 100_000, 400_000, 200_000, 800_000]
    row = one(frames({"A": [0] * 6}, balance, paid))
    assert row["payment_ratio_latest"] == pytest.approx(800_000 / 800_000)
    assert row["payment_ratio_previous"] == pytest.approx(200_000 / 400_000)
    assert row["utilisation_latest"] == pytest.approx(0.8)
    assert row["bill_growth"] == pytest.approx((800_000 - 100_000) / 1_000_000)
    assert row["available_credit_minor"] == 200_000


def test_statements_after_as_of_are_ignored() -> None:
    f = frames({"A": [0, 0, 0, 0, 0, 90]})
    table = behaviour_features(f, dt.date(2005, 8, 31))
    assert table.get_column("months_overdue_latest").to_list() == [0]
    assert table.get_column("history_months").to_list() == [5]


def test_one_account_gets_the_same_features_alone_as_in_a_portfolio() -> None:
    many = frames({"A": [0, 30, 0, 60, 0, 30], "B": [0] * 6, "C": [90] * 6})
    alone = Frames(
        many.statements.filter(pl.col("account_id") == "B"),
        many.accounts.filter(pl.col("account_id") == "B"),
        many.customers.filter(pl.col("customer_id") == "CB"),
    )
    assert one(many, "B") == one(alone, "B")


def test_money_features_are_integer_minor_units() -> None:
    table = behaviour_features(frames({"A": [0] * 6}), AS_OF)
    for name in FEATURE_NAMES:
        if name.endswith("_minor"):
            assert table.schema[name] == pl.Int64, name


def test_protected_attributes_never_change_or_appear_in_features() -> None:
    women = behaviour_features(frames({"A": [0, 30, 0, 0, 0, 0]}, sex="female"), AS_OF)
    men = behaviour_features(frames({"A": [0, 30, 0, 0, 0, 0]}, sex="male"), AS_OF)
    assert women.equals(men)
    assert not {"sex", "marital_status"} & set(women.columns)


def test_extra_features_from_the_cycle_history() -> None:
    # oldest → latest
    balance = [100_000, 200_000, 400_000, 400_000, 600_000, 800_000]
    paid = [0, 50_000, 100_000, 400_000, 200_000, 150_000]
    row = one(frames({"A": [0, 30, 0, 60, 0, 30]}, balance, paid))
    assert row["overdue_months_total_6m"] == 1 + 2 + 1
    assert row["status_revolving_months_6m"] == 3  # repayment status 0 in three cycles
    # ratios: 50k/100k, 100k/200k, 400k/400k, 200k/400k, 150k/600k
    assert row["payment_ratio_min_6m"] == pytest.approx(150_000 / 600_000)
    assert row["unpaid_to_limit_latest"] == pytest.approx((600_000 - 150_000) / 1_000_000)
    assert row["utilisation_previous"] == pytest.approx(0.6)
    assert row["utilisation_change_1m"] == pytest.approx(0.8 - 0.6)
