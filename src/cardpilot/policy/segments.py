"""Spending and repayment segments: ordered policy rules, first match wins, vectorised.

The segment steers the limit decision (issue #5): large spenders who repay on time move towards
the top of their grade's increase range; cautious spenders keep a stable limit. What each
segment does is policy data (``Segment.increase``, ``placement_pull``), not code.
"""

from __future__ import annotations

from types import ModuleType

import polars as pl

from cardpilot.policy.condition_syntax import condition_features
from cardpilot.policy.conditions import compile_condition
from cardpilot.policy.row_exprs import Expr
from cardpilot.policy.schema import LimitPolicy


def segment_expr(policy: LimitPolicy, ns: ModuleType = pl) -> Expr:
    """Segment code per row: the first segment whose condition holds, else the default."""
    default = policy.segments[-1]
    expr = ns.lit(default.code, dtype=pl.String)
    # Built from the last rule backwards so the first rule is the outermost test.
    for seg in reversed(policy.segments[:-1]):
        assert seg.when is not None  # schema: only the last segment lacks a condition
        cond = compile_condition(seg.when, ns=ns)
        expr = ns.when(cond).then(ns.lit(seg.code)).otherwise(expr)
    return expr


def segment_features(policy: LimitPolicy) -> set[str]:
    """Feature columns the segment rules read."""
    out: set[str] = set()
    for seg in policy.segments:
        if seg.when is not None:
            out |= condition_features(seg.when)
    return out


def assign_segments(features: pl.DataFrame, policy: LimitPolicy) -> pl.DataFrame:
    """``account_id, segment`` for a feature table (the columns the rules read must be there)."""
    missing = sorted(segment_features(policy) - set(features.columns))
    if missing:
        raise ValueError(f"feature table lacks columns the segment rules read: {missing}")
    return features.select(pl.col("account_id"), segment_expr(policy).alias("segment"))
