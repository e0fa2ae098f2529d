"""Polars helpers shared by the decision and persistence code."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl


def with_per_distinct(
    frame: pl.DataFrame, keys: Sequence[str], exprs: Sequence[pl.Expr]
) -> pl.DataFrame:
    """``frame.with_columns(exprs)`` for expressions that read only the ``keys`` columns,
    evaluated once per distinct combination of the keys and joined back in row order.

    For list and string work over columns with few distinct values (the 100,000 reason
    lists of a review chunk hold about a hundred distinct ones): the same frame for a
    fraction of the work. Nulls are keys like any other value.
    """
    if frame.height < 2:  # nothing to share (one account: the HTTP service)
        return frame.with_columns(exprs)
    outputs = [e.meta.output_name() for e in exprs]
    distinct = frame.select(keys).unique(maintain_order=True)
    if distinct.height * 2 > frame.height:  # mostly distinct (or tiny): nothing to save
        return frame.with_columns(exprs)
    scratch = [f"__per_distinct_{i}" for i in range(len(exprs))]
    computed = distinct.with_columns(e.alias(s) for e, s in zip(exprs, scratch, strict=True))
    joined = frame.join(
        computed.select(*keys, *scratch),
        on=list(keys),
        how="left",
        nulls_equal=True,
        maintain_order="left",
    )
    renamed = (pl.col(s).alias(o) for s, o in zip(scratch, outputs, strict=True))
    return joined.with_columns(renamed).drop(scratch)
