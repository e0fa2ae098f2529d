"""Champion: a points scorecard.

Fitting: optbinning's optimal binning per characteristic (monotonic event rate where the domain
demands it — see ``FeatureSpec.risk_direction``), characteristics kept when their information
value reaches ``min_iv``, weight of evidence per bin from the training counts, a logistic
regression on the WoE, and a sign check: a characteristic whose coefficient comes out with the
wrong sign (collinearity) is dropped and the regression refitted, so every bin's points move
with its observed risk. Points per bin are rounded to integers, so a score is an exact sum and
the SQL export gives the same number as Python.

The fitted scorecard is a table (characteristic, bin, points, ...) — that table alone scores.
"""

from __future__ import annotations

import itertools
import logging
import math
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from cardpilot.domain import progress
from cardpilot.scoring.calibration import PlattCalibration
from cardpilot.scoring.conditional import (
    CONDITIONAL,
    derived_expr,
    derived_inputs,
    derived_sql,
    derived_value,
    with_derived,
)
from cardpilot.scoring.fastscore import CompiledScorecard, compile_scorecard, score_arrays
from cardpilot.scoring.features import CATEGORICAL_FEATURES, feature_spec
from cardpilot.scoring.protected import DEFAULT_PROTECTED, assert_not_protected
from cardpilot.scoring.reasons import reason_code
from cardpilot.scoring.scaling import PointsScale

FAMILY = "scorecard"

# Callers import the conditional characteristics from here too; they live in conditional.
__all__ = [
    "CONDITIONAL",
    "FAMILY",
    "TABLE_SCHEMA",
    "ScorecardModel",
    "ScorecardParams",
    "derived_expr",
    "derived_inputs",
    "derived_sql",
    "fit_scorecard",
    "reason_lists",
    "with_derived",
]

TABLE_SCHEMA: dict[str, pl.DataType] = {
    "characteristic": pl.Utf8(),
    "bin_index": pl.Int32(),
    "bin": pl.Utf8(),
    "lower": pl.Float64(),
    "upper": pl.Float64(),
    "categories": pl.List(pl.Utf8()),
    "is_missing": pl.Boolean(),
    "points": pl.Int32(),
    "woe": pl.Float64(),
    "accounts": pl.Int64(),
    "defaults": pl.Int64(),
    "event_rate": pl.Float64(),
}


@dataclass(frozen=True)
class ScorecardParams:
    min_prebin_size: float = 0.05
    min_bin_size: float = 0.05
    max_n_bins: int | None = None
    min_iv: float = 0.02
    C: float = 1.0  # inverse regularisation strength of the logistic regression on WoE
    penalty: str = "l2"  # or "l1" (liblinear): characteristics can drop out at zero weight
    scale: PointsScale = field(default_factory=PointsScale)
    # optbinning's monotonic_trend where the domain demands no direction ("auto_asc_desc",
    # "auto", "auto_heuristic", "peak", "valley", or "none" for no trend constraint).
    free_trend: str = "auto_asc_desc"
    max_n_prebins: int = 20
    # Before the regression, a characteristic whose WoE correlates above this with a more
    # informative one already kept is left out (None: no correlation filter).
    max_corr: float | None = None
    # optbinning's minimum event-rate difference between consecutive bins, its pre-binning
    # method, and per-characteristic trend overrides ((name, trend), ...) — tried in selection.
    min_event_rate_diff: float = 0.0
    prebinning_method: str = "cart"
    # Valley for the two repayment statuses (−2 no use and −1 paid in full riskier than 0
    # revolving, risk rising again with delay): best mean AUC of 2×5-fold CV on the training rows
    # (0.7828 vs 0.7826; docs/scoring.md).
    trends: tuple[tuple[str, str], ...] = (
        ("repayment_status_latest", "valley"),
        ("repayment_status_previous", "valley"),
    )
    # Conditional characteristics (names from CONDITIONAL) offered to the fit besides the
    # candidates; like any candidate they stay only with enough IV and the right sign. These
    # ten: the ones a fit on all training rows keeps out of the eighteen; best mean AUC of
    # 5-fold CV on the training rows (0.7844 vs 0.7828; docs/scoring.md, third pass).
    derived: tuple[str, ...] = (
        "credit_limit_if_not_late",
        "paid_avg_if_revolving",
        "balance_latest_if_revolving",
        "utilisation_latest_if_revolving",
        "paid_in_full_months_if_revolving",
        "paid_avg_if_clear",
        "balance_latest_if_clear",
        "payment_to_limit_avg_if_clear",
        "payment_ratio_latest_if_clear",
        "balance_latest_if_one_late",
    )

    def to_dict(self) -> dict[str, Any]:
        return {
            "min_prebin_size": self.min_prebin_size,
            "min_bin_size": self.min_bin_size,
            "max_n_bins": self.max_n_bins,
            "min_iv": self.min_iv,
            "C": self.C,
            "penalty": self.penalty,
            "scale": self.scale.to_dict(),
            "free_trend": self.free_trend,
            "max_n_prebins": self.max_n_prebins,
            "max_corr": self.max_corr,
            "min_event_rate_diff": self.min_event_rate_diff,
            "prebinning_method": self.prebinning_method,
            "trends": [list(t) for t in self.trends],
            "derived": list(self.derived),
        }

    def binning_key(self) -> tuple[Any, ...]:
        """The settings the binning of a characteristic depends on (nothing downstream)."""
        return (
            self.min_prebin_size,
            self.min_bin_size,
            self.max_n_bins,
            self.free_trend,
            self.max_n_prebins,
            self.min_event_rate_diff,
            self.prebinning_method,
            self.trends,
        )


def _trend(
    name: str, free: str = "auto_asc_desc", overrides: tuple[tuple[str, str], ...] = ()
) -> str | None:
    """optbinning's monotonic_trend: the domain's direction, else an override, else ``free``."""
    direction = (
        0
        if name in CATEGORICAL_FEATURES or name in CONDITIONAL
        else feature_spec(name).risk_direction
    )
    chosen = {1: "ascending", -1: "descending"}.get(direction) or dict(overrides).get(name, free)
    return None if chosen == "none" else chosen


def _quiet_optbinning() -> None:
    """Import optbinning without cvxpy's log line about a HIGHS solver we never use."""
    if "optbinning" in sys.modules:
        return
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        import optbinning  # noqa: F401
    finally:
        logging.disable(previous)


@dataclass(frozen=True)
class _Binned:
    name: str
    categorical: bool
    splits: list[float]  # numeric: ascending split points
    groups: list[list[str]]  # categorical: categories per bin
    iv: float

    @property
    def n_bins(self) -> int:  # bins excluding the missing bin
        return len(self.groups) if self.categorical else len(self.splits) + 1


def _optimal_bins(
    name: str, x: npt.NDArray[Any], y: npt.NDArray[np.int8], params: ScorecardParams
) -> _Binned:
    _quiet_optbinning()
    from optbinning import OptimalBinning

    categorical = name in CATEGORICAL_FEATURES
    kwargs: dict[str, Any] = {
        "name": name,
        "dtype": "categorical" if categorical else "numerical",
        "min_prebin_size": params.min_prebin_size,
        "min_bin_size": params.min_bin_size,
        "monotonic_trend": _trend(name, params.free_trend, params.trends),
        "max_n_prebins": params.max_n_prebins,
        "min_event_rate_diff": params.min_event_rate_diff,
        "prebinning_method": params.prebinning_method,
    }
    if params.max_n_bins:
        kwargs["max_n_bins"] = params.max_n_bins
    if categorical:
        kwargs["cat_cutoff"] = None
    ob = OptimalBinning(**kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ob.fit(x, y)
        ob.binning_table.build()
    iv = float(ob.binning_table.iv)
    if categorical:
        groups = [sorted(str(c) for c in g) for g in ob.splits]
        return _Binned(name, True, [], groups, iv)
    return _Binned(name, False, [float(s) for s in ob.splits], [], iv)


def _column(
    frame: pl.DataFrame, name: str, groups: list[list[str]] | None
) -> npt.NDArray[np.float64]:
    """A characteristic as float64 with NaN for missing; categories become their bin index."""
    col = frame.get_column(name)
    if groups is not None:
        mapping = {c: float(i) for i, g in enumerate(groups) for c in g}
        col = col.cast(pl.Utf8).replace_strict(mapping, default=None, return_dtype=pl.Float64)
    return col.cast(pl.Float64).fill_nan(None).to_numpy().astype(np.float64, copy=False)


def _bin_index(values: npt.NDArray[np.float64], binned: _Binned) -> npt.NDArray[np.int64]:
    splits = (
        np.arange(binned.n_bins - 1, dtype=np.float64) + 0.5
        if binned.categorical
        else np.asarray(binned.splits, dtype=np.float64)
    )
    idx = np.searchsorted(splits, values, side="right").astype(np.int64)
    idx[np.isnan(values)] = binned.n_bins  # the missing bin
    return idx


def _bin_labels(binned: _Binned) -> list[tuple[str, float | None, float | None, list[str] | None]]:
    rows: list[tuple[str, float | None, float | None, list[str] | None]] = []
    if binned.categorical:
        for g in binned.groups:
            rows.append(("{" + ", ".join(g) + "}", None, None, g))
    else:
        edges: list[float | None] = [None, *binned.splits, None]
        for lo, hi in itertools.pairwise(edges):
            left = "(-inf" if lo is None else f"[{lo:.6g}"
            right = "inf)" if hi is None else f"{hi:.6g})"
            rows.append((f"{left}, {right}", lo, hi, None))
    rows.append(("Missing", None, None, None))
    return rows


class ScorecardModel:
    """A fitted scorecard: the points table plus the PD calibration of its scores."""

    family = FAMILY

    def __init__(
        self,
        table: pl.DataFrame,
        scale: PointsScale,
        calibration: PlattCalibration,
        version: str = "unversioned",
        protected: Sequence[str] = DEFAULT_PROTECTED,
    ) -> None:
        # Row order is meaningful: characteristics in IV order, bins in order.
        self.table = table.select(list(TABLE_SCHEMA)).cast(TABLE_SCHEMA)  # type: ignore[arg-type]
        order = list(dict.fromkeys(table.get_column("characteristic").to_list()))
        self.characteristics: list[str] = order  # fixed order = reason tie-break order
        assert_not_protected(self.characteristics, protected)
        self.scale = scale
        self.calibration = calibration
        self.version = version
        self._groups: dict[str, list[list[str]] | None] = {}
        splits, points = [], []
        for name in order:
            rows = self.table.filter(pl.col("characteristic") == name).sort("bin_index")
            regular = rows.filter(~pl.col("is_missing"))
            missing = rows.filter(pl.col("is_missing"))
            if regular.get_column("categories").null_count() == 0 and len(regular):
                groups = regular.get_column("categories").to_list()
                self._groups[name] = groups
                cut = list(np.arange(len(groups) - 1, dtype=np.float64) + 0.5)
            else:
                self._groups[name] = None
                cut = regular.get_column("lower").drop_nulls().to_list()
            pts = regular.get_column("points").to_list() + missing.get_column("points").to_list()
            splits.append(np.asarray(cut, dtype=np.float64))
            points.append(np.asarray(pts, dtype=np.int32))
        self.compiled: CompiledScorecard = compile_scorecard(order, splits, points)
        self.reason_codes = [reason_code(c) for c in order]
        # A category's bin index per categorical characteristic, for ``row_columns``.
        self._bin_of: dict[str, dict[str, float]] = {
            name: {c: float(i) for i, g in enumerate(groups) for c in g}
            for name, groups in self._groups.items()
            if groups is not None
        }

    @property
    def features(self) -> list[str]:
        return list(self.characteristics)

    @property
    def inputs(self) -> list[str]:
        """The feature columns the table reads (a conditional characteristic by its inputs)."""
        return derived_inputs(self.characteristics)

    def columns(self, features: pl.DataFrame) -> list[npt.NDArray[np.float64]]:
        features = with_derived(features, self.characteristics)
        return [_column(features, c, self._groups[c]) for c in self.characteristics]

    def row_columns(self, features: Mapping[str, Any]) -> list[npt.NDArray[np.float64]]:
        """``columns`` of one account's features (a dict of feature values): one-element
        arrays, NaN for missing, a category as its bin's index, as ``_column`` gives them."""
        out = []
        for name in self.characteristics:
            value = derived_value(name, features) if name in CONDITIONAL else features.get(name)
            bins = self._bin_of.get(name)
            if value is not None and bins is not None:
                value = bins.get(str(value))
            out.append(np.array([np.nan if value is None else float(value)], dtype=np.float64))
        return out

    def score_arrays(
        self, features: pl.DataFrame, threads: int | None = None
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int8]]:
        """Points and up to four reason indices (into ``characteristics``; -1 none)."""
        return score_arrays(self.compiled, self.columns(features), threads)

    def score(self, features: pl.DataFrame) -> pl.DataFrame:
        score, reasons = self.score_arrays(features)
        return pl.DataFrame(
            {
                "account_id": features.get_column("account_id"),
                "score": score,
                "pd": self.calibration.pd(score),
                "reason_codes": reason_lists(reasons, self.reason_codes),
                "model_version": pl.repeat(self.version, len(score), eager=True, dtype=pl.Utf8),
            }
        )

    def predict_pd(self, features: pl.DataFrame) -> npt.NDArray[np.float64]:
        score, _ = self.score_arrays(features)
        return self.calibration.pd(score)

    def points_matrix(
        self,
        features: pl.DataFrame,
        columns: list[npt.NDArray[np.float64]] | None = None,
    ) -> npt.NDArray[np.int32]:
        """Points per account (rows) and characteristic (columns) — for audits and tests;
        ``columns``: ``self.columns(features)`` when the caller has them already."""
        columns = self.columns(features) if columns is None else columns
        return self.points_of_columns(columns)

    def points_of_columns(self, columns: list[npt.NDArray[np.float64]]) -> npt.NDArray[np.int32]:
        """``points_matrix`` of the characteristics' columns (``columns``, ``row_columns``)."""
        rows = len(columns[0]) if columns else 0
        out = np.empty((rows, len(self.characteristics)), dtype=np.int32)
        for j, (ch, col) in enumerate(zip(self.compiled.characteristics, columns, strict=True)):
            out[:, j] = ch.points[ch.bins(col)]
        return out


def reason_lists(reasons: npt.NDArray[np.int8], codes: Sequence[str]) -> pl.Series:
    """(n, 4) reason indices (-1 none) → a ``list[str]`` Series of reason codes.

    Built as one Arrow list array (the kept codes in row order plus row offsets) rather than
    per-column replacements and a list concatenation: the review asks this for a million
    accounts at a time."""
    import pyarrow as pa

    flat = reasons.ravel()
    keep = flat >= 0
    values = pl.Series(list(codes), dtype=pl.Utf8).gather(flat[keep].astype(np.int64))
    counts = keep.reshape(reasons.shape).sum(axis=1)
    offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int32)
    lists = pa.ListArray.from_arrays(pa.array(offsets), values.to_arrow())
    return pl.Series("reason_codes", lists, dtype=pl.List(pl.Utf8))


def fit_scorecard(
    features: pl.DataFrame,
    y: npt.ArrayLike,
    candidates: Sequence[str],
    params: ScorecardParams | None = None,
    protected: Sequence[str] = DEFAULT_PROTECTED,
    version: str = "unversioned",
) -> tuple[ScorecardModel, dict[str, Any]]:
    """Fit on the training rows given; returns the model and a fit summary (IV, dropped)."""
    params = params or ScorecardParams()
    # A conditional characteristic is offered when its inputs are candidates themselves.
    extra = [
        d
        for d in params.derived
        if d not in candidates and set(derived_inputs([d])) <= set(candidates)
    ]
    assert_not_protected([*candidates, *derived_inputs(extra)], protected)
    features = with_derived(features, extra)
    target = np.asarray(y, dtype=np.int8)
    binned, ivs = _binned_candidates(features, [*candidates, *extra], target, params)
    # Most informative first: this order breaks ties between equal reasons.
    kept = sorted(binned, key=lambda n: -binned[n].iv)
    woe = _woe_columns(features, kept, binned, target)
    correlated: list[str] = []
    if params.max_corr is not None and len(kept) > 1:
        kept, correlated = _decorrelated(kept, woe, params.max_corr)
    lr, kept, dropped = _fit_positive_weights(kept, woe, target, params)
    coef = lr.coef_[0]
    b0 = float(lr.intercept_[0])
    table = _points_table(kept, coef, b0, binned, woe, params.scale)
    provisional = ScorecardModel(
        table, params.scale, PlattCalibration.identity(params.scale), version, protected
    )
    score, _ = provisional.score_arrays(features, threads=1)
    calibration = PlattCalibration.fit(score.astype(np.float64), target)
    model = ScorecardModel(table, params.scale, calibration, version, protected)
    summary = {
        "iv": ivs,
        "selected": kept,
        "dropped_for_correlation": correlated,
        "dropped_for_sign": dropped,
        "coefficients": {n: round(float(c), 6) for n, c in zip(kept, coef, strict=True)},
        "intercept": round(b0, 6),
    }
    return model, summary


def _binned_candidates(
    features: pl.DataFrame,
    candidates: Sequence[str],
    target: npt.NDArray[np.int8],
    params: ScorecardParams,
) -> tuple[dict[str, _Binned], dict[str, float]]:
    """The optimal bins of each candidate informative enough to keep, and every candidate's IV."""
    binned: dict[str, _Binned] = {}
    ivs: dict[str, float] = {}
    progress.stage(f"scorecard: binning {len(candidates)} features", len(candidates))
    for name in candidates:
        progress.advance()
        raw = features.get_column(name)
        if raw.null_count() == len(raw):
            continue
        values: npt.NDArray[Any] = (
            raw.cast(pl.Utf8).to_numpy()
            if name in CATEGORICAL_FEATURES
            else _column(features, name, None)
        )
        b = _optimal_bins(name, values, target, params)
        ivs[name] = round(b.iv, 6)
        if b.iv >= params.min_iv and b.n_bins > 1:
            binned[name] = b
    return binned, ivs


@dataclass(frozen=True)
class _WoeColumn:
    """One characteristic's weight of evidence per bin, its bin counts and each row's bin."""

    table: npt.NDArray[np.float64]
    accounts: npt.NDArray[np.int64]
    defaults: npt.NDArray[np.int64]
    bin_index: npt.NDArray[np.int64]

    def per_row(self) -> npt.NDArray[np.float64]:
        return self.table[self.bin_index]


def _woe_columns(
    features: pl.DataFrame,
    kept: Sequence[str],
    binned: dict[str, _Binned],
    target: npt.NDArray[np.int8],
) -> dict[str, _WoeColumn]:
    bads = float(target.sum())
    goods = float(len(target) - bads)
    out: dict[str, _WoeColumn] = {}
    for name in kept:
        b = binned[name]
        col = _column(features, name, b.groups if b.categorical else None)
        idx = _bin_index(col, b)
        n_all = np.bincount(idx, minlength=b.n_bins + 1).astype(np.int64)
        n_bad = np.bincount(idx, weights=target, minlength=b.n_bins + 1).astype(np.int64)
        n_good = n_all - n_bad
        # WoE > 0 means riskier than average; +0.5 keeps empty cells finite.
        woe = np.log(((n_bad + 0.5) / bads) / ((n_good + 0.5) / goods))
        woe[n_all == 0] = 0.0  # an empty bin (usually missing) is neutral
        out[name] = _WoeColumn(woe, n_all, n_bad, idx)
    return out


def _decorrelated(
    kept: list[str], woe: dict[str, _WoeColumn], max_corr: float
) -> tuple[list[str], list[str]]:
    """(kept, dropped): of two characteristics correlated above ``max_corr``, the more
    informative one (earlier in ``kept``) stays."""
    woe_x = np.column_stack([woe[n].per_row() for n in kept])
    corr: npt.NDArray[np.float64] = np.atleast_2d(np.nan_to_num(np.corrcoef(woe_x, rowvar=False)))
    chosen: list[int] = []
    for j in range(len(kept)):  # IV order: the more informative one stays
        if all(abs(corr[j, i]) <= max_corr for i in chosen):
            chosen.append(j)
    correlated = [n for j, n in enumerate(kept) if j not in chosen]
    return [kept[j] for j in chosen], correlated


def _fit_positive_weights(
    kept: list[str],
    woe: dict[str, _WoeColumn],
    target: npt.NDArray[np.int8],
    params: ScorecardParams,
) -> tuple[Any, list[str], list[str]]:
    """(regression, kept, dropped): refit until every weight is positive, dropping the most
    negative characteristic each time (or every zero weight an L1 fit left out)."""
    from sklearn.linear_model import LogisticRegression

    kept = list(kept)
    dropped: list[str] = []
    while True:
        if not kept:
            raise ValueError("no characteristic left to fit (min_iv, max_corr or C too strict)")
        X = np.column_stack([woe[n].per_row() for n in kept])
        lr = (
            LogisticRegression(C=params.C, max_iter=2000)
            if params.penalty == "l2"
            else LogisticRegression(
                C=params.C, l1_ratio=1.0, solver="liblinear", intercept_scaling=100.0
            )
        )
        lr.fit(X, target)
        coef = lr.coef_[0]
        if (coef > 0).all():
            return lr, kept, dropped
        worst = int(np.argmin(coef))
        if coef[worst] == 0.0:  # L1 left some out: drop every zero weight at once
            zero = {kept[j] for j in np.flatnonzero(coef == 0.0)}
            dropped.extend(n for n in kept if n in zero)
            kept = [n for n in kept if n not in zero]
            continue
        dropped.append(kept.pop(worst))


def _points_table(
    kept: list[str],
    coef: npt.NDArray[np.float64],
    b0: float,
    binned: dict[str, _Binned],
    woe: dict[str, _WoeColumn],
    scale: PointsScale,
) -> pl.DataFrame:
    """The scorecard table: points per bin, characteristics in IV order."""
    m = len(kept)
    rows: list[dict[str, Any]] = []
    for name, beta in zip(kept, coef, strict=True):
        b = binned[name]
        column = woe[name]
        n_all, n_bad = column.accounts, column.defaults
        for i, (label, lo, hi, cats) in enumerate(_bin_labels(b)):
            log_odds_bad = b0 / m + float(beta) * float(column.table[i])
            points = scale.offset / m - scale.factor * log_odds_bad
            rows.append(
                {
                    "characteristic": name,
                    "bin_index": i,
                    "bin": label,
                    "lower": lo,
                    "upper": hi,
                    "categories": cats,
                    "is_missing": label == "Missing",
                    "points": math.floor(points + 0.5),
                    "woe": float(column.table[i]),
                    "accounts": int(n_all[i]),
                    "defaults": int(n_bad[i]),
                    "event_rate": float(n_bad[i] / n_all[i]) if n_all[i] else None,
                }
            )
    table = pl.DataFrame(rows, schema=TABLE_SCHEMA)
    # The table keeps characteristics in IV order; ScorecardModel reads that order back.
    order = {n: i for i, n in enumerate(kept)}
    return (
        table.with_columns(_o=pl.col("characteristic").replace_strict(order))
        .sort("_o", "bin_index")
        .drop("_o")
    )
