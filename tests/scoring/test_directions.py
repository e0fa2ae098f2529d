"""Reasons with a direction: adverse reasons are points lost against the best a characteristic
gives, positive factors points above its neutral level; a conditional characteristic explains
only the accounts inside its segment, as the customer's own feature."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cardpilot.scoring.directions import (
    adverse_code,
    customer_feature,
    directional_reasons,
    feature_of_code,
    points_by_characteristic,
    points_reference,
    positive_code,
    top_indices,
)
from cardpilot.scoring.registry import load_model_dir
from cardpilot.scoring.scorecard import CONDITIONAL

MODEL = Path(__file__).resolve().parents[1] / "fixtures" / "models" / "uci-scorecard"


def test_a_conditional_characteristic_is_explained_as_its_own_feature() -> None:
    assert customer_feature("paid_avg_if_clear") == "paid_avg_6m_minor"
    assert customer_feature("utilisation_avg_6m") == "utilisation_avg_6m"
    assert feature_of_code(positive_code("utilisation_avg_6m")) == "utilisation_avg_6m"
    assert feature_of_code(adverse_code("paid_avg_6m_minor")) == "paid_avg_6m_minor"
    assert feature_of_code("RC_PAID_AVG_WHEN_CLEAR") == "paid_avg_if_clear"


def test_top_indices_rank_positive_weights_largest_first_and_pad() -> None:
    weights = np.array([[0.0, 3.0, 1.0, -2.0, 3.0, 0.5]])
    assert top_indices(weights).tolist() == [[1, 4, 2, 5]]
    assert top_indices(np.array([[0.0, -1.0]])).tolist() == [[-1, -1, -1, -1]]


@pytest.fixture(scope="module")
def uci_features(uci_training):  # type: ignore[no-untyped-def]
    return uci_training.features


def test_real_data_reasons_name_features_never_bin_conditions(uci_features: pl.DataFrame) -> None:
    model = load_model_dir(MODEL)
    out = directional_reasons(model, uci_features)
    assert out is not None
    assert out.height == uci_features.height
    conditional_codes = {adverse_code(c) for c in CONDITIONAL}
    for column in ("reason_codes", "positive_codes"):
        codes = set(out[column].explode().drop_nulls().to_list())
        assert codes
        assert not codes & conditional_codes
        assert out[column].list.len().max() <= 4  # type: ignore[operator]
    assert all(c.startswith("PF_") for c in out["positive_codes"].explode().drop_nulls())
    assert all(c.startswith("RC_") for c in out["reason_codes"].explode().drop_nulls())


def test_real_data_adverse_reasons_are_the_largest_losses_against_the_best(
    uci_features: pl.DataFrame,
) -> None:
    model = load_model_dir(MODEL)
    sample = uci_features.head(500)
    ref = points_reference(model)
    points, reads = points_by_characteristic(model, sample)
    out = directional_reasons(model, sample)
    assert out is not None
    for i, (codes, positives) in enumerate(
        zip(out["reason_codes"].to_list(), out["positive_codes"].to_list(), strict=True)
    ):
        lost: dict[str, float] = {}
        gained: dict[str, float] = {}
        for j, feature in enumerate(ref.features):
            if reads[i, j]:
                lost[feature] = lost.get(feature, 0.0) + ref.best[j] - points[i, j]
                gained[feature] = gained.get(feature, 0.0) + max(0.0, points[i, j] - ref.neutral[j])
        named = [feature_of_code(c) for c in codes]
        assert all(lost[f] > 0 for f in named if f)  # type: ignore[index]
        worst = sorted(v for v in lost.values() if v > 0)[-len(named) :] if named else []
        assert sorted(lost[f] for f in named if f) == worst  # type: ignore[index]
        assert all(gained[f] > 0 for f in (feature_of_code(c) for c in positives) if f)  # type: ignore[index]


def test_gbm_reasons_have_a_direction_too(trained, uci_features: pl.DataFrame) -> None:  # type: ignore[no-untyped-def]
    model = trained["gbm"].model
    sample = uci_features.head(300)
    out = directional_reasons(model, sample)
    assert out is not None
    contrib = model.contributions(sample)
    features = [feature_of_code(c) for c in model.reason_codes]
    for i, (adverse, positive) in enumerate(
        zip(out["reason_codes"].to_list(), out["positive_codes"].to_list(), strict=True)
    ):
        assert len(adverse) <= 4
        assert len(positive) <= 4
        assert all(contrib[i, features.index(feature_of_code(c))] > 0 for c in adverse)
        assert all(contrib[i, features.index(feature_of_code(c))] < 0 for c in positive)
