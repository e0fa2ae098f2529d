"""A review split by a champion/challenger test: each arm decided by its own policy alone,
each decision recording its test, arm and policy version; the test's life audited."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import text

from cardpilot.batch.experiment_arms import limit_arms
from cardpilot.domain.experiments import CHALLENGER, CHAMPION, ExperimentSpec, arm_of
from cardpilot.jobs.experiments import (
    ExperimentError,
    create_experiment,
    experiment_report,
    promote,
    stop,
)
from cardpilot.jobs.review import review_portfolio
from cardpilot.policy.loading import load_policy
from cardpilot.store.audit import verify_chain
from cardpilot.store.db import make_engine
from cardpilot.store.experiments import promoted_policy
from cardpilot.store.limit_decisions import read_decisions
from experiment_policies import challenger_policy

AS_OF = dt.date(2026, 5, 1)
COMPARED = [
    "account_id",
    "grade",
    "segment",
    "action",
    "score",
    "pd",
    "old_limit_minor",
    "new_limit_minor",
    "increase_pct_bp",
    "reason_codes",
    "policy_version",
    "model_version",
]


def _copy(url: str, tmp_path: Path, name: str) -> str:
    target = tmp_path / name
    shutil.copy(Path(url.removeprefix("sqlite:///")), target)
    return f"sqlite:///{target}"


def _spec(
    challenger: Path, share_bp: int = 3_000, name: str = "bigger-increases"
) -> ExperimentSpec:
    return ExperimentSpec(
        name=name,
        kind="limits",
        champion="default",
        challenger=str(challenger),
        share_bp=share_bp,
        start_on=AS_OF,
    )


def _arms(decisions: pl.DataFrame, url: str) -> pl.DataFrame:
    db = make_engine(url)
    try:
        with db.connect() as conn:
            rows = conn.execute(
                text("SELECT account_id, experiment, arm FROM limit_decisions")
            ).all()
    finally:
        db.dispose()
    arms = pl.DataFrame(rows, schema=["account_id", "experiment", "arm"], orient="row")
    return decisions.join(arms, on="account_id")


def test_each_arms_decisions_equal_what_its_policy_alone_decides(sqlite_store, scorer, tmp_path):
    challenger = challenger_policy(tmp_path)
    champion_url = _copy(sqlite_store, tmp_path, "champion.db")
    challenger_url = _copy(sqlite_store, tmp_path, "challenger.db")
    create_experiment(sqlite_store, _spec(challenger))
    db = make_engine(sqlite_store)
    arms = limit_arms(db, "bigger-increases")
    db.dispose()

    split = review_portfolio(sqlite_store, scorer, as_of=AS_OF, chunk_rows=400, experiment=arms)
    review_portfolio(champion_url, scorer, as_of=AS_OF, chunk_rows=400)
    review_portfolio(
        challenger_url, scorer, as_of=AS_OF, chunk_rows=400, policy=load_policy(challenger)
    )

    tested = _arms(read_decisions(make_engine(sqlite_store)), sqlite_store)
    assert split.experiment == "bigger-increases"
    assert sum(split.by_arm.values()) == split.decided == tested.height
    assert set(tested["experiment"]) == {"bigger-increases"}
    expected = [arm_of(a, "bigger-increases", 3_000) for a in tested["account_id"]]
    assert tested["arm"].to_list() == expected
    for arm, url, policy in (
        (CHAMPION, champion_url, load_policy()),
        (CHALLENGER, challenger_url, load_policy(challenger)),
    ):
        own = tested.filter(pl.col("arm") == arm).select(COMPARED)
        alone = (
            read_decisions(make_engine(url))
            .select(COMPARED)
            .join(own.select("account_id"), on="account_id", how="semi")
        )
        assert own.height > 50
        assert set(own["policy_version"]) == {policy.version}
        assert own.equals(alone)
    # The challenger's wider ranges did change decisions: the test compares two policies.
    champion_alone = read_decisions(make_engine(champion_url)).select(COMPARED)
    mine = tested.filter(pl.col("arm") == CHALLENGER).select(COMPARED)
    other = champion_alone.join(mine.select("account_id"), on="account_id", how="semi")
    assert not mine.equals(other)


def test_the_tests_life_is_audited_and_a_promoted_challenger_reviews_later(
    sqlite_store, scorer, tmp_path
):
    challenger = challenger_policy(tmp_path)
    stored = create_experiment(sqlite_store, _spec(challenger, 2_000, "t-life"))
    assert stored.status == "running"
    assert stored.share_bp == 2_000
    with pytest.raises(ExperimentError, match="exists already"):
        create_experiment(sqlite_store, _spec(challenger, 2_000, "t-life"))
    db = make_engine(sqlite_store)
    try:
        review_portfolio(
            sqlite_store, scorer, as_of=AS_OF, chunk_rows=400, experiment=limit_arms(db, "t-life")
        )
        report = experiment_report(db, "t-life")
        assert report["arms"][CHAMPION] + report["arms"][CHALLENGER] > 1_000
        assert abs(float(report["challenger_share"]) - 0.2) < 0.05
        metrics = {o["metric"]: o for o in report["outcomes"]}
        assert {"overdue_next_cycles", "utilisation", "revolving_balance", "complaints"} <= set(
            metrics
        )
        change = metrics["limit_change"]
        assert change["mde"] is not None
        assert change["difference"]["low"] is not None
        assert stop(db, "t-life").status == "stopped"
        with pytest.raises(ExperimentError, match="stopped"):
            limit_arms(db, "t-life")
        assert promote(db, "t-life").status == "promoted"
        promoted = promoted_policy(db, "limits")
        assert promoted is not None
        assert promoted.challenger == str(challenger.resolve())
        assert verify_chain(db)[1] is None
        with db.connect() as conn:
            actions = [
                r[0]
                for r in conn.execute(
                    text(
                        "SELECT action FROM audit_log WHERE subject = 'experiment:t-life'"
                        " ORDER BY seq"
                    )
                )
            ]
        assert actions == ["experiment.create", "experiment.stop", "experiment.promote"]
    finally:
        db.dispose()


def test_a_review_dated_before_the_tests_start_is_refused(sqlite_store, scorer, tmp_path):
    from cardpilot.jobs.review import ReviewError

    challenger = challenger_policy(tmp_path)
    late = ExperimentSpec(
        name="starts-later",
        kind="limits",
        champion="default",
        challenger=str(challenger),
        share_bp=2_000,
        start_on=AS_OF + dt.timedelta(days=1),
    )
    create_experiment(sqlite_store, late)
    db = make_engine(sqlite_store)
    try:
        arms = limit_arms(db, "starts-later")
    finally:
        db.dispose()
    with pytest.raises(ReviewError, match="starts on 2026-05-02"):
        review_portfolio(sqlite_store, scorer, as_of=AS_OF, experiment=arms)


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")
def test_a_split_review_on_spark_stores_the_local_engines_arms_and_decisions(
    sqlite_store, scorer, spark, tmp_path
):
    challenger = challenger_policy(tmp_path)
    spark_url = _copy(sqlite_store, tmp_path, "spark.db")
    create_experiment(sqlite_store, _spec(challenger, 2_500, "on-spark"))
    create_experiment(spark_url, _spec(challenger, 2_500, "on-spark"))
    db = make_engine(sqlite_store)
    arms = limit_arms(db, "on-spark")
    db.dispose()
    local = review_portfolio(sqlite_store, scorer, as_of=AS_OF, chunk_rows=500, experiment=arms)
    remote = review_portfolio(
        spark_url, scorer, as_of=AS_OF, chunk_rows=500, engine="spark", spark=spark, experiment=arms
    )
    assert remote.by_arm == local.by_arm
    here = _arms(read_decisions(make_engine(sqlite_store)), sqlite_store).select(*COMPARED, "arm")
    there = _arms(read_decisions(make_engine(spark_url)), spark_url).select(*COMPARED, "arm")
    assert here.equals(there)
