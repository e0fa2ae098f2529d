"""Limit arithmetic as Polars expressions: grading, per-grade lookups, the position inside a
grade's band, and the integer money and basis-point rounding every engine shares.

Money is integer fen, percentages integer basis points, positions integer parts per million, so
the single-account call, the local engine and Spark compute the same numbers. ``ns``: the
expression namespace, ``polars`` for a frame or ``policy.row_exprs`` for one row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from types import ModuleType

import polars as pl

from cardpilot.domain.money import BP
from cardpilot.policy.row_exprs import Expr
from cardpilot.policy.schema import LimitPolicy

PPM = 1_000_000  # positions inside a range, parts per million


def months_since(column: str, as_of: dt.date, ns: ModuleType = pl) -> Expr:
    """Whole calendar months from the date in ``column`` to ``as_of`` (null stays null)."""
    d = ns.col(column)
    months = (as_of.year * 12 + as_of.month) - (
        d.dt.year().cast(pl.Int64) * 12 + d.dt.month().cast(pl.Int64)
    )
    return months - (d.dt.day() > as_of.day).cast(pl.Int64)


def grade_expr(policy: LimitPolicy, ns: ModuleType = pl) -> Expr:
    """Grade code per row from the policy's cut-offs; null when the basis value is null.

    Values outside the scale are clamped to its ends (a score above the scale is the best grade).
    """
    grades = policy.grades
    expr = ns.lit(grades[-1].code, dtype=pl.String)
    if policy.grading.basis == "score":
        scale = policy.grading.score_scale
        value = ns.col("score").clip(scale.min, scale.max)
        for grade in reversed(grades[:-1]):
            assert grade.score is not None
            expr = ns.when(value >= grade.score.min).then(ns.lit(grade.code)).otherwise(expr)
        return ns.when(ns.col("score").is_null()).then(None).otherwise(expr)
    value = ns.col("pd").clip(0.0, 1.0)
    for grade in reversed(grades[:-1]):
        assert grade.pd is not None
        expr = ns.when(value < grade.pd.max).then(ns.lit(grade.code)).otherwise(expr)
    return ns.when(ns.col("pd").is_null()).then(None).otherwise(expr)


def by_grade(
    values: Mapping[str, int | float | str | None],
    dtype: pl.DataType | None = None,
    ns: ModuleType = pl,
) -> Expr:
    """A per-grade policy value looked up by the row's grade (null for no grade / no value)."""
    return ns.col("grade").replace_strict(
        dict(values), default=None, return_dtype=dtype or pl.Int64()
    )


def position_ppm(policy: LimitPolicy, ns: ModuleType = pl) -> Expr:
    """Where the row sits inside its grade's band: 0 = the band's worst end, 1e6 = its best."""
    if policy.grading.basis == "score":
        scale = policy.grading.score_scale
        low = by_grade({g.code: g.score.min for g in policy.grades if g.score is not None}, ns=ns)
        high = by_grade({g.code: g.score.max for g in policy.grades if g.score is not None}, ns=ns)
        value = ns.col("score").clip(scale.min, scale.max)
        width = high - low
        pos = ns.when(width <= 0).then(PPM).otherwise((value - low) * PPM // width)
    else:
        low_f = by_grade(
            {g.code: g.pd.min for g in policy.grades if g.pd is not None},
            pl.Float64(),
            ns,
        )
        high_f = by_grade(
            {g.code: g.pd.max for g in policy.grades if g.pd is not None},
            pl.Float64(),
            ns,
        )
        value_f = ns.col("pd").clip(0.0, 1.0)
        pos = ((high_f - value_f) / (high_f - low_f) * PPM).floor().cast(pl.Int64)
    return pos.clip(0, PPM)


def floor_to_step(amount: Expr, step: int) -> Expr:
    """Round a fen amount down to the policy's limit step."""
    return amount // step * step


def pct_of(amount: Expr, bp: Expr | int) -> Expr:
    """``amount × bp / 10 000``, rounded down, in integer arithmetic."""
    return amount * bp // BP


def div_half_even(numerator: Expr, denominator: Expr) -> Expr:
    """``numerator / denominator`` rounded half to even (the policy's one rounding of basis
    points, ``policy.base.percent_to_bp``), in integers; both non-negative, denominator > 0."""
    quotient = numerator // denominator
    twice_rest = (numerator - quotient * denominator) * 2
    up = (twice_rest > denominator) | ((twice_rest == denominator) & (quotient % 2 == 1))
    return quotient + up.cast(pl.Int64)
