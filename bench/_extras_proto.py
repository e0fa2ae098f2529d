"""Prototype extra behaviour features (selection only; the chosen ones move to features.py)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from cardpilot.scoring import features as feat

# name, risk_direction
EXTRAS: dict[str, int] = {
    "status_revolving_months_6m": 0,
    "status_clean_months_6m": 0,
    "status_max_6m": 0,
    "repayment_status_avg_6m": 0,
    "overdue_recency_weighted": 1,
    "overdue_months_total_6m": 1,
    "payment_ratio_min_6m": -1,
    "payment_ratio_avg_3m": -1,
    "payment_ratio_std_6m": 0,
    "utilisation_previous": 0,
    "utilisation_change_1m": 0,
    "utilisation_min_6m": 0,
    "unpaid_to_limit_latest": 0,
    "carried_to_limit_avg_6m": 0,
    "status_change_3m": 0,
}


def extras(read: object, as_of: dt.date) -> pl.DataFrame:
    cycles = feat._cycle_plan(read.statements.lazy(), read.accounts.lazy(), as_of, 6)  # type: ignore[attr-defined]
    k = pl.col("k")
    st = pl.col("repayment_status")
    mo = pl.col("_months_overdue")
    util = pl.col("_util")
    pr = pl.col("_pay_ratio")
    carried = feat._ratio(
        pl.max_horizontal(pl.col("_prev_balance") - pl.col("amount_paid_minor"), pl.lit(0)),
        pl.col("_limit"),
    )
    return (
        cycles.with_columns(_carried=carried)
        .group_by("account_id")
        .agg(
            status_revolving_months_6m=(st == 0).sum().cast(pl.Int32),
            status_clean_months_6m=(st < 0).sum().cast(pl.Int32),
            status_max_6m=st.max().cast(pl.Int16),
            repayment_status_avg_6m=st.cast(pl.Float64).mean(),
            overdue_recency_weighted=(mo.cast(pl.Float64) * (0.5 ** k.cast(pl.Float64))).sum(),
            overdue_months_total_6m=mo.sum().cast(pl.Int32),
            payment_ratio_min_6m=pr.min(),
            payment_ratio_avg_3m=pr.filter(k < 3).mean(),
            payment_ratio_std_6m=pr.std(ddof=0),
            utilisation_previous=util.filter(k == 1).first(),
            utilisation_change_1m=util.filter(k == 0).first() - util.filter(k == 1).first(),
            utilisation_min_6m=util.min(),
            unpaid_to_limit_latest=pl.col("_carried").filter(k == 0).first(),
            carried_to_limit_avg_6m=pl.col("_carried").mean(),
            status_change_3m=(st.filter(k == 0).first() - st.filter(k == 2).first()).cast(pl.Int16),
        )
        .collect()
    )


def register() -> None:
    """Make the prototypes known to the dictionary, the candidate list and the reasons."""
    from cardpilot.scoring import reasons, training

    known = {spec.name for spec in feat.FEATURE_DICTIONARY}
    new = {n: d for n, d in EXTRAS.items() if n not in known}
    specs = tuple(feat.FeatureSpec(n, "numeric", "", n, d) for n, d in new.items())
    feat.FEATURE_DICTIONARY = feat.FEATURE_DICTIONARY + specs
    training.MODEL_FEATURES = training.MODEL_FEATURES + tuple(new)
    table = dict(reasons.REASON_BY_FEATURE)
    table.update({n: "RC_X_" + n.upper() for n in new})
    reasons.REASON_BY_FEATURE = table  # type: ignore[assignment]
