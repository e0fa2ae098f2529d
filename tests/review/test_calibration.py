"""Score cut-offs calibrated on training scores: the shares asked for, a valid policy."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from cardpilot.policy.grades import calibrate_score_cutoffs, grade_report
from cardpilot.policy.loading import load_policy


def test_calibrated_cutoffs_give_the_requested_grade_shares_and_cover_the_scale():
    policy = load_policy()
    scores = pl.Series(np.random.default_rng(1).normal(520, 30, 20_000).round().astype(int))
    calibrated = calibrate_score_cutoffs(policy, scores, [0.3, 0.3, 0.2, 0.2])
    assert calibrated.version != policy.version
    report = grade_report(pl.DataFrame({"score": scores, "label": 0}), calibrated)
    for share, wanted in zip(report["share"], [0.3, 0.3, 0.2, 0.2], strict=True):
        assert share == pytest.approx(wanted, abs=0.02)
    scale = calibrated.limits.grading.score_scale
    assert scale.min <= scores.min()
    assert scale.max >= scores.max()
    # Everything but the cut-offs is unchanged.
    assert calibrated.limits.grades[0].increase_pct == policy.limits.grades[0].increase_pct
    assert calibrated.limits.segments == policy.limits.segments


def test_calibration_needs_one_share_per_grade():
    with pytest.raises(ValueError, match="one share per grade"):
        calibrate_score_cutoffs(load_policy(), pl.Series([500, 600]), [0.5, 0.5])
