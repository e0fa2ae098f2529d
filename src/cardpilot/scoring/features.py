"""Behaviour features per account as of a date, from statement history.

One vectorised Polars plan computes every feature for one account or for millions; nothing loops
over accounts in Python. ``behaviour_features`` numbers the accounts by an integer first (no
sort or hash of the string ids per statement) and, when every account has as many cycles in
the window, reads cycle ``k`` as a column instead of grouping; it gives the same frame, bit for
bit, as the general plan (``behaviour_features_lazy``), which it falls back to otherwise;
``payment_volatility`` alone is not reproducible to the last bit even by the general plan run
twice (Polars' grouped ``std``), tests/scoring/test_features_equality.py. The feature
dictionary (``scoring.feature_dictionary`` and docs/features.md) says what each column means, its
unit and how it is derived.

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
from typing import Protocol

import numpy as np
import polars as pl

from cardpilot.scoring.feature_dictionary import (
    CATEGORICAL_FEATURES,
    EXTRA_FEATURES,
    FEATURE_DICTIONARY,
    FEATURE_NAMES,
    MODEL_FEATURES,
    feature_spec,
)
from cardpilot.scoring.feature_spec import FeatureSpec

# Callers import the dictionary's names from here too; they live in feature_dictionary.
__all__ = [
    "CATEGORICAL_FEATURES",
    "CUSTOMER_COLUMNS_USED",
    "DEFAULT_WINDOW",
    "EXTRA_FEATURES",
    "FEATURE_DICTIONARY",
    "FEATURE_NAMES",
    "MODEL_FEATURES",
    "PAYMENT_RATIO_CAP",
    "FeatureSpec",
    "PortfolioLike",
    "behaviour_features",
    "behaviour_features_lazy",
    "feature_spec",
]

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


# dropped before the join so no feature can derive from it.
CUSTOMER_COLUMNS_USED: tuple[str, ...] = (
    "customer_id",
    "birth_year",
    "education",
    "annual_income_minor",
)


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
    return ordered.with_columns(**_cycle_columns())


def _cycle_columns() -> dict[str, pl.Expr]:
    """Row-wise quantities of a cycle row (``_prev_balance``, ``_account_limit`` given)."""
    limit = pl.coalesce(pl.col("credit_limit_minor"), pl.col("_account_limit"))
    paid = pl.col("amount_paid_minor")
    prev = pl.col("_prev_balance")
    balance = pl.col("statement_balance_minor")
    reported_spend = pl.col("purchases_minor") + pl.col("cash_advances_minor").fill_null(0)
    estimated_spend = pl.max_horizontal(balance - prev + paid, pl.lit(0, pl.Int64))
    dpd = pl.col("days_past_due").fill_null(0)
    return {
        "_limit": limit,
        "_util": _ratio(balance, limit),
        "_pay_ratio": _ratio(paid, prev).clip(0.0, PAYMENT_RATIO_CAP),
        "_revolving": ((prev > 0) & (paid < prev)).fill_null(False),
        "_paid_full": ((prev > 0) & (paid >= prev)).fill_null(False),
        "_inactive": ((balance <= 0) & (paid == 0)),
        "_missed": ((prev > 0) & (paid == 0)).fill_null(False),
        "_spend": pl.coalesce(reported_spend, estimated_spend),
        "_overdue": dpd > 0,
        "_months_overdue": ((dpd + 29) // 30).cast(pl.Int32),
    }


def behaviour_features(
    frames: PortfolioLike, as_of: dt.date, *, window: int = DEFAULT_WINDOW
) -> pl.DataFrame:
    """One row per account with statements on or before ``as_of``; columns of FEATURE_NAMES.

    Accounts with unique ids and at most one statement per account and date (what the store
    holds) take a shortcut: the accounts are numbered, the statements put in order by integer
    keys, and the aggregations run on those numbers (``_sorted_cycles``). Any other input
    goes through :func:`behaviour_features_lazy`. Both give the same frame (module docstring;
    tests/scoring/test_features_equality.py).
    """
    fast = _sorted_features(frames, as_of, window)
    if fast is not None:
        return fast
    return behaviour_features_lazy(
        frames.statements.lazy(), frames.accounts.lazy(), frames.customers.lazy(), as_of, window
    ).collect()


def _sorted_cycles(
    statements: pl.DataFrame, accounts: pl.DataFrame, as_of: dt.date, window: int
) -> tuple[pl.DataFrame, int | None, pl.Series] | None:
    """``_cycle_plan`` on integer account numbers, or None when the shortcut does not apply.

    The accounts, in account-id order (the readers hand them over so; else sorted here),
    number the accounts; one join gives each statement its account's number and limit, an
    integer sort puts the cycles in (account, cycle_date) order, and the run boundaries give
    ``k`` and the previous balance. The cycle rows carry that number as ``_idx``; with them
    come the number of cycles every account has in the window when it is the same for all
    (else None) and the ids in account-number order. None when an account appears twice in
    ``accounts``, a statement's account is not among them, or an account has two statements
    on one date (the general plan's order is then its sort's).
    """
    st = statements.filter(pl.col("cycle_date") <= as_of)
    ids = accounts.get_column("account_id")
    if st.height == 0 or ids.null_count():
        return None
    if not _strictly_increasing(ids):
        accounts = accounts.sort("account_id")
        ids = accounts.get_column("account_id")
        if not _strictly_increasing(ids):  # an account twice
            return None
    index = pl.DataFrame(
        {
            "account_id": ids,
            "_idx": np.arange(len(ids), dtype=np.int64),
            "_account_limit": accounts.get_column("credit_limit_minor"),
        }
    )
    keys = st.select("account_id").join(index, on="account_id", how="left", maintain_order="left")
    idx_col = keys.get_column("_idx")
    if idx_col.null_count() or keys.height != st.height:
        return None
    idx = idx_col.to_numpy()
    days = st.get_column("cycle_date").to_physical().to_numpy()
    order = np.lexsort((days, idx))
    idx = idx[order]
    days = days[order]
    n = len(idx)
    new = np.empty(n, dtype=np.bool_)
    new[0] = True
    np.not_equal(idx[1:], idx[:-1], out=new[1:])
    if not (new[1:] | (days[1:] > days[:-1])).all():
        return None
    starts = np.flatnonzero(new)
    lengths = np.diff(np.append(starts, n))
    run = np.repeat(np.arange(len(starts)), lengths)
    k = (lengths[run] - 1 - (np.arange(n) - starts[run])).astype(np.int32)
    keep = k < window
    rows = order[keep]
    # The previous cycle of a row (in account, date order) is the row before, same account.
    prev_rows = np.where(new, -1, np.concatenate(([-1], order[:-1])))[keep]
    balance = st.get_column("statement_balance_minor")
    prev_balance = pl.select(
        pl.when(pl.Series(prev_rows < 0))
        .then(None)
        .otherwise(balance.gather(np.maximum(prev_rows, 0)))
    ).to_series()
    ordered = (
        st.select(_STATEMENT_COLUMNS)
        .with_columns(keys.get_column("_account_limit"))
        .gather(rows)
        .with_columns(
            pl.Series("_idx", idx[keep]).set_sorted(),
            pl.Series("k", k[keep]),
            prev_balance.alias("_prev_balance"),
        )
    )
    kept = np.minimum(lengths, window)
    same = int(kept[0]) if (kept == kept[0]).all() else None
    cycles = ordered.with_columns(**_cycle_columns())
    return cycles, same, ids


# The statement columns the cycle rows and the aggregations read.
_STATEMENT_COLUMNS = (
    "credit_limit_minor",
    "statement_balance_minor",
    "amount_paid_minor",
    "purchases_minor",
    "cash_advances_minor",
    "repayment_status",
    "days_past_due",
)


def _strictly_increasing(ids: pl.Series) -> bool:
    if ids.len() < 2:
        return True
    return bool((ids.slice(1) > ids.slice(0, ids.len() - 1)).all())


def _sorted_features(frames: PortfolioLike, as_of: dt.date, window: int) -> pl.DataFrame | None:
    found = _sorted_cycles(frames.statements, frames.accounts, as_of, window)
    if found is None:
        return None
    cycles, same, ids = found
    if same is None:
        per = cycles.lazy().group_by("_idx", maintain_order=True).agg(**_aggregations()).collect()
    else:
        per = _uniform_aggregations(cycles, same)
    per = per.with_columns(account_id=ids.gather(per.get_column("_idx"))).drop("_idx")
    return _finish(per.lazy(), frames.accounts.lazy(), frames.customers.lazy(), as_of).collect()


# Aggregations whose float result depends on the order of additions: always Polars' own.
_SUMMED = (
    "utilisation_avg_6m",
    "utilisation_trend",
    "payment_ratio_avg_6m",
    "payment_volatility",
    "_paid_avg",
    "_spend_avg",
)


def summed_aggregations() -> dict[str, pl.Expr]:
    """The aggregations of ``_SUMMED`` (the float sums and means, over the cycle rows'
    columns ``k``, ``_util``, ``_pay_ratio``, ``amount_paid_minor`` and ``_spend``): one
    account's features (``scoring.account_features``) evaluate these very expressions."""
    aggs = _aggregations()
    return {name: aggs[name] for name in _SUMMED}


# The cycle-row columns the uniform shortcut spreads out, one column per cycle ``k``.
_WIDE_COLUMNS = (
    "_limit",
    "_util",
    "_pay_ratio",
    "_revolving",
    "_paid_full",
    "_inactive",
    "_missed",
    "repayment_status",
    "_months_overdue",
    "_overdue",
    "statement_balance_minor",
    "amount_paid_minor",
    "_prev_balance",
    "cash_advances_minor",
    "purchases_minor",
)


def _uniform_aggregations(cycles: pl.DataFrame, n: int) -> pl.DataFrame:
    """``_aggregations`` when every account has ``n`` cycle rows, in (account, date) order.

    Cycle ``k`` of every account is every ``n``-th row, so each aggregation is a row-wise
    expression over ``n`` columns instead of a grouped one; the sums and means
    (``_SUMMED``) stay grouped so that their floats are added in the grouped plan's order.
    """
    wide = pl.concat(
        [
            cycles.gather_every(n, offset=n - 1 - k).select(
                pl.col(c).alias(f"{c}@{k}") for c in _WIDE_COLUMNS
            )
            for k in range(n)
        ],
        how="horizontal",
    )
    rows = _wide_rows(wide, n)
    aggs = _aggregations()
    summed = (
        cycles.lazy()
        .group_by("_idx", maintain_order=True)
        .agg(**{name: aggs[name] for name in _SUMMED})
        .collect()
    )
    return pl.concat([summed, rows], how="horizontal").select("_idx", *aggs)


def _count_true(exprs: list[pl.Expr]) -> pl.Expr:
    """How many of ``exprs`` are true per row (null counts as false)."""
    total = pl.lit(0, pl.Int32)
    for e in exprs:
        total = total + e.fill_null(False).cast(pl.Int32)
    return total


def _first_true(flags: list[pl.Expr], otherwise: pl.Expr) -> pl.Expr:
    """The smallest ``k`` whose flag is true per row, else ``otherwise``."""
    out = otherwise
    for k in reversed(range(len(flags))):
        out = pl.when(flags[k]).then(pl.lit(k, pl.Int32)).otherwise(out)
    return out


def _wide_rows(wide: pl.DataFrame, n: int) -> pl.DataFrame:
    """The row-wise aggregations of ``wide`` (column ``c@k`` is column ``c`` of cycle ``k``)."""

    def at(c: str, k: int) -> pl.Expr:
        if k < n:
            return pl.col(f"{c}@{k}")
        return pl.lit(None, dtype=wide.schema[f"{c}@0"])

    def each(c: str, last: int = n) -> list[pl.Expr]:
        return [pl.col(f"{c}@{k}") for k in range(min(last, n))]

    def int_sum(c: str) -> pl.Expr:
        total = pl.lit(0, pl.Int64)
        for e in each(c):
            total = total + e.fill_null(0).cast(pl.Int64)
        return total

    count, first_k = _count_true, _first_true
    status = each("repayment_status")
    overdue = each("_overdue")
    pattern = [e.clip(-2, 3).cast(pl.Utf8) for e in each("repayment_status", 3)]
    unpaid = pl.max_horizontal(
        at("_prev_balance", 0) - at("amount_paid_minor", 0), pl.lit(0, pl.Int64)
    )
    return wide.select(
        _limit_latest=at("_limit", 0),
        history_months=pl.lit(n, pl.Int32),
        utilisation_latest=at("_util", 0),
        utilisation_max_6m=pl.max_horizontal(each("_util")),
        payment_ratio_latest=at("_pay_ratio", 0),
        payment_ratio_previous=at("_pay_ratio", 1),
        payment_ratio_min_3m=pl.min_horizontal(each("_pay_ratio", 3)),
        revolving_months_6m=count(each("_revolving")),
        paid_in_full_months_6m=count(each("_paid_full")),
        inactive_months_6m=count(each("_inactive")),
        repayment_status_latest=at("repayment_status", 0).cast(pl.Int16),
        repayment_status_previous=at("repayment_status", 1).cast(pl.Int16),
        repayment_pattern_3m=pl.concat_str(pattern, separator="|"),
        status_paid_in_full_months_6m=count([e == -1 for e in status]),
        status_no_use_months_6m=count([e == -2 for e in status]),
        missed_payment_months_6m=count(each("_missed")),
        months_overdue_latest=at("_months_overdue", 0),
        months_overdue_previous=at("_months_overdue", 1),
        max_months_overdue_3m=pl.max_horizontal(each("_months_overdue", 3)),
        max_months_overdue_6m=pl.max_horizontal(each("_months_overdue")),
        overdue_count_3m=count(each("_overdue", 3)),
        overdue_count_6m=count(overdue),
        consecutive_overdue_months=first_k([~e for e in overdue], pl.lit(n, pl.Int32)),
        months_since_last_overdue=first_k(overdue, pl.lit(None, pl.Int32)),
        _balance_latest=at("statement_balance_minor", 0),
        _balance_oldest=at("statement_balance_minor", n - 1),
        _paid_latest=at("amount_paid_minor", 0),
        _cash=int_sum("cash_advances_minor"),
        _cash_n=count([e.is_not_null() for e in each("cash_advances_minor")]),
        _purch=int_sum("purchases_minor"),
        overdue_months_total_6m=count([]) + pl.sum_horizontal(each("_months_overdue")),
        payment_ratio_min_6m=pl.min_horizontal(each("_pay_ratio")),
        status_revolving_months_6m=count([e == 0 for e in status]),
        unpaid_to_limit_latest=_ratio(unpaid, at("_limit", 0)),
        utilisation_previous=at("_util", 1),
        utilisation_change_1m=at("_util", 0) - at("_util", 1),
    )


def _aggregations() -> dict[str, pl.Expr]:
    """Per-account aggregations of the cycle rows (one group per account)."""
    k = pl.col("k")
    util = pl.col("_util")
    t = -k.cast(pl.Float64)  # time runs forward: the latest cycle has the largest t
    mo = pl.col("_months_overdue")
    overdue = pl.col("_overdue")
    paid = pl.col("amount_paid_minor").cast(pl.Float64)
    latest = k == 0
    return dict(
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


def behaviour_features_lazy(
    statements: pl.LazyFrame,
    accounts: pl.LazyFrame,
    customers: pl.LazyFrame,
    as_of: dt.date,
    window: int = DEFAULT_WINDOW,
) -> pl.LazyFrame:
    """The lazy plan behind :func:`behaviour_features` (streams, or runs in Spark via Arrow)."""
    cycles = _cycle_plan(statements, accounts, as_of, window)
    per_account = cycles.group_by("account_id").agg(**_aggregations())
    return _finish(per_account, accounts, customers, as_of)


def _finish(
    per_account: pl.LazyFrame, accounts: pl.LazyFrame, customers: pl.LazyFrame, as_of: dt.date
) -> pl.LazyFrame:
    """Account and customer columns joined to the per-account aggregates; FEATURE_NAMES."""
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
