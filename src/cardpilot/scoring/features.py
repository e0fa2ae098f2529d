"""Behaviour features per account as of a date, from statement history.

One vectorised Polars plan computes every feature for one account or for millions; nothing loops
over accounts in Python. The feature dictionary (``FEATURE_DICTIONARY`` and docs/features.md)
says what each column means, its unit and how it is derived.

Conventions (see docs/features.md):

* The window is the latest ``window`` statement cycles (default 6) with ``cycle_date <= as_of``;
  ``k = 0`` is the latest cycle, ``k = 1`` the one before, and so on.
* A cycle is *overdue* when ``days_past_due > 0``; its months overdue are ``ceil(dpd / 30)``.
* A payment mostly settles the previous cycle's bill, so the payment ratio of cycle ``k`` is
  ``amount_paid(k) / statement_balance(k + 1)`` (CONTRACTS.md, UCI mapping).
* Money stays in integer minor units; ratios are floats. Protected attributes (sex, marital
  status) are never read here: the customer frame is projected to the allowed columns first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

import polars as pl

DEFAULT_WINDOW = 6
PAYMENT_RATIO_CAP = 2.0  # paying twice the bill says no more about risk than paying it once


class PortfolioLike(Protocol):
    """Anything holding the three frames of CONTRACTS.md (PortfolioFrames, UciRead.frames)."""

    @property
    def statements(self) -> pl.DataFrame: ...

    @property
    def accounts(self) -> pl.DataFrame: ...

    @property
    def customers(self) -> pl.DataFrame: ...


@dataclass(frozen=True)
class FeatureSpec:
    """One entry of the feature dictionary."""

    name: str
    kind: str  # "numeric" | "categorical" | "id"
    unit: str
    description: str
    # Direction of risk where the domain demands it: +1 higher value never lowers risk,
    # -1 higher value never raises risk, 0 no constraint (learned from data).
    risk_direction: int = 0


FEATURE_DICTIONARY: tuple[FeatureSpec, ...] = (
    FeatureSpec("account_id", "id", "", "Account identifier."),
    FeatureSpec(
        "credit_limit_minor", "numeric", "minor units", "Current credit limit of the account."
    ),
    FeatureSpec(
        "history_months", "numeric", "cycles", "Statement cycles in the window (at most 6)."
    ),
    FeatureSpec(
        "utilisation_latest", "numeric", "ratio", "Latest statement balance / credit limit."
    ),
    FeatureSpec("utilisation_avg_6m", "numeric", "ratio", "Mean utilisation over the window."),
    FeatureSpec("utilisation_max_6m", "numeric", "ratio", "Highest utilisation in the window."),
    FeatureSpec(
        "utilisation_trend",
        "numeric",
        "ratio / month",
        "Least-squares slope of utilisation per cycle (positive: rising).",
    ),
    FeatureSpec(
        "payment_ratio_latest",
        "numeric",
        "ratio",
        "Latest payment / previous statement balance, capped at 2; null when nothing was owed.",
        -1,
    ),
    FeatureSpec(
        "payment_ratio_avg_6m",
        "numeric",
        "ratio",
        "Mean of the payment ratios in the window (cycles that owed something).",
        -1,
    ),
    FeatureSpec(
        "payment_ratio_previous",
        "numeric",
        "ratio",
        "Payment ratio of the cycle before the latest.",
        -1,
    ),
    FeatureSpec(
        "payment_ratio_min_3m",
        "numeric",
        "ratio",
        "Lowest payment ratio among the latest 3 cycles.",
        -1,
    ),
    FeatureSpec(
        "revolving_months_6m",
        "numeric",
        "cycles",
        "Cycles that paid less than the previous balance owed (balance carried over).",
    ),
    FeatureSpec(
        "paid_in_full_months_6m",
        "numeric",
        "cycles",
        "Cycles that paid at least the previous balance owed.",
    ),
    FeatureSpec(
        "inactive_months_6m",
        "numeric",
        "cycles",
        "Cycles with no balance owed and no payment (card not used).",
    ),
    FeatureSpec(
        "repayment_status_latest",
        "numeric",
        "issuer code",
        "Issuer's repayment status of the latest cycle (-2 no use, -1 paid in full, "
        "0 revolving, 1..9 months late); null when the issuer gives none.",
    ),
    FeatureSpec(
        "repayment_status_previous",
        "numeric",
        "issuer code",
        "Issuer's repayment status of the cycle before the latest; null when none.",
    ),
    FeatureSpec(
        "repayment_pattern_3m",
        "categorical",
        "issuer codes",
        "Issuer's repayment status of the latest 3 cycles, latest first, each capped to -2..3 "
        "(e.g. '2|2|0'); null when the issuer gives none. Lets the scorecard see how "
        "delinquency moved, not just its level.",
    ),
    FeatureSpec(
        "status_paid_in_full_months_6m",
        "numeric",
        "cycles",
        "Cycles the issuer marked paid in full (repayment status -1).",
    ),
    FeatureSpec(
        "status_no_use_months_6m",
        "numeric",
        "cycles",
        "Cycles the issuer marked as no consumption (repayment status -2).",
    ),
    FeatureSpec(
        "missed_payment_months_6m",
        "numeric",
        "cycles",
        "Cycles with a positive previous balance and no payment at all.",
        +1,
    ),
    FeatureSpec(
        "months_overdue_latest", "numeric", "months", "Months overdue in the latest cycle.", +1
    ),
    FeatureSpec(
        "months_overdue_previous",
        "numeric",
        "months",
        "Months overdue in the cycle before the latest.",
        +1,
    ),
    FeatureSpec(
        "max_months_overdue_3m", "numeric", "months", "Most months overdue, latest 3 cycles.", +1
    ),
    FeatureSpec(
        "max_months_overdue_6m", "numeric", "months", "Most months overdue in the window.", +1
    ),
    FeatureSpec("overdue_count_3m", "numeric", "cycles", "Overdue cycles among the latest 3.", +1),
    FeatureSpec("overdue_count_6m", "numeric", "cycles", "Overdue cycles in the window.", +1),
    FeatureSpec(
        "consecutive_overdue_months",
        "numeric",
        "cycles",
        "Number of most recent consecutive cycles with an overdue payment (0 if the latest "
        "cycle is not overdue).",
        +1,
    ),
    FeatureSpec(
        "months_since_last_overdue",
        "numeric",
        "cycles",
        "Cycles since the latest overdue one (0: the latest cycle is overdue); null when none "
        "in the window.",
    ),
    FeatureSpec(
        "bill_growth",
        "numeric",
        "ratio",
        "(Latest balance − oldest balance in the window) / credit limit.",
    ),
    FeatureSpec(
        "payment_volatility",
        "numeric",
        "ratio",
        "Coefficient of variation (std / mean) of the payments in the window; null when "
        "nothing was paid.",
    ),
    FeatureSpec(
        "payment_to_limit_latest",
        "numeric",
        "ratio",
        "Latest payment / credit limit.",
        -1,
    ),
    FeatureSpec(
        "payment_to_limit_avg_6m",
        "numeric",
        "ratio",
        "Mean payment in the window / credit limit.",
        -1,
    ),
    FeatureSpec("paid_latest_minor", "numeric", "minor units", "Latest payment."),
    FeatureSpec(
        "paid_avg_6m_minor", "numeric", "minor units", "Mean payment per cycle in the window."
    ),
    FeatureSpec("balance_latest_minor", "numeric", "minor units", "Latest statement balance."),
    FeatureSpec(
        "available_credit_minor",
        "numeric",
        "minor units",
        "Credit limit − latest statement balance (negative when over the limit).",
    ),
    FeatureSpec(
        "spend_avg_6m_minor",
        "numeric",
        "minor units",
        "Mean new spending per cycle: purchases + cash advances when the issuer reports them, "
        "else max(0, balance − previous balance + payment).",
    ),
    FeatureSpec("spend_to_limit_avg_6m", "numeric", "ratio", "spend_avg_6m_minor / credit limit."),
    FeatureSpec(
        "cash_advance_share",
        "numeric",
        "ratio",
        "Cash advances / (purchases + cash advances) in the window; null when not reported.",
    ),
    FeatureSpec(
        "months_on_book",
        "numeric",
        "months",
        "Whole months from the account's open date to as-of; null when unknown.",
    ),
    FeatureSpec("age", "numeric", "years", "as_of year − birth year; null when unknown."),
    FeatureSpec("education", "categorical", "", "Education level as recorded by the issuer."),
    FeatureSpec(
        "annual_income_minor", "numeric", "minor units", "Declared annual income; null if unknown."
    ),
)

# --- Per-cycle behaviour extras (issue #4; chosen by cross-validation on the training rows,
# bench/select_models.py, docs/scoring.md "How the model was chosen"). Computed in the same
# plan as the rest by ``_extra_aggregations``; keep the two in step.
EXTRA_FEATURES: tuple[FeatureSpec, ...] = (
    FeatureSpec(
        "overdue_months_total_6m",
        "numeric",
        "months",
        "Sum of the months overdue of every cycle in the window (depth and duration together).",
        +1,
    ),
    FeatureSpec(
        "payment_ratio_min_6m",
        "numeric",
        "ratio",
        "Lowest payment ratio in the window (cycles that owed something).",
        -1,
    ),
    FeatureSpec(
        "status_revolving_months_6m",
        "numeric",
        "cycles",
        "Cycles the issuer marked revolving (repayment status 0: minimum paid, balance carried).",
    ),
    FeatureSpec(
        "unpaid_to_limit_latest",
        "numeric",
        "ratio",
        "Part of the previous balance the latest payment left unpaid / credit limit.",
    ),
    FeatureSpec(
        "utilisation_previous",
        "numeric",
        "ratio",
        "Utilisation of the cycle before the latest.",
    ),
    FeatureSpec(
        "utilisation_change_1m",
        "numeric",
        "ratio",
        "Latest utilisation − utilisation of the cycle before (positive: rising).",
    ),
)
FEATURE_DICTIONARY = FEATURE_DICTIONARY + EXTRA_FEATURES


def _extra_aggregations(k: pl.Expr) -> dict[str, pl.Expr]:
    """Per-account aggregations of the cycle plan for ``EXTRA_FEATURES``."""
    util = pl.col("_util")
    unpaid = pl.max_horizontal(
        pl.col("_prev_balance") - pl.col("amount_paid_minor"), pl.lit(0, pl.Int64)
    )
    return {
        "overdue_months_total_6m": pl.col("_months_overdue").sum().cast(pl.Int32),
        "payment_ratio_min_6m": pl.col("_pay_ratio").min(),
        "status_revolving_months_6m": (pl.col("repayment_status") == 0).sum().cast(pl.Int32),
        "unpaid_to_limit_latest": _ratio(unpaid, pl.col("_limit")).filter(k == 0).first(),
        "utilisation_previous": util.filter(k == 1).first(),
        "utilisation_change_1m": util.filter(k == 0).first() - util.filter(k == 1).first(),
    }


FEATURE_NAMES: tuple[str, ...] = tuple(s.name for s in FEATURE_DICTIONARY)
MODEL_FEATURES: tuple[str, ...] = tuple(s.name for s in FEATURE_DICTIONARY if s.kind != "id")
CATEGORICAL_FEATURES: frozenset[str] = frozenset(
    s.name for s in FEATURE_DICTIONARY if s.kind == "categorical"
)
# Customer columns the feature plan may read; anything else (sex, marital status, ...) is
# dropped before the join so no feature can derive from it.
CUSTOMER_COLUMNS_USED: tuple[str, ...] = (
    "customer_id",
    "birth_year",
    "education",
    "annual_income_minor",
)


def feature_spec(name: str) -> FeatureSpec:
    for spec in FEATURE_DICTIONARY:
        if spec.name == name:
            return spec
    raise KeyError(f"unknown feature {name!r}; see cardpilot.scoring.features.FEATURE_DICTIONARY")


def _ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    return pl.when(den > 0).then(num.cast(pl.Float64) / den.cast(pl.Float64)).otherwise(None)


def _cycle_plan(
    statements: pl.LazyFrame, accounts: pl.LazyFrame, as_of: dt.date, window: int
) -> pl.LazyFrame:
    """Per-cycle quantities: one row per (account, cycle) in the window, ``k = 0`` latest."""
    limits = accounts.select("account_id", pl.col("credit_limit_minor").alias("_account_limit"))
    ordered = (
        statements.filter(pl.col("cycle_date") <= as_of)
        .join(limits, on="account_id", how="left")
        .sort("account_id", "cycle_date")
        .with_columns(
            k=(pl.len().over("account_id") - 1 - pl.int_range(pl.len()).over("account_id")).cast(
                pl.Int32
            ),
            # The previous cycle's bill is what this cycle's payment settles.
            _prev_balance=pl.col("statement_balance_minor").shift(1).over("account_id"),
        )
        .filter(pl.col("k") < window)
    )
    limit = pl.coalesce(pl.col("credit_limit_minor"), pl.col("_account_limit"))
    paid = pl.col("amount_paid_minor")
    prev = pl.col("_prev_balance")
    balance = pl.col("statement_balance_minor")
    reported_spend = pl.col("purchases_minor") + pl.col("cash_advances_minor").fill_null(0)
    estimated_spend = pl.max_horizontal(balance - prev + paid, pl.lit(0, pl.Int64))
    dpd = pl.col("days_past_due").fill_null(0)
    return ordered.with_columns(
        _limit=limit,
        _util=_ratio(balance, limit),
        _pay_ratio=_ratio(paid, prev).clip(0.0, PAYMENT_RATIO_CAP),
        _revolving=((prev > 0) & (paid < prev)).fill_null(False),
        _paid_full=((prev > 0) & (paid >= prev)).fill_null(False),
        _inactive=((balance <= 0) & (paid == 0)),
        _missed=((prev > 0) & (paid == 0)).fill_null(False),
        _spend=pl.coalesce(reported_spend, estimated_spend),
        _overdue=dpd > 0,
        _months_overdue=((dpd + 29) // 30).cast(pl.Int32),
    )


def behaviour_features(
    frames: PortfolioLike, as_of: dt.date, *, window: int = DEFAULT_WINDOW
) -> pl.DataFrame:
    """One row per account with statements on or before ``as_of``; columns of FEATURE_NAMES."""
    return behaviour_features_lazy(
        frames.statements.lazy(), frames.accounts.lazy(), frames.customers.lazy(), as_of, window
    ).collect()


def behaviour_features_lazy(
    statements: pl.LazyFrame,
    accounts: pl.LazyFrame,
    customers: pl.LazyFrame,
    as_of: dt.date,
    window: int = DEFAULT_WINDOW,
) -> pl.LazyFrame:
    """The lazy plan behind :func:`behaviour_features` (streams, or runs in Spark via Arrow)."""
    cycles = _cycle_plan(statements, accounts, as_of, window)
    k = pl.col("k")
    util = pl.col("_util")
    t = -k.cast(pl.Float64)  # time runs forward: the latest cycle has the largest t
    mo = pl.col("_months_overdue")
    overdue = pl.col("_overdue")
    paid = pl.col("amount_paid_minor").cast(pl.Float64)
    latest = k == 0
    per_account = cycles.group_by("account_id").agg(
        _limit_latest=pl.col("_limit").filter(latest).first(),
        history_months=pl.len().cast(pl.Int32),
        utilisation_latest=util.filter(latest).first(),
        utilisation_avg_6m=util.mean(),
        utilisation_max_6m=util.max(),
        utilisation_trend=pl.cov(t, util) / t.var(),
        payment_ratio_latest=pl.col("_pay_ratio").filter(latest).first(),
        payment_ratio_avg_6m=pl.col("_pay_ratio").mean(),
        payment_ratio_previous=pl.col("_pay_ratio").filter(k == 1).first(),
        payment_ratio_min_3m=pl.col("_pay_ratio").filter(k < 3).min(),
        revolving_months_6m=pl.col("_revolving").sum().cast(pl.Int32),
        paid_in_full_months_6m=pl.col("_paid_full").sum().cast(pl.Int32),
        inactive_months_6m=pl.col("_inactive").sum().cast(pl.Int32),
        repayment_status_latest=pl.col("repayment_status").filter(latest).first().cast(pl.Int16),
        repayment_status_previous=pl.col("repayment_status").filter(k == 1).first().cast(pl.Int16),
        repayment_pattern_3m=pl.when(
            pl.col("repayment_status").filter(k < 3).null_count() == 0
        ).then(
            pl.col("repayment_status")
            .filter(k < 3)
            .sort_by(k.filter(k < 3))
            .clip(-2, 3)
            .cast(pl.Utf8)
            .str.join("|")
        ),
        status_paid_in_full_months_6m=(pl.col("repayment_status") == -1).sum().cast(pl.Int32),
        status_no_use_months_6m=(pl.col("repayment_status") == -2).sum().cast(pl.Int32),
        missed_payment_months_6m=pl.col("_missed").sum().cast(pl.Int32),
        months_overdue_latest=mo.filter(latest).first(),
        months_overdue_previous=mo.filter(k == 1).first(),
        max_months_overdue_3m=mo.filter(k < 3).max(),
        max_months_overdue_6m=mo.max(),
        overdue_count_3m=overdue.filter(k < 3).sum().cast(pl.Int32),
        overdue_count_6m=overdue.sum().cast(pl.Int32),
        consecutive_overdue_months=k.filter(~overdue).min().fill_null(pl.len()).cast(pl.Int32),
        months_since_last_overdue=k.filter(overdue).min().cast(pl.Int32),
        _balance_latest=pl.col("statement_balance_minor").filter(latest).first(),
        _balance_oldest=pl.col("statement_balance_minor").sort_by(k).last(),
        payment_volatility=pl.when(paid.mean() > 0).then(paid.std(ddof=0) / paid.mean()),
        _paid_latest=pl.col("amount_paid_minor").filter(latest).first(),
        _paid_avg=paid.mean(),
        _spend_avg=pl.col("_spend").cast(pl.Float64).mean(),
        _cash=pl.col("cash_advances_minor").sum(),
        _cash_n=pl.col("cash_advances_minor").count(),
        _purch=pl.col("purchases_minor").sum(),
        **_extra_aggregations(k),
    )
    acc = accounts.select("account_id", "customer_id", "credit_limit_minor", "open_date")
    cust = customers.select(*CUSTOMER_COLUMNS_USED)
    lim = pl.coalesce(pl.col("credit_limit_minor"), pl.col("_limit_latest"))
    spend_total = pl.col("_purch") + pl.col("_cash")
    months_on_book = (as_of.year - pl.col("open_date").dt.year()) * 12 + (
        as_of.month - pl.col("open_date").dt.month()
    )
    plan: pl.LazyFrame = (
        per_account.join(acc, on="account_id", how="left")
        .join(cust, on="customer_id", how="left")
        .with_columns(credit_limit_minor=lim.cast(pl.Int64))
        .with_columns(
            bill_growth=_ratio(
                pl.col("_balance_latest") - pl.col("_balance_oldest"), pl.col("credit_limit_minor")
            ),
            payment_to_limit_latest=_ratio(pl.col("_paid_latest"), pl.col("credit_limit_minor")),
            payment_to_limit_avg_6m=pl.when(pl.col("credit_limit_minor") > 0).then(
                pl.col("_paid_avg") / pl.col("credit_limit_minor")
            ),
            paid_latest_minor=pl.col("_paid_latest").cast(pl.Int64),
            paid_avg_6m_minor=pl.col("_paid_avg").round(0).cast(pl.Int64),
            balance_latest_minor=pl.col("_balance_latest").cast(pl.Int64),
            available_credit_minor=(pl.col("credit_limit_minor") - pl.col("_balance_latest")).cast(
                pl.Int64
            ),
            spend_avg_6m_minor=pl.col("_spend_avg").round(0).cast(pl.Int64),
            spend_to_limit_avg_6m=pl.when(pl.col("credit_limit_minor") > 0).then(
                pl.col("_spend_avg") / pl.col("credit_limit_minor")
            ),
            cash_advance_share=pl.when((pl.col("_cash_n") > 0) & (spend_total > 0)).then(
                pl.col("_cash").cast(pl.Float64) / spend_total
            ),
            months_on_book=pl.when(pl.col("open_date").is_not_null()).then(
                months_on_book.cast(pl.Int32)
            ),
            age=(as_of.year - pl.col("birth_year").cast(pl.Int32)),
            education=pl.col("education").cast(pl.Utf8),
            annual_income_minor=pl.col("annual_income_minor").cast(pl.Int64),
        )
        .select(*FEATURE_NAMES)
        .sort("account_id")
    )
    return plan
