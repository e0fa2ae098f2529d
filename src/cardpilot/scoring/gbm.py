"""Challenger: LightGBM with monotone constraints, early stopping and fixed seeds.

Constraints come from the feature dictionary (``risk_direction``): more months overdue never
lowers risk, a higher payment ratio never raises it. The number of trees is chosen by early
stopping in 5-fold cross-validation on the training rows (mean best iteration), then one model is
fitted on all training rows; the out-of-fold margins calibrate PD (Platt). Reasons are the
features with the largest positive SHAP contributions (LightGBM's exact TreeSHAP,
``pred_contrib``) — the ones that pushed the risk up and the score down.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from cardpilot.domain import progress
from cardpilot.scoring.calibration import PlattCalibration
from cardpilot.scoring.fastscore import MAX_REASONS
from cardpilot.scoring.features import CATEGORICAL_FEATURES, feature_spec
from cardpilot.scoring.protected import DEFAULT_PROTECTED, assert_not_protected
from cardpilot.scoring.reasons import reason_code
from cardpilot.scoring.scaling import PointsScale
from cardpilot.scoring.scorecard import reason_lists

FAMILY = "gbm"


def _over(num: str, den: str) -> pl.Expr:
    d = pl.col(den).cast(pl.Float64)
    return pl.when(d > 0).then(pl.col(num).cast(pl.Float64) / d)


# Model-side derived features: cheap Polars expressions over the feature columns, computed in
# the model's own preprocessing (so at scoring time too). Name → (expression, the feature whose
# reason code explains it).
DERIVED: dict[str, tuple[pl.Expr, str]] = {
    "d_paid_to_balance_latest": (
        _over("paid_latest_minor", "balance_latest_minor"),
        "payment_ratio_latest",
    ),
    "d_status_change_1m": (
        pl.col("repayment_status_latest").cast(pl.Float64)
        - pl.col("repayment_status_previous").cast(pl.Float64),
        "repayment_status_latest",
    ),
    "d_utilisation_gap": (
        pl.col("utilisation_latest") - pl.col("utilisation_avg_6m"),
        "utilisation_trend",
    ),
    "d_paid_latest_to_avg": (_over("paid_latest_minor", "paid_avg_6m_minor"), "paid_latest_minor"),
    "d_balance_to_paid_avg": (
        _over("balance_latest_minor", "paid_avg_6m_minor"),
        "paid_avg_6m_minor",
    ),
    "d_spend_to_available": (
        _over("spend_avg_6m_minor", "available_credit_minor"),
        "available_credit_minor",
    ),
    "d_limit_per_age": (_over("credit_limit_minor", "age"), "credit_limit_minor"),
    # Third pass (docs/scoring.md), tried in selection:
    "d_overdue_depth": (
        _over("overdue_months_total_6m", "overdue_count_6m"),
        "overdue_months_total_6m",
    ),
    "d_payment_ratio_gap": (
        pl.col("payment_ratio_latest") - pl.col("payment_ratio_avg_6m"),
        "payment_ratio_latest",
    ),
    "d_utilisation_below_peak": (
        pl.col("utilisation_max_6m") - pl.col("utilisation_latest"),
        "utilisation_max_6m",
    ),
    "d_paid_to_spend": (_over("paid_avg_6m_minor", "spend_avg_6m_minor"), "paid_avg_6m_minor"),
    "d_status_sum_2m": (
        pl.col("repayment_status_latest").cast(pl.Float64)
        + pl.col("repayment_status_previous").cast(pl.Float64),
        "repayment_status_latest",
    ),
    "d_paid_latest_to_limit_gap": (
        pl.col("payment_to_limit_latest") - pl.col("payment_to_limit_avg_6m"),
        "payment_to_limit_latest",
    ),
}


def with_derived(features: pl.DataFrame, names: Sequence[str]) -> pl.DataFrame:
    wanted = [n for n in names if n in DERIVED and n not in features.columns]
    if not wanted:
        return features
    return features.with_columns(DERIVED[n][0].alias(n) for n in wanted)


@dataclass(frozen=True)
class GbmParams:
    learning_rate: float = 0.05
    num_leaves: int = 7
    # The best mean AUC of repeated 5-fold CV on the training rows (docs/scoring.md)
    min_child_samples: int = 100
    subsample: float = 0.8
    colsample_bytree: float = 0.7
    reg_lambda: float = 5.0
    max_rounds: int = 3000
    early_stopping_rounds: int = 100
    folds: int = 5
    seed: int = 7
    threads: int = 2
    # The pattern is a scorecard device for an interaction trees learn themselves; leaving it
    # out scored better in cross-validation on the training rows (0.7894 vs 0.7889 AUC).
    exclude: tuple[str, ...] = ("repayment_pattern_3m",)
    # Further LightGBM settings tried in selection.
    min_sum_hessian: float = 1e-3
    path_smooth: float = 0.0
    # extremely randomised split thresholds, 63 histogram bins, 3 seeds averaged and the seven
    # DERIVED features: best mean AUC of repeated 5-fold CV on the training rows (docs/scoring.md)
    extra_trees: bool = True
    min_gain_to_split: float = 0.0
    max_bin: int = 63
    monotone_method: str = "advanced"
    monotone_penalty: float = 0.0
    # Boosters with seeds seed, seed+1, ... averaged (bagging over fixed seeds); one model file.
    n_seeds: int = 3
    derived: tuple[str, ...] = (  # names from DERIVED
        "d_paid_to_balance_latest",
        "d_status_change_1m",
        "d_utilisation_gap",
        "d_paid_latest_to_avg",
        "d_balance_to_paid_avg",
        "d_spend_to_available",
        "d_limit_per_age",
    )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _matrix(
    features: pl.DataFrame, names: Sequence[str], categories: dict[str, list[str]]
) -> npt.NDArray[np.float64]:
    features = with_derived(features, names)
    columns = []
    for name in names:
        col = pl.col(name)
        if name in categories:
            mapping = {c: float(i) for i, c in enumerate(categories[name])}
            col = col.cast(pl.Utf8).replace_strict(mapping, default=None, return_dtype=pl.Float64)
        columns.append(col.cast(pl.Float64).fill_nan(None).alias(name))
    # One select for all the columns: a Series' conversion each cost more than the model's
    # own prediction on the event consumer's batches (a null becomes NaN either way).
    return np.ascontiguousarray(features.select(columns).to_numpy(), dtype=np.float64)


def _lgb_params(params: GbmParams, names: Sequence[str]) -> dict[str, Any]:
    return {
        "objective": "binary",
        "metric": "auc",
        "learning_rate": params.learning_rate,
        "num_leaves": params.num_leaves,
        "min_child_samples": params.min_child_samples,
        "bagging_fraction": params.subsample,
        "bagging_freq": 1,
        "feature_fraction": params.colsample_bytree,
        "lambda_l2": params.reg_lambda,
        "monotone_constraints": [
            0 if n in CATEGORICAL_FEATURES or n in DERIVED else feature_spec(n).risk_direction
            for n in names
        ],
        "monotone_constraints_method": params.monotone_method,
        "monotone_penalty": params.monotone_penalty,
        "min_sum_hessian_in_leaf": params.min_sum_hessian,
        "path_smooth": params.path_smooth,
        "extra_trees": params.extra_trees,
        "extra_seed": params.seed,
        "min_gain_to_split": params.min_gain_to_split,
        "max_bin": params.max_bin,
        "seed": params.seed,
        "bagging_seed": params.seed,
        "feature_fraction_seed": params.seed,
        "deterministic": True,
        "num_threads": params.threads,
        "verbose": -1,
    }


class GbmModel:
    family = FAMILY

    def __init__(
        self,
        booster: Any,
        features: Sequence[str],
        categories: dict[str, list[str]],
        scale: PointsScale,
        calibration: PlattCalibration,
        version: str = "unversioned",
        protected: Sequence[str] = DEFAULT_PROTECTED,
    ) -> None:
        assert_not_protected(features, protected)
        self.booster = booster
        self.features = list(features)
        self.categories = categories
        self.scale = scale
        self.calibration = calibration
        self.version = version
        # A derived feature is explained by its parent's reason: the SHAP contributions of the
        # features sharing a code are summed (SHAP is additive), so no code repeats in a list.
        codes = [reason_code(DERIVED[f][1] if f in DERIVED else f) for f in self.features]
        self.reason_codes = list(dict.fromkeys(codes))
        self._by_code: npt.NDArray[np.float64] | None = None
        if len(self.reason_codes) < len(codes):
            self._by_code = np.zeros((len(codes), len(self.reason_codes)))
            self._by_code[np.arange(len(codes)), [self.reason_codes.index(c) for c in codes]] = 1

    def margin(self, features: pl.DataFrame) -> npt.NDArray[np.float64]:
        X = _matrix(features, self.features, self.categories)
        return np.asarray(self.booster.predict(X, raw_score=True), dtype=np.float64)

    def predict_pd(self, features: pl.DataFrame) -> npt.NDArray[np.float64]:
        return self.calibration.pd(self.margin(features))

    def _shap(self, features: pl.DataFrame) -> npt.NDArray[np.float64]:
        X = _matrix(features, self.features, self.categories)
        return np.asarray(self.booster.predict(X, pred_contrib=True), dtype=np.float64)

    def _per_code(self, contrib: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return contrib[:, :-1] if self._by_code is None else contrib[:, :-1] @ self._by_code

    def contributions(self, features: pl.DataFrame) -> npt.NDArray[np.float64]:
        """SHAP contributions to the risk margin per account and reason code (columns in
        ``reason_codes`` order): positive raises the risk, negative lowers it."""
        return self._per_code(self._shap(features))

    def _scored(
        self, features: pl.DataFrame
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float64], npt.NDArray[np.int8]]:
        contrib = self._shap(features)
        pd_ = self.calibration.pd(contrib.sum(axis=1))  # SHAP values sum to the margin
        score = np.floor(self.scale.score_from_pd(pd_) + 0.5).astype(np.int32)
        return score, pd_, top_reasons(self._per_code(contrib))

    def score_arrays(
        self, features: pl.DataFrame
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int8]]:
        score, _, reasons = self._scored(features)
        return score, reasons

    def score(self, features: pl.DataFrame) -> pl.DataFrame:
        score, pd_, reasons = self._scored(features)
        return pl.DataFrame(
            {
                "account_id": features.get_column("account_id"),
                "score": score,
                "pd": pd_,
                "reason_codes": reason_lists(reasons, self.reason_codes),
                "model_version": pl.repeat(self.version, len(score), eager=True, dtype=pl.Utf8),
            }
        )


def top_reasons(contrib: npt.NDArray[np.float64], k: int = MAX_REASONS) -> npt.NDArray[np.int8]:
    """Indices of the ``k`` largest positive contributions per row, largest first; -1 none.

    Ties go to the earlier feature (stable sort on the negated contribution).
    """
    order = np.argsort(-contrib, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(contrib, order, axis=1)
    out = np.where(top > 0, order, -1).astype(np.int8)
    if out.shape[1] < k:
        out = np.pad(out, ((0, 0), (0, k - out.shape[1])), constant_values=-1)
    return out


def _round_note(max_rounds: int) -> Any:
    """A LightGBM callback that notes the boosting round reached (every 50 rounds)."""

    def note(env: Any) -> None:
        if env.iteration % 50 == 0:
            progress.note(f"round {env.iteration}/{max_rounds} (stops early)")

    return note


def _advance_at(rounds: int) -> Any:
    """A LightGBM callback that counts one step when the last round is done."""

    def advance(env: Any) -> None:
        if env.iteration + 1 == rounds:
            progress.advance()

    return advance


def fold_booster(
    lgb_params: dict[str, Any],
    params: GbmParams,
    X: npt.NDArray[np.float64],
    y: npt.NDArray[np.int8],
    fit_rows: npt.NDArray[np.int64],
    val_rows: npt.NDArray[np.int64],
    names: Sequence[str],
    cat_idx: Sequence[int],
    start: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None = None,
) -> tuple[Any, npt.NDArray[np.float64]]:
    """One fold: a booster early-stopped on the validation rows, and its margins on them.

    ``start``: margins (fitting rows, validation rows) to boost from instead of the base rate
    (model selection tried the scorecard's log-odds); the returned margins include them."""
    import lightgbm as lgb

    fit_start, val_start = start if start is not None else (None, None)
    train_set = lgb.Dataset(
        X[fit_rows],
        y[fit_rows],
        init_score=fit_start,
        feature_name=list(names),
        categorical_feature=list(cat_idx),
    )
    val_set = lgb.Dataset(X[val_rows], y[val_rows], init_score=val_start, reference=train_set)
    booster = lgb.train(
        lgb_params,
        train_set,
        num_boost_round=params.max_rounds,
        valid_sets=[val_set],
        callbacks=[
            lgb.early_stopping(params.early_stopping_rounds, verbose=False),
            _round_note(params.max_rounds),
        ],
    )
    margin = booster.predict(X[val_rows], num_iteration=booster.best_iteration, raw_score=True)
    margin = np.asarray(margin, dtype=np.float64)
    return booster, margin if val_start is None else val_start + margin


def model_inputs(features: pl.DataFrame, candidates: Sequence[str], params: GbmParams) -> list[str]:
    """The booster's inputs: the candidates it does not exclude, then the derived features."""
    names = [
        c
        for c in candidates
        if c not in params.exclude and features.get_column(c).null_count() < features.height
    ]
    unknown = [d for d in params.derived if d not in DERIVED]
    if unknown:
        raise ValueError(f"unknown derived features {unknown}")
    return names + [d for d in params.derived if d not in names]


def seeded(lgb_params: dict[str, Any], seed: int) -> dict[str, Any]:
    keys = ("seed", "bagging_seed", "feature_fraction_seed", "extra_seed")
    return {**lgb_params, **dict.fromkeys(keys, seed)}


def average_boosters(boosters: Sequence[Any]) -> Any:
    """One booster whose margin is the mean of the given boosters' margins.

    The trees of all boosters in one LightGBM model (its own text format), every leaf value
    divided by their number: margins, SHAP contributions (additive over trees) and the saved
    ``model.txt`` all follow without a second model file."""
    import lightgbm as lgb

    if len(boosters) == 1:
        return boosters[0]
    k = len(boosters)
    head = tail = ""
    trees: list[list[str]] = []
    for booster in boosters:
        text = booster.model_to_string()
        start, end = text.index("\nTree=0\n") + 1, text.index("end of trees")
        if not head:
            head = "".join(
                line
                for line in text[:start].splitlines(keepends=True)
                if not line.startswith("tree_sizes=")
            )
            tail = text[end:]
        trees += [b.strip("\n").split("\n") for b in text[start:end].split("\n\n\n") if b.strip()]
    blocks = []
    for i, lines in enumerate(trees):
        lines[0] = f"Tree={i}"
        for j, line in enumerate(lines):
            if line.startswith("leaf_value="):
                values = (float(v) / k for v in line.removeprefix("leaf_value=").split())
                lines[j] = "leaf_value=" + " ".join(repr(v) for v in values)
        blocks.append("\n".join(lines) + "\n\n\n")
    return lgb.Booster(model_str=head + "".join(blocks) + tail)


def fit_gbm(
    features: pl.DataFrame,
    y: npt.ArrayLike,
    candidates: Sequence[str],
    params: GbmParams | None = None,
    scale: PointsScale | None = None,
    protected: Sequence[str] = DEFAULT_PROTECTED,
    version: str = "unversioned",
) -> tuple[GbmModel, dict[str, Any]]:
    import lightgbm as lgb
    from sklearn.model_selection import StratifiedKFold

    params = params or GbmParams()
    scale = scale or PointsScale()
    assert_not_protected(candidates, protected)
    names = model_inputs(features, candidates, params)
    categories = {
        n: sorted(features.get_column(n).drop_nulls().cast(pl.Utf8).unique().to_list())
        for n in names
        if n in CATEGORICAL_FEATURES
    }
    X = _matrix(features, names, categories)
    target = np.asarray(y, dtype=np.int8)
    lgb_params = _lgb_params(params, names)
    cat_idx = [i for i, n in enumerate(names) if n in categories]
    folds = StratifiedKFold(params.folds, shuffle=True, random_state=params.seed)
    oof = np.zeros(len(target))
    best: list[int] = []
    seeds = [params.seed + b for b in range(params.n_seeds)]
    progress.stage(f"GBM: {params.folds} folds × {len(seeds)} seeds", params.folds * len(seeds))
    for fold, (fit_rows, val_rows) in enumerate(folds.split(X, target), start=1):
        for seed in seeds:
            progress.note(f"fold {fold}/{params.folds}")
            booster, margin = fold_booster(
                seeded(lgb_params, seed), params, X, target, fit_rows, val_rows, names, cat_idx
            )
            oof[val_rows] += margin / len(seeds)
            best.append(booster.best_iteration)
            progress.advance()
    rounds = int(np.mean(best))
    progress.stage(f"GBM: final fit, {rounds} rounds × {len(seeds)} seeds", len(seeds))
    full = average_boosters(
        [
            lgb.train(
                seeded(lgb_params, seed),
                lgb.Dataset(X, target, feature_name=names, categorical_feature=cat_idx),
                num_boost_round=rounds,
                callbacks=[_round_note(rounds), _advance_at(rounds)],
            )
            for seed in seeds
        ]
    )
    calibration = PlattCalibration.fit(oof, target)
    model = GbmModel(full, names, categories, scale, calibration, version, protected)
    from cardpilot.scoring.metrics import auc

    summary = {
        "rounds": rounds,
        "fold_best_iterations": best,
        "cv_auc": round(auc(target, oof), 6),
        "importance_gain": {
            n: round(float(g), 3)
            for n, g in zip(names, full.feature_importance("gain"), strict=True)
        },
    }
    return model, summary
