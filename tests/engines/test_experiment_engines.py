"""A champion/challenger split on both engines: the local engine and Spark put every account
in the same arm (the same pure hash, on Spark in a pandas UDF on the executors) and decide each
arm by its own policy alone."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cardpilot.domain.experiments import CHALLENGER, CHAMPION, Arms, arms_of
from cardpilot.engines.deciders import EXPERIMENT_SCHEMA, experiment_decider, spark_arrow
from cardpilot.engines.sample import sample_features
from cardpilot.policy.limits import decide_limits
from cardpilot.policy.loading import load_policy
from experiment_policies import challenger_policy

AS_OF = dt.date(2026, 12, 1)
TEST = "engines-parity"
SHARE_BP = 2_500


@pytest.fixture(scope="module")
def arms(tmp_path_factory: pytest.TempPathFactory) -> Arms:
    folder: Path = challenger_policy(tmp_path_factory.mktemp("experiment"))
    return Arms(TEST, SHARE_BP, load_policy(), load_policy(folder))


@pytest.fixture(scope="module")
def features() -> pl.DataFrame:
    return sample_features(2_000, seed=5, as_of=AS_OF)


@pytest.fixture(scope="module")
def local(features, arms) -> pl.DataFrame:
    return experiment_decider("local", arms, AS_OF)(features, {})


def test_the_local_engine_decides_each_arm_by_its_policy_alone(features, arms, local):
    assert local.schema == pl.Schema(EXPERIMENT_SCHEMA)
    assert local["account_id"].to_list() == features["account_id"].to_list()
    assert local["arm"].to_list() == arms_of(features["account_id"].to_list(), TEST, SHARE_BP)
    for arm, policy in ((CHAMPION, arms.champion), (CHALLENGER, arms.challenger)):
        own = local.filter(pl.col("arm") == arm)
        alone = decide_limits(features, policy, AS_OF).join(
            own.select("account_id"), on="account_id", how="semi"
        )
        assert_frame_equal(own.drop("experiment", "arm"), alone)


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")
def test_spark_assigns_the_same_arms_and_decides_as_the_local_engine(spark, features, arms, local):
    from cardpilot.engines.spark import review_spark_experiment, with_spark_arms

    sdf = spark.createDataFrame(spark_arrow(features)).repartition(3)
    assigned = pl.from_arrow(
        with_spark_arms(sdf, TEST, SHARE_BP).select("account_id", "arm").toArrow()
    )
    assert isinstance(assigned, pl.DataFrame)
    assert_frame_equal(
        assigned.sort("account_id"), local.select("account_id", "arm").sort("account_id")
    )
    decided = pl.from_arrow(review_spark_experiment(sdf, arms, AS_OF).toArrow())
    assert isinstance(decided, pl.DataFrame)
    assert_frame_equal(
        decided.select(list(EXPERIMENT_SCHEMA)).sort("account_id"), local.sort("account_id")
    )


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")
def test_the_spark_decider_returns_the_local_deciders_rows(spark, features, arms, local):
    decided = experiment_decider("spark", arms, AS_OF, spark)(features, {})
    assert_frame_equal(decided, local)
