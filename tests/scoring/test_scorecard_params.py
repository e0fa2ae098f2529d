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


def test_correlation_filter_keeps_the_more_informative_of_two_copies() -> None:
    rng = np.random.default_rng(3)
    n = 4000
    risk = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(risk - 1)))).astype(np.int8)
    frame = pl.DataFrame(
        {
            "account_id": [str(i) for i in range(n)],
            "utilisation_latest": risk,
            "utilisation_avg_6m": risk + rng.normal(scale=0.05, size=n),
            "age": rng.integers(20, 70, n),
        }
    )
    names = ["utilisation_latest", "utilisation_avg_6m", "age"]
    _, summary = fit_scorecard(frame, y, names, ScorecardParams(max_corr=0.8, min_iv=0.0))
    assert len(summary["dropped_for_correlation"]) == 1
    assert summary["dropped_for_correlation"][0] in names[:2]
    _, plain = fit_scorecard(frame, y, names, ScorecardParams(min_iv=0.0))
    assert plain["dropped_for_correlation"] == []
