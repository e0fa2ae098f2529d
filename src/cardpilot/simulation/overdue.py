"""An overdue policy's treatments priced on the store's own aging history.

    observed transitions (from bucket → to bucket between consecutive cycle snapshots, with the
    treatment given on the earlier date, if any) ─► rates per treatment and bucket with 95 %
    Wilson intervals ─► each account the policy treats now, its expected outcome next cycle

Outcomes of a cycle, from an overdue bucket: ``cure`` (back to the first bucket), ``stay`` (the
same or a better overdue bucket), ``roll_forward`` (a worse bucket below write-off),
``write_off`` (a bucket past the write-off threshold), ``exited`` (gone from the next snapshot).
A treatment's own rates are used where the store saw at least ``MIN_OBSERVED`` accounts of that
treatment in that bucket; otherwise the bucket's rates over every account (``basis`` says
which), so a policy that moves accounts to a treatment with a better record shows it, and one
the store has no history of is priced on the bucket's history alone.

Money is integer minor units: fees charged and waived are the treatment's own (the overdue
decision function's charges), the expected write-off balance is rounded once per account, half
to even; contact costs are contacts × the unit message cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from cardpilot.simulation.backtest import wilson

OUTCOMES = ("cure", "stay", "roll_forward", "write_off", "exited")
MIN_OBSERVED = 30
ALL = "all accounts"  # the basis of the pooled rates
EXITED = "exited"
DAYS_PER_WEEK = 7
DAYS_PER_MONTH = 365 / 12
TRANSITIONS: dict[str, pl.DataType] = {
    "treatment": pl.String(),  # the risk segment treated on the earlier date (null: none)
    "from_bucket": pl.String(),
    "to_bucket": pl.String(),
    "accounts": pl.Int64(),
}


def outcome_expr(codes: Sequence[str], write_off: Sequence[str]) -> pl.Expr:
    """The outcome of a row's (``from_bucket``, ``to_bucket``) on the bucket scale ``codes``
    (first: current), ``write_off``: the buckets past the write-off threshold."""
    rank = {c: i for i, c in enumerate(codes)}
    to_rank = pl.col("to_bucket").replace_strict(rank, default=None, return_dtype=pl.Int64)
    from_rank = pl.col("from_bucket").replace_strict(rank, default=None, return_dtype=pl.Int64)
    return (
        pl.when(pl.col("to_bucket") == EXITED)
        .then(pl.lit("exited"))
        .when(to_rank == 0)
        .then(pl.lit("cure"))
        .when(pl.col("to_bucket").is_in(list(write_off)))
        .then(pl.lit("write_off"))
        .when(to_rank > from_rank)
        .then(pl.lit("roll_forward"))
        .otherwise(pl.lit("stay"))
    )


def transition_rates(
    transitions: pl.DataFrame, codes: Sequence[str], write_off: Sequence[str]
) -> pl.DataFrame:
    """Per ``basis`` (a treatment, or ``ALL``), overdue ``from_bucket`` and outcome: the
    accounts observed, the accounts in that bucket, the rate and its 95 % Wilson interval."""
    overdue = transitions.filter(pl.col("from_bucket") != codes[0]).with_columns(
        outcome_expr(codes, write_off).alias("outcome")
    )
    pooled = overdue.with_columns(pl.lit(ALL).alias("basis"))
    treated = overdue.filter(pl.col("treatment").is_not_null()).with_columns(
        pl.col("treatment").alias("basis")
    )
    counts = (
        pl.concat([pooled, treated])
        .group_by("basis", "from_bucket", "outcome")
        .agg(pl.col("accounts").sum())
    )
    totals = counts.group_by("basis", "from_bucket").agg(pl.col("accounts").sum().alias("of"))
    rows = []
    for r in counts.join(totals, on=["basis", "from_bucket"]).iter_rows(named=True):
        low, high = wilson(int(r["accounts"]), int(r["of"]))
        rows.append({**r, "rate": r["accounts"] / r["of"], "low": low, "high": high})
    schema = {
        "basis": pl.String(),
        "from_bucket": pl.String(),
        "outcome": pl.String(),
        "accounts": pl.Int64(),
        "of": pl.Int64(),
        "rate": pl.Float64(),
        "low": pl.Float64(),
        "high": pl.Float64(),
    }
    order = {c: i for i, c in enumerate(codes)}
    return (
        pl.DataFrame(rows, schema=schema)
        .with_columns(pl.col("from_bucket").replace_strict(order, default=99).alias("_o"))
        .sort("basis", "_o", "outcome")
        .drop("_o")
    )


def _basis(treated: pl.DataFrame, rates: pl.DataFrame) -> pl.DataFrame:
    """Each account's basis: its treatment where the store saw ``MIN_OBSERVED`` of it in the
    account's bucket, else ``ALL``."""
    seen = (
        rates.filter(pl.col("basis") != ALL)
        .group_by("basis", "from_bucket")
        .agg(pl.col("of").first())
        .filter(pl.col("of") >= MIN_OBSERVED)
        .select(pl.col("basis").alias("risk_segment"), pl.col("from_bucket").alias("bucket"))
        .with_columns(pl.lit(True).alias("_own"))
    )
    return treated.join(seen, on=["risk_segment", "bucket"], how="left").with_columns(
        pl.when(pl.col("_own")).then(pl.col("risk_segment")).otherwise(pl.lit(ALL)).alias("basis")
    )


def expected_outcomes(
    treated: pl.DataFrame, rates: pl.DataFrame, *, contact_cost_minor: int, months: int
) -> pl.DataFrame:
    """Per treatment (``risk_segment``, ``treatment``): accounts, overdue balance, expected
    cures, stays, roll-forwards, write-offs and exits with 95 % intervals (``_low``/``_high``),
    the expected written-off balance, fees charged and waived, contacts and their cost.
    ``treated``: the overdue decision function's rows (``bucket``, ``risk_segment``,
    ``treatment``, ``overdue_balance_minor``, ``late_fee_minor``, ``penalty_interest_minor``,
    ``fee_waived_minor``, ``contacts_per_week``)."""
    wide = rates.pivot(
        on="outcome", index=["basis", "from_bucket"], values=["rate", "low", "high"]
    ).rename({"from_bucket": "bucket"})
    for outcome in OUTCOMES:
        for kind in ("rate", "low", "high"):
            if f"{kind}_{outcome}" not in wide.columns:
                wide = wide.with_columns(pl.lit(0.0).alias(f"{kind}_{outcome}"))
    table = _basis(treated, rates).join(wide, on=["basis", "bucket"], how="left")
    weeks = months * DAYS_PER_MONTH / DAYS_PER_WEEK
    contacts = (pl.col("contacts_per_week").fill_null(0).cast(pl.Float64) * weeks).round(0)
    table = table.with_columns(
        # No transition observed from the account's bucket: nothing to price it on.
        pl.all_horizontal(pl.col(f"rate_{o}").is_null() for o in OUTCOMES).alias("unrated"),
        (pl.col("rate_write_off").fill_null(0.0) * pl.col("overdue_balance_minor"))
        .round(0, mode="half_to_even")
        .cast(pl.Int64)
        .alias("write_off_balance_minor"),
        contacts.cast(pl.Int64).alias("contacts"),
    )
    sums: list[pl.Expr] = [
        pl.len().cast(pl.Int64).alias("accounts"),
        pl.col("unrated").sum().cast(pl.Int64).alias("unrated"),
        pl.col("overdue_balance_minor").sum(),
        pl.col("write_off_balance_minor").sum(),
        (pl.col("late_fee_minor") + pl.col("penalty_interest_minor"))
        .sum()
        .alias("fees_charged_minor"),
        pl.col("fee_waived_minor").sum().alias("fees_waived_minor"),
        pl.col("contacts").sum(),
        (pl.col("basis") != ALL).sum().cast(pl.Int64).alias("own_rates"),
    ]
    for outcome in OUTCOMES:
        for kind, suffix in (("rate", ""), ("low", "_low"), ("high", "_high")):
            sums.append(pl.col(f"{kind}_{outcome}").fill_null(0.0).sum().alias(outcome + suffix))
    out = table.group_by("risk_segment", "treatment").agg(sums).sort("risk_segment")
    return out.with_columns((pl.col("contacts") * contact_cost_minor).alias("contact_cost_minor"))


def outcome_rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """The per-treatment rows with a total row (``risk_segment`` ``all``): expected counts to
    one decimal, money as integers (minor units)."""
    if not frame.height:
        return []
    numeric = [c for c in frame.columns if c not in ("risk_segment", "treatment")]
    total = frame.select(pl.col(c).sum() for c in numeric).with_columns(
        pl.lit("all").alias("risk_segment"), pl.lit("").alias("treatment")
    )
    rows = pl.concat([frame, total.select(frame.columns)], how="vertical_relaxed")
    out = []
    for r in rows.iter_rows(named=True):
        out.append({k: round(v, 1) if isinstance(v, float) else v for k, v in r.items()})
    return out
