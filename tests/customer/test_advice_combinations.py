"""Advice scores every combination of actions at once (combinations making the same move
simulated once, every move's accounts scored together): each combination's scores and grades
are those of its actions simulated alone (``advised_features``) and scored by the model."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cardpilot.customer.advice import (
    SimFrames,
    advised_features,
    combinations,
    scored_combinations,
)
from cardpilot.policy.catalogue import shipped_dir
from cardpilot.policy.customer import load_customer_policy
from cardpilot.policy.limit_arithmetic import grade_expr
from cardpilot.policy.loading import load_policy
from cardpilot.scoring.registry import load_model_dir
from cardpilot.store.db import make_engine
from cardpilot.store.frames import read_portfolio_frames

from .conftest import UCI_MODEL

AS_OF = dt.date(2026, 11, 1)


@pytest.fixture
def frames(portfolio_store: str) -> SimFrames:
    """The first 80 accounts of the synthetic portfolio."""
    engine = make_engine(portfolio_store)
    try:
        ids = [f"{i}" for i in read_portfolio_frames(engine).accounts["account_id"].head(80)]
        read = read_portfolio_frames(engine, ids)
    finally:
        engine.dispose()
    return SimFrames(read.statements, read.accounts, read.customers)


def test_every_combination_scores_as_its_actions_simulated_alone(
    frames: SimFrames, calibrated_policy: Path
) -> None:
    model = load_model_dir(UCI_MODEL)
    limits = load_policy(calibrated_policy)
    advice = load_customer_policy(shipped_dir() / "default").advice
    assert advice is not None
    ranks = {g.code: i for i, g in enumerate(limits.limits.grades)}
    rank = pl.col("grade").replace_strict(ranks, return_dtype=pl.Int64).alias("rank")
    tried = scored_combinations(frames, AS_OF, model, limits, advice)
    assert [s.combo for s in tried] == [(), *combinations(advice)]
    for s in tried:
        actions = [advice.actions[i] for i in s.combo]
        features = advised_features(frames, AS_OF, actions, advice.minimum_payment_pct)
        alone = (
            model.score(features)
            .select("account_id", "score", "pd")
            .with_columns(grade_expr(limits.limits).alias("grade"))
            .with_columns(rank)
        )
        assert_frame_equal(s.frame.sort("account_id"), alone.sort("account_id"))
