"""The simulation scores without the score's reasons (``score_chunk(..., reasons=False)``): the
scores, the features, every decision's grade, segment, action and limits and so every figure
are those of the review's scoring with its reasons; only the reasons are left null."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cardpilot.batch.scoring import (
    SCORE_COLUMNS,
    reason_codes_of,
    score_chunk,
    score_reason_texts,
)
from cardpilot.policy.assumptions import load_assumptions
from cardpilot.policy.catalogue import shipped_dir
from cardpilot.policy.limits import decide_limits
from cardpilot.policy.loading import load_policy
from cardpilot.scoring.registry import load_model_dir
from cardpilot.simulation.economics import DECISION_INPUTS, LIMITS, account_figures
from cardpilot.store.account_chunks import NO_CYCLE
from cardpilot.store.db import make_engine
from cardpilot.store.review_backend import read_account_chunks

from .conftest import AS_OF, raised_increase_ranges

DEFAULT = shipped_dir() / "default"
MODEL = Path(__file__).resolve().parents[1] / "fixtures" / "models" / "uci-scorecard"
REASONS = ("reason_codes", "positive_codes")


def _first_chunk(url: str) -> Any:
    db = make_engine(url)
    try:
        chunks = read_account_chunks(db, as_of=AS_OF, cycle_id=NO_CYCLE, chunk_rows=400)
        chunk = next(chunks)
        chunks.close()
        return chunk
    finally:
        db.dispose()


@pytest.fixture(params=["stand-in", "uci-scorecard"])
def any_scorer(request: pytest.FixtureRequest, scorer: Any) -> Any:
    """The review tests' stand-in (its own reasons) and a scorecard (reasons with a direction)."""
    return scorer if request.param == "stand-in" else load_model_dir(MODEL)


def test_scores_without_reasons_leave_only_the_reasons_out(
    simulation_store: str, any_scorer: Any
) -> None:
    chunk = _first_chunk(simulation_store)
    full = score_chunk(chunk, any_scorer, AS_OF)
    bare = score_chunk(chunk, any_scorer, AS_OF, reasons=False)
    assert full["reason_codes"].list.len().sum() > 0
    for name in REASONS:
        assert bare[name].null_count() == bare.height
        assert bare.schema[name] == SCORE_COLUMNS[name]
    assert bare.drop(REASONS).equals(full.drop(REASONS))


def test_decisions_and_figures_without_the_score_reasons_are_the_reviews(
    simulation_store: str, any_scorer: Any, tmp_path: Path
) -> None:
    chunk = _first_chunk(simulation_store)
    full = score_chunk(chunk, any_scorer, AS_OF)
    bare = score_chunk(chunk, any_scorer, AS_OF, reasons=False)
    texts = score_reason_texts(reason_codes_of(full), {})
    assumptions = load_assumptions(DEFAULT)
    raised = raised_increase_ranges(DEFAULT, tmp_path / "raised")
    for policy in (load_policy(DEFAULT), load_policy(raised)):
        reviewed = decide_limits(full, policy, AS_OF, reason_texts=texts)
        simulated = decide_limits(bare, policy, AS_OF, reason_texts={})
        read = [*DECISION_INPUTS, *LIMITS]
        assert simulated.select(read).equals(reviewed.select(read))
        assert account_figures(simulated, bare, assumptions).equals(
            account_figures(reviewed, full, assumptions)
        )
        assert reviewed["action"].n_unique() > 1
    # The reasons are what differs: the review's decisions carry the score's as well.
    assert not reviewed["reason_codes"].equals(simulated["reason_codes"])
