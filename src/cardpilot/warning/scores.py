"""The early-warning score of feature rows, the same figure in the batch and online. Pure.

The probability is the model's ``predict_pd`` (a GBM's calibrated margin, a scorecard's
calibrated points); the reasons are those of the model's ``score`` (a GBM's SHAP
contributions, a scorecard's points short of the maximum), worked out only for the rows that
need them: ``cardpilot warn run`` stores them for every account it scores, the event consumer
needs them only for events where a rule can fire, and a GBM's contributions cost several times
its prediction. Both are row-wise, so a row's score does not depend on the rows beside it.
"""

from __future__ import annotations

from typing import Any

import polars as pl

SCORE_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "pd": pl.Float64(),
    "reason_codes": pl.List(pl.String()),
    "model_version": pl.String(),
}


def version_of(model: Any) -> str:
    return str(getattr(model, "version", "unversioned"))


def warning_pd(model: Any, features: pl.DataFrame) -> pl.Series:
    """The probability of going overdue next cycle of each row of ``features``."""
    if not features.height:
        return pl.Series("pd", [], dtype=pl.Float64)
    # (a model that cannot score a row gives NaN: no probability, as a null is elsewhere)
    return pl.Series("pd", model.predict_pd(features), dtype=pl.Float64).fill_nan(None)


def warning_reasons(model: Any, features: pl.DataFrame) -> pl.Series:
    """The model's reasons for each row of ``features``, most important first."""
    if not features.height:
        return pl.Series("reason_codes", [], dtype=pl.List(pl.String()))
    reasons: pl.Series = model.score(features).get_column("reason_codes")
    return reasons


def warning_scores(model: Any, features: pl.DataFrame) -> pl.DataFrame:
    """``SCORE_SCHEMA`` rows for ``features`` (one per row, same order)."""
    return pl.DataFrame(
        {
            "account_id": features.get_column("account_id"),
            "pd": warning_pd(model, features),
            "reason_codes": warning_reasons(model, features),
            "model_version": pl.repeat(
                version_of(model), features.height, eager=True, dtype=pl.String
            ),
        },
        schema=SCORE_SCHEMA,
    )
