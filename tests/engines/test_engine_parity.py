"""One decision function, three ways to run it: identical decisions from the single-account
call, the local Arrow engine and Spark (mapInArrow) on a few thousand synthetic accounts."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cardpilot.engines.deciders import spark_arrow
from cardpilot.engines.local import batches_from_frame, review_local
from cardpilot.engines.sample import sample_features
from cardpilot.engines.single import decide_account, decide_account_row
from cardpilot.policy.limits import DECISION_SCHEMA, decide_limits
from cardpilot.policy.loading import load_policy

AS_OF = dt.date(2026, 12, 1)
ACCOUNTS = 2_500


@pytest.fixture(scope="module")
def policy():
    return load_policy()


@pytest.fixture(scope="module")
def features() -> pl.DataFrame:
    return sample_features(ACCOUNTS, seed=7, as_of=AS_OF)


@pytest.fixture(scope="module")
def local_decisions(features, policy) -> pl.DataFrame:
    out = review_local(batches_from_frame(features, chunk_rows=700), policy, AS_OF)
    assert isinstance(out, pl.DataFrame)
    return out


def test_sample_exercises_every_action_grade_and_segment(local_decisions, policy):
    assert set(local_decisions["action"]) == {"increase", "keep", "decrease"}
    assert set(local_decisions["grade"].drop_nulls()) == {g.code for g in policy.limits.grades}
    assert set(local_decisions["segment"]) == {s.code for s in policy.limits.segments}


def test_sample_exercises_holds_and_overdue_counts_since_a_limit_change(
    features, policy, local_decisions
):
    assert "KEEP_WATCH_HOLD" in set(local_decisions["reason_codes"].explode())
    since = [c for c in features.columns if c.endswith("_since_limit_change")]
    whole_window = decide_limits(features.drop(since), policy, AS_OF)
    assert (whole_window["action"] != local_decisions["action"]).any()


def test_local_engine_equals_one_call_on_the_whole_table(features, policy, local_decisions):
    assert local_decisions.schema == pl.Schema(DECISION_SCHEMA)
    assert_frame_equal(local_decisions, decide_limits(features, policy, AS_OF))


def test_single_account_calls_equal_the_local_engine(features, policy, local_decisions):
    singles = [decide_account_row(row, policy, AS_OF) for row in features.iter_rows(named=True)]
    assert_frame_equal(pl.DataFrame(singles, schema=DECISION_SCHEMA), local_decisions)


def test_single_account_call_returns_a_domain_decision(features, policy, local_decisions):
    decision = decide_account(features.row(0, named=True), policy, AS_OF)
    expected = local_decisions.row(0, named=True)
    assert decision.account_id == expected["account_id"]
    assert decision.action.value == expected["action"]
    assert decision.new_limit_minor == expected["new_limit_minor"]
    assert list(decision.reason_codes) == expected["reason_codes"]


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")
def test_spark_engine_equals_the_local_engine(spark, features, policy, local_decisions):
    from cardpilot.engines.spark import review_spark

    sdf = spark.createDataFrame(spark_arrow(features)).repartition(3)
    decided = review_spark(sdf, policy, AS_OF).toArrow()
    from_spark = pl.from_arrow(decided).sort("account_id")
    assert_frame_equal(from_spark, local_decisions.sort("account_id"))
