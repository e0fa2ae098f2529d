"""Early-warning features: the behaviour features plus the short-term changes that come
before a first missed payment.

Statements only (no events yet): the latest cycle against the ones before it in the window.
A quantity the statements do not carry (the UCI file has no minimum due, purchases or cash
advances) is missing for every account, and training leaves such a column out. Nothing
protected is read here.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from cardpilot.scoring.features import (
    DEFAULT_WINDOW,
    MODEL_FEATURES,
    PortfolioLike,
    behaviour_features,
)
from cardpilot.scoring.warning_spec import WARNING_DICTIONARY

WARNING_ONLY: tuple[str, ...] = tuple(s.name for s in WARNING_DICTIONARY)
WARNING_FEATURES: tuple[str, ...] = (*MODEL_FEATURES, *WARNING_ONLY)
RATIO_CAP = 10.0  # ten times the usual says no more than that about a change


def _over(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    return pl.when(den > 0).then(num.cast(pl.Float64) / den.cast(pl.Float64))


def warning_features(
    frames: PortfolioLike, as_of: dt.date, *, window: int = DEFAULT_WINDOW
) -> pl.DataFrame:
    """One row per account of ``behaviour_features`` (same order) with the warning columns."""
    base = behaviour_features(frames, as_of, window=window)
    extra = trend_features(frames.statements, frames.accounts, as_of, window)
    return base.join(extra, on="account_id", how="left", maintain_order="left")


def trend_features(
    statements: pl.DataFrame, accounts: pl.DataFrame, as_of: dt.date, window: int
) -> pl.DataFrame:
    """The columns of ``WARNING_DICTIONARY`` per account, from its last ``window`` cycles."""
    limits = accounts.select("account_id", _account_limit=pl.col("credit_limit_minor"))
    balance = pl.col("statement_balance_minor")
    paid = pl.col("amount_paid_minor")
    prev = balance.shift(1).over("account_id")
    estimated = pl.max_horizontal(balance - prev + paid, pl.lit(0, pl.Int64))
    reported = pl.col("purchases_minor") + pl.col("cash_advances_minor").fill_null(0)
    cycles = (
        statements.filter(pl.col("cycle_date") <= as_of)
        .sort("account_id", "cycle_date")
        .join(limits, on="account_id", how="left")
        .with_columns(
            _limit=pl.coalesce(pl.col("credit_limit_minor"), pl.col("_account_limit")),
            _prev_min=pl.col("minimum_due_minor").shift(1).over("account_id"),
            _spend=pl.coalesce(reported, estimated),
            _unpaid=balance - paid,
            _k=pl.int_range(pl.len()).reverse().over("account_id"),
        )
        .filter(pl.col("_k") < window)
        .with_columns(_util=_over(balance, pl.col("_limit")))
    )

    def at(name: str, k: int) -> pl.Expr:
        return pl.col(name).filter(pl.col("_k") == k).first()

    def earlier_mean(name: str, upto: int = window) -> pl.Expr:
        chosen = (pl.col("_k") > 0) & (pl.col("_k") <= upto)
        return pl.col(name).filter(chosen).cast(pl.Float64).mean()

    return (
        cycles.group_by("account_id")
        .agg(
            _paid=at("amount_paid_minor", 0),
            _prev_min=at("_prev_min", 0),
            _paid_mean=earlier_mean("amount_paid_minor"),
            _balance=at("statement_balance_minor", 0),
            _balance_mean=earlier_mean("statement_balance_minor", 3),
            utilisation_jump_3m=at("_util", 0) - at("_util", 3),
            _spend=at("_spend", 0),
            _spend_mean=earlier_mean("_spend"),
            _cash=at("cash_advances_minor", 0),
            _unpaid_growth=at("_unpaid", 0) - at("_unpaid", 1),
            _limit=at("_limit", 0),
        )
        .select(
            "account_id",
            paid_to_minimum_latest=_over(pl.col("_paid"), pl.col("_prev_min")).clip(0, RATIO_CAP),
            payment_drop=_over(pl.col("_paid"), pl.col("_paid_mean")).clip(0, RATIO_CAP),
            balance_trend_3m=_over(pl.col("_balance"), pl.col("_balance_mean")).clip(
                -RATIO_CAP, RATIO_CAP
            ),
            utilisation_jump_3m=pl.col("utilisation_jump_3m"),
            spend_spike=_over(pl.col("_spend"), pl.col("_spend_mean")).clip(0, RATIO_CAP),
            cash_advance_share_latest=_over(pl.col("_cash"), pl.col("_spend")).clip(0, 1),
            unpaid_growth_1m=_over(pl.col("_unpaid_growth"), pl.col("_limit")),
        )
    )
