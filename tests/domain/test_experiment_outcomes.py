"""A test's outcomes per arm: later statements, cases and labels read per account."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from cardpilot.domain.experiment_outcomes import compare_outcomes, outcome_json

D = dt.date(2005, 10, 31)


def _frames() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    decisions = pl.DataFrame(
        {
            "account_id": ["1", "2", "3", "4"],
            "arm": ["champion", "champion", "challenger", "challenger"],
            "old_limit_minor": [100_000] * 4,
            "new_limit_minor": [100_000, 100_000, 130_000, 150_000],
        }
    )
    later = pl.DataFrame(
        {
            "account_id": ["1", "1", "2", "3", "4"],
            "arm": ["champion", "champion", "champion", "challenger", "challenger"],
            "cycle_date": [D, D + dt.timedelta(days=30), D, D, D],
            "credit_limit_minor": [100_000, 100_000, 100_000, 130_000, None],
            "statement_balance_minor": [50_000, 30_000, -5_000, 65_000, 10_000],
            "amount_paid_minor": [10_000, 30_000, 0, 5_000, 10_000],
            "days_past_due": [0, 30, 0, 0, 0],
            "repayment_status": [0, 1, -1, 0, None],
        }
    )
    cases = pl.DataFrame({"account_id": ["3"], "arm": ["challenger"], "requested_by": ["customer"]})
    labels = pl.DataFrame(
        {
            "account_id": ["1", "2", "3", "4"],
            "arm": ["champion", "champion", "challenger", "challenger"],
            "label": ["default_next_month"] * 4,
            "value": [1, 0, 0, 0],
        }
    )
    return decisions, later, cases, labels


def test_each_outcome_is_read_per_account_and_arm() -> None:
    out = {o.metric: o.comparison for o in compare_outcomes(*_frames())}
    assert out["overdue_next_cycles"].champion.value == pytest.approx(0.5)  # account 1 only
    assert out["overdue_next_cycles"].challenger.value == 0
    # account 1: (0.5 + 0.3) / 2, account 2: a credit balance counts as 0
    assert out["utilisation"].champion.value == pytest.approx(0.2)
    assert out["utilisation"].challenger.n == 1  # account 4's statement has no limit
    # revolving: account 1 (40,000 + 0) / 2, account 2 none
    assert out["revolving_balance"].champion.value == pytest.approx(10_000)
    assert out["complaints"].challenger.value == pytest.approx(0.5)
    assert out["human_review_cases"].champion.value == 0
    assert out["label:default_next_month"].champion.value == pytest.approx(0.5)
    assert out["limit_change"].difference == pytest.approx(40_000)


def test_the_json_gives_money_in_major_units_and_rates_as_decimal_text() -> None:
    outcomes = {o.metric: outcome_json(o) for o in compare_outcomes(*_frames())}
    assert outcomes["limit_change"]["difference"]["value"] == "400.00"
    assert outcomes["overdue_next_cycles"]["champion"]["value"] == "0.500000"
