"""Scorecard and GBM against the standard scorecard flows of optbinning, toad and scorecardpy.

One run, one split (the reference split of ../shared/data/README.md), one JSON object per model
on stdout: bench, model, test_auc, test_ks, test_gini, fit_seconds, accounts_per_s (scoring
1,000,000 accounts), what the scoring computed, and the inputs. Peers run their documented
default flow on the raw UCI columns (without the protected SEX and MARRIAGE); ours run on the
behaviour features. ``make bench-models`` runs it in ``.venv-bench`` (scorecardpy needs
pandas < 3). Data: Yeh & Lien (2009), UCI doi:10.24432/C55S3H, CC BY 4.0.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "uci_credit_card_default.csv"
APPLICATIONS = REPO.parent / "shared" / "data" / "credit_data_applications.csv"
SCORED_ROWS = 1_000_000
RAW = [f"X{i}" for i in (1, 3, 5, *range(6, 24))]  # no X2 (sex), X4 (marital status)
RESULTS = REPO / "bench" / "results" / "models.json"
EMITTED: list[dict[str, Any]] = []

warnings.filterwarnings("ignore")
logging.disable(logging.CRITICAL)  # cvxpy logs a HIGHS import failure while optbinning loads


def emit(row: dict[str, Any]) -> None:
    EMITTED.append(row)
    sys.stdout.write(json.dumps(row) + "\n")
    sys.stdout.flush()


def metrics(y: np.ndarray, risk: np.ndarray) -> dict[str, float]:
    from cardpilot.scoring.metrics import discrimination

    m = discrimination(y, risk)
    return {"test_auc": m["auc"], "test_ks": m["ks"], "test_gini": m["gini"]}


def timed(fn: Any, *args: Any) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t


def tile(n_rows: int, n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n_rows, n)


def ours(data_path: Path, rows: int) -> None:
    from cardpilot.ingest.uci import read_uci
    from cardpilot.scoring.gbm import fit_gbm
    from cardpilot.scoring.scorecard import fit_scorecard
    from cardpilot.scoring.training import candidate_features, reference_split, training_data

    read = read_uci(data_path)
    td = training_data(read, read.labels)
    train, test = reference_split(td.y)
    cands = candidate_features(td.features, ["sex", "marital_status"])
    Xtr, Xte, ytr, yte = td.features[train], td.features[test], td.y[train], td.y[test]
    big = Xte[tile(Xte.height, rows)]

    (sc, _), fit_s = timed(fit_scorecard, Xtr, ytr, cands)
    score, _ = sc.score_arrays(Xte)
    cols = sc.columns(big)  # feature table → arrays (a column read, not scoring)
    from cardpilot.scoring.fastscore import score_arrays

    best = min(timed(score_arrays, sc.compiled, cols)[1] for _ in range(3))
    _, frame_s = timed(sc.score, big)
    emit(
        {
            "bench": "models",
            "model": "cardpilot-scorecard",
            **metrics(yte, -score.astype(float)),
            "fit_seconds": round(fit_s, 2),
            "accounts_per_s": round(rows / best),
            "scoring": "points + top-4 reasons per account (NumPy, threads)",
            "dataframe_accounts_per_s": round(rows / frame_s),
            "characteristics": len(sc.characteristics),
            "inputs": "behaviour features",
            "cpus": os.cpu_count(),
        }
    )
    (gbm, summary), fit_s = timed(fit_gbm, Xtr, ytr, cands)
    margin = gbm.margin(Xte)
    _, score_s = timed(gbm.predict_pd, big)
    n_reason = min(rows, 100_000)
    _, reason_s = timed(gbm.score_arrays, big.head(n_reason))
    emit(
        {
            "bench": "models",
            "model": "cardpilot-gbm",
            **metrics(yte, margin),
            "fit_seconds": round(fit_s, 2),
            "accounts_per_s": round(rows / score_s),
            "scoring": "PD (points follow from PD)",
            "with_shap_reasons_accounts_per_s": round(n_reason / reason_s),
            "rounds": summary["rounds"],
            "inputs": "behaviour features",
        }
    )


def raw_split(data_path: Path) -> tuple[Any, Any, np.ndarray, np.ndarray]:
    import pandas as pd
    from sklearn.model_selection import train_test_split

    df = pd.read_csv(data_path, dtype=str).astype(float)
    y = df["Y"].astype(int).to_numpy()
    X = df[RAW]
    rows = np.arange(len(df))
    tr, te = train_test_split(rows, test_size=0.3, stratify=y, random_state=42)
    return X.iloc[tr].reset_index(drop=True), X.iloc[te].reset_index(drop=True), y[tr], y[te]


def peer_optbinning(data_path: Path, rows: int) -> None:
    from optbinning import BinningProcess, Scorecard
    from sklearn.linear_model import LogisticRegression

    Xtr, Xte, ytr, yte = raw_split(data_path)
    big = Xte.iloc[tile(len(Xte), rows)].reset_index(drop=True)

    def fit() -> Any:
        bp = BinningProcess(RAW, categorical_variables=["X3"])
        return Scorecard(
            binning_process=bp,
            estimator=LogisticRegression(),
            scaling_method="pdo_odds",
            scaling_method_params={"pdo": 20, "odds": 50, "scorecard_points": 600},
        ).fit(Xtr, ytr)

    card, fit_s = timed(fit)
    _, score_s = timed(card.score, big)
    emit(
        {
            "bench": "models",
            "model": "optbinning",
            **metrics(yte, -card.score(Xte)),
            "fit_seconds": round(fit_s, 2),
            "accounts_per_s": round(rows / score_s),
            "scoring": "points",
            "inputs": "raw UCI columns without SEX, MARRIAGE",
        }
    )


def peer_toad(data_path: Path, rows: int) -> None:
    import toad
    from toad.scorecard import ScoreCard

    Xtr, Xte, ytr, yte = raw_split(data_path)
    big = Xte.iloc[tile(len(Xte), rows)].reset_index(drop=True)

    def fit() -> Any:
        train = Xtr.assign(y=ytr)
        comb = toad.transform.Combiner()
        comb.fit(train, y="y", method="chi", min_samples=0.05)
        woe = toad.transform.WOETransformer()
        tw = woe.fit_transform(comb.transform(train), train["y"], exclude=["y"])
        card = ScoreCard(combiner=comb, transer=woe, base_score=600, base_odds=50, pdo=20)
        card.fit(tw[RAW], train["y"])
        return card

    card, fit_s = timed(fit)
    _, score_s = timed(card.predict, big)
    emit(
        {
            "bench": "models",
            "model": "toad",
            **metrics(yte, -np.asarray(card.predict(Xte))),
            "fit_seconds": round(fit_s, 2),
            "accounts_per_s": round(rows / score_s),
            "scoring": "points",
            "inputs": "raw UCI columns without SEX, MARRIAGE",
        }
    )


def peer_scorecardpy(data_path: Path, rows: int) -> None:
    import contextlib
    import io

    import scorecardpy as sc
    from sklearn.linear_model import LogisticRegression

    Xtr, Xte, ytr, yte = raw_split(data_path)
    # scorecardpy scores ~10k rows/s: 1M rows would take minutes, so it is timed on 100k.
    rows = min(rows, 100_000)
    big = Xte.iloc[tile(len(Xte), rows)].reset_index(drop=True)

    def fit() -> Any:
        train = Xtr.assign(y=ytr)
        with contextlib.redirect_stdout(io.StringIO()):
            bins = sc.woebin(train, y="y")
            tw = sc.woebin_ply(train, bins)
        cols = [c for c in tw.columns if c != "y"]
        lr = LogisticRegression(max_iter=1000).fit(tw[cols], tw["y"])
        return sc.scorecard(bins, lr, cols, points0=600, odds0=1 / 50, pdo=20)

    card, fit_s = timed(fit)

    def score(frame: Any) -> Any:
        with contextlib.redirect_stdout(io.StringIO()):
            return sc.scorecard_ply(frame, card, only_total_score=True)

    _, score_s = timed(score, big)
    emit(
        {
            "bench": "models",
            "model": "scorecardpy",
            **metrics(yte, -np.asarray(score(Xte)["score"])),
            "fit_seconds": round(fit_s, 2),
            "accounts_per_s": round(rows / score_s),
            "scored_rows": rows,
            "scoring": "points",
            "inputs": "raw UCI columns without SEX, MARRIAGE",
        }
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--rows", type=int, default=SCORED_ROWS)
    parser.add_argument("--only", default="ours,optbinning,toad,scorecardpy,applications")
    parser.add_argument("--applications", type=Path, default=APPLICATIONS)
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON of the run ('' none)")
    args = parser.parse_args()
    if not args.data.exists():
        print(f"bench skipped: {args.data} absent (see ../shared/data/README.md)", file=sys.stderr)
        return 0
    runners = {
        "ours": ours,
        "optbinning": peer_optbinning,
        "toad": peer_toad,
        "scorecardpy": peer_scorecardpy,
    }
    for name in args.only.split(","):
        if name == "applications":
            from application_models import run_all

            run_all(args.applications, emit)
            continue
        try:
            runners[name](args.data, args.rows)
        except ImportError as exc:
            emit({"bench": "models", "model": name, "skipped": f"not installed: {exc}"})
    if str(args.out):
        write_results(args.out, " ".join(sys.argv[1:]))
    return 0


def write_results(path: Path, argv: str) -> None:
    """The run's rows with the machine and its load average (the 2 cores are shared)."""
    import datetime as dt
    import platform

    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "results": EMITTED,
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average": [round(x, 2) for x in load] if load else None,
        },
        "command": f"python bench/bench_models.py {argv}".strip(),
        "when": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
    }
    path.write_text(json.dumps(body, indent=2) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
