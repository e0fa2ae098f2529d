"""The limit decision of a scored chunk, by the engine a review runs on: in-process or Spark.
Both call ``cardpilot.policy.limits.decide_limits``; a champion/challenger test splits the
chunk by ``cardpilot.domain.experiments`` (on Spark, inside the executors) and decides each
arm's accounts with its own policy."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import polars as pl
import pyarrow as pa

from cardpilot.domain.experiments import ARMS, Arms, arm_column
from cardpilot.engines.spark import local_spark_session, review_spark, review_spark_experiment
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
        frame = _spark_frame(session, table, input_columns(policy.limits))
        decided = review_spark(frame, policy, as_of, reason_texts=texts)
        return _in_input_order(table, decided, DECISION_SCHEMA)

    return decide_on_spark


# A test's decisions: the decision's columns, the test's name and the account's arm.
EXPERIMENT_SCHEMA: dict[str, pl.DataType] = {
    **DECISION_SCHEMA,
    "experiment": pl.String(),
    "arm": pl.String(),
}


def experiment_decider(
    engine: str, arms: Arms[Policy], as_of: dt.date, spark: Any = None
) -> LimitDecider:
    """The decision of a review a champion/challenger test splits: each account's arm by the
    stable hash of its id and the test's name, decided by that arm's policy alone; the rows in
    input order, with ``experiment`` and ``arm`` (``EXPERIMENT_SCHEMA``)."""
    if engine == "local":
        deciders = {arm: limit_decider("local", arms.policy(arm), as_of) for arm in ARMS}

        def decide_here(table: pl.DataFrame, texts: ReasonTexts) -> pl.DataFrame:
            split = table.with_columns(arm_column(table["account_id"], arms.name, arms.share_bp))
            parts = []
            for arm, decide in deciders.items():
                own = split.filter(pl.col("arm") == arm)
                if own.height:
                    parts.append(
                        decide(own.drop("arm"), texts).with_columns(pl.lit(arm).alias("arm"))
                    )
            empty = pl.DataFrame(schema={**DECISION_SCHEMA, "arm": pl.String()})
            out = pl.concat(parts) if parts else empty
            out = out.with_columns(pl.lit(arms.name, dtype=pl.String).alias("experiment"))
            return table.select("account_id").join(
                out.select(list(EXPERIMENT_SCHEMA)),
                on="account_id",
                how="left",
                maintain_order="left",
            )

        return decide_here
    session = spark if spark is not None else local_spark_session()
    wanted = input_columns(arms.champion.limits) | input_columns(arms.challenger.limits)

    def decide_on_spark(table: pl.DataFrame, texts: ReasonTexts) -> pl.DataFrame:
        frame = _spark_frame(session, table, wanted)
        decided = review_spark_experiment(frame, arms, as_of, reason_texts=texts)
        return _in_input_order(table, decided, EXPERIMENT_SCHEMA)

    return decide_on_spark


def _spark_frame(session: Any, table: pl.DataFrame, wanted: set[str]) -> Any:
    """The columns a policy reads, as a Spark DataFrame."""
    return session.createDataFrame(
        spark_arrow(table.select([c for c in table.columns if c in wanted]))
    )


def spark_arrow(frame: pl.DataFrame) -> pa.Table:
    """``frame`` as Arrow that Spark's ``createDataFrame`` takes: plain string and
    list<string>, not the large or view variants Polars writes."""
    arrow = frame.to_arrow()
    return arrow.cast(_plain_arrow_schema(arrow.schema))


def _in_input_order(
    table: pl.DataFrame, decided: Any, schema: dict[str, pl.DataType]
) -> pl.DataFrame:
    out = pl.from_arrow(decided.toArrow())
    assert isinstance(out, pl.DataFrame)
    out = out.select([pl.col(n).cast(t) for n, t in schema.items()])
    # Spark does not keep row order; the local engine does: the same order as the input.
    return table.select("account_id").join(out, on="account_id", how="left")


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
