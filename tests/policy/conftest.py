"""Shared fixtures for policy tests: the shipped policy, its raw YAML, and an account factory."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from typing import Any

import polars as pl
import pytest

from cardpilot.policy.limits import decide_limits
from cardpilot.policy.loading import load_policy, read_policy_data
from cardpilot.policy.schema import Policy

AS_OF = dt.date(2026, 12, 1)

# A well-behaved Excellent account in the standard segment, due for review, no caps binding.
BASE_ACCOUNT: dict[str, Any] = {
    "account_id": "A1",
    "score": 810,  # exactly the middle of the excellent band (720-900)
    "pd": 0.01,
    "reason_codes": ["RC_LONG_HISTORY"],
    "model_version": "scorecard-2026.11",
    "credit_limit_minor": 2_000_000,  # 20,000 yuan
    "utilisation_latest": 0.3,
    "utilisation_avg_6m": 0.3,
    "utilisation_trend": 0.0,
    "payment_ratio_avg_6m": 0.6,
    "revolving_months_6m": 1,
    "months_overdue_latest": 0,
    "max_months_overdue_6m": 0,
    "overdue_count_3m": 0,
    "overdue_count_6m": 0,
    "consecutive_overdue_months": 0,
    "months_since_last_overdue": None,
    "bill_growth": 0.0,
    "payment_volatility": 0.1,
    "spend_avg_6m_minor": 500_000,
    "cash_advance_share": 0.0,
    "months_on_book": 36,
    "age": 35,
    "education": "university",
    "annual_income_minor": None,
    "last_review_on": None,
    "last_limit_change_on": None,
}

Decide = Callable[..., dict[str, Any]]


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy()


@pytest.fixture
def policy_data() -> tuple[dict[str, Any], dict[str, Any]]:
    """Fresh copies of the shipped limits.yaml and reasons.yaml documents."""
    limits, reasons = read_policy_data()
    return copy.deepcopy(limits), copy.deepcopy(reasons)


def frame_of(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema_overrides={
            "reason_codes": pl.List(pl.String),
            "months_since_last_overdue": pl.Int64,
            "annual_income_minor": pl.Int64,
            "last_review_on": pl.Date,
            "last_limit_change_on": pl.Date,
            "months_on_book": pl.Int64,
            "score": pl.Int64,
            "pd": pl.Float64,
        },
    )


def account(**overrides: Any) -> dict[str, Any]:
    row = dict(BASE_ACCOUNT)
    row.update(overrides)
    return row


@pytest.fixture
def decide(policy: Policy) -> Decide:
    """Decide one account built from BASE_ACCOUNT with overrides; returns the decision row."""

    def run(pol: Policy | None = None, **overrides: Any) -> dict[str, Any]:
        out = decide_limits(frame_of([account(**overrides)]), pol or policy, AS_OF)
        return out.row(0, named=True)

    return run


@pytest.fixture(scope="session")
def as_of() -> dt.date:
    return AS_OF


@pytest.fixture(scope="session")
def make_account() -> Callable[..., dict[str, Any]]:
    """BASE_ACCOUNT with overrides."""
    return account


@pytest.fixture(scope="session")
def make_frame() -> Callable[[list[dict[str, Any]]], pl.DataFrame]:
    """A feature table from account dicts, with the nullable columns typed."""
    return frame_of
