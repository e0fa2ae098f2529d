"""Training data of the early-warning model and how it is measured.

The population is the accounts that are current at ``as_of`` (repayment status ≤ 0: paid in
full, revolving or unused), the label whether they default next month. The split is the
reference split over every labelled account, restricted to the current ones, so the test rows
are the same accounts the behaviour models are measured on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from cardpilot.scoring.features import PortfolioLike
from cardpilot.scoring.metrics import discrimination
from cardpilot.scoring.protected import DEFAULT_PROTECTED
from cardpilot.scoring.training import (
    LABEL,
    TrainingData,
    frame_hash,
    labelled_accounts,
    protected_of,
    reference_split,
)
from cardpilot.warning.features import WARNING_FEATURES, warning_features

SUBJECT = "warning"
CURRENT_STATUS_MAX = 0  # repayment status ≤ 0: nothing overdue on the latest statement


def warning_training_data(
    frames: PortfolioLike,
    labels: pl.DataFrame,
    as_of: dt.date | None = None,
    label: str = LABEL,
    protected: Sequence[str] = DEFAULT_PROTECTED,
) -> TrainingData:
    """Current accounts at ``as_of`` (default: the latest cycle) with next month's outcome."""
    as_of, keyed = labelled_accounts(frames, labels, as_of, label)
    table = keyed.join(
        warning_features(frames, as_of), on="account_id", how="inner", maintain_order="left"
    )
    train, test = reference_split(table.get_column("y").to_numpy())
    current = (
        table.get_column("repayment_status_latest").fill_null(CURRENT_STATUS_MAX)
        <= CURRENT_STATUS_MAX
    ).to_numpy()
    # (an account without a reported status counts as current: nothing overdue is known)
    # positions of the current accounts among themselves, in the population's order
    position = np.cumsum(current) - 1
    split = (position[train[current[train]]], position[test[current[test]]])
    table = table.filter(pl.Series(current))
    prot = protected_of(frames, table, protected)
    features = table.drop("y")
    y = table.get_column("y").to_numpy()
    return TrainingData(
        features,
        y,
        prot,
        as_of,
        frame_hash(features, table.select("y")),
        subject=SUBJECT,
        label=label,
        candidates=WARNING_FEATURES,
        split=(np.sort(split[0]), np.sort(split[1])),
    )


def top_decile_capture(y: npt.NDArray[np.int8], risk: npt.NDArray[np.float64]) -> float:
    """Share of all defaults found among the riskiest tenth of accounts (ties by position)."""
    n = max(1, int(np.ceil(len(risk) * 0.1)))
    top = np.argsort(-risk, kind="stable")[:n]
    total = int(y.sum())
    return round(float(y[top].sum()) / total, 6) if total else 0.0


def ranking_figures(y: npt.NDArray[np.int8], risk: npt.NDArray[np.float64]) -> dict[str, Any]:
    """AUC, KS and top-decile capture of a risk ranking (higher: riskier)."""
    m = discrimination(y, risk)
    return {"auc": m["auc"], "ks": m["ks"], "top_decile_capture": top_decile_capture(y, risk)}


HEADLINE_FAMILY = "gbm"  # chosen before looking at the test rows; both families are reported


def compare_with_champion(
    data: TrainingData, trained: dict[str, Any], champion: Any
) -> dict[str, Any]:
    """The early-warning models' and the champion's ranking of the same current test accounts."""
    if data.split is None:
        raise ValueError("early-warning data carries its split")
    test = data.split[1]
    y = data.y[test]
    score, _ = champion.score_arrays(data.features[test])
    champ = ranking_figures(y, -score.astype(np.float64))
    families = {f: ranking_figures(y, t.test_pd) for f, t in trained.items()}
    head = families[HEADLINE_FAMILY]
    return {
        "model": trained[HEADLINE_FAMILY].metadata["version"],
        "as_of": data.as_of.isoformat(),
        "test_accounts": len(test),
        "test_defaults": int(y.sum()),
        "top_decile_capture": head["top_decile_capture"],
        "auc": head["auc"],
        "ks": head["ks"],
        "champion_auc": champ["auc"],
        "champion_ks": champ["ks"],
        "champion_top_decile_capture": champ["top_decile_capture"],
        "families": families,
    }
