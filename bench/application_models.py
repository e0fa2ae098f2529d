"""The application models of ``make bench-models``: ours (scorecard, GBM on the application
features) beside optbinning's default scorecard and LightGBM averaged over five seeds, both on
the file's raw columns, on the reference split of credit_data (stratified 70/30 on Status, seed
42), Marital excluded everywhere. Data: modeldata ``credit_data`` (MIT), see
../shared/data/README.md."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

RAW = ["Seniority", "Home", "Time", "Age", "Records", "Job"]
RAW += ["Expenses", "Income", "Assets", "Debt", "Amount", "Price"]
CATEGORICAL = ["Home", "Records", "Job"]
Emit = Callable[[dict[str, Any]], None]


def _metrics(y: np.ndarray, risk: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import roc_auc_score, roc_curve

    fpr, tpr, _ = roc_curve(y, risk)
    return {
        "test_auc": round(float(roc_auc_score(y, risk)), 4),
        "test_ks": round(float(max(tpr - fpr)), 4),
    }


def ours(path: Path, emit: Emit) -> None:
    from cardpilot.ingest.applications import read_applications
    from cardpilot.scoring.training import application_training_data, train_models

    read = read_applications(path)
    td = application_training_data(read.applications, read.labels)
    trained = train_models(td, source=f"applications:{path}")
    for family, model in trained.items():
        m = model.metadata["metrics"]
        emit(
            {
                "bench": "models-application",
                "model": f"cardpilot-application-{family}",
                "test_auc": m["test_auc"],
                "test_ks": m["test_ks"],
                "fit_seconds": model.metadata["fit_seconds"],
                "features": len(model.metadata["features"]),
                "inputs": "application features (ratios and amounts), Marital excluded",
            }
        )


def _raw_split(path: Path) -> tuple[Any, Any, np.ndarray, np.ndarray]:
    import pandas as pd
    from sklearn.model_selection import train_test_split

    df = pd.read_csv(path)
    y = (df["Status"] == "bad").astype(int).to_numpy()
    rows = np.arange(len(df))
    tr, te = train_test_split(rows, test_size=0.3, stratify=y, random_state=42)
    X = df[RAW]
    return X.iloc[tr].reset_index(drop=True), X.iloc[te].reset_index(drop=True), y[tr], y[te]


def peer_optbinning(path: Path, emit: Emit) -> None:
    from optbinning import BinningProcess, Scorecard
    from sklearn.linear_model import LogisticRegression

    Xtr, Xte, ytr, yte = _raw_split(path)
    started = time.perf_counter()
    card = Scorecard(
        binning_process=BinningProcess(RAW, categorical_variables=CATEGORICAL),
        estimator=LogisticRegression(),
        scaling_method="pdo_odds",
        scaling_method_params={"pdo": 20, "odds": 50, "scorecard_points": 600},
    ).fit(Xtr, ytr)
    fit_s = time.perf_counter() - started
    emit(
        {
            "bench": "models-application",
            "model": "optbinning",
            **_metrics(yte, -card.score(Xte)),
            "fit_seconds": round(fit_s, 2),
            "inputs": "raw credit_data columns without Marital",
        }
    )


def peer_lightgbm(path: Path, emit: Emit) -> None:
    import lightgbm as lgb

    Xtr, Xte, ytr, yte = _raw_split(path)
    for c in CATEGORICAL:
        Xtr[c] = Xtr[c].astype("category")
        Xte[c] = Xte[c].astype(Xtr[c].dtype)
    started = time.perf_counter()
    pd_ = np.mean(
        [
            lgb.LGBMClassifier(random_state=seed, verbose=-1).fit(Xtr, ytr).predict_proba(Xte)[:, 1]
            for seed in range(5)
        ],
        axis=0,
    )
    emit(
        {
            "bench": "models-application",
            "model": "lightgbm-5-seeds",
            **_metrics(yte, pd_),
            "fit_seconds": round(time.perf_counter() - started, 2),
            "inputs": "raw credit_data columns without Marital (LightGBM defaults)",
        }
    )


def run_all(path: Path, emit: Emit) -> None:
    if not path.exists():
        emit({"bench": "models-application", "skipped": f"{path} absent"})
        return
    for runner in (ours, peer_optbinning, peer_lightgbm):
        runner(path, emit)
