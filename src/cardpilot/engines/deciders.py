"""The limit decision of a scored chunk, by the engine a review runs on: in-process or Spark.
Both call ``cardpilot.policy.limits.decide_limits``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import polars as pl
import pyarrow as pa

from cardpilot.engines.spark import local_spark_session, review_spark
from cardpilot.policy.limits import DECISION_SCHEMA, ReasonTexts, decide_limits, input_columns
from cardpilot.policy.schema import Policy

ENGINES: tuple[str, ...] = ("local", "spark")
# A scored chunk and its score reasons' texts in, its decisions (``DECISION_SCHEMA``) out.
LimitDecider = Callable[[pl.DataFrame, ReasonTexts], pl.DataFrame]


def limit_decider(engine: str, policy: Policy, as_of: dt.date, spark: Any = None) -> LimitDecider:
    """The decision on ``engine`` (``local`` or ``spark``; ``spark``: a session, default a
    local one)."""
    if engine == "local":

        def decide_here(table: pl.DataFrame, texts: ReasonTexts) -> pl.DataFrame:
            return decide_limits(table, policy, as_of, reason_texts=texts)

        return decide_here
    session = spark if spark is not None else local_spark_session()

    def decide_on_spark(table: pl.DataFrame, texts: ReasonTexts) -> pl.DataFrame:
        wanted = input_columns(policy.limits)
        arrow = table.select([c for c in table.columns if c in wanted]).to_arrow()
        # Spark's Arrow bridge takes plain string / list<string>, not the large variants.
        arrow = arrow.cast(_plain_arrow_schema(arrow.schema))
        decided = review_spark(session.createDataFrame(arrow), policy, as_of, reason_texts=texts)
        out = pl.from_arrow(decided.toArrow())
        assert isinstance(out, pl.DataFrame)
        out = out.select([pl.col(n).cast(t) for n, t in DECISION_SCHEMA.items()])
        # Spark does not keep row order; the local engine does: the same order as the input.
        return table.select("account_id").join(out, on="account_id", how="left")

    return decide_on_spark


def _plain_arrow_schema(schema: pa.Schema) -> pa.Schema:
    fields = []
    for f in schema:
        t = f.type
        if pa.types.is_large_string(t) or pa.types.is_string_view(t):
            t = pa.string()
        elif pa.types.is_large_list(t) or pa.types.is_list(t):
            t = pa.list_(pa.string())
        fields.append(pa.field(f.name, t))
    return pa.schema(fields)
