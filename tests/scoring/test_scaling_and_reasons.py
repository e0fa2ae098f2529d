"""Points scaling arithmetic, reason keys and texts, protected-attribute guard."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cardpilot.scoring.fastscore import compile_scorecard, score_arrays
from cardpilot.scoring.protected import ProtectedAttributeError, assert_not_protected
from cardpilot.scoring.reasons import REASON_BY_FEATURE, reason_text
from cardpilot.scoring.scaling import PointsScale


def test_default_scale_gives_600_points_at_50_to_1_and_20_points_double_the_odds() -> None:
    s = PointsScale()
    assert s.score_from_pd([1 / 51])[0] == pytest.approx(600.0)
    assert s.score_from_pd([1 / 101])[0] == pytest.approx(620.0)  # 100:1
    assert s.score_from_pd([1 / 26])[0] == pytest.approx(580.0)  # 25:1
    assert s.factor == pytest.approx(20 / math.log(2))
    assert s.offset == pytest.approx(600 - 20 / math.log(2) * math.log(50))


def test_custom_scale_round_trips_pd_and_score() -> None:
    s = PointsScale(base_score=500, base_odds=20, pdo=40)
    assert s.score_from_pd([1 / 21])[0] == pytest.approx(500.0)
    pd = np.array([0.01, 0.2, 0.7])
    assert s.pd_from_score(s.score_from_pd(pd)) == pytest.approx(pd)


def _card(points: list[list[int]]):  # type: ignore[no-untyped-def]
    # one split at 0.5 per characteristic: bin 0 (x < 0.5), bin 1, missing
    names = [f"c{i}" for i in range(len(points))]
    splits = [np.array([0.5]) for _ in points]
    return compile_scorecard(names, splits, [np.array(p, dtype=np.int32) for p in points])


def test_reasons_are_largest_shortfall_first_ties_by_fixed_order_zero_skipped() -> None:
    # shortfalls when x = 0 (bin 0): c0: 5, c1: 10, c2: 5, c3: 0, c4: 1, c5: 7
    card = _card([[5, 10, 0], [0, 10, 0], [10, 15, 0], [20, 20, 0], [9, 10, 0], [3, 10, 0]])
    cols = [np.zeros(2) for _ in range(6)]
    cols[1][1] = 1.0  # second account: c1 at its maximum
    score, reasons = score_arrays(card, cols, threads=1)
    assert score.tolist() == [5 + 0 + 10 + 20 + 9 + 3, 5 + 10 + 10 + 20 + 9 + 3]
    assert reasons[0].tolist() == [1, 5, 0, 2]  # 10, 7, then the tie 5/5 in fixed order
    assert reasons[1].tolist() == [5, 0, 2, 4]


def test_account_at_every_maximum_has_no_reasons_and_missing_uses_missing_points() -> None:
    card = _card([[5, 10, 7], [0, 10, 3]])
    score, reasons = score_arrays(card, [np.array([1.0, np.nan]), np.array([1.0, np.nan])], 1)
    assert score.tolist() == [20, 10]
    assert reasons[0].tolist() == [-1, -1, -1, -1]
    assert reasons[1].tolist() == [1, 0, -1, -1]  # shortfalls 7 and 3


def test_a_characteristics_bins_match_the_points_the_fast_scorer_gives() -> None:
    card = _card([[5, 10, 7]])
    values = np.array([0.0, 0.5, 2.0, np.nan])
    bins = card.characteristics[0].bins(values)
    assert bins.tolist() == [0, 1, 1, 2]  # a value on a split goes to the bin above; NaN: missing
    score, _ = score_arrays(card, [values], threads=1)
    assert score.tolist() == card.characteristics[0].points[bins].tolist()


def test_threaded_scoring_equals_single_threaded() -> None:
    rng = np.random.default_rng(1)
    card = compile_scorecard(
        ["a", "b", "c"],
        [np.sort(rng.normal(size=4)) for _ in range(3)],
        [rng.integers(0, 50, 6).astype(np.int32) for _ in range(3)],
    )
    cols = [rng.normal(size=200_000) for _ in range(3)]
    one = score_arrays(card, cols, threads=1)
    two = score_arrays(card, cols, threads=2)
    assert np.array_equal(one[0], two[0])
    assert np.array_equal(one[1], two[1])


def test_every_reason_code_has_chinese_and_english_text() -> None:
    for code in REASON_BY_FEATURE.values():
        assert reason_text(code, "zh-CN")
        assert reason_text(code, "en")
    assert reason_text("RC_OVERDUE_RECENT", "en") == "Overdue in the latest cycle"
    with pytest.raises(KeyError):
        reason_text("RC_NOPE", "en")


def test_protected_attributes_are_refused_as_model_features() -> None:
    with pytest.raises(ProtectedAttributeError):
        assert_not_protected(["age", "sex"])
    with pytest.raises(ProtectedAttributeError):
        assert_not_protected(["marital_status_code"])
    assert_not_protected(["age", "education"])


def test_reason_lists_keep_each_rows_order_and_skip_empty_slots() -> None:
    import numpy as np
    import polars as pl

    from cardpilot.scoring.scorecard import reason_lists

    reasons = np.array([[2, -1, 0, 1], [-1, -1, -1, -1], [1, 1, -1, 2]], dtype=np.int8)
    got = reason_lists(reasons, ["A", "B", "C"])
    assert got.dtype == pl.List(pl.Utf8)
    assert got.to_list() == [["C", "A", "B"], [], ["B", "B", "C"]]
    assert reason_lists(np.empty((0, 4), dtype=np.int8), ["A"]).to_list() == []
