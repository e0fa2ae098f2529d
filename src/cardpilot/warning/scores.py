"""The early-warning score of feature rows, the same figure in the batch and online. Pure.

The probability is the model's ``predict_pd`` (a GBM's calibrated margin, a scorecard's
calibrated points); the reasons are those of the model's ``score`` (a GBM's SHAP
contributions, a scorecard's points short of the maximum), worked out only for the rows that
need them: ``cardpilot warn run`` stores them for every account it scores, the event consumer
needs them only for events where a rule can fire, and a GBM's contributions cost several times
its prediction. Both are row-wise, so a row's score does not depend on the rows beside it.

``score_cuts`` says when two rows must score the same (a GBM's thresholds, a scorecard's
splits, on the columns that differ), so the consumer scores each such group of an account's
events once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from cardpilot.scoring.features import CATEGORICAL_FEATURES

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
    """Per feature of ``names``, the cuts below which a value changes the model's output
    (ascending; ``cell_of``): two values with the same cuts below them take the same branch at
    every split of a GBM, the same bin of a scorecard, so rows that differ only in ``names``,
    and only within those cells, get the same probability and the same reasons. None when that
    cannot be said: another kind of model, a categorical or zero-as-missing split on one of
    ``names``, or a derived feature or characteristic computed from one of them."""
    if getattr(model, "booster", None) is not None:
        return _gbm_cuts(model, names)
    if getattr(model, "compiled", None) is not None:
        return _scorecard_cuts(model, names)
    return None


def _gbm_cuts(model: Any, names: Sequence[str]) -> dict[str, npt.NDArray[np.float64]] | None:
    """A GBM's thresholds: a value goes left when ``<=`` one, so the thresholds themselves."""
    from cardpilot.scoring.gbm import DERIVED

    wanted = set(names)
    features = list(model.features)
    if any(f in DERIVED and wanted & set(DERIVED[f][0].meta.root_names()) for f in features):
        return None
    index = {i: f for i, f in enumerate(features) if f in wanted}
    cuts: dict[str, set[float]] = {f: set() for f in names}
    stack = [tree["tree_structure"] for tree in model.booster.dump_model()["tree_info"]]
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


def _scorecard_cuts(model: Any, names: Sequence[str]) -> dict[str, npt.NDArray[np.float64]] | None:
    """A scorecard's splits: a value at or above one is in the bin above, so the float just
    below each split is a cut."""
    from cardpilot.scoring.conditional import derived_inputs

    wanted = set(names)
    cuts = {f: np.array([], dtype=np.float64) for f in names}
    for ch in model.compiled.characteristics:
        if ch.name in wanted:
            if ch.name in CATEGORICAL_FEATURES:
                return None
            cuts[ch.name] = np.nextafter(ch.splits, -np.inf)
        elif wanted & set(derived_inputs([ch.name])):
            return None
    return cuts


def cell_of(values: pl.Series, cuts: npt.NDArray[np.float64]) -> pl.Series:
    """The cell of each value among ``cuts`` (``score_cuts``): how many cuts are below it; -1
    for a missing value (its own cell, whatever the model does with it)."""
    raw = values.cast(pl.Float64).to_numpy()  # a null is NaN here
    found = np.searchsorted(cuts, raw, side="left")
    return pl.Series(values.name, np.where(np.isnan(raw), -1, found), dtype=pl.Int64)
