"""The figures of the model report: ROC curve, the KS separation and where it peaks, score
distributions and the calibration by score band, from a model's test-split scores.

Pure arithmetic on arrays; ``cardpilot.reports.model`` draws the page from these figures.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from cardpilot.scoring.metrics import roc_points

DISTRIBUTION_BINS = 30
KS_CURVE_POINTS = 300  # the KS curve drawn through at most this many scores (and its peak)


def _roc(y_test: npt.NDArray[np.int8], test_score: npt.NDArray[np.int32]) -> list[dict[str, float]]:
    fpr, tpr = roc_points(y_test, -test_score.astype(float))
    return [
        {"fpr": round(float(a), 6), "tpr": round(float(b), 6)}
        for a, b in zip(fpr, tpr, strict=True)
    ]


def ks_figures(y_test: npt.NDArray[np.int8], test_score: npt.NDArray[np.int32]) -> dict[str, Any]:
    """The cumulative shares of defaults and non-defaults at or below each score, the largest
    gap between them (KS) and the score where it is reached."""
    bad = np.sort(test_score[y_test == 1])
    good = np.sort(test_score[y_test == 0])
    scores = np.unique(test_score)
    cb = np.searchsorted(bad, scores, side="right") / max(len(bad), 1)
    cg = np.searchsorted(good, scores, side="right") / max(len(good), 1)
    gap = np.abs(cb - cg)
    peak = int(np.argmax(gap))
    shown = np.unique(
        np.concatenate(
            [np.linspace(0, len(scores) - 1, min(KS_CURVE_POINTS, len(scores))).astype(int), [peak]]
        )
    )
    return {
        "ks": round(float(gap[peak]), 6),
        "score": int(scores[peak]),
        "defaults_share": round(float(cb[peak]), 6),
        "non_defaults_share": round(float(cg[peak]), 6),
        "curve": [
            {
                "score": int(scores[i]),
                "defaults": round(float(cb[i]), 6),
                "non_defaults": round(float(cg[i]), 6),
            }
            for i in shown
        ],
    }


def score_distribution(
    y_test: npt.NDArray[np.int8],
    test_score: npt.NDArray[np.int32],
    train_score: npt.NDArray[np.int32],
) -> list[dict[str, Any]]:
    """The share of each population (test defaults, test non-defaults, train) per score band
    (``DISTRIBUTION_BINS`` equal bands over the test scores' range)."""
    lo, hi = float(test_score.min()), float(test_score.max())
    edges = np.linspace(lo, hi + 1, DISTRIBUTION_BINS + 1)
    populations = {
        "test defaults": test_score[y_test == 1],
        "test non-defaults": test_score[y_test == 0],
        "train": train_score,
    }
    rows = []
    for name, values in populations.items():
        shares = np.histogram(values, edges)[0] / max(len(values), 1)
        for left, right, share in zip(edges[:-1], edges[1:], shares, strict=True):
            rows.append(
                {
                    "population": name,
                    "score": round(float((left + right) / 2), 1),
                    "from": round(float(left), 1),
                    "to": round(float(right), 1),
                    "share": round(float(share), 6),
                }
            )
    return rows


def model_report_figures(
    metadata: dict[str, Any],
    y_test: npt.NDArray[np.int8],
    test_score: npt.NDArray[np.int32],
    train_score: npt.NDArray[np.int32],
) -> dict[str, Any]:
    """Everything the model report draws beyond the model's metadata."""
    fit = metadata.get("fit_summary", {})
    features = set(metadata["features"])
    return {
        "roc": _roc(y_test, test_score),
        "ks": ks_figures(y_test, test_score),
        "distribution": score_distribution(y_test, test_score, train_score),
        "calibration": metadata.get("calibration_table", []),
        "iv": [
            {"characteristic": k, "iv": v, "in_model": k in features}
            for k, v in sorted(fit.get("iv", {}).items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "importance": [
            {"feature": k, "gain": v}
            for k, v in sorted(fit.get("importance_gain", {}).items(), key=lambda kv: -kv[1])
        ],
    }
