"""Reasons with a direction: what held a score down, and what earned it.

A decision that lowers, keeps or declines a limit states its *adverse* reasons: the
characteristics where the account lost the most points against the best the scorecard gives
(the characteristic's maximum points), largest loss first, at most four — the "principal
reasons" practice of adverse-action notices (ECOA / Regulation B commentary; PIPL art. 24 asks
for an explanation in any case, REGULATION.md). An increase states its *positive factors*: the
characteristics where the account earned the most points above the characteristic's neutral
level (its points averaged over the training accounts), largest first.

Reasons are named by the customer's own feature, never by a model characteristic: a conditional
characteristic (``paid_avg_if_clear``: a feature read inside one segment of the latest repayment
status) explains the accounts inside its segment as its feature (``paid_avg_6m_minor``), and is
no reason at all for the accounts outside it, whose points there are only the segment's baseline
(the repayment-status characteristics explain that). Characteristics of one feature add up.

Adverse reasons carry the feature's reason code (``RC_…``, ``cardpilot.scoring.reasons``);
positive factors carry ``PF_<FEATURE>`` (``positive_code``). The customer texts of both are
message texts (``policies/templates/reason_statements.yaml``), not this module's business.

Everything here is pure: a model and a feature table in, arrays and frames out.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from cardpilot.scoring.fastscore import MAX_REASONS
from cardpilot.scoring.gbm import DERIVED, GbmModel
from cardpilot.scoring.reasons import REASON_BY_FEATURE, reason_code
from cardpilot.scoring.scorecard import CONDITIONAL, ScorecardModel

POSITIVE_PREFIX = "PF_"
_FEATURE_BY_CODE = {code: feature for feature, code in REASON_BY_FEATURE.items()}


def customer_feature(characteristic: str) -> str:
    """The feature a customer is told about for a model characteristic or derived feature."""
    if characteristic in CONDITIONAL:
        return CONDITIONAL[characteristic][0]
    if characteristic in DERIVED:
        return DERIVED[characteristic][1]
    return characteristic


def positive_code(feature: str) -> str:
    """The code of a feature as a positive factor (``PF_UTILISATION_AVG_6M``)."""
    reason_code(feature)  # an unknown feature fails here, as it does for an adverse reason
    return POSITIVE_PREFIX + feature.upper()


def adverse_code(feature: str) -> str:
    """The code of a feature as an adverse reason (its ``RC_…`` reason code)."""
    return reason_code(feature)


def feature_of_code(code: str) -> str | None:
    """The feature an adverse (``RC_…``) or positive (``PF_…``) code names; None otherwise."""
    if code.startswith(POSITIVE_PREFIX):
        feature = code[len(POSITIVE_PREFIX) :].lower()
        return feature if feature in REASON_BY_FEATURE else None
    return _FEATURE_BY_CODE.get(code)


@dataclass(frozen=True)
class PointsReference:
    """Per scorecard characteristic: its customer feature, its best (maximum) points and its
    neutral points (the account-weighted mean over its bins; for a conditional
    characteristic, over the bins inside its segment)."""

    characteristics: tuple[str, ...]
    features: tuple[str, ...]
    best: npt.NDArray[np.float64]
    neutral: npt.NDArray[np.float64]
    conditional: npt.NDArray[np.bool_]


# A scorecard's reference points depend on its table only: worked out once per model object
# (a one-account decision would otherwise spend more on them than on the account).
_REFERENCES: weakref.WeakKeyDictionary[ScorecardModel, PointsReference] = (
    weakref.WeakKeyDictionary()
)


def points_reference(model: ScorecardModel) -> PointsReference:
    known = _REFERENCES.get(model)
    if known is None:
        known = _REFERENCES[model] = _points_reference(model)
    return known


def _points_reference(model: ScorecardModel) -> PointsReference:
    best, neutral = [], []
    for name in model.characteristics:
        rows = model.table.filter(pl.col("characteristic") == name)
        points = rows.get_column("points").cast(pl.Float64).to_numpy()
        weights = rows.get_column("accounts").cast(pl.Float64).fill_null(0).to_numpy()
        if name in CONDITIONAL:
            weights = np.where(rows.get_column("is_missing").to_numpy(), 0.0, weights)
        best.append(float(points.max()))
        total = float(weights.sum())
        neutral.append(float((points * weights).sum() / total) if total else float(points.mean()))
    names = tuple(model.characteristics)
    return PointsReference(
        characteristics=names,
        features=tuple(customer_feature(n) for n in names),
        best=np.asarray(best),
        neutral=np.asarray(neutral),
        conditional=np.asarray([n in CONDITIONAL for n in names], dtype=np.bool_),
    )


def points_by_characteristic(
    model: ScorecardModel, features: pl.DataFrame
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.bool_]]:
    """Points per account and characteristic, and whether the characteristic reads the
    account (False: a conditional characteristic outside its segment)."""
    return points_of_columns(model, model.columns(features))


def points_of_columns(
    model: ScorecardModel, columns: list[npt.NDArray[np.float64]]
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.bool_]]:
    """The same from the characteristics' columns (``ScorecardModel.columns`` or
    ``row_columns``)."""
    points = model.points_of_columns(columns)
    reads = np.ones(points.shape, dtype=np.bool_)
    for j, name in enumerate(model.characteristics):
        if name in CONDITIONAL:
            reads[:, j] = ~np.isnan(columns[j])
    return points, reads


def top_indices(weights: npt.NDArray[np.float64], k: int = MAX_REASONS) -> npt.NDArray[np.int64]:
    """Per row, the column indices of the ``k`` largest positive weights, largest first
    (ties: the earlier column); -1 pads."""
    order = np.argsort(-weights, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(weights, order, axis=1)
    out = np.where(top > 1e-9, order, -1)
    if out.shape[1] < k:
        out = np.pad(out, ((0, 0), (0, k - out.shape[1])), constant_values=-1)
    return out


def _code_lists(top: npt.NDArray[np.int64], codes: Sequence[str]) -> pl.Series:
    """Each row's codes (``top``'s indices into ``codes``, -1 for none) as a list column,
    built from offsets and values in Arrow: a Python list per account costs more than scoring
    the account."""
    import pyarrow as pa

    present = top >= 0
    offsets = np.zeros(top.shape[0] + 1, dtype=np.int32)
    np.cumsum(present.sum(axis=1), out=offsets[1:])
    values = pa.array(list(codes), type=pa.string()).take(pa.array(top[present]))
    lists = pa.ListArray.from_arrays(pa.array(offsets), values)
    series = pl.from_arrow(lists)
    assert isinstance(series, pl.Series)
    return series.cast(pl.List(pl.String()))


def _by_feature(
    per_column: npt.NDArray[np.float64], features: Sequence[str]
) -> tuple[npt.NDArray[np.float64], list[str]]:
    """Columns of one feature summed: (rows × distinct features), the features in order."""
    distinct = list(dict.fromkeys(features))
    onehot = np.zeros((len(features), len(distinct)))
    onehot[np.arange(len(features)), [distinct.index(f) for f in features]] = 1.0
    return per_column @ onehot, distinct


@dataclass(frozen=True)
class Directions:
    """Per account, the indices (into ``adverse_codes`` and ``positive_codes``) of its
    adverse reasons and positive factors, largest first, -1 padding."""

    adverse: npt.NDArray[np.int64]
    positive: npt.NDArray[np.int64]
    adverse_codes: list[str]
    positive_codes: list[str]

    def row(self, i: int) -> tuple[list[str], list[str]]:
        """Account ``i``'s codes, adverse and positive."""
        return (
            [self.adverse_codes[j] for j in self.adverse[i] if j >= 0],
            [self.positive_codes[j] for j in self.positive[i] if j >= 0],
        )


def scorecard_directions_of_columns(
    model: ScorecardModel, columns: list[npt.NDArray[np.float64]]
) -> Directions:
    """Adverse reasons (points lost against the best) and positive factors (points above
    neutral), at most four each, from the characteristics' columns."""
    ref = points_reference(model)
    points, reads = points_of_columns(model, columns)
    lost = np.where(reads, ref.best - points, 0.0)
    gained = np.where(reads, points - ref.neutral, 0.0)
    lost_f, names = _by_feature(lost, ref.features)
    gained_f, _ = _by_feature(np.clip(gained, 0.0, None), ref.features)
    return Directions(
        top_indices(lost_f),
        top_indices(gained_f),
        [adverse_code(f) for f in names],
        [positive_code(f) for f in names],
    )


def scorecard_directions(
    model: ScorecardModel, features: pl.DataFrame
) -> tuple[pl.Series, pl.Series]:
    """Per account: adverse reason codes (points lost against the best) and positive factor
    codes (points above neutral), at most four each, largest first."""
    found = scorecard_directions_of_columns(model, model.columns(features))
    adverse = _code_lists(found.adverse, found.adverse_codes)
    positive = _code_lists(found.positive, found.positive_codes)
    return adverse, positive


def gbm_directions(model: GbmModel, features: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    """The same for the GBM: SHAP contributions to the risk margin; adverse reasons raise it,
    positive factors lower it."""
    contrib = model.contributions(features)
    names = [_FEATURE_BY_CODE[c] for c in model.reason_codes]
    adverse = _code_lists(top_indices(contrib), [adverse_code(f) for f in names])
    positive = _code_lists(top_indices(-contrib), [positive_code(f) for f in names])
    return adverse, positive


def directional_reasons(model: Any, features: pl.DataFrame) -> pl.DataFrame | None:
    """``account_id``, ``reason_codes`` (adverse) and ``positive_codes`` of every row of
    ``features``; None for a model this module does not know (its own reasons stand)."""
    if isinstance(model, ScorecardModel):
        adverse, positive = scorecard_directions(model, features)
    elif isinstance(model, GbmModel):
        adverse, positive = gbm_directions(model, features)
    else:
        return None
    return pl.DataFrame(
        {
            "account_id": features.get_column("account_id"),
            "reason_codes": adverse,
            "positive_codes": positive,
        }
    )
