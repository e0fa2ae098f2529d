"""Early-warning features from a hand-made statement history."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from cardpilot.domain.portfolio import STATEMENT_SCHEMA
from cardpilot.warning.features import trend_features

DATES = [dt.date(2025, m, 28) for m in range(1, 7)]


def _statements(balances: list[int], paid: list[int], minimum: list[int | None]) -> pl.DataFrame:
    n = len(balances)
    return pl.DataFrame(
        {
            "account_id": ["a"] * n,
            "cycle_date": DATES[:n],
            "due_date": [d + dt.timedelta(days=20) for d in DATES[:n]],
            "credit_limit_minor": [10_000] * n,
            "statement_balance_minor": balances,
            "minimum_due_minor": minimum,
            "amount_paid_minor": paid,
            "purchases_minor": [None] * n,
            "cash_advances_minor": [None] * n,
            "repayment_status": [0] * n,
            "days_past_due": [0] * n,
        },
        schema=STATEMENT_SCHEMA,
    )


ACCOUNTS = pl.DataFrame({"account_id": ["a"], "credit_limit_minor": [10_000]})


def test_a_payment_below_the_minimum_and_a_utilisation_jump_show() -> None:
    s = _statements(
        [1_000, 1_000, 1_000, 1_000, 2_000, 6_000],
        [1_000, 1_000, 1_000, 1_000, 1_000, 100],
        [100, 100, 100, 100, 200, 600],
    )
    row = trend_features(s, ACCOUNTS, DATES[-1], 6).row(0, named=True)
    assert row["paid_to_minimum_latest"] == pytest.approx(0.5)  # 100 against 200 due
    assert row["payment_drop"] == pytest.approx(0.1)
    assert row["utilisation_jump_3m"] == pytest.approx(0.5)  # 60 % now, 10 % three cycles ago
    assert row["balance_trend_3m"] == pytest.approx(6_000 / (4_000 / 3))
    # spend, estimated as balance - previous balance + payment: 4,100 against about 1,000
    assert row["spend_spike"] > 3
    assert row["unpaid_growth_1m"] == pytest.approx((5_900 - 1_000) / 10_000)
    assert row["cash_advance_share_latest"] is None  # the statements carry no cash advances


def test_statements_after_as_of_are_ignored() -> None:
    s = _statements([1_000] * 6, [500] * 6, [None] * 6)
    row = trend_features(s, ACCOUNTS, DATES[3], 6).row(0, named=True)
    assert row["utilisation_jump_3m"] == pytest.approx(0.0)
    assert row["paid_to_minimum_latest"] is None
