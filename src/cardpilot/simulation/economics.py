"""What one decision is worth over the horizon, per account, vectorised.

    decision (old and new limit, grade, segment, PD) + the account's balance, spending and
    repayment habits + the assumptions (``policy.assumptions``) ─► exposure, expected loss,
    revenue, cost, net

For an account with limit ``L0`` decided to ``L1`` (``Δ = (L1 − L0) / L0``), balance ``B0``,
monthly spending ``S0``, a horizon of ``h`` months:

* balance ``B1 = B0 × (1 + balance_response × Δ)``, spending ``S1 = S0 × (1 + spend_response × Δ)``
  (never below zero);
* exposure at default ``EAD = B1 + CCF × max(L1 − B1, 0)``; expected loss ``PD × LGD × EAD``;
* revenue: interest ``B1 × revolving share × rate × h / 12`` (the revolving share is the share
  of the window's cycles that carried a balance), fees ``annual fee × h / 12 + late fee × late
  payments`` (the window's overdue cycles per cycle × ``h``), interchange ``S1 × h × rate``;
* cost: funding ``B1 × rate × h / 12``, messages (one notice per changed limit), waivers (the
  waived share of the fees), collections ``PD × cost per default``;
* net ``= revenue − cost − expected loss``.

Rounding: each component is computed per account in floating point and rounded once, half to
even, to a whole minor unit; revenue, cost and net are sums and differences of those integers,
and every total is an integer sum of them. So any split of the accounts (grades, segments,
chunks) adds up to the total exactly, to the minor unit.
"""

from __future__ import annotations

import polars as pl

from cardpilot.domain.money import BP
from cardpilot.policy.assumptions import SimulationAssumptions

# What the figures read of the review's scored table, besides the decision.
ACCOUNT_INPUTS: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "balance_latest_minor": pl.Int64(),
    "spend_avg_6m_minor": pl.Int64(),
    "revolving_months_6m": pl.Int64(),
    "overdue_count_6m": pl.Int64(),
    "history_months": pl.Int64(),
}
DECISION_INPUTS = ("account_id", "grade", "segment", "action", "pd")
LIMITS = ("old_limit_minor", "new_limit_minor")
REVENUE = ("interest", "fees", "interchange")
COST = ("funding", "messages", "waivers", "collections")
MONEY = (
    "limit_added",
    "limit_removed",
    "exposure",
    "expected_loss",
    *REVENUE,
    *COST,
    "revenue",
    "cost",
    "net",
)
COUNTS = ("accounts", "changed", "increased", "decreased")
FIGURES = (*COUNTS, *MONEY)


def _minor(expr: pl.Expr) -> pl.Expr:
    """The one rounding rule: half to even, to a whole minor unit."""
    return expr.round(0, mode="half_to_even").cast(pl.Int64)


def account_figures(
    decisions: pl.DataFrame, accounts: pl.DataFrame, assumptions: SimulationAssumptions
) -> pl.DataFrame:
    """One row per decision: ``grade``, ``segment`` and ``FIGURES`` (counts 0/1, money in
    integer minor units). ``accounts``: ``ACCOUNT_INPUTS`` of the same accounts (missing ones
    count as no balance, no spending)."""
    a = assumptions
    h = float(a.horizon.months)
    inputs = accounts.select(
        [pl.col(n).cast(t) for n, t in ACCOUNT_INPUTS.items() if n in accounts.columns]
    )
    table = decisions.select(*DECISION_INPUTS, *LIMITS).join(
        inputs, on="account_id", how="left", maintain_order="left"
    )
    old = pl.col("old_limit_minor").cast(pl.Float64)
    new = pl.col("new_limit_minor").cast(pl.Float64)
    change = pl.when(old > 0).then((new - old) / old).otherwise(0.0)
    cycles = pl.col("history_months").cast(pl.Float64).fill_null(0.0)
    per_cycle = pl.when(cycles > 0)
    pd_ = pl.col("pd").fill_null(0.0).clip(0.0, 1.0)
    balance = (
        pl.col("balance_latest_minor").cast(pl.Float64).fill_null(0.0).clip(lower_bound=0.0)
        * (1.0 + float(a.balance_response.value) * change)
    ).clip(lower_bound=0.0)
    spend = (
        pl.col("spend_avg_6m_minor").cast(pl.Float64).fill_null(0.0).clip(lower_bound=0.0)
        * (1.0 + float(a.spend_response.value) * change)
    ).clip(lower_bound=0.0)
    revolving = per_cycle.then(pl.col("revolving_months_6m").fill_null(0) / cycles).otherwise(0.0)
    late = per_cycle.then(pl.col("overdue_count_6m").fill_null(0) / cycles).otherwise(0.0)
    year_share = h / 12.0
    fees = a.annual_fee.value_yuan * year_share + a.late_fee.value_yuan * late.clip(0.0, 1.0) * h
    changed = pl.col("new_limit_minor") != pl.col("old_limit_minor")
    figures = table.with_columns(
        _b=balance,
        _ead=balance + (a.ccf.bp / BP) * (new - balance).clip(lower_bound=0.0),
        _fees=fees,
    ).select(
        "account_id",
        "grade",
        "segment",
        pl.lit(1, pl.Int64).alias("accounts"),
        changed.cast(pl.Int64).alias("changed"),
        (pl.col("new_limit_minor") > pl.col("old_limit_minor")).cast(pl.Int64).alias("increased"),
        (pl.col("new_limit_minor") < pl.col("old_limit_minor")).cast(pl.Int64).alias("decreased"),
        (pl.col("new_limit_minor") - pl.col("old_limit_minor"))
        .clip(lower_bound=0)
        .alias("limit_added"),
        (pl.col("old_limit_minor") - pl.col("new_limit_minor"))
        .clip(lower_bound=0)
        .alias("limit_removed"),
        _minor(pl.col("_ead")).alias("exposure"),
        _minor(pd_ * (a.lgd.bp / BP) * pl.col("_ead")).alias("expected_loss"),
        _minor(
            pl.col("_b") * revolving.clip(0.0, 1.0) * (a.interest_rate_annual.bp / BP) * year_share
        ).alias("interest"),
        _minor(pl.col("_fees")).alias("fees"),
        _minor(spend * h * (a.interchange_rate.bp / BP)).alias("interchange"),
        _minor(pl.col("_b") * (a.funding_rate_annual.bp / BP) * year_share).alias("funding"),
        (changed.cast(pl.Int64) * a.message_cost.value_yuan).alias("messages"),
        _minor(pl.col("_fees") * (a.fee_waiver_share.bp / BP)).alias("waivers"),
        _minor(pd_ * a.collection_cost.value_yuan).alias("collections"),
    )
    return figures.with_columns(
        pl.sum_horizontal(REVENUE).alias("revenue"),
        pl.sum_horizontal(COST).alias("cost"),
    ).with_columns((pl.col("revenue") - pl.col("cost") - pl.col("expected_loss")).alias("net"))


def kept(decisions: pl.DataFrame) -> pl.DataFrame:
    """The same decisions with every limit kept: the figures of leaving the portfolio as it is."""
    return decisions.with_columns(
        pl.col("old_limit_minor").alias("new_limit_minor"), pl.lit("keep").alias("action")
    )


def cell_sums(figures: pl.DataFrame) -> pl.DataFrame:
    """``FIGURES`` summed per (grade, segment): the small frame a chunk hands on."""
    return figures.group_by("grade", "segment").agg(pl.col(f).sum() for f in FIGURES)
