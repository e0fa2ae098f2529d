"""An overdue treatment split by a champion/challenger test: each arm treated by its own
policy alone, each decision recording its test, arm and policy version."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import text

from cardpilot.batch.experiment_arms import treatment_arms
from cardpilot.domain.experiments import CHALLENGER, CHAMPION, ExperimentSpec, arms_of
from cardpilot.jobs.experiments import create_experiment, experiment_report
from cardpilot.jobs.overdue import treat_overdue
from cardpilot.overdue.loading import default_overdue_policy_path, load_overdue_policy
from cardpilot.store.db import make_engine

AS_OF = dt.date(2005, 9, 30)
TREATED = ["a-low", "b-deep", "c-medium", "e-high-pd", "g-cured", "h-no-pd"]
COMPARED = [
    "account_id",
    "risk_segment",
    "treatment",
    "fee_waived",
    "fee_waiver_share_bp",
    "fee_waived_minor",
    "limit_action",
    "new_limit_minor",
    "reason_codes",
    "policy_version",
]


def _challenger(tmp_path: Path) -> Path:
    """The shipped overdue policy waiving every fee it waives half of, under its own version."""
    target = tmp_path / "overdue-challenger"
    target.mkdir()
    text_ = default_overdue_policy_path().read_text(encoding="utf-8")
    text_ = text_.replace("fee_waiver_share: 50", "fee_waiver_share: 100")
    text_ = text_.replace('version: "2026.11-overdue-2"', 'version: "2026.11-overdue-2-waive-all"')
    (target / "overdue.yaml").write_text(text_, encoding="utf-8")
    return target


def _split_name() -> str:
    """A test name that puts treated accounts in both arms at half and half."""
    for n in range(100):
        name = f"waive-all-{n}"
        if len(set(arms_of(TREATED, name, 5_000))) == 2:
            return name
    raise AssertionError("no name splits six accounts")


def _treatments(url: str) -> pl.DataFrame:
    db = make_engine(url)
    try:
        with db.connect() as conn:
            rows = conn.execute(
                text(
                    f"SELECT {', '.join(COMPARED)}, experiment, arm FROM overdue_treatments"
                    " ORDER BY account_id"
                )
            ).all()
    finally:
        db.dispose()
    return pl.DataFrame(rows, schema=[*COMPARED, "experiment", "arm"], orient="row")


def test_each_arm_is_treated_as_its_policy_alone_treats_it(
    sqlite_overdue_stores, scorer, tmp_path
) -> None:
    split_url = sqlite_overdue_stores("split")
    champion_url = sqlite_overdue_stores("champion")
    challenger_url = sqlite_overdue_stores("challenger")
    folder = _challenger(tmp_path)
    name = _split_name()
    spec = ExperimentSpec(
        name=name,
        kind="overdue",
        champion=str(default_overdue_policy_path()),
        challenger=str(folder),
        share_bp=5_000,
        start_on=AS_OF,
    )
    create_experiment(split_url, spec)
    db = make_engine(split_url)
    arms = treatment_arms(db, name)
    result = treat_overdue(split_url, scorer, as_of=AS_OF, experiment=arms)
    treat_overdue(champion_url, scorer, as_of=AS_OF)
    treat_overdue(challenger_url, scorer, as_of=AS_OF, policy=load_overdue_policy(folder))

    split = _treatments(split_url)
    assert result.experiment == name
    assert split["account_id"].to_list() == sorted(TREATED)
    assert split["arm"].to_list() == arms_of(sorted(TREATED), name, 5_000)
    for arm, url in ((CHAMPION, champion_url), (CHALLENGER, challenger_url)):
        own = split.filter(pl.col("arm") == arm).select(COMPARED)
        alone = (
            _treatments(url)
            .select(COMPARED)
            .join(own.select("account_id"), on="account_id", how="semi")
        )
        assert own.height >= 1
        assert own.equals(alone)
    report = experiment_report(db, name)
    db.dispose()
    assert report["arms"][CHAMPION] + report["arms"][CHALLENGER] == len(TREATED)
    assert report["policy_versions"][CHALLENGER] == [arms.challenger.version]


def test_a_limit_test_cannot_split_the_treatment(sqlite_overdue_stores, tmp_path) -> None:
    from cardpilot.batch.experiment_arms import ExperimentError

    url = sqlite_overdue_stores("wrong-kind")
    limits = tmp_path / "limits-copy"
    shutil.copytree(Path(default_overdue_policy_path()).parent, limits)
    (limits / "limits.yaml").write_text(
        (limits / "limits.yaml")
        .read_text(encoding="utf-8")
        .replace('version: "2026.11.0"', 'version: "2026.11.0-b"'),
        encoding="utf-8",
    )
    create_experiment(
        url,
        ExperimentSpec(
            name="limits-only",
            kind="limits",
            champion="default",
            challenger=str(limits),
            share_bp=5_000,
            start_on=AS_OF,
        ),
    )
    db = make_engine(url)
    try:
        with pytest.raises(ExperimentError, match="limits policies cannot split the overdue run"):
            treatment_arms(db, "limits-only")
    finally:
        db.dispose()
