"""The treatment of one chunk of accounts, from its aging snapshot to its new limits.

    aging snapshot + PD + broken promises + unpaid minimum ─► treatment_input
        ─► assign_treatments ─► explained (with the inputs) ─► with_limits (old and new limit)

Pure: frames in, frames out. Where the PD comes from (a model) is the caller's business.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from cardpilot.domain.money import BP
from cardpilot.overdue.schema import OverduePolicy
from cardpilot.overdue.treatment import assign_treatments

# The inputs that explain a treatment, kept beside it (stored and exported with it).
EXPLAINING_COLUMNS = (
    "account_id",
    "score",
    "pd",
    "model_version",
    "cures",
    "broken_promises",
    "overdue_balance_minor",
)


def no_broken_promises() -> pl.DataFrame:
    return pl.DataFrame(schema={"account_id": pl.String(), "broken_promises": pl.Int32()})


def unpaid_minimum(statements: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """``account_id, unpaid_minimum_minor``: the minimum payment of each account's latest
    statement on or before ``as_of`` less what was paid on it, never below 0 (0 when the
    statement states no minimum, as in the UCI data). The late fee is assessed on it."""
    return (
        statements.lazy()
        .filter(pl.col("cycle_date") <= as_of)
        .group_by("account_id")
        .agg(pl.col("minimum_due_minor", "amount_paid_minor").sort_by("cycle_date").last())
        .select(
            "account_id",
            (pl.col("minimum_due_minor") - pl.col("amount_paid_minor").fill_null(0))
            .clip(lower_bound=0)
            .fill_null(0)
            .cast(pl.Int64)
            .alias("unpaid_minimum_minor"),
        )
        .collect()
    )


def treatment_input(
    snapshot: pl.DataFrame,
    scores: pl.DataFrame,
    broken: pl.DataFrame,
    unpaid: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The ``assign_treatments`` input: the aging snapshot of the overdue accounts with their
    PD (null when the model could not score), broken promises (0 when none) and the unpaid
    minimum payment (``unpaid_minimum``; 0 when none)."""
    keep = [c for c in ("account_id", "score", "pd", "model_version") if c in scores.columns]
    table = snapshot.filter(pl.col("days_past_due") > 0)
    if scores.height:
        table = table.join(scores.select(keep), on="account_id", how="left")
    for name, dtype in (
        ("score", pl.Int32()),
        ("pd", pl.Float64()),
        ("model_version", pl.String()),
    ):
        if name not in table.columns:
            table = table.with_columns(pl.lit(None, dtype).alias(name))
    table = table.join(broken, on="account_id", how="left")
    if unpaid is not None:
        table = table.join(unpaid, on="account_id", how="left")
    else:
        table = table.with_columns(pl.lit(0, pl.Int64).alias("unpaid_minimum_minor"))
    return table.with_columns(
        pl.col("broken_promises").fill_null(0).cast(pl.Int32),
        pl.col("unpaid_minimum_minor").fill_null(0).cast(pl.Int64),
    )


def explained_treatments(
    snapshot: pl.DataFrame,
    statements: pl.DataFrame,
    scores: pl.DataFrame,
    broken: pl.DataFrame,
    policy: OverduePolicy,
    as_of: dt.date,
) -> pl.DataFrame:
    """The treatments of the snapshot's overdue accounts joined with the inputs that explain
    them (``EXPLAINING_COLUMNS``); ``statements``: the accounts' statements (the unpaid
    minimum), ``scores``: ``account_id, score, pd, model_version`` (any may be missing)."""
    overdue_ids = snapshot.filter(pl.col("days_past_due") > 0).select("account_id")
    unpaid = unpaid_minimum(statements.join(overdue_ids, on="account_id", how="semi"), as_of)
    table = treatment_input(snapshot, scores, broken, unpaid)
    treated = assign_treatments(table, policy, as_of)
    return treated.join(table.select(EXPLAINING_COLUMNS), on="account_id", how="left")


def with_limits(treated: pl.DataFrame, accounts: pl.DataFrame, step_minor: int) -> pl.DataFrame:
    """Old (``accounts.old_limit_minor``) and new limit per decision: a cut removes
    ``limit_cut_share_bp`` of the limit, rounded down to a multiple of ``step_minor`` (never
    grants credit); freeze and none keep the limit."""
    old = pl.col("old_limit_minor")
    cut = old * (BP - pl.col("limit_cut_share_bp")) // BP // step_minor * step_minor
    return treated.join(
        accounts.select("account_id", "customer_id", "currency", "old_limit_minor"),
        on="account_id",
        how="left",
    ).with_columns(
        pl.when(pl.col("limit_action") == "cut")
        .then(cut)
        .otherwise(old)
        .cast(pl.Int64)
        .alias("new_limit_minor")
    )
