"""Training tells its stages: folds, seeds and boosting rounds."""

from __future__ import annotations

import numpy as np
import polars as pl

from cardpilot.domain import progress
from cardpilot.scoring.gbm import GbmParams, fit_gbm


def test_gbm_training_reports_its_folds_and_rounds() -> None:
    rng = np.random.default_rng(5)
    n = 2000
    x = rng.random(n)
    y = (rng.random(n) < 0.2 + 0.5 * x).astype(np.int8)
    frame = pl.DataFrame({"account_id": [str(i) for i in range(n)], "utilisation_latest": x})
    params = GbmParams(folds=2, max_rounds=60, n_seeds=2, derived=())
    heard = progress.Recording()
    with progress.reporting(heard):
        fit_gbm(frame, y, ["utilisation_latest"], params)
    stages = heard.of("stage")
    assert stages[0] == ("GBM: 2 folds × 2 seeds", 4)
    assert str(stages[1][0]).startswith("GBM: final fit, ")  # type: ignore[index]
    assert "fold 2/2" in heard.of("note")
    assert "round 0/60 (stops early)" in heard.of("note")
    assert sum(heard.of("advance")) == 4 + 2  # type: ignore[arg-type]
