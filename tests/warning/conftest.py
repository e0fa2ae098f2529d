"""Early-warning test helpers: a quickly fitted early-warning GBM saved as a model folder (a
real LightGBM model on a short schedule, so `warn run --model DIR` reads what training
writes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pytest

QUICK_FEATURES = (
    "utilisation_latest",
    "payment_drop",
    "balance_trend_3m",
    "spend_spike",
    "unpaid_growth_1m",
    "payment_ratio_latest",
)


def save_quick_warning_model(
    features: pl.DataFrame,
    y: npt.NDArray[np.int8],
    out: Path,
    candidates: tuple[str, ...] = QUICK_FEATURES,
) -> Path:
    """Fit an early-warning GBM on ``features``/``y`` with a short schedule and save it as
    ``cardpilot warn train --out`` would (subject ``warning``, family ``gbm``)."""
    from cardpilot.scoring.gbm import GbmParams, fit_gbm
    from cardpilot.scoring.registry import save_model_dir
    from cardpilot.scoring.scaling import PointsScale

    params = GbmParams(
        learning_rate=0.2,
        folds=2,
        n_seeds=1,
        max_rounds=60,
        early_stopping_rounds=10,
        min_child_samples=20,
        derived=(),
        exclude=(),
    )
    names = [c for c in candidates if c in features.columns]
    model, _ = fit_gbm(features, y, names, params, version="warning-gbm-quick-test")
    metadata: dict[str, Any] = {
        "family": "gbm",
        "subject": "warning",
        "version": model.version,
        "features": model.features,
        "protected_attributes": ["sex", "marital_status"],
        "scale": PointsScale().to_dict(),
        "calibration": model.calibration.to_dict(),
        "metrics": {},
        "created_at": "2026-12-05T15:00:00+00:00",
    }
    return save_model_dir(model, metadata, out)


@pytest.fixture(scope="session")
def random_warning_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A quick early-warning GBM fitted on random rows (plumbing only: its ranking means
    nothing)."""
    rng = np.random.default_rng(7)
    n = 400
    features = pl.DataFrame(
        {
            "account_id": [f"R{i:04d}" for i in range(n)],
            **{name: rng.uniform(0, 2, n) for name in QUICK_FEATURES},
        }
    )
    risk = features["utilisation_latest"].to_numpy() + rng.normal(0, 0.5, n)
    y = (risk > 1.4).astype(np.int8)
    return save_quick_warning_model(features, y, tmp_path_factory.mktemp("warn-model") / "gbm")


EVENT_MODEL_FEATURES = (
    "utilisation_latest",
    "utilisation_jump_3m",
    "spend_spike",
    "payment_drop",
    "balance_trend_3m",
)


@pytest.fixture(scope="session")
def event_warning_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A quick early-warning GBM whose risk rises with the utilisation jump, so what the
    events add since the statement moves its score (plumbing: fitted on random rows)."""
    rng = np.random.default_rng(11)
    n = 600
    features = pl.DataFrame(
        {
            "account_id": [f"E{i:04d}" for i in range(n)],
            **{name: rng.uniform(0, 1, n) for name in EVENT_MODEL_FEATURES},
        }
    )
    risk = features["utilisation_jump_3m"].to_numpy() * 2 + rng.normal(0, 0.3, n)
    y = (risk > 1.2).astype(np.int8)
    out = tmp_path_factory.mktemp("event-warn-model") / "gbm"
    return save_quick_warning_model(features, y, out, EVENT_MODEL_FEATURES)
