"""Discrimination and stability measures: AUC, KS, Gini, PSI, calibration by score band."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl
from sklearn.metrics import roc_auc_score, roc_curve

FloatArray = npt.NDArray[np.float64]


def auc(y: npt.ArrayLike, risk: npt.ArrayLike) -> float:
    """Area under the ROC curve; ``risk`` grows with the chance of default."""
    return float(roc_auc_score(np.asarray(y), np.asarray(risk)))


def ks(y: npt.ArrayLike, risk: npt.ArrayLike) -> float:
    """Kolmogorov–Smirnov: the largest gap between the bad and good cumulative distributions."""
    fpr, tpr, _ = roc_curve(np.asarray(y), np.asarray(risk))
    return float(np.max(tpr - fpr))


def gini(y: npt.ArrayLike, risk: npt.ArrayLike) -> float:
    return 2.0 * auc(y, risk) - 1.0


def discrimination(y: npt.ArrayLike, risk: npt.ArrayLike) -> dict[str, float]:
    a = auc(y, risk)
    return {"auc": round(a, 6), "ks": round(ks(y, risk), 6), "gini": round(2 * a - 1, 6)}


def psi(expected: npt.ArrayLike, actual: npt.ArrayLike, bins: int = 10) -> float:
    """Population stability index of ``actual`` against ``expected`` (deciles of expected).

    Rule of thumb: < 0.10 stable, 0.10–0.25 watch, > 0.25 shifted.
    """
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    edges = np.unique(np.quantile(e, np.linspace(0, 1, bins + 1))[1:-1])
    pe = np.bincount(np.searchsorted(edges, e, side="right"), minlength=len(edges) + 1) / len(e)
    pa = np.bincount(np.searchsorted(edges, a, side="right"), minlength=len(edges) + 1) / len(a)
    pe = np.clip(pe, 1e-6, None)
    pa = np.clip(pa, 1e-6, None)
    return float(np.sum((pa - pe) * np.log(pa / pe)))


def score_bands(score: npt.ArrayLike, width: int = 20) -> npt.NDArray[np.int64]:
    """Lower edge of the ``width``-point band each score falls in."""
    s = np.asarray(score, dtype=np.int64)
    return (s // width) * width


def calibration_table(
    score: npt.ArrayLike, pd: npt.ArrayLike, y: npt.ArrayLike, width: int = 20
) -> pl.DataFrame:
    """Per score band: accounts, predicted PD (mean) and observed default rate."""
    frame = pl.DataFrame(
        {
            "band": score_bands(score, width),
            "pd": np.asarray(pd, dtype=np.float64),
            "y": np.asarray(y, dtype=np.float64),
        }
    )
    return (
        frame.group_by("band")
        .agg(
            accounts=pl.len(),
            predicted_pd=pl.col("pd").mean(),
            observed_rate=pl.col("y").mean(),
            defaults=pl.col("y").sum().cast(pl.Int64),
        )
        .with_columns(band_upper=pl.col("band") + width - 1)
        .select("band", "band_upper", "accounts", "defaults", "predicted_pd", "observed_rate")
        .sort("band")
    )


def roc_points(
    y: npt.ArrayLike, risk: npt.ArrayLike, n: int = 200
) -> tuple[FloatArray, FloatArray]:
    fpr, tpr, _ = roc_curve(np.asarray(y), np.asarray(risk))
    grid = np.linspace(0, 1, n)
    return grid, np.interp(grid, fpr, tpr)
