"""Conditional characteristics of the scorecard: a feature read only inside a segment of the
latest repayment status, as a Polars expression and as the same SQL expression."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

# Model-side conditional characteristics: a feature read only inside a segment of the latest
# repayment status, NULL (the missing bin) elsewhere. They let the additive points table give a
# feature different points per segment — e.g. utilisation raises risk for a revolving account
# and lowers it for one that paid in full — which one characteristic per feature cannot.
# Name → (feature, lowest status, highest status); None leaves that side open.
_SEGMENT_STATUS = "repayment_status_latest"
CONDITIONAL: dict[str, tuple[str, int | None, int | None]] = {
    "utilisation_latest_if_clear": ("utilisation_latest", None, -1),
    "utilisation_latest_if_revolving": ("utilisation_latest", 0, 1),
    "utilisation_avg_if_clear": ("utilisation_avg_6m", None, -1),
    "utilisation_avg_if_revolving": ("utilisation_avg_6m", 0, 1),
    "balance_latest_if_clear": ("balance_latest_minor", None, -1),
    "payment_ratio_latest_if_clear": ("payment_ratio_latest", None, -1),
    "paid_avg_if_clear": ("paid_avg_6m_minor", None, -1),
    "paid_avg_if_revolving": ("paid_avg_6m_minor", 0, 1),
    "payment_to_limit_avg_if_clear": ("payment_to_limit_avg_6m", None, -1),
    "credit_limit_if_not_late": ("credit_limit_minor", None, 1),
    "payment_to_limit_latest_if_clear": ("payment_to_limit_latest", None, -1),
    "payment_to_limit_latest_if_revolving": ("payment_to_limit_latest", 0, 1),
    "inactive_months_if_clear": ("inactive_months_6m", None, -1),
    "balance_latest_if_revolving": ("balance_latest_minor", 0, 1),
    "balance_latest_if_one_late": ("balance_latest_minor", 1, 1),
    "spend_to_limit_avg_if_clear": ("spend_to_limit_avg_6m", None, -1),
    "utilisation_max_if_clear": ("utilisation_max_6m", None, -1),
    "paid_in_full_months_if_revolving": ("paid_in_full_months_6m", 0, 1),
}


def _segment_bounds(lo: int | None, hi: int | None) -> tuple[pl.Expr, str]:
    status = pl.col(_SEGMENT_STATUS)
    ident = '"' + _SEGMENT_STATUS + '"'
    if lo is None and hi is not None:
        return status <= hi, f"{ident} <= {hi}"
    if hi is None and lo is not None:
        return status >= lo, f"{ident} >= {lo}"
    if lo is not None and hi is not None:
        return (status >= lo) & (status <= hi), f"{ident} BETWEEN {lo} AND {hi}"
    raise ValueError("a conditional characteristic needs a segment")


def derived_expr(name: str) -> pl.Expr:
    """The Polars expression of a conditional characteristic (NULL outside its segment)."""
    feature, lo, hi = CONDITIONAL[name]
    cond, _ = _segment_bounds(lo, hi)
    return pl.when(cond).then(pl.col(feature))


def derived_value(name: str, features: Mapping[str, Any]) -> Any:
    """The same for one account's features (a dict): the feature inside the segment, None
    outside it or when the status is unknown."""
    feature, lo, hi = CONDITIONAL[name]
    status = features.get(_SEGMENT_STATUS)
    if status is None or (lo is not None and status < lo) or (hi is not None and status > hi):
        return None
    return features.get(feature)


def derived_sql(name: str) -> str:
    """The same as one SQL expression over the feature table's columns."""
    feature, lo, hi = CONDITIONAL[name]
    _, cond = _segment_bounds(lo, hi)
    return f'CASE WHEN {cond} THEN "{feature}" END'


def derived_inputs(names: Sequence[str]) -> list[str]:
    """The feature columns that characteristics ``names`` read (derived ones by their inputs)."""
    out: list[str] = []
    for n in names:
        out += [CONDITIONAL[n][0], _SEGMENT_STATUS] if n in CONDITIONAL else [n]
    return list(dict.fromkeys(out))


def with_derived(features: pl.DataFrame, names: Sequence[str]) -> pl.DataFrame:
    """``features`` with the conditional characteristics among ``names`` added as columns."""
    wanted = [n for n in names if n in CONDITIONAL and n not in features.columns]
    if not wanted:
        return features
    return features.with_columns(derived_expr(n).alias(n) for n in wanted)
