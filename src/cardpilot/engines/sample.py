"""Synthetic scored feature tables for engine tests and benchmarks.

Not a portfolio simulator (that is ``cardpilot.synth``): a quick, seeded table with the columns
``decide_limits`` reads, spread so every grade, segment, guard and trigger occurs, plus the
protected attributes (which the decision must ignore) and some nulls.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from cardpilot.policy.limits import OVERDUE_COUNTS, since_limit_change

SCORE_REASONS = ("RC_OVERDUE_RECENT", "RC_HIGH_UTILISATION", "RC_LOW_PAYMENT", "RC_SHORT_HISTORY")


def sample_features(
    rows: int, seed: int = 0, as_of: dt.date = dt.date(2026, 12, 1)
) -> pl.DataFrame:
    """``rows`` scored accounts; deterministic for a seed."""
    rng = np.random.default_rng(seed)
    score = rng.integers(280, 921, rows)  # a little outside the 300-900 scale on purpose
    risk = (900 - np.clip(score, 300, 900)) / 600  # 0 safest .. 1 riskiest
    overdue_now = rng.random(rows) < 0.05 + 0.4 * risk
    consecutive = np.where(overdue_now, rng.integers(1, 6, rows), 0)
    overdue_6m = np.maximum(
        consecutive, np.where(rng.random(rows) < 0.3 * risk, rng.integers(0, 4, rows), 0)
    )
    overdue_3m = np.minimum(overdue_6m, 3)
    since_last = np.where(overdue_6m > 0, np.where(overdue_now, 0, rng.integers(1, 12, rows)), -1)
    limit_yuan = rng.choice(
        [500, 2000, 5000, 8000, 10000, 15000, 20000, 30000, 50000, 80000, 120000], rows
    )
    limit_minor = limit_yuan * 100 + rng.choice([0, 0, 0, 5000, 12345], rows)  # some off-step
    util = np.clip(rng.beta(1.2, 2.5, rows) + 0.3 * risk, 0, 1.3)
    pay_ratio = np.clip(rng.beta(2.5, 1.2, rows) - 0.4 * risk, 0, 1.5)
    income = rng.choice([0, 1], rows, p=[0.4, 0.6]) * rng.integers(20_000, 600_000, rows) * 100
    review_age = rng.integers(0, 24, rows)
    change_age = rng.integers(0, 36, rows)
    null_score = rng.random(rows) < 0.01
    reasons = [
        list(rng.choice(SCORE_REASONS, size=int(k), replace=False))
        for k in rng.integers(0, 4, rows)
    ]
    days = (rng.integers(0, 28, rows)).tolist()

    def months_back(ages: np.ndarray, null_share: float) -> list[dt.date | None]:
        out: list[dt.date | None] = []
        for age, day, u in zip(ages.tolist(), days, rng.random(rows).tolist(), strict=True):
            if u < null_share:
                out.append(None)
                continue
            month_index = as_of.year * 12 + as_of.month - 1 - int(age)
            out.append(dt.date(month_index // 12, month_index % 12 + 1, 1 + day))
        return out

    frame = pl.DataFrame(
        {
            "account_id": [f"A{seed:03d}{i:08d}" for i in range(rows)],
            "score": pl.Series(np.where(null_score, 0, score), dtype=pl.Int32),
            "pd": np.clip(0.005 + 0.5 * risk**2 + rng.normal(0, 0.01, rows), 0.0005, 0.999),
            "reason_codes": reasons,
            "model_version": "scorecard-test-1",
            "credit_limit_minor": limit_minor.astype(np.int64),
            "utilisation_latest": util,
            "utilisation_avg_6m": np.clip(util + rng.normal(0, 0.05, rows), 0, 1.3),
            "utilisation_trend": rng.normal(0, 0.1, rows),
            "payment_ratio_avg_6m": pay_ratio,
            "revolving_months_6m": rng.integers(0, 7, rows),
            "months_overdue_latest": consecutive,
            "max_months_overdue_6m": np.maximum(consecutive, np.minimum(overdue_6m, 6)),
            "overdue_count_3m": overdue_3m,
            "overdue_count_6m": overdue_6m,
            "consecutive_overdue_months": consecutive,
            "months_since_last_overdue": pl.Series(since_last).replace(-1, None),
            "bill_growth": rng.normal(0, 0.2, rows),
            "payment_volatility": rng.random(rows),
            "spend_avg_6m_minor": (util * limit_yuan * 100 * rng.random(rows)).astype(np.int64),
            "cash_advance_share": np.where(rng.random(rows) < 0.1, rng.random(rows), 0.0),
            "months_on_book": pl.Series(rng.integers(0, 120, rows)).scatter(
                np.flatnonzero(rng.random(rows) < 0.2), None
            ),
            "age": rng.integers(20, 70, rows),
            "education": rng.choice(["graduate", "university", "high_school", "other"], rows),
            "annual_income_minor": pl.Series(income).replace(0, None),
            "last_review_on": months_back(review_age, 0.3),
            "last_limit_change_on": months_back(change_age, 0.4),
            "sex": rng.choice(["F", "M"], rows),
            "marital_status": rng.choice(["married", "single", "other"], rows),
        }
    ).with_columns(
        pl.when(pl.Series(null_score)).then(None).otherwise(pl.col("score")).alias("score"),
        pl.when(pl.Series(null_score)).then(None).otherwise(pl.col("pd")).alias("pd"),
    )
    return _with_holds_and_counts_since_change(frame, rng, as_of)


def _with_holds_and_counts_since_change(
    frame: pl.DataFrame, rng: np.random.Generator, as_of: dt.date
) -> pl.DataFrame:
    """A tenth of the accounts under a hold on increases (ended or running), and for half of
    those with a limit change, overdue counts since it (no more than the window's)."""
    rows = frame.height
    held = rng.random(rows) < 0.1
    offsets = rng.integers(-180, 180, rows).tolist()
    holds = [
        as_of + dt.timedelta(days=d) if h else None
        for h, d in zip(held.tolist(), offsets, strict=True)
    ]
    counted = pl.Series(rng.random(rows) < 0.5) & frame["last_limit_change_on"].is_not_null()
    share = pl.Series(rng.random(rows))
    return frame.with_columns(
        pl.Series("increase_hold_until", holds, dtype=pl.Date),
        *(
            pl.when(counted)
            .then((pl.col(name).cast(pl.Float64) * share).floor().cast(pl.Int64))
            .alias(since_limit_change(name))
            for name in OVERDUE_COUNTS
        ),
    )
