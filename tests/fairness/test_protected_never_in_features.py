"""Sex and marital status are read for the fairness report only: they are in the store, yet no
feature frame, no scoring input of the review and no model carries them, and swapping them
changes no decision. Run on the real paths (store reads, the review job, training, loading)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from cardpilot.config import Settings
from cardpilot.jobs.importing import import_portfolio
from cardpilot.jobs.review import read_decisions, review_portfolio
from cardpilot.policy.loading import load_policy
from cardpilot.scoring.features import behaviour_features
from cardpilot.scoring.gbm import fit_gbm
from cardpilot.scoring.protected import ProtectedAttributeError
from cardpilot.scoring.registry import load_model_dir
from cardpilot.scoring.scorecard import fit_scorecard
from cardpilot.store.db import open_store
from cardpilot.store.frames import read_portfolio_frames
from cardpilot.store.models import Customer

MODEL = Path(__file__).resolve().parents[1] / "fixtures" / "models" / "uci-scorecard"
END_CYCLE = dt.date(2026, 4, 30)
AS_OF = dt.date(2026, 5, 1)


def _protected(columns: list[str]) -> list[str]:
    return [c for c in columns if "sex" in c.lower() or "marital" in c.lower()]


class RecordingScorer:
    """The fixture scorecard, noting the columns of every frame the review asks it to score."""

    def __init__(self) -> None:
        self.model = load_model_dir(MODEL)
        self.model_version = self.model.version
        self.inputs: list[list[str]] = []

    def score(self, features: pl.DataFrame) -> pl.DataFrame:
        self.inputs.append(features.columns)
        return self.model.score(features)


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cardpilot.synth.generate import GenerateOptions, generate_portfolio

    out = tmp_path_factory.mktemp("fairness-portfolio") / "portfolio"
    generate_portfolio(
        GenerateOptions(
            accounts=300, out=out, seed=5, months=8, transactions=False, end_cycle=END_CYCLE
        )
    )
    return out


def _imported(url: str, portfolio: Path, home: Path) -> str:
    import_portfolio(portfolio, layout="generic", database_url=url, settings=Settings(home=home))
    return url


def test_store_frames_hold_the_attributes_but_feature_frames_never_do(
    store_url: str, portfolio: Path, tmp_path: Path
) -> None:
    engine = open_store(_imported(store_url, portfolio, tmp_path))
    try:
        frames = read_portfolio_frames(engine)
    finally:
        engine.dispose()
    assert {"sex", "marital_status"} <= set(frames.customers.columns)
    assert frames.customers["sex"].drop_nulls().n_unique() >= 2  # the store really holds them
    features = behaviour_features(frames, AS_OF)
    assert features.height == 300
    assert _protected(features.columns) == []
    swapped = frames.customers.with_columns(
        sex=pl.when(pl.col("sex") == "female").then(pl.lit("male")).otherwise(pl.lit("female")),
        marital_status=pl.lit("single"),
    )
    again = behaviour_features(
        type(frames)(swapped, frames.accounts, frames.statements, frames.labels), AS_OF
    )
    assert again.equals(features)


def test_the_reviews_scoring_input_never_carries_a_protected_column(
    store_url: str, portfolio: Path, tmp_path: Path
) -> None:
    url = _imported(store_url, portfolio, tmp_path)
    scorer = RecordingScorer()
    result = review_portfolio(url, scorer, policy=load_policy(), as_of=AS_OF, notify=False)
    assert result.decided == 300
    assert scorer.inputs
    for columns in scorer.inputs:
        assert "account_id" in columns
        assert _protected(columns) == []


def test_swapping_sex_and_marital_status_changes_no_decision(
    portfolio: Path, tmp_path: Path
) -> None:
    decided = []
    for name, swap in (("as-imported", False), ("swapped", True)):
        url = _imported(f"sqlite:///{tmp_path / name}.db", portfolio, tmp_path / name)
        if swap:
            engine = open_store(url)
            with Session(engine) as session, session.begin():
                session.execute(update(Customer).values(sex="female", marital_status="married"))
            engine.dispose()
        review_portfolio(url, RecordingScorer(), policy=load_policy(), as_of=AS_OF, notify=False)
        engine = open_store(url)
        decisions = read_decisions(engine).sort("account_id")
        engine.dispose()
        decided.append(
            decisions.select("account_id", "action", "grade", "score", "new_limit_minor")
        )
    assert decided[0].height == 300
    assert decided[0].equals(decided[1])


@pytest.mark.parametrize("fit", [fit_scorecard, fit_gbm])
@pytest.mark.parametrize("attribute", ["sex", "marital_status"])
def test_training_refuses_a_protected_candidate_even_when_the_caller_lifts_the_list(
    fit, attribute: str
) -> None:  # type: ignore[no-untyped-def]
    features = pl.DataFrame(
        {"utilisation_latest": [0.1, 0.5, 0.9, 0.2], attribute: ["a", "b", "a", "b"]}
    )
    y = [0, 1, 1, 0]
    with pytest.raises(ProtectedAttributeError, match=attribute):
        fit(features, y, ["utilisation_latest", attribute])
    with pytest.raises(ProtectedAttributeError, match=attribute):
        fit(features, y, ["utilisation_latest", attribute], protected=())


@pytest.mark.parametrize("lifted", [False, True])
def test_a_model_directory_using_a_protected_attribute_is_refused_on_load(
    tmp_path: Path, lifted: bool
) -> None:
    model = tmp_path / "model"
    shutil.copytree(MODEL, model)
    meta_path = model / "metadata.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["features"].append("sex")
    if lifted:  # a model file cannot lift the ban by listing no protected attribute
        meta["protected_attributes"] = []
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ProtectedAttributeError, match="sex"):
        load_model_dir(model)
