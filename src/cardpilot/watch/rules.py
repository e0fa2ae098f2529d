"""The watch after a large increase, as rules over statements (vectorised, no I/O).

An increase of at least ``watch.min_increase_pct`` starts a watch of ``watch.months`` months
(started in the review's own transaction, so a watch exists exactly when its decision does).
Every statement of a watched account in that time is checked against the policy's watch rules:

* ``missed_payment``: a balance was owed from the previous cycle and nothing was paid, or the
  statement is overdue;
* ``utilisation_jump``: utilisation at least ``utilisation_jump`` above the account's mean over
  the cycles before the watch;
* ``cash_advance_surge``: cash advances at least ``cash_advance_multiple`` times the pre-watch
  monthly mean and at least ``cash_advance_min_yuan``;
* ``spending_spike``: new spending at least ``spending_multiple`` times the pre-watch mean and
  at least ``spending_min_yuan``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl

from cardpilot.domain.money import BP
from cardpilot.domain.plans import add_months
from cardpilot.policy.base import percent_to_bp
from cardpilot.policy.schema import Policy, Watch
from cardpilot.store.watches import WatchStart

WATCH_RULES: tuple[str, ...] = (
    "missed_payment",
    "utilisation_jump",
    "cash_advance_surge",
    "spending_spike",
)


def watch_start(policy: Policy, as_of: dt.date) -> WatchStart:
    """The watches a review on ``as_of`` starts: from ``as_of`` for ``watch.months``, after an
    increase of at least ``watch.min_increase_pct``."""
    watch = policy.limits.watch
    return WatchStart(
        started=as_of,
        ends=add_months(as_of, watch.months),
        min_new_to_old_bp=BP + percent_to_bp(watch.min_increase_pct),
    )


def watch_flags_frame(
    watches: pl.DataFrame, statements: pl.DataFrame, policy: Policy
) -> pl.DataFrame:
    """The rules that fire on each statement inside a watch.

    ``watches``: watch_id, account_id, started_on, ends_on; ``statements``: the statement frame
    of docs/CONTRACTS.md including the cycles before each watch (its baseline).
    """
    rules = policy.limits.watch
    joined = watches.join(_measured(statements), on="account_id", how="inner")
    before = joined.filter(pl.col("cycle_date") < pl.col("started_on"))
    baseline = before.group_by("watch_id").agg(
        pl.col("_util").mean().alias("_base_util"),
        pl.col("_cash").cast(pl.Float64).mean().alias("_base_cash"),
        pl.col("_spend").cast(pl.Float64).mean().alias("_base_spend"),
    )
    during = joined.filter(
        (pl.col("cycle_date") >= pl.col("started_on")) & (pl.col("cycle_date") < pl.col("ends_on"))
    ).join(baseline, on="watch_id", how="left")
    fired = _fired(rules)
    detail = _details()
    codes = rules.reason_codes()
    parts = [
        during.filter(fired[rule]).select(
            "watch_id",
            "account_id",
            "cycle_date",
            pl.lit(rule).alias("rule"),
            pl.lit(codes[rule]).alias("reason_code"),
            detail[rule].alias("detail"),
        )
        for rule in WATCH_RULES
    ]
    return pl.concat(parts).sort("watch_id", "cycle_date", "rule")


def _measured(statements: pl.DataFrame) -> pl.DataFrame:
    """Statements with the previous balance, utilisation, cash advances and new spending."""
    stmts = statements.sort("account_id", "cycle_date").with_columns(
        pl.col("statement_balance_minor").shift(1).over("account_id").alias("_prev"),
    )
    balance = pl.col("statement_balance_minor")
    limit = pl.col("credit_limit_minor")
    return stmts.with_columns(
        pl.when(limit > 0).then(balance.cast(pl.Float64) / limit).alias("_util"),
        pl.col("cash_advances_minor").fill_null(0).alias("_cash"),
        pl.coalesce(
            pl.col("purchases_minor") + pl.col("cash_advances_minor").fill_null(0),
            pl.max_horizontal(balance - pl.col("_prev") + pl.col("amount_paid_minor"), pl.lit(0)),
        ).alias("_spend"),
    )


def _fired(rules: Watch) -> dict[str, pl.Expr]:
    cash_x = float(Decimal(rules.cash_advance_multiple))
    spend_x = float(Decimal(rules.spending_multiple))
    return {
        "missed_payment": (
            ((pl.col("_prev") > 0) & (pl.col("amount_paid_minor") == 0)).fill_null(False)
            | (pl.col("days_past_due") > 0)
        ),
        "utilisation_jump": (
            pl.col("_util") - pl.col("_base_util").fill_null(0.0) >= rules.utilisation_jump
        ).fill_null(False),
        "cash_advance_surge": (
            (pl.col("_cash") >= rules.cash_advance_min_minor)
            & (pl.col("_cash") >= pl.col("_base_cash").fill_null(0.0) * cash_x)
        ).fill_null(False),
        "spending_spike": (
            (pl.col("_spend") >= rules.spending_min_minor)
            & (pl.col("_spend") >= pl.col("_base_spend").fill_null(0.0) * spend_x)
        ).fill_null(False),
    }


def _details() -> dict[str, pl.Expr]:
    return {
        "missed_payment": pl.format(
            "paid {} of {} owed, {} days past due",
            pl.col("amount_paid_minor"),
            pl.col("_prev"),
            pl.col("days_past_due"),
        ),
        "utilisation_jump": pl.format(
            "utilisation {} vs {} before", pl.col("_util").round(3), pl.col("_base_util").round(3)
        ),
        "cash_advance_surge": pl.format(
            "cash advances {} vs mean {} before", pl.col("_cash"), pl.col("_base_cash").round(0)
        ),
        "spending_spike": pl.format(
            "spending {} vs mean {} before", pl.col("_spend"), pl.col("_base_spend").round(0)
        ),
    }
