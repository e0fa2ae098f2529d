"""The grade report: observed default rate per grade, and its monotonicity check."""

from __future__ import annotations

import numpy as np
import polars as pl

from cardpilot.policy.grades import default_rate_is_monotonic, grade_report


def scored_with_outcomes(n: int, seed: int, informative: bool) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    score = rng.integers(300, 901, n)
    pd_ = 1 / (1 + np.exp((score - 560) / 40)) if informative else np.full(n, 0.2)
    # Outcomes drawn from the PD: a model that ranks risk the right way.
    return pl.DataFrame({"score": score, "pd": pd_, "label": (rng.random(n) < pd_).astype(int)})


def test_report_lists_every_grade_best_first_with_rates(policy):
    report = grade_report(scored_with_outcomes(20_000, 1, informative=True), policy)
    assert report["grade"].to_list() == ["excellent", "good", "fair", "poor"]
    assert report["accounts"].sum() == 20_000
    assert abs(report["share"].sum() - 1) < 1e-9
    assert default_rate_is_monotonic(report)
    excellent = report.row(0, named=True)
    assert excellent["score_min"] >= 720
    assert excellent["label_zh"] == "优秀"


def test_scores_that_rank_risk_backwards_fail_the_monotonic_check(policy):
    scored = scored_with_outcomes(20_000, 2, informative=True).with_columns(
        (1200 - pl.col("score")).alias("score")  # best scores now hold the worst accounts
    )
    assert not default_rate_is_monotonic(grade_report(scored, policy))


def test_empty_grade_is_reported_with_zero_accounts(policy):
    scored = pl.DataFrame({"score": [850, 860, 400], "label": [0, 0, 1]})
    report = grade_report(scored, policy)
    assert report["accounts"].to_list() == [2, 0, 0, 1]
    assert report["default_rate"].to_list() == [0.0, None, None, 1.0]
    assert default_rate_is_monotonic(report)


def test_rows_without_score_or_label_are_left_out(policy):
    scored = pl.DataFrame({"score": [850, None, 400], "label": [0, 1, None]})
    assert grade_report(scored, policy)["accounts"].sum() == 1
