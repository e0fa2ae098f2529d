"""The early-warning score of feature rows, the same figure in the batch and online. Pure.

The probability is the model's ``predict_pd`` (a GBM's calibrated margin, a scorecard's
calibrated points); the reasons are those of the model's ``score`` (a GBM's SHAP
contributions, a scorecard's points short of the maximum), worked out only for the rows that
need them: ``cardpilot warn run`` stores them for every account it scores, the event consumer
needs them only for events where a rule can fire, and a GBM's contributions cost several times
its prediction. Both are row-wise, so a row's score does not depend on the rows beside it.

``score_cuts`` says when two rows must score the same (a GBM's thresholds on the columns that
differ), so the consumer scores each such group of an account's events once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
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


def score_cuts(model: Any, names: Sequence[str]) -> dict[str, npt.NDArray[np.float64]] | None:
    """For a GBM: per feature of ``names``, the thresholds its trees compare it with
    (ascending). Two values with the same thresholds below them take the same branch at every
    split, so rows that differ only in ``names``, and only within those cells, get the same
    probability and the same contributions. None when that cannot be said: not a GBM, or a
    split on one of ``names`` that is categorical or takes zero as missing, or a derived
    feature computed from one of them."""
    booster, features = getattr(model, "booster", None), getattr(model, "features", None)
    if booster is None or features is None:
        return None
    from cardpilot.scoring.gbm import DERIVED

    wanted = set(names)
    if any(f in DERIVED and wanted & set(DERIVED[f][0].meta.root_names()) for f in features):
        return None
    index = {i: f for i, f in enumerate(features) if f in wanted}
    cuts: dict[str, set[float]] = {f: set() for f in names}
    stack = [tree["tree_structure"] for tree in booster.dump_model()["tree_info"]]
    while stack:
        node = stack.pop()
        if "split_feature" not in node:
            continue
        name = index.get(node["split_feature"])
        if name is not None:
            if node["decision_type"] != "<=" or node.get("missing_type") == "Zero":
                return None
            cuts[name].add(float(node["threshold"]))
        stack += [node["left_child"], node["right_child"]]
    return {f: np.array(sorted(v), dtype=np.float64) for f, v in cuts.items()}


def cell_of(values: pl.Series, cuts: npt.NDArray[np.float64]) -> pl.Series:
    """The cell of each value among ``cuts`` (``score_cuts``): how many thresholds are below
    it; -1 for a missing value (its own cell, whatever the trees do with it)."""
    raw = values.cast(pl.Float64).fill_nan(None)
    found = np.searchsorted(cuts, raw.fill_null(0.0).to_numpy(), side="left").astype(np.int64)
    cells = pl.Series(values.name, found, dtype=pl.Int64)
    return (
        pl.select(pl.when(raw.is_null()).then(-1).otherwise(cells)).to_series().alias(values.name)
    )
