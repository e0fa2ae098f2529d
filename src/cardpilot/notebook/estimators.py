"""The two model families as scikit-learn estimators, for notebooks.

``CreditScorecard`` (the champion family) and ``CreditGbm`` (the challenger) wrap the same
fitting and scoring code the CLI and the review use (``cardpilot.scoring``); they add
scikit-learn's estimator protocol (``fit``, ``predict_proba``, ``get_params``/``set_params``,
so ``sklearn.base.clone`` works) and accept a data frame in the UCI or the generic layout,
pandas or polars. ``score(X)`` answers what a risk analyst asks of one portfolio: score, PD,
grade under a limit policy and the reasons, one row per input row, in input order, with the
input's index.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
from sklearn.base import BaseEstimator

from cardpilot.notebook.layouts import LayoutError, NotebookFrames, notebook_frames, to_polars
from cardpilot.notebook.layouts import latest_cycle as latest_cycle_of
from cardpilot.policy.limits import grade_expr
from cardpilot.policy.loading import default_policy_path, load_policy
from cardpilot.policy.schema import Policy
from cardpilot.scoring.features import behaviour_features
from cardpilot.scoring.gbm import GbmModel, GbmParams, fit_gbm
from cardpilot.scoring.metrics import discrimination
from cardpilot.scoring.protected import DEFAULT_PROTECTED
from cardpilot.scoring.reasons import reason_text
from cardpilot.scoring.registry import load_model_dir, read_metadata
from cardpilot.scoring.scaling import PointsScale
from cardpilot.scoring.scorecard import ScorecardModel, ScorecardParams, fit_scorecard
from cardpilot.scoring.training import candidate_features

Fitted = ScorecardModel | GbmModel


def policy_of(policy: str | Path | Policy | None) -> Policy:
    """A policy object, a folder, a shipped policy's name, or None for the shipped default."""
    if isinstance(policy, Policy):
        return policy
    if policy is None:
        return load_policy(default_policy_path())
    path = Path(policy)
    shipped = default_policy_path().parent / str(policy)
    if not path.exists() and path.name == str(policy) and shipped.is_dir():
        path = shipped
    return load_policy(path)


def _frames(data: Any) -> tuple[NotebookFrames, Any]:
    frame, index = to_polars(data)
    return notebook_frames(frame), index


def _labels_for(frames: NotebookFrames, features: pl.DataFrame, y: Any) -> npt.NDArray[np.int8]:
    """The label of each feature row: ``y`` given per input row (UCI), per account (a mapping
    or an ``account_id``/``value`` frame), or the UCI file's own ``Y`` column."""
    if y is None:
        if frames.labels is None:
            raise LayoutError("no labels: pass y, or a UCI frame with its Y column")
        keyed = frames.labels.select("account_id", pl.col("value").cast(pl.Int8).alias("y"))
    elif isinstance(y, dict):
        keyed = pl.DataFrame({"account_id": list(y), "y": list(y.values())})
    elif isinstance(y, pl.DataFrame):
        keyed = y.select("account_id", pl.col("value").alias("y"))
    else:
        values = np.asarray(y).ravel()
        if len(values) != len(frames.row_accounts):
            raise LayoutError(f"y has {len(values)} values for {len(frames.row_accounts)} rows")
        keyed = pl.DataFrame({"account_id": frames.row_accounts, "y": values})
    joined = features.select("account_id").join(
        keyed.with_columns(pl.col("y").cast(pl.Int8)), on="account_id", how="left"
    )
    if joined.get_column("y").null_count():
        raise LayoutError("y has no label for some accounts")
    return joined.get_column("y").to_numpy()


def _in_input_order(frames: NotebookFrames, per_account: pl.DataFrame) -> pl.DataFrame:
    """``per_account`` rows in the input's order: one per UCI row, or per generic account in
    order of first appearance."""
    order = frames.row_accounts.to_frame("account_id")
    if frames.layout == "generic":
        order = order.unique(maintain_order=True)
    return order.join(per_account, on="account_id", how="left", maintain_order="left")


def _as_given(out: pl.DataFrame, index: Any, frames: NotebookFrames) -> Any:
    """Polars for a polars input; pandas for a pandas one, with its index for UCI rows."""
    if index is None:
        return out
    result = out.to_pandas()
    if frames.layout == "uci":
        result.index = index
    return result


class CreditModel(BaseEstimator):  # type: ignore[misc]
    """What both families share; a subclass sets ``family`` and ``_fit``."""

    family = ""

    def __init__(
        self,
        policy: str | Path | Policy | None = None,
        as_of: dt.date | None = None,
        locale: str = "zh-CN",
        base_score: float = 600.0,
        base_odds: float = 50.0,
        pdo: float = 20.0,
    ) -> None:
        self.policy = policy
        self.as_of = as_of
        self.locale = locale
        self.base_score = base_score
        self.base_odds = base_odds
        self.pdo = pdo

    # -- features -----------------------------------------------------------------------------

    def _as_of(self, frames: NotebookFrames) -> dt.date:
        return self.as_of or latest_cycle_of(frames)

    # -- fitting ------------------------------------------------------------------------------

    def _scale(self) -> PointsScale:
        return PointsScale(self.base_score, self.base_odds, self.pdo)

    def _fit(self, features: pl.DataFrame, y: npt.NDArray[np.int8], names: list[str]) -> Any:
        raise NotImplementedError

    def fit(self, X: Any, y: Any = None) -> CreditModel:
        """Fit on every account of ``X`` (labels from ``y`` or the UCI ``Y`` column)."""
        frames, _ = _frames(X)
        feats = behaviour_features(frames, self._as_of(frames))
        target = _labels_for(frames, feats, y)
        names = candidate_features(feats, DEFAULT_PROTECTED)
        self.model_, self.fit_summary_ = self._fit(feats, target, names)
        self.classes_ = np.array([0, 1])
        return self

    def _fitted(self) -> Fitted:
        model: Fitted | None = getattr(self, "model_", None)
        if model is None:
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"this {type(self).__name__} is not fitted: call fit or load")
        return model

    # -- scoring ------------------------------------------------------------------------------

    def _scored(self, X: Any) -> tuple[pl.DataFrame, Any, NotebookFrames]:
        """One row per input row (UCI) or per account (generic), in input order."""
        model = self._fitted()
        frames, index = _frames(X)
        feats = behaviour_features(frames, self._as_of(frames))
        return _in_input_order(frames, model.score(feats)), index, frames

    def predict_proba(self, X: Any) -> npt.NDArray[np.float64]:
        """Columns: P(good), P(default), one row per ``score`` row."""
        scored, _, _ = self._scored(X)
        pd_ = scored.get_column("pd").fill_null(np.nan).to_numpy().astype(np.float64)
        return np.column_stack([1.0 - pd_, pd_])

    def predict(self, X: Any) -> npt.NDArray[np.int64]:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)

    def score(self, X: Any, y: Any = None, sample_weight: Any = None) -> Any:
        """Score, PD, grade and reasons of ``X`` (pandas in, pandas out with its index).

        Given ``y`` it follows scikit-learn instead (model selection calls ``score(X, y)``)
        and returns the ROC AUC of the PDs against ``y``.
        """
        scored, index, frames = self._scored(X)
        if y is not None:
            target = _labels_for(frames, scored.select("account_id"), y)
            return discrimination(target, scored.get_column("pd").to_numpy())["auc"]
        policy = policy_of(self.policy)
        out = scored.select(
            "account_id",
            "score",
            "pd",
            grade_expr(policy.limits).alias("grade"),
            pl.col("reason_codes"),
            pl.col("reason_codes")
            .list.eval(pl.element().map_elements(self._reason, return_dtype=pl.Utf8))
            .alias("reasons"),
            "model_version",
        ).with_columns(pl.lit(policy.version).alias("policy_version"))
        return _as_given(out, index, frames)

    def _reason(self, code: str) -> str:
        return reason_text(code, self.locale)


class CreditScorecard(CreditModel):
    """The champion family: binned characteristics, integer points, Platt-scaled PD."""

    family = "scorecard"

    def _fit(self, features: pl.DataFrame, y: npt.NDArray[np.int8], names: list[str]) -> Any:
        return fit_scorecard(features, y, names, ScorecardParams(scale=self._scale()))


class CreditGbm(CreditModel):
    """The challenger family: LightGBM with monotone constraints, SHAP reasons."""

    family = "gbm"

    # scikit-learn reads an estimator's parameters from its own __init__ signature (no
    # **kwargs), so the shared ones are spelled out again here.
    def __init__(
        self,
        policy: str | Path | Policy | None = None,
        as_of: dt.date | None = None,
        locale: str = "zh-CN",
        base_score: float = 600.0,
        base_odds: float = 50.0,
        pdo: float = 20.0,
        learning_rate: float = GbmParams.learning_rate,
        folds: int = GbmParams.folds,
        n_seeds: int = GbmParams.n_seeds,
    ) -> None:
        super().__init__(policy, as_of, locale, base_score, base_odds, pdo)
        self.learning_rate = learning_rate
        self.folds = folds
        self.n_seeds = n_seeds

    def _fit(self, features: pl.DataFrame, y: npt.NDArray[np.int8], names: list[str]) -> Any:
        params = GbmParams(learning_rate=self.learning_rate, folds=self.folds, n_seeds=self.n_seeds)
        return fit_gbm(features, y, names, params, self._scale())


FAMILIES: dict[str, type[CreditModel]] = {"scorecard": CreditScorecard, "gbm": CreditGbm}


def load_model(
    path: str | Path,
    *,
    policy: str | Path | Policy | None = None,
    locale: str = "zh-CN",
    as_of: dt.date | None = None,
) -> CreditModel:
    """A trained model folder (``cardpilot model train --out DIR``) as a fitted estimator."""
    meta = read_metadata(Path(path))
    estimator = FAMILIES[meta["family"]](
        policy=policy, as_of=as_of, locale=locale, **meta.get("scale", {})
    )
    estimator.model_ = load_model_dir(path)
    estimator.fit_summary_ = meta.get("fit_summary", {})
    estimator.classes_ = np.array([0, 1])
    return estimator


def features(data: Any, *, as_of: dt.date | None = None) -> Any:
    """Behaviour features of every account in ``data``: one row per UCI input row (in input
    order, with a pandas input's index), or per account of a generic statements table."""
    frames, index = _frames(data)
    when = as_of or latest_cycle_of(frames)
    feats = behaviour_features(frames, when)
    return _as_given(_in_input_order(frames, feats), index, frames)
