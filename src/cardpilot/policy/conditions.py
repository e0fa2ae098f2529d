"""Compile conditions of the one condition language (``cardpilot.policy.condition_syntax``) to
Polars expressions (or their one-row form, ``policy.row_exprs``). No ``eval``: the only
operations are the ones listed in ``ComparisonOp``.

A comparison on a null value is false (an unknown value is not evidence), except ``is_null``.
Money thresholds (``value_yuan``) compare with the column's integer fen.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import polars as pl

from cardpilot.policy.condition_syntax import AllOf, AnyCondition, Comparison, NotCond
from cardpilot.policy.row_exprs import Expr


def _literal(cmp: Comparison) -> int | float | str:
    if cmp.value_yuan is not None:
        return cmp.value_yuan
    value = cmp.value
    assert value is not None
    assert not isinstance(value, list)
    return value


# How a condition reads a feature: its column, or an expression standing for it.
ColumnOf = Callable[[str], Expr]


def _comparison(cmp: Comparison, column: ColumnOf, ns: ModuleType) -> Expr:
    col = column(cmp.feature)
    if cmp.op == "is_null":
        return col.is_null()
    if cmp.op == "not_null":
        return col.is_not_null()
    if cmp.op in ("in", "not_in"):
        values = cmp.value if isinstance(cmp.value, list) else [cmp.value]
        hit = col.is_in(ns.lit(values)) & col.is_not_null()
        return (hit if cmp.op == "in" else ~hit & col.is_not_null()).fill_null(False)
    value = _literal(cmp)
    match cmp.op:
        case "==":
            expr = col == value
        case "!=":
            expr = col != value
        case "<":
            expr = col < value
        case "<=":
            expr = col <= value
        case ">":
            expr = col > value
        case _:
            expr = col >= value
    return expr.fill_null(False)


def compile_condition(
    cond: AnyCondition, *, column: ColumnOf | None = None, ns: ModuleType = pl
) -> Expr:
    """A boolean, never-null expression for the condition; ``column``: how a feature is read
    (default: its column); ``ns``: ``polars``, or ``policy.row_exprs`` for one row."""
    if column is None:
        column = ns.col
    if isinstance(cond, Comparison):
        return _comparison(cond, column, ns)
    if isinstance(cond, NotCond):
        return ~compile_condition(cond.not_, column=column, ns=ns)
    parts = [
        compile_condition(part, column=column, ns=ns)
        for part in (cond.all if isinstance(cond, AllOf) else cond.any)
    ]
    return ns.all_horizontal(parts) if isinstance(cond, AllOf) else ns.any_horizontal(parts)
