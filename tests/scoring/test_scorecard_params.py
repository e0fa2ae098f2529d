"""Scorecard options used by model selection (bench/select_models.py), on synthetic data."""

from __future__ import annotations

import numpy as np
import polars as pl

from cardpilot.scoring.scorecard import ScorecardParams, _trend, fit_scorecard


def test_free_trend_applies_only_where_the_domain_sets_no_direction() -> None:
    assert _trend("months_overdue_latest", "auto") == "ascending"
    assert _trend("payment_ratio_latest", "auto") == "descending"
    assert _trend("utilisation_latest", "auto") == "auto"
    assert _trend("utilisation_latest", "none") is None
    assert _trend("utilisation_latest") == "auto_asc_desc"


def _risky(n: int, seed: int, copy: bool) -> tuple[pl.DataFrame, np.ndarray]:
    """One informative characteristic (optionally a near copy of it) and an uninformative age."""
    rng = np.random.default_rng(seed)
    risk = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(risk - 1)))).astype(np.int8)
    columns = {"account_id": [str(i) for i in range(n)], "utilisation_latest": risk}
    if copy:
        columns["utilisation_avg_6m"] = risk + rng.normal(scale=0.05, size=n)
    columns["age"] = rng.integers(20, 70, n)
    return pl.DataFrame(columns), y


def test_correlation_filter_keeps_the_more_informative_of_two_copies() -> None:
    frame, y = _risky(4000, 3, copy=True)
    names = ["utilisation_latest", "utilisation_avg_6m", "age"]
    _, summary = fit_scorecard(frame, y, names, ScorecardParams(max_corr=0.8, min_iv=0.0))
    assert len(summary["dropped_for_correlation"]) == 1
    assert summary["dropped_for_correlation"][0] in names[:2]
    _, plain = fit_scorecard(frame, y, names, ScorecardParams(min_iv=0.0))
    assert plain["dropped_for_correlation"] == []


def test_trend_overrides_apply_only_to_characteristics_without_a_domain_direction() -> None:
    overrides = (("utilisation_latest", "valley"), ("months_overdue_latest", "peak"))
    assert _trend("utilisation_latest", "auto_asc_desc", overrides) == "valley"
    assert _trend("months_overdue_latest", "auto_asc_desc", overrides) == "ascending"
    assert _trend("age", "auto_asc_desc", overrides) == "auto_asc_desc"
    assert _trend("utilisation_latest", "auto", (("utilisation_latest", "none"),)) is None


def test_l1_penalty_leaves_out_a_characteristic_without_signal() -> None:
    frame, y = _risky(6000, 5, copy=False)
    names = ["utilisation_latest", "age"]
    strong = ScorecardParams(min_iv=0.0, penalty="l1", C=0.005)
    model, summary = fit_scorecard(frame, y, names, strong)
    assert model.characteristics == ["utilisation_latest"]
    assert summary["dropped_for_sign"] == ["age"]
    assert summary["coefficients"]["utilisation_latest"] > 0
    assert ScorecardParams(penalty="l1").to_dict()["penalty"] == "l1"
