"""Early-warning features: the behaviour features plus the short-term changes that come
before a first missed payment.

The statements give the latest cycle against the ones before it in the window. A quantity
the statements do not carry (the UCI file has no minimum due, purchases or cash advances) is
missing for every account, and training leaves such a column out. Nothing protected is read
here.

What the events since the latest statement add (``EVENT_INPUTS``: the account's running
features after its events, ``events.features``) moves the change features on from the
statement (``with_event_features``): the utilisation jump is measured from the utilisation now,
and a spending spike this month counts when it is larger than the latest cycle's. With no event
input the statement features stand as they are, bit for bit. The batch (``cardpilot warn
run``, from the stored running features) and the event consumer (from each event's trigger row)
both score through ``warning_features(..., events=...)``, so they agree on the same state.
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

# What the events since the latest statement tell, per account (``with_event_features``):
# the utilisation now (balance after the events / credit limit) and this calendar month's
# spending over the average of the months before it (the running features' own ratio).
EVENT_INPUTS: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "utilisation": pl.Float64(),
    "spend_to_6m_average": pl.Float64(),
}


def _over(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    return pl.when(den > 0).then(num.cast(pl.Float64) / den.cast(pl.Float64))


def warning_features(
    frames: PortfolioLike,
    as_of: dt.date,
    *,
    window: int = DEFAULT_WINDOW,
    events: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per account of ``behaviour_features`` (same order) with the warning columns;
    with ``events`` (``EVENT_INPUTS`` rows, at most one per account), moved on by what the
    events since the latest statement add (``with_event_features``)."""
    base = behaviour_features(frames, as_of, window=window)
    extra = trend_features(frames.statements, frames.accounts, as_of, window)
    features = base.join(extra, on="account_id", how="left", maintain_order="left")
    if events is None:
        return features
    inputs = events.select(*EVENT_INPUTS).cast(EVENT_INPUTS)  # type: ignore[arg-type]
    joined = features.join(inputs, on="account_id", how="left", maintain_order="left")
    return with_event_features(joined).drop("utilisation", "spend_to_6m_average")


# The features ``with_event_features`` moves: all a row's events change of its features.
EVENT_FEATURES = ("utilisation_jump_3m", "spend_spike")


def with_event_features(rows: pl.DataFrame) -> pl.DataFrame:
    """Feature rows (``warning_features``) that also carry the ``EVENT_INPUTS`` columns of
    their account (or of one of its events), with the change features moved on by them.

    * ``utilisation_jump_3m``: the jump to the utilisation now instead of the latest
      statement's (the statement's jump plus the change since it);
    * ``spend_spike``: the larger of the latest cycle's and this month's spending over the
      average before it (capped as the statement's).

    A null input changes nothing. Row-wise, so a frame of many events' rows is one call."""
    now = pl.col("utilisation")
    jump = pl.col("utilisation_jump_3m")
    moved = jump + (now - pl.col("utilisation_latest"))
    spike = pl.max_horizontal(
        pl.col("spend_spike"), pl.col("spend_to_6m_average").clip(0, RATIO_CAP)
    )
    return rows.with_columns(
        pl.when(now.is_not_null() & moved.is_not_null())
        .then(moved)
        .otherwise(jump)
        .alias("utilisation_jump_3m"),
        spike.alias("spend_spike"),
    )


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
