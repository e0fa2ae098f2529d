"""The Spark engine: the same decision function on a cluster, through ``mapInArrow``.

Each Spark partition streams Arrow record batches into ``decide_limits`` (via the local
engine's ``decide_batches``) on the executor, so a portfolio on a cluster is decided by exactly
the code that decides one account for the API. Only the columns the policy reads are sent to
the executors; protected attributes never leave the driver's DataFrame.

PySpark is optional (the ``spark`` extra); this module imports it lazily.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from cardpilot.domain.experiments import ARMS, Arms, arms_of
from cardpilot.engines.local import decide_batches
from cardpilot.policy.limits import ReasonTexts, decision_arrow_schema, input_columns
from cardpilot.policy.schema import Policy

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def local_spark_session(
    master: str = "local[2]", app_name: str = "cardpilot", driver_memory: str = "1g"
) -> SparkSession:
    """A small, quiet Spark session (tests, a laptop). Production passes a cluster master URL.

    ``driver_memory``: the driver JVM's heap; in local mode it also runs the tasks, so a review
    of large chunks needs more than the 1 GB that suits tests.
    """
    from pyspark.sql import SparkSession

    # Python workers must run this interpreter (this venv), so they import the same cardpilot
    # and Polars as the driver; PySpark reads the variable when the context starts. A value set
    # by the operator wins. On a cluster, install cardpilot on the executors (or ship a wheel).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.driver.memory", driver_memory)
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def spark_decision_schema() -> Any:
    """The decision table's Spark schema, derived from the one Arrow schema."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(decision_arrow_schema())


def review_spark(
    features: DataFrame,
    policy: Policy,
    as_of: dt.date,
    *,
    reason_texts: ReasonTexts | None = None,
) -> DataFrame:
    """Decide every row of a Spark DataFrame of scored features; returns a Spark DataFrame
    with the decision table's columns (lazy, like any Spark transformation)."""
    wanted = input_columns(policy.limits)
    present = [name for name in features.columns if name in wanted]
    texts = dict(reason_texts) if reason_texts else None

    def decide(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        yield from decide_batches(batches, policy, as_of, reason_texts=texts)

    return features.select(*present).mapInArrow(decide, spark_decision_schema())


def with_spark_arms(features: DataFrame, test: str, share_bp: int) -> DataFrame:
    """``features`` with each account's ``arm`` in a test, computed on the executors by a
    pandas UDF over ``cardpilot.domain.experiments.arms_of``: the same pure function as the
    local engine, so both put every account in the same arm."""
    import pandas as pd
    from pyspark.sql.functions import col
    from pyspark.sql.pandas.functions import pandas_udf

    def arm(account_ids):  # type: ignore[no-untyped-def]
        return pd.Series(arms_of(account_ids.tolist(), test, share_bp), dtype=object)

    # Spark reads the UDF's kind from its type hints, as objects (this module's postponed
    # annotations would be strings naming a pandas imported here only).
    arm.__annotations__ = {"account_ids": pd.Series, "return": pd.Series}
    udf: Any = pandas_udf(arm, "string")  # type: ignore[call-overload]
    return features.withColumn("arm", udf(col("account_id")))


def review_spark_experiment(
    features: DataFrame,
    arms: Arms[Policy],
    as_of: dt.date,
    *,
    reason_texts: ReasonTexts | None = None,
) -> DataFrame:
    """Decide a Spark DataFrame of scored features under a champion/challenger test: each
    account by its arm's policy (``with_spark_arms``); the decision table's columns with
    ``experiment`` and ``arm``."""
    from pyspark.sql.functions import col, lit

    split = with_spark_arms(features, arms.name, arms.share_bp)
    parts = [
        review_spark(
            split.filter(col("arm") == arm).drop("arm"),
            arms.policy(arm),
            as_of,
            reason_texts=reason_texts,
        ).withColumns({"experiment": lit(arms.name), "arm": lit(arm)})
        for arm in ARMS
    ]
    return parts[0].unionByName(parts[1])
