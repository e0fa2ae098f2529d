"""One account's score, PD and directional reasons from its features (a dict), by the model's
own compiled table (its points summed in plain Python, ``fastscore.score_one``) and the
directions' own functions on one-element arrays: what
``batch.scoring.scored_with_directions`` gives the account's row, without building a frame.

Only a points scorecard is scored so (``account_score`` returns None for any other model: the
caller then scores a one-account frame the batch way).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from cardpilot.scoring.directions import scorecard_directions_of_columns
from cardpilot.scoring.fastscore import score_one
from cardpilot.scoring.scorecard import ScorecardModel


def account_score(model: object, features: Mapping[str, Any]) -> dict[str, Any] | None:
    """``score``, ``pd``, ``reason_codes`` (adverse), ``positive_codes`` and
    ``model_version`` of one account's features; None when ``model`` is no scorecard."""
    if not isinstance(model, ScorecardModel):
        return None
    columns = model.row_columns(features)
    score = np.array([score_one(model.compiled, [float(c[0]) for c in columns])], dtype=np.int32)
    adverse, positive = scorecard_directions_of_columns(model, columns).row(0)
    return {
        "score": int(score[0]),
        "pd": float(model.calibration.pd(score)[0]),
        "reason_codes": adverse,
        "positive_codes": positive,
        "model_version": model.version,
    }


def score_codes(model: ScorecardModel) -> list[str]:
    """Every reason code the model's scores can carry, adverse and positive."""
    found = scorecard_directions_of_columns(model, model.row_columns({}))
    return [*found.adverse_codes, *found.positive_codes]
