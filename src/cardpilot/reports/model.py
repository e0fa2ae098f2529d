"""The model report: one self-contained HTML page per trained model (charts drawn offline).

ROC, KS with its peak, calibration and score distributions on the test split, information
value per characteristic, feature importance, the scorecard, and fairness measured on
protected groups that never feed the model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from cardpilot.reports.formatting import ReportFormat, configured_locale, report_locale
from cardpilot.reports.model_charts import model_charts
from cardpilot.reports.page import render_page
from cardpilot.scoring.report import model_report_figures

ATTRIBUTION = (
    "Data: Yeh, I.-C. & Lien, C.-H. (2009), Default of Credit Card Clients, UCI Machine "
    "Learning Repository, doi:10.24432/C55S3H, CC BY 4.0."
)
SCORECARD_COLUMNS = ("characteristic", "bin", "points", "woe", "accounts", "event_rate")
SHARES = {"event_rate", "default_rate", "good_grade_share", "predicted_pd", "observed_rate"}


def _cell(column: str, value: Any, fmt: ReportFormat) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return fmt.count(value)
    if isinstance(value, float):
        return fmt.percent(value, 2) if column in SHARES else fmt.number(value, 4)
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def _table(
    rows: list[dict[str, Any]], fmt: ReportFormat, columns: tuple[str, ...] | None = None
) -> dict[str, Any]:
    cols = list(columns or (rows[0] if rows else []))
    return {
        "columns": cols,
        "rows": [[_cell(c, r.get(c), fmt) for c in cols] for r in rows],
    }


def model_report_context(
    metadata: dict[str, Any],
    figures: dict[str, Any],
    scorecard_rows: list[dict[str, Any]] | None,
    fmt: ReportFormat,
) -> dict[str, Any]:
    m = metadata["metrics"]
    fair = metadata.get("fairness", {})
    iv = figures["iv"]
    return {
        "meta": metadata,
        "split": {k: fmt.count(v) for k, v in metadata["split"].items() if isinstance(v, int)},
        "metrics": [
            {
                "set": s,
                "auc": fmt.number(m[f"{s}_auc"], 4),
                "ks": fmt.number(m[f"{s}_ks"], 4),
                "gini": fmt.number(m[f"{s}_gini"], 4),
            }
            for s in ("train", "test")
        ],
        "psi": fmt.number(m["psi_train_test"], 4),
        "ks": figures["ks"],
        "ks_text": fmt.number(figures["ks"]["ks"], 3),
        "calibration": _table(figures["calibration"], fmt),
        "iv_count": len(iv),
        "iv_used": sum(1 for r in iv if r["in_model"]),
        "has_importance": bool(figures["importance"]),
        "scorecard": _table(scorecard_rows, fmt, SCORECARD_COLUMNS) if scorecard_rows else None,
        "good_grade_cut": fair.get("good_grade_cut"),
        "fairness": _table(fair.get("groups", []), fmt),
        "attribution": ATTRIBUTION,
    }


def model_report(
    metadata: dict[str, Any],
    y_test: npt.NDArray[np.int8],
    test_score: npt.NDArray[np.int32],
    train_score: npt.NDArray[np.int32],
    scorecard_rows: list[dict[str, Any]] | None = None,
    *,
    locale: str | None = None,
) -> str:
    """The page of one trained model, from its metadata and its train and test scores."""
    fmt = ReportFormat(report_locale(locale or configured_locale()))
    figures = model_report_figures(metadata, y_test, test_score, train_score)
    context = model_report_context(metadata, figures, scorecard_rows, fmt)
    return render_page("model.html.j2", context, model_charts(figures, metadata["metrics"]), fmt)
