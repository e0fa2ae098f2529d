"""The behaviour features are the same, bit for bit, as before the integer-account shortcut.

``reference_features`` below is the plan of cardpilot.scoring.features as it was before that
change (commit 630db14), copied here and nowhere else. Every column must have the same dtype,
the same nulls and the same values; floats are compared as their 64-bit patterns.

One exception, measured and not ours: ``payment_volatility`` (a grouped ``std / mean``) is not
reproducible in the old plan itself: two runs of it on the same 100,000 accounts differ in a
few rows by 1-2 units in the last place (Polars' grouped float reductions). It is held to
``VOLATILITY_ULPS`` and to being the same from run to run in the new code.

Inputs: the UCI file (real data), the 200,000-account synthetic store of the review benchmark
(bench/.cache, read in the review's own chunks; skipped when the cache is absent), and frames
built here for the edge cases: one statement, nulls, zero and missing limits, accounts with
different numbers of cycles, statements out of order, a statement whose account is unknown,
two statements on one date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cardpilot.scoring.features import (
    CUSTOMER_COLUMNS_USED,
    DEFAULT_WINDOW,
    FEATURE_NAMES,
    PAYMENT_RATIO_CAP,
    PortfolioLike,
    _sorted_cycles,
    behaviour_features,
)

VOLATILITY_ULPS = 4
BENCH_STORE = Path(__file__).resolve().parents[2] / "bench/.cache/review-200000-m6/store.db"
BENCH_AS_OF = dt.date(2026, 10, 1)

# --- the reference: the plan before the shortcut --------------------------------------------


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


def reference_features(
    frames: PortfolioLike, as_of: dt.date, *, window: int = DEFAULT_WINDOW
) -> pl.DataFrame:
    """One row per account with statements on or before ``as_of``; columns of FEATURE_NAMES."""
    return _reference_lazy(
        frames.statements.lazy(), frames.accounts.lazy(), frames.customers.lazy(), as_of, window
    ).collect()


def _reference_lazy(
    statements: pl.LazyFrame,
    accounts: pl.LazyFrame,
    customers: pl.LazyFrame,
    as_of: dt.date,
    window: int = DEFAULT_WINDOW,
) -> pl.LazyFrame:
    """The plan as it stood before the integer-key shortcut, written out here so that the
    production plan is checked against a copy it cannot change along with itself."""
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


# --- comparison ------------------------------------------------------------------------------


def differences(new: pl.DataFrame, old: pl.DataFrame) -> dict[str, str]:
    """Columns that differ in dtype, nulls or bits (floats as their int64 patterns)."""
    assert new.columns == old.columns
    assert new.height == old.height
    out: dict[str, str] = {}
    for c in new.columns:
        a, b = new.get_column(c), old.get_column(c)
        if a.dtype != b.dtype:
            out[c] = f"dtype {a.dtype} != {b.dtype}"
        elif not a.is_null().equals(b.is_null()):
            out[c] = "nulls"
        elif a.dtype == pl.Float64:
            bits_a = a.fill_null(0.0).to_numpy().view(np.int64)
            bits_b = b.fill_null(0.0).to_numpy().view(np.int64)
            ulps = np.abs(bits_a - bits_b)
            allowed = VOLATILITY_ULPS if c == "payment_volatility" else 0
            if (ulps > allowed).any():
                out[c] = f"{int((ulps > 0).sum())} rows, up to {int(ulps.max())} ulps"
        elif not a.equals(b, check_names=True, null_equal=True):
            out[c] = "values"
    return out


def assert_same(frames: PortfolioLike, as_of: dt.date, window: int = DEFAULT_WINDOW) -> None:
    new = behaviour_features(frames, as_of, window=window)
    assert list(new.columns) == list(FEATURE_NAMES)
    assert differences(new, reference_features(frames, as_of, window=window)) == {}
    assert differences(new, behaviour_features(frames, as_of, window=window)) == {}
    again = behaviour_features(frames, as_of, window=window).get_column("payment_volatility")
    assert new.get_column("payment_volatility").equals(again, null_equal=True)


def path(frames: PortfolioLike, as_of: dt.date, window: int = DEFAULT_WINDOW) -> str:
    """Which way ``behaviour_features`` goes for these frames."""
    found = _sorted_cycles(frames.statements, frames.accounts, as_of, window)
    if found is None:
        return "general"
    return "grouped" if found[1] is None else "uniform"


@dataclass(frozen=True)
class Frames:
    statements: pl.DataFrame
    accounts: pl.DataFrame
    customers: pl.DataFrame


# --- real and synthetic data -----------------------------------------------------------------


def test_uci_real_data(uci_read: PortfolioLike) -> None:
    frames = uci_read
    latest = frames.statements.get_column("cycle_date").max()
    assert isinstance(latest, dt.date)
    for as_of in (latest, dt.date(2005, 7, 31), dt.date(2005, 5, 31)):
        assert path(frames, as_of) == "uniform"
        assert_same(frames, as_of)
    assert_same(frames, latest, window=3)
    # Some accounts with fewer cycles: the grouped way.
    fewer = frames.statements.filter(
        (pl.col("account_id").str.len_chars() > 3) | (pl.col("cycle_date") > dt.date(2005, 6, 1))
    )
    part = Frames(fewer, frames.accounts, frames.customers)
    assert path(part, latest) == "grouped"
    assert_same(part, latest)


def test_synthetic_store_200k_in_review_chunks() -> None:
    if not BENCH_STORE.exists():
        pytest.skip(f"benchmark cache absent: {BENCH_STORE} (make bench-review builds it)")
    from cardpilot.store.account_chunks import read_chunks_with
    from cardpilot.store.db import make_engine
    from cardpilot.store.frame_reads import query_frame

    db = make_engine(f"sqlite:///{BENCH_STORE}")

    def fetch(sql: str, params: object, schema: object) -> pl.DataFrame:
        with db.connect() as conn:
            return query_frame(conn, sql, params, schema)  # type: ignore[arg-type]

    seen = 0
    try:
        for chunk in read_chunks_with(
            fetch,
            lambda: None,
            True,
            as_of=BENCH_AS_OF,
            cycle_id="equality-test",
            chunk_rows=100_000,
        ):
            assert path(chunk.frames, BENCH_AS_OF) == "uniform"
            assert_same(chunk.frames, BENCH_AS_OF)
            seen += chunk.accounts.height
    finally:
        db.dispose()
    assert seen == 200_000


# --- edge cases ------------------------------------------------------------------------------

CYCLES = [dt.date(2005, m, 28) for m in range(1, 10)]


def portfolio(
    histories: dict[str, int], *, seed: int = 7, nulls: bool = True, zero_limits: bool = True
) -> Frames:
    """Accounts with the given number of cycles each (latest cycles), random amounts,
    sprinkled nulls, and zero or missing limits."""
    rng = np.random.default_rng(seed)
    rows = []
    for acc, n in histories.items():
        limit = int(rng.choice([0, 500_000, 1_000_000])) if zero_limits else 800_000
        for cycle in CYCLES[len(CYCLES) - n :]:
            dpd = int(rng.choice([0, 0, 0, 5, 31, 65, 95]))

            def maybe(v: int) -> int | None:
                return None if nulls and rng.random() < 0.12 else v

            balance = int(rng.choice([-20_000, 0, 0, 300_000, 900_000, 1_200_000]))
            rows.append(
                {
                    "account_id": acc,
                    "cycle_date": cycle,
                    "credit_limit_minor": maybe(limit),
                    "statement_balance_minor": maybe(balance),
                    "minimum_due_minor": None,
                    "amount_paid_minor": maybe(int(rng.choice([0, 0, 10_000, 300_000, 950_000]))),
                    "purchases_minor": maybe(int(rng.integers(0, 400_000))),
                    "cash_advances_minor": maybe(int(rng.choice([0, 0, 50_000]))),
                    "repayment_status": maybe(int(rng.choice([-2, -1, 0, 1, 2, 4]))),
                    "days_past_due": maybe(dpd),
                }
            )
    schema = {
        "account_id": pl.Utf8,
        "cycle_date": pl.Date,
        "credit_limit_minor": pl.Int64,
        "statement_balance_minor": pl.Int64,
        "minimum_due_minor": pl.Int64,
        "amount_paid_minor": pl.Int64,
        "purchases_minor": pl.Int64,
        "cash_advances_minor": pl.Int64,
        "repayment_status": pl.Int16,
        "days_past_due": pl.Int32,
    }
    statements = pl.DataFrame(rows, schema=schema)
    ids = sorted(histories)
    accounts = pl.DataFrame(
        {
            "account_id": ids,
            "customer_id": [f"C{a}" for a in ids],
            "credit_limit_minor": [
                None if nulls and i % 5 == 0 else [0, 600_000][i % 2] for i in range(len(ids))
            ],
            "open_date": [None if i % 7 == 0 else dt.date(2003, 1, 15) for i in range(len(ids))],
        },
        schema={
            "account_id": pl.Utf8,
            "customer_id": pl.Utf8,
            "credit_limit_minor": pl.Int64,
            "open_date": pl.Date,
        },
    )
    customers = pl.DataFrame(
        {
            "customer_id": [f"C{a}" for a in ids],
            "birth_year": [None if i % 4 == 0 else 1970 + i % 30 for i in range(len(ids))],
            "education": [None if i % 3 == 0 else "university" for i in range(len(ids))],
            "annual_income_minor": [None if i % 6 == 0 else 9_000_000 for i in range(len(ids))],
        },
        schema={
            "customer_id": pl.Utf8,
            "birth_year": pl.Int32,
            "education": pl.Utf8,
            "annual_income_minor": pl.Int64,
        },
    )
    return Frames(statements, accounts, customers)


AS_OF = dt.date(2005, 9, 30)


@pytest.mark.parametrize("cycles", [1, 2, 3, 6, 9])
@pytest.mark.parametrize("window", [1, 3, 6])
def test_every_account_with_the_same_history(cycles: int, window: int) -> None:
    frames = portfolio({f"A{i:04d}": cycles for i in range(300)}, seed=cycles * 10 + window)
    assert path(frames, AS_OF, window) == "uniform"
    assert_same(frames, AS_OF, window)


@pytest.mark.parametrize("window", [1, 3, 6])
def test_accounts_with_different_histories(window: int) -> None:
    rng = np.random.default_rng(window)
    frames = portfolio({f"A{i:04d}": int(rng.integers(1, 10)) for i in range(400)}, seed=window)
    assert path(frames, AS_OF, window) == ("uniform" if window == 1 else "grouped")
    assert_same(frames, AS_OF, window)
    assert_same(frames, dt.date(2005, 6, 30), window)  # some accounts drop out entirely


def test_no_nulls_and_positive_limits() -> None:
    frames = portfolio({f"A{i:04d}": 6 for i in range(300)}, nulls=False, zero_limits=False)
    assert_same(frames, AS_OF)


def test_statements_out_of_order_and_shuffled() -> None:
    frames = portfolio({f"A{i:04d}": 6 for i in range(200)})
    shuffled = frames.statements.sample(fraction=1.0, shuffle=True, seed=3)
    accounts = frames.accounts.reverse()  # not in id order: sorted first
    assert path(Frames(shuffled, accounts, frames.customers), AS_OF) == "uniform"
    assert_same(Frames(shuffled, frames.accounts, frames.customers), AS_OF)
    assert_same(Frames(shuffled, accounts, frames.customers), AS_OF)
    twice = pl.concat([frames.accounts, frames.accounts.head(1)])  # an account twice
    assert path(Frames(shuffled, twice, frames.customers), AS_OF) == "general"
    assert_same(Frames(shuffled, twice, frames.customers), AS_OF)


def test_unknown_account_duplicate_dates_and_no_statements() -> None:
    frames = portfolio({f"A{i:04d}": 4 for i in range(50)})
    stranger = frames.statements.head(3).with_columns(account_id=pl.lit("A9999"))
    unknown = Frames(pl.concat([frames.statements, stranger]), frames.accounts, frames.customers)
    assert path(unknown, AS_OF) == "general"
    assert_same(
        Frames(pl.concat([frames.statements, stranger]), frames.accounts, frames.customers), AS_OF
    )
    twice = Frames(
        pl.concat([frames.statements, frames.statements.head(1)]),
        frames.accounts,
        frames.customers,
    )
    # Two statements on one date: the general plan (the order between them is its sort's).
    assert path(twice, AS_OF) == "general"
    assert behaviour_features(twice, AS_OF).height == 50
    assert_same(Frames(frames.statements.head(0), frames.accounts, frames.customers), AS_OF)
    assert_same(frames, dt.date(2004, 1, 1))  # nothing on or before as-of
