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

# Third pass (issue #4): further per-cycle behaviour, none of it in features.py or gbm.DERIVED.
# ``--extras pass3`` adds only these.
EXTRAS3: dict[str, int] = {
    "severe_delay_months_6m": 1,  # cycles 2+ months overdue
    "over_limit_months_6m": 0,  # balance above the limit
    "zero_balance_months_6m": 0,  # balance <= 0
    "no_payment_months_6m": 0,  # nothing paid, whatever was owed
    "paid_full_run_max_6m": 0,  # longest run of cycles paying the previous bill in full
    "months_since_paid_full": 0,  # cycles since the latest one paying the previous bill in full
    "status_worsened_months_6m": 0,  # cycles whose issuer status rose against the cycle before
    "status_revolving_run_latest": 0,  # latest consecutive cycles the issuer marked revolving
    "payment_ratio_k2": -1,  # payment ratio two cycles before the latest
    "paid_previous_to_limit": -1,  # payment of the cycle before the latest / limit
    "utilisation_change_2m": 0,  # latest utilisation - utilisation two cycles before
    "utilisation_max_3m": 0,
    "paid_to_spend_6m": 0,  # payments / new spending over the window
    "status_k2": 0,  # issuer status two cycles before the latest
    "status_max_2to5": 0,  # worst issuer status before the latest two cycles
}


def _cycles(read: object, as_of: dt.date) -> pl.LazyFrame:
    return feat._cycle_plan(read.statements.lazy(), read.accounts.lazy(), as_of, 6)  # type: ignore[attr-defined]


def extras(read: object, as_of: dt.date) -> pl.DataFrame:
    cycles = _cycles(read, as_of)
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


def extras3(read: object, as_of: dt.date) -> pl.DataFrame:
    """The ``EXTRAS3`` columns, one row per account."""
    st, util, pr = pl.col("repayment_status"), pl.col("_util"), pl.col("_pay_ratio")
    paid, bal = pl.col("amount_paid_minor"), pl.col("statement_balance_minor")
    per_cycle = (
        _cycles(read, as_of)
        .sort("account_id", "k")
        .with_columns(
            # issuer status of the cycle before (k + 1) in the same account
            _st_before=st.shift(-1).over("account_id"),
            # run ids over k (latest first): a new run starts at each cycle not paid in full
            _pf_run=(~pl.col("_paid_full")).cast(pl.Int32).cum_sum().over("account_id"),
            _rv_run=(st != 0).fill_null(True).cast(pl.Int32).cum_sum().over("account_id"),
        )
    )
    k = pl.col("k")
    runs = (
        per_cycle.filter(pl.col("_paid_full"))
        .group_by("account_id", "_pf_run")
        .agg(n=pl.len())
        .group_by("account_id")
        .agg(paid_full_run_max_6m=pl.col("n").max().cast(pl.Int32))
    )
    out = (
        per_cycle.group_by("account_id")
        .agg(
            severe_delay_months_6m=(pl.col("_months_overdue") >= 2).sum().cast(pl.Int32),
            over_limit_months_6m=(util > 1.0).sum().cast(pl.Int32),
            zero_balance_months_6m=(bal <= 0).sum().cast(pl.Int32),
            no_payment_months_6m=(paid == 0).sum().cast(pl.Int32),
            months_since_paid_full=k.filter(pl.col("_paid_full")).min().cast(pl.Int32),
            status_worsened_months_6m=(st > pl.col("_st_before")).sum().cast(pl.Int32),
            status_revolving_run_latest=(pl.col("_rv_run") == 0).sum().cast(pl.Int32),
            payment_ratio_k2=pr.filter(k == 2).first(),
            paid_previous_to_limit=feat._ratio(paid, pl.col("_limit")).filter(k == 1).first(),
            utilisation_change_2m=util.filter(k == 0).first() - util.filter(k == 2).first(),
            utilisation_max_3m=util.filter(k < 3).max(),
            paid_to_spend_6m=feat._ratio(paid.sum(), pl.col("_spend").sum()),
            status_k2=st.filter(k == 2).first().cast(pl.Int16),
            status_max_2to5=st.filter(k >= 2).max().cast(pl.Int16),
        )
        .join(runs, on="account_id", how="left")
        .with_columns(pl.col("paid_full_run_max_6m").fill_null(0))
        .collect()
    )
    return out


def register(names: dict[str, int] | None = None) -> None:
    """Make the prototypes known to the dictionary, the candidate list and the reasons."""
    from cardpilot.scoring import reasons, training

    known = {spec.name for spec in feat.FEATURE_DICTIONARY}
    new = {n: d for n, d in (EXTRAS if names is None else names).items() if n not in known}
    specs = tuple(feat.FeatureSpec(n, "numeric", "", n, d) for n, d in new.items())
    feat.FEATURE_DICTIONARY = feat.FEATURE_DICTIONARY + specs
    training.MODEL_FEATURES = training.MODEL_FEATURES + tuple(new)
    table = dict(reasons.REASON_BY_FEATURE)
    table.update({n: "RC_X_" + n.upper() for n in new})
    reasons.REASON_BY_FEATURE = table  # type: ignore[assignment]
